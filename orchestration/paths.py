"""Where things are: the repository folders and the configurable locations (warehouse, landing, serving copies)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_LANDING_DIR = "data/landing"
DEFAULT_SERVING_NAME = "serving.duckdb"
DEFAULT_PARQUET_NAME = "parquet"


def duckdb_path() -> Path:
    """`NPS_DUCKDB_PATH` (default data/warehouse.duckdb), made absolute against the repository root."""
    return _absolute(os.environ.get("NPS_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH)


def landing_dir() -> Path:
    """`NPS_LANDING_DIR` (default data/landing), made absolute against the repository root."""
    return _absolute(os.environ.get("NPS_LANDING_DIR") or DEFAULT_LANDING_DIR)


def serving_path(warehouse: Path | None = None) -> Path:
    """`NPS_SERVING_PATH`, made absolute against the repository root; by default `serving.duckdb` beside the
    warehouse (data/serving.duckdb), so a warehouse elsewhere (a test's temporary one) never publishes into data/."""
    value = os.environ.get("NPS_SERVING_PATH")
    return _absolute(value) if value else _warehouse_folder(warehouse) / DEFAULT_SERVING_NAME


def parquet_dir(warehouse: Path | None = None) -> Path:
    """`NPS_PARQUET_DIR`, made absolute against the repository root; by default `parquet/` beside the warehouse."""
    value = os.environ.get("NPS_PARQUET_DIR")
    return _absolute(value) if value else _warehouse_folder(warehouse) / DEFAULT_PARQUET_NAME


def export_defaults() -> None:
    """Set both variables to absolute paths, so Dagster resources and the dbt profile agree on the same files."""
    os.environ["NPS_DUCKDB_PATH"] = str(duckdb_path())
    os.environ["NPS_LANDING_DIR"] = str(landing_dir())


def _absolute(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def _warehouse_folder(warehouse: Path | None) -> Path:
    return (_absolute(str(warehouse)) if warehouse else duckdb_path()).parent
