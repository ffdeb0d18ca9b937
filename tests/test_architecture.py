"""The house rules of docs/architecture.md, checked on the code itself: which layer may import which, where
settings are read (and when), and how long a module may grow."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import settings
from settings.__main__ import DOCS, docs_text

ROOT = settings.REPO_ROOT
# Plain libraries: no Dagster, and never an import of the orchestration layer.
LIBRARIES = ("settings", "ingestion", "analytics", "outbound", "report", "serving", "scale_out", "demo")
EVERY_PACKAGE = (*LIBRARIES, "orchestration", "benchmarks", "nps")
MAX_LINES = 400


def modules(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_libraries_never_import_the_orchestration_layer():
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported(path) if name.split(".")[0] == "orchestration")
        for path in modules(*LIBRARIES)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_libraries_do_not_use_dagster():
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported(path) if name.split(".")[0].startswith("dagster"))
        for path in modules(*LIBRARIES)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_orchestration_layer_holds_dagster_code_only():
    """Each module there uses Dagster (directly, or through the definitions it builds on)."""
    plain = [
        str(path.relative_to(ROOT))
        for path in modules("orchestration")
        if path.read_text(encoding="utf-8").strip().count("\n") > 2  # a package docstring only
        and not any(name.split(".")[0] in ("dagster", "dagster_dbt", "orchestration") for name in imported(path))
    ]
    assert plain == []


# Reads the environment through a recording mapping while every module is imported; reports the reads made from
# this repository's code (not from the libraries it imports, which read their own variables).
_RECORD_IMPORT_READS = """
import importlib, json, os, sys
root = sys.argv[1]
reads = []

class Recording(type(os.environ)):
    pass

def _caller():
    frame = sys._getframe(2)
    while frame and (frame.f_code.co_filename.endswith(("os.py", "<frozen os>", "_collections_abc.py"))):
        frame = frame.f_back
    return frame

def _wrap(name):
    original = getattr(type(os.environ), name)
    def method(self, *args, **kwargs):
        frame = _caller()
        file = frame.f_code.co_filename if frame else ""
        if file.startswith(root) and "/.venv/" not in file and args:
            reads.append([file[len(root) + 1:], frame.f_lineno, str(args[0])])
        return original(self, *args, **kwargs)
    return method

for name in ("__getitem__", "get", "__contains__"):
    setattr(Recording, name, _wrap(name))
os.environ.__class__ = Recording
for module in sys.argv[2:]:
    importlib.import_module(module)
