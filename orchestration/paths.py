"""Where things are: the repository folders and the two configurable locations (warehouse file, landing folder)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_LANDING_DIR = "data/landing"


def duckdb_path() -> Path:
    """`NPS_DUCKDB_PATH` (default data/warehouse.duckdb), made absolute against the repository root."""
    return _absolute(os.environ.get("NPS_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH)


def landing_dir() -> Path:
    """`NPS_LANDING_DIR` (default data/landing), made absolute against the repository root."""
    return _absolute(os.environ.get("NPS_LANDING_DIR") or DEFAULT_LANDING_DIR)


def export_defaults() -> None:
    """Set both variables to absolute paths, so Dagster resources and the dbt profile agree on the same files."""
    os.environ["NPS_DUCKDB_PATH"] = str(duckdb_path())
    os.environ["NPS_LANDING_DIR"] = str(landing_dir())


def _absolute(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()
