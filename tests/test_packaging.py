"""The three locks and the package: requirements.lock (what the platform runs on), requirements-dev.lock (tests,
linters, browser driver) and requirements-spark.lock (pyspark, dbt-spark) each hold exactly what the one before it
lacks, every import of the code resolves to the right lock, and the `nps` command and `pip install .` find every
package. The dependency tree is read from the metadata of the installed distributions (this environment holds the
runtime and dev locks; tests/spark/test_spark_lock.py checks the Spark lock where it is installed)."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {"runtime": "requirements.lock", "dev": "requirements-dev.lock", "spark": "requirements-spark.lock"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9][A-Za-z0-9.+!_-]*)$")
# The environment's own installer is never pinned: `python -m venv` brings it.
INSTALLER = {"pip"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# The make targets that run a platform command (the rest set up, test or lint), each an `nps` command of that name.
NPS_TARGETS = ("run", "fetch", "webhooks", "ui", "docs", "freshness", "bench")


def lock(kind: str) -> dict[str, str]:
    """name (canonical) -> version; a clear error naming the file and line for anything but `name==version`."""
    path = ROOT / LOCKS[kind]
    pins: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = PIN.match(line)
        assert match, f"{path.name}:{number}: {line!r} is not a `name==version` line"
        name = canonicalize_name(match[1])
        assert name not in pins, f"{path.name}:{number}: {match[1]} is pinned twice"
        pins[name] = match[2]
    return pins


def closure(requirements: list[str]) -> set[str]:
    """Every distribution the requirements need, extras and markers evaluated, from the installed metadata."""
    needed: dict[str, set[str]] = {}
    pending = [Requirement(text) for text in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in needed and extras <= needed[name]:
            continue
        needed.setdefault(name, set()).update(extras)
        for text in metadata.distribution(name).requires or []:
            child = Requirement(text)
            wanted = needed[name] or {""}
            if child.marker is None or any(child.marker.evaluate({"extra": extra}) for extra in wanted):
                pending.append(child)
    return set(needed)


def test_each_lock_holds_exact_pins_once_and_no_package_is_in_two_locks():
    seen: dict[str, str] = {}
    for kind in LOCKS:
        for name in lock(kind):
            assert name not in seen, f"{name} is in both {LOCKS[seen[name]]} and {LOCKS[kind]}"
            seen[name] = kind


def test_this_environment_holds_the_pinned_versions():
    """The tree below is read from what is installed: it must be what the runtime and dev locks pin."""
    wrong = {
        name: (version, metadata.version(name))
        for kind in ("runtime", "dev")
        for name, version in lock(kind).items()
        if metadata.version(name) != version
    }
    assert wrong == {}


def test_the_runtime_lock_is_exactly_what_the_dependencies_need():
    needed = closure(PYPROJECT["project"]["dependencies"]) - INSTALLER
    pinned = set(lock("runtime"))
    assert {"missing": sorted(needed - pinned), "not needed": sorted(pinned - needed)} == {
        "missing": [],
        "not needed": [],
    }


def test_the_dev_lock_is_exactly_what_the_dev_extra_adds():
    project = PYPROJECT["project"]
    needed = closure(project["dependencies"] + project["optional-dependencies"]["dev"]) - INSTALLER
    added = needed - set(lock("runtime"))
    pinned = set(lock("dev"))
    assert {"missing": sorted(added - pinned), "not needed": sorted(pinned - added)} == {
        "missing": [],
        "not needed": [],
    }


def test_pyproject_pins_the_locked_versions():
    project = PYPROJECT["project"]
    groups = {
        "runtime": project["dependencies"],
        "dev": project["optional-dependencies"]["dev"],
        "spark": project["optional-dependencies"]["spark"],
    }
    for kind, requirements in groups.items():
        pins = lock(kind)
        for text in requirements:
            requirement = Requirement(text)
            name = canonicalize_name(requirement.name)
            assert name in pins, f"pyproject.toml: {text} ({kind}) is not in {LOCKS[kind]}"
            assert str(requirement.specifier) == f"=={pins[name]}", f"pyproject.toml: {text} vs {LOCKS[kind]}"


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, top-level module, at module level) of every absolute import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name.split(".")[0], id(node) in top_level) for name in names]
    return found


def _packages() -> list[str]:
    return sorted(name.rstrip("*") for name in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"])


def _third_party(paths: list[Path], local: set[str]):
    for path in paths:
        for line, module, at_top in _imports(path):
            if module not in sys.stdlib_module_names and module not in local and module != "__future__":
                yield f"{path.relative_to(ROOT)}:{line}", module, at_top


def test_the_code_imports_only_what_the_runtime_lock_holds():
    """pyspark alone is the Spark lock's, imported inside the functions of scale_out/ (never at import)."""
    local = set(_packages())
    runtime = set(lock("runtime"))
    providers = metadata.packages_distributions()
    paths = sorted(path for package in local for path in (ROOT / package).rglob("*.py"))
    wrong = []
    for where, module, at_top in _third_party(paths, local):
        if module == "pyspark":
            if at_top or not where.startswith("scale_out/"):
                wrong.append(f"{where}: pyspark (requirements-spark.lock) only inside the functions of scale_out/")
            continue
        dists = {canonicalize_name(name) for name in providers.get(module, [])}
        if not dists & runtime:
            wrong.append(
                f"{where}: {module} ({sorted(dists) or 'no installed distribution'}) is not in requirements.lock"
            )
    assert wrong == []


