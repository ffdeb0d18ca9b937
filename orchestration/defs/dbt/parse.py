"""dbt's parse of the project, paid once per warehouse instead of once per run.

dbt parses the whole project (about 14 CPU seconds here) when it finds no parse of its own in its target folder,
or one made with other `--vars` or another connection profile. Three things keep a daily run's parse small:

- the run's partition window reaches dbt as two environment variables (`NPS_DBT_MIN_DATE`, `NPS_DBT_MAX_DATE`,
  read by the `window_min_date` / `window_max_date` macros), not as `--vars`: a new value re-parses only the
  files whose parse read it (eight), where new vars re-parse all of them;
- a run's dbt step writes in one target folder of its own (dagster-dbt's), which starts from the kept parse;
- the last parse of each warehouse (its profile: the dbt target and the warehouse path) is kept in
  `target/parse-cache/` and put in the next run's target folder, so the next run starts from it.

dbt checks a parse it finds (its version, vars, profile and every file's checksum) and parses again whatever does
not match, so a kept parse can cost time but never change what runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

# The parse dbt writes in its target folder, and that dagster-dbt copies from the project's target/ into a new one.
from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME as PARSE_FILE

import settings

WINDOW_ENVIRONMENT = {"min_date": "NPS_DBT_MIN_DATE", "max_date": "NPS_DBT_MAX_DATE"}
# A run folder (about 16 MB) or a kept parse (about 3 MB) last written longer ago than this is removed: a daily
# schedule would otherwise add one a day for ever. No run lasts that long, so none in progress is touched.
MAX_AGE = timedelta(days=2)


@contextmanager
def window_environment(window: Mapping[str, str]) -> Iterator[None]:
    """The run's window (`min_date`/`max_date`, or empty strings without one) in this process's environment while
    dagster-dbt starts dbt (it hands dbt a copy of `os.environ`); the previous values afterwards."""
    values = {name: window.get(key, "") for key, name in WINDOW_ENVIRONMENT.items()}
    saved = {name: settings.value(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def kept_parse(runs: Path) -> Path:
    """Where the parse of this process's warehouse is kept (one file per dbt target and warehouse)."""
    profile = "|".join([settings.dbt_target(), str(settings.duckdb_path()), str(settings.spark_dir())])
    return runs / "parse-cache" / f"{hashlib.sha256(profile.encode()).hexdigest()[:16]}.msgpack"


def restore_parse(target: Path, kept: Path) -> bool:
    """Put the kept parse in a new run folder (before dagster-dbt would copy the project's own, which was made for
    the default warehouse). False when there is none or the folder has a parse already."""
    if not kept.exists() or (target / PARSE_FILE).exists():
        return False
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(kept, target / PARSE_FILE)
    return True


def keep_parse(target: Path, kept: Path) -> None:
    """Keep the run folder's parse for the next run of this warehouse (written whole, then renamed: a reader never
    sees half a file)."""
    made = target / PARSE_FILE
    if not made.exists():
        return
    kept.parent.mkdir(parents=True, exist_ok=True)
    partial = kept.with_name(f"{kept.name}.{os.getpid()}.tmp")
    shutil.copyfile(made, partial)
    os.replace(partial, kept)


def prune_run_folders(runs: Path, max_age: timedelta = MAX_AGE) -> list[Path]:
    """Remove the run folders and kept parses of `runs` last written over `max_age` ago."""
    cutoff = time.time() - max_age.total_seconds()
    removed = []
    for path in [*runs.glob("run-*"), *runs.glob("parse-cache/*.msgpack")]:
        if path.stat().st_mtime >= cutoff:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