print(json.dumps(reads))
"""


def test_nothing_reads_the_environment_at_import():
    names = []
    for path in modules(*EVERY_PACKAGE):
        if path.name == "__main__.py":
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    names.append("orchestration.definitions")
    result = subprocess.run(
        [sys.executable, "-c", _RECORD_IMPORT_READS, str(ROOT), *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    reads = json.loads(result.stdout.strip().splitlines()[-1])
    assert [read for read in reads if not read[0].startswith("tests/")] == []


def _setting_names(path: Path) -> set[str]:
    """Every `NPS_...` variable name a module spells in a string (f-string placeholders become <SOURCE>)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr):
            text = "".join(part.value if isinstance(part, ast.Constant) else "<SOURCE>" for part in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        names |= {name.rstrip("_") for name in re.findall(r"\bNPS_(?:[A-Z0-9_]|<SOURCE>)+", text)}
    return names


def _known(name: str) -> bool:
    """A registered name, or the start of registered names (`NPS_<SOURCE>` in `NPS_<SOURCE>_*`)."""
    if "<SOURCE>" in name:
        return name in settings.SETTINGS or any(key.startswith(name) for key in settings.SETTINGS)
    try:
        settings._registered(name)
    except KeyError:
        return False
    return True


def test_every_variable_the_code_reads_is_in_the_settings_table():
    unknown: dict[str, list[str]] = {}
    for path in modules(*EVERY_PACKAGE):
        for name in _setting_names(path):
            if not _known(name):
                unknown.setdefault(name, []).append(str(path.relative_to(ROOT)))
    profiles = (settings.DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8")
    for name in re.findall(r"env_var\('(NPS_[A-Z_]+)'", profiles):
        if name not in settings.SETTINGS:
            unknown.setdefault(name, []).append("dbt_project/profiles.yml")
    assert unknown == {}


def test_the_configuration_docs_are_generated_from_the_settings_table():
    current = DOCS.read_text(encoding="utf-8")
    assert current == docs_text(current), "docs/configuration.md is stale: run `python -m settings docs`"
    for name in settings.SETTINGS:
        assert f"`{name}`" in current


@pytest.mark.parametrize("name", ["NPS_DUCKDB_PATH", "NPS_TYPEFORM_PAGE_SIZE", "NPS_SOURCE_MODE_SEGMENT"])
def test_a_setting_is_read_when_used(monkeypatch, name):
    monkeypatch.setenv(name, "  first  ")
    assert settings.value(name) == "first"
    monkeypatch.setenv(name, "second")
    assert settings.value(name) == "second"


def test_a_relative_path_setting_is_taken_from_the_repository_root(monkeypatch, tmp_path):
    monkeypatch.setenv("NPS_DUCKDB_PATH", "elsewhere/w.duckdb")
    monkeypatch.delenv("NPS_SERVING_PATH", raising=False)
    assert settings.duckdb_path() == ROOT / "elsewhere" / "w.duckdb"
    assert settings.serving_path() == ROOT / "elsewhere" / "serving.duckdb"
    assert settings.alerts_log(tmp_path / "w.duckdb") == tmp_path / "alerts.log"


def _documented_long_modules() -> set[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Longer modules", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^- `([^`]+\.py)`: \S", section, flags=re.MULTILINE))


def test_modules_stay_small_unless_the_reason_is_written_down():
    long = {
        str(path.relative_to(ROOT))
        for path in modules(*EVERY_PACKAGE)
        if path.parts[len(ROOT.parts)] != "demo" and len(path.read_text(encoding="utf-8").splitlines()) > MAX_LINES
    }
    documented = _documented_long_modules()
    assert long - documented == set(), "over 400 lines with no reason in docs/architecture.md"
    assert documented - long == set(), "docs/architecture.md lists a module that is no longer long"


def test_the_serial_session_of_make_test_collects_every_serial_test():
    """`make test` runs the tests marked serial in a second session that collects only SERIAL_TESTS."""
    marked = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("test_*.py")
        if re.search(r"^(@pytest\.mark\.serial|pytestmark = .*serial)", path.read_text(encoding="utf-8"), re.MULTILINE)
    )
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    [listed] = re.findall(r"^SERIAL_TESTS := (.+)$", makefile, flags=re.MULTILINE)
    assert marked and sorted(listed.split()) == marked


def test_each_dbt_step_reads_only_the_steps_before_it():
    """A run builds the dbt project in three steps (orchestration/defs/dbt/assets.py): models tagged `partitioned`,
    then every other model, then those tagged `partitioned_mart`. A model that refs one of a later step would make
    Dagster split the steps and run them out of order (a mart of step two reading the daily signals of step three
    failed that way), so each model may ref only its own step or an earlier one."""
    manifest = json.loads((ROOT / "dbt_project" / "target" / "manifest.json").read_text(encoding="utf-8"))
    nodes = manifest["nodes"]

    def step(node: dict) -> int:
        tags = set(node.get("tags", []))
        return 3 if "partitioned_mart" in tags else 1 if "partitioned" in tags else 2

    wrong = [
        f"{node['name']} (step {step(node)}) refs {nodes[parent]['name']} (step {step(nodes[parent])})"
        for node in nodes.values()
        if node["resource_type"] == "model"
        for parent in node["depends_on"]["nodes"]
        if parent in nodes and nodes[parent]["resource_type"] == "model" and step(nodes[parent]) > step(node)
    ]
    models = [node for node in nodes.values() if node["resource_type"] == "model"]
    assert {step(node) for node in models} == {1, 2, 3}
    assert not wrong, wrong


def test_no_seed_holds_a_single_quote():
    """dbt-spark writes a seed as `insert ... values (cast('<text>' as string), ...)` without escaping quotes, so an
    apostrophe in any seed cell breaks `make test-spark` (and a Spark deployment) at the seed."""
    quoted = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "dbt_project" / "seeds").glob("*.csv"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "'" in line
    ]
    assert quoted == [], f"single quotes in seeds (dbt-spark cannot load them): {quoted}"
