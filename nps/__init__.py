"""`nps`: the platform's commands, beside the make targets (installed by `pip install -e .` and by `make run`).

Each command runs the same entry point as its make target, without the set-up (`make` also builds the
environment): `nps run` is `python -m orchestration.cli run`, `nps fetch` is `python -m ingestion.api fetch`, and so
on. Options after the command go to that entry point (`nps run --force`, `nps webhooks --port 0`, `nps run --help`).

The dbt project and the default data folder are found from the repository checkout (settings.REPO_ROOT), so the
commands that build or serve the dbt project need an editable install (`pip install -e .` in a clone). A
non-editable `pip install .` holds the Python packages only: `nps --help`, every command's `--help`, `nps demo`, and
`nps fetch`, `nps webhooks`, `nps summary`, `nps empty-day` given absolute NPS_LANDING_DIR / NPS_DUCKDB_PATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import settings

# As the Makefile: no machine running this need reach the internet, and nothing may wait on it.
_QUIET_TELEMETRY = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "GX_ANALYTICS_ENABLED": "false",
}


@dataclass(frozen=True)
class Command:
    make_target: str
    help: str
    run: Callable[[list[str]], int]
    checkout: bool = False  # needs the dbt project of the repository checkout
    parse: bool = False  # needs its manifest (make's `setup`)
    paths: tuple[str, ...] = ()  # path settings whose repository-relative default needs the checkout


def _cli(command: str) -> Callable[[list[str]], int]:
    def run(args: list[str]) -> int:
        from orchestration.cli import main

        return main([command, *args])

    return run


def _fetch(args: list[str]) -> int:
    from ingestion.api.__main__ import main

    return main(["fetch", *args])


def _webhooks(args: list[str]) -> int:
    from ingestion.webhooks.server import main

    return main(args)


def _demo(args: list[str]) -> int:
    from demo.__main__ import main

    return main(args)


def _bench(args: list[str]) -> int:
    from benchmarks.__main__ import main

    return main(["run", *args])


def _tool(name: str) -> str:
    """An executable of this environment (dagster, dbt), beside its Python."""
    return str(Path(sys.executable).parent / name)


def _ui(args: list[str]) -> int:
    """The code location is pyproject.toml's [tool.dagster], read from the repository root (as `make ui`)."""
    command = [_tool("dagster"), "dev", "--host", "127.0.0.1", "--port", "3000"]
    return subprocess.call([*command, *args], cwd=settings.REPO_ROOT)


def _dbt(*command: str) -> int:
    return subprocess.call([_tool("dbt"), *command, *_dbt_target_args()], cwd=settings.DBT_PROJECT_DIR)


def _docs(args: list[str]) -> int:
    status = _dbt("docs", "generate", *args)
    if status:
        return status
    print("dbt docs on http://127.0.0.1:8080 (Ctrl-C to stop)")
    return _dbt("docs", "serve", "--host", "127.0.0.1", "--port", "8080", "--no-browser")


def _freshness(args: list[str]) -> int:
    return _dbt("source", "freshness", *args)


def _parse_dbt_project() -> None:
    """`dbt parse` when the manifest is missing or older than a model, macro or seed (as make's manifest rule)."""
    project = settings.DBT_PROJECT_DIR
    manifest = project / "target" / "manifest.json"
    built = manifest.stat().st_mtime if manifest.is_file() else 0.0
    sources = [
        path
        for path in project.rglob("*")
        if path.suffix in {".sql", ".yml", ".csv"} and not {"target", "logs"} & set(path.relative_to(project).parts)
    ]
    if built and all(path.stat().st_mtime <= built for path in sources):
        return
    subprocess.run([_tool("dbt"), "parse", "--quiet", *_dbt_target_args()], cwd=project, check=True)


def _dbt_target_args() -> list[str]:
    return ["--profiles-dir", ".", "--target", settings.dbt_target()]


COMMANDS: dict[str, Command] = {
    "run": Command(
        "run",
        "load every landing date and build the marts (demo data when the landing is empty)",
        _cli("run"),
        checkout=True,
        parse=True,
    ),
    "summary": Command("", "print the summary of the current warehouse", _cli("summary"), paths=("NPS_DUCKDB_PATH",)),
    "empty-day": Command(
        "",
        "empty one loaded day of one entity on purpose",
        _cli("empty-day"),
        paths=("NPS_DUCKDB_PATH", "NPS_LANDING_DIR"),
    ),
    "fetch": Command("fetch", "pull the API-mode sources into the landing folder", _fetch, paths=("NPS_LANDING_DIR",)),
    "webhooks": Command("webhooks", "the Typeform webhook receiver", _webhooks, paths=("NPS_LANDING_DIR",)),
    "demo": Command("", "generate demo landing files (--landing-dir DIR)", _demo),
    "ui": Command("ui", "Dagster UI (webserver + daemon) on http://127.0.0.1:3000", _ui, checkout=True),
    "docs": Command("docs", "dbt docs on http://127.0.0.1:8080", _docs, checkout=True),
    "freshness": Command("freshness", "dbt source freshness of every raw source", _freshness, checkout=True),
    "bench": Command(
        "bench", "the S/M/L benchmarks into docs/benchmarks.md (hours)", _bench, checkout=True, parse=True
    ),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: nps COMMAND [options]  (nps COMMAND --help: that command's options)", "", "commands:"]
    for name, command in COMMANDS.items():
        beside = f" (make {command.make_target})" if command.make_target else ""
        lines.append(f"  {name:<{width}}  {command.help}{beside}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print(usage(), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    name, rest = args[0], args[1:]
    command = COMMANDS.get(name)
    if command is None:
        print(f"nps: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    if any(arg in {"-h", "--help"} for arg in rest):
        return command.run(rest)
    problem = _outside_checkout(command)
    if problem:
        print(f"nps {name}: {problem}", file=sys.stderr)
        return 2
    for variable, value in _QUIET_TELEMETRY.items():
        os.environ.setdefault(variable, value)
    os.environ.setdefault("DAGSTER_HOME", str(settings.REPO_ROOT))
    settings.export_defaults()
    if command.parse:
        _parse_dbt_project()
    return command.run(rest)


def _outside_checkout(command: Command) -> str | None:
    """Why the command cannot run from this install, if it cannot: a non-editable install has no dbt project and
    no repository folder for the default data paths."""
    if (settings.DBT_PROJECT_DIR / "dbt_project.yml").is_file():
        return None
    if command.checkout:
        return (
            f"needs the dbt project of a repository checkout, and {settings.DBT_PROJECT_DIR} is not one (a "
            "non-editable install holds the Python packages only): run `pip install -e .` in a clone"
        )
    unset = [variable for variable in command.paths if not os.path.isabs(os.environ.get(variable, "").strip())]
    if unset:
        return f"outside a repository checkout, set {' and '.join(unset)} to an absolute path"
    return None