# Direct dependencies that no module imports, and what uses them: any other unimported one is dead weight.
USED_WITHOUT_IMPORT = {
    "dagster-webserver": "`make ui` / `nps ui` (dagster dev)",
    "dbt-core": "the dbt command, run by dagster-dbt and make",
    "dbt-duckdb": "dbt's DuckDB adapter (dbt_project/profiles.yml)",
    "dbt-metricflow": "the `mf` command over the semantic layer (docs/metrics.md)",
    "duckdb-engine": "the duckdb:// SQLAlchemy dialect that docs/serving.md reads the serving file with",
}


def test_every_direct_dependency_is_imported_or_its_use_is_written_down():
    local = set(_packages())
    providers = metadata.packages_distributions()
    paths = sorted(path for package in local for path in (ROOT / package).rglob("*.py"))
    imported = {
        canonicalize_name(dist) for _, module, _ in _third_party(paths, local) for dist in providers.get(module, [])
    }
    direct = {canonicalize_name(Requirement(text).name) for text in PYPROJECT["project"]["dependencies"]}
    assert sorted(direct - imported) == sorted(USED_WITHOUT_IMPORT)


def test_the_tests_import_only_what_the_runtime_and_dev_locks_hold():
    local = {*_packages(), "tests"}
    allowed = set(lock("runtime")) | set(lock("dev"))
    providers = metadata.packages_distributions()
    wrong = []
    for where, module, _ in _third_party(sorted((ROOT / "tests").rglob("*.py")), local):
        dists = {canonicalize_name(name) for name in providers.get(module, [])}
        if not dists & allowed:
            wrong.append(f"{where}: {module} ({sorted(dists) or 'no installed distribution'}) is in neither lock")
    assert wrong == []


def test_every_package_of_the_repository_is_packaged_with_its_data_files():
    """`pip install .` installs the packages pyproject names: every top-level package but tests, and each file
    beside the code that is not Python is declared package data."""
    on_disk = sorted(path.parent.name for path in ROOT.glob("*/__init__.py") if path.parent.name != "tests")
    assert _packages() == on_disk
    declared = {
        ROOT.joinpath(*package.split("."), name)
        for package, names in PYPROJECT["tool"]["setuptools"]["package-data"].items()
        for name in names
    }
    data = {
        path
        for package in on_disk
        for path in (ROOT / package).rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    }
    assert sorted(map(str, data - declared)) == []
    assert sorted(map(str, declared - data)) == []


def test_nps_lists_a_command_for_each_make_target_that_runs_the_platform():
    assert PYPROJECT["project"]["scripts"] == {"nps": "nps:main"}
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)[1].split()
    assert set(NPS_TARGETS) <= set(phony)
    result = subprocess.run(
        [sys.executable, "-m", "nps", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    assert {target: f"(make {target})" in listed.get(target, "") for target in NPS_TARGETS} == dict.fromkeys(
        NPS_TARGETS, True
    )


def test_nps_refuses_an_unknown_command_with_the_list():
    result = subprocess.run(
        [sys.executable, "-m", "nps", "deploy"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "unknown command 'deploy'" in result.stderr
    assert "  webhooks " in result.stderr


def test_nps_passes_options_to_the_entry_point():
    """`nps fetch --help` is `python -m ingestion.api fetch --help`: the same options, printed by that parser."""
    nps = subprocess.run(
        [sys.executable, "-m", "nps", "fetch", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    direct = subprocess.run(
        [sys.executable, "-m", "ingestion.api", "fetch", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (nps.returncode, direct.returncode) == (0, 0)
    assert "--source" in direct.stdout
    assert nps.stdout == direct.stdout
