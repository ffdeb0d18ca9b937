"""Fixtures for the connector tests: a temporary landing folder, fast retry settings, and the loader run over
whatever a connector landed."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

from ingestion.landing import dates_present, landing_file
from ingestion.loader import FileLoad, load_files
from ingestion.registry import ENTITIES

# Retries fast enough for tests; the waits that matter (Retry-After) come from the fake server.
FAST = {
    "NPS_API_MAX_ATTEMPTS": "4",
    "NPS_API_BACKOFF_SECONDS": "0.05",
    "NPS_API_MAX_RETRY_DELAY_SECONDS": "5",
    "NPS_API_TIMEOUT_SECONDS": "5",
    "NPS_TYPEFORM_REQUESTS_PER_MINUTE": "0",
    "NPS_ZENDESK_REQUESTS_PER_MINUTE": "0",
    "NPS_STRIPE_REQUESTS_PER_MINUTE": "0",
}


@dataclass
class Loaded:
    """What the loader made of the landed files of one source."""

    loads: list[FileLoad]
    rejects: int
    # entity -> record_id -> latest payload (staging's rule: latest partition, then latest line)
    latest: dict[str, dict[str, dict]]
    # entity -> rows in the raw table, and distinct (record_id, partition) pairs
    rows: dict[str, int]
    distinct_rows: dict[str, int]


def load_source(landing: Path, warehouse: Path, source: str) -> Loaded:
    loads: list[FileLoad] = []
    latest: dict[str, dict[str, dict]] = {}
    rows: dict[str, int] = {}
    distinct_rows: dict[str, int] = {}
    rejects = 0
    with duckdb.connect(str(warehouse)) as con:
        for spec in (s for s in ENTITIES if s.source == source):
            files = [landing_file(landing, spec, day) for day in dates_present(landing, [spec])]
            result = load_files(con, files, batch_id=f"test:{spec.entity}")
            assert result.errors == [], result.errors
            loads.extend(result.loads)
            if not files:
                latest[spec.entity], rows[spec.entity], distinct_rows[spec.entity] = {}, 0, 0
                continue
            latest[spec.entity] = {
                record_id: json.loads(payload)
                for record_id, payload in con.execute(
                    f"select record_id, payload from {spec.table} qualify row_number() over "
                    "(partition by record_id order by _partition_date desc, _line_number desc) = 1"
                ).fetchall()
            }
            rows[spec.entity], distinct_rows[spec.entity] = con.execute(
                f"select count(*), count(distinct (record_id, _partition_date)) from {spec.table}"
            ).fetchall()[0]
            rejects += con.execute(f"select count(*) from {spec.rejects_table}").fetchall()[0][0]
    return Loaded(loads, rejects, latest, rows, distinct_rows)


def assert_complete(loaded: Loaded, expected: dict[str, dict[str, dict]]) -> None:
    """No gap (every object the vendor holds is in raw, at its current version), no duplicate (each object once
    per day, each landing file without superseded lines), nothing quarantined, every file reconciled."""
    assert loaded.rejects == 0
    assert all(load.reconciles for load in loaded.loads)
    assert sum(load.duplicates_in_file for load in loaded.loads) == 0
    for entity, objects in expected.items():
        assert loaded.rows[entity] == loaded.distinct_rows[entity]
        assert set(loaded.latest[entity]) == set(objects), entity
        for record_id, obj in objects.items():
            assert loaded.latest[entity][record_id] == obj, (entity, record_id)


def files_containing(root: Path, needle: str) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and needle.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"
