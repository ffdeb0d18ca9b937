"""`make bench` in miniature, so that the harness cannot rot: every step on the tiny scale, numbers checked."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from benchmarks import harness

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, dbt_manifest: Path) -> tuple[harness.ScaleResult, Path]:
    work = tmp_path_factory.mktemp("bench")
    return harness.run_scale("tiny", work), work


def test_every_usage_event_is_ingested_and_counted(tiny):
    result, work = tiny
    landing = work / "tiny" / "landing"
    lines = sum(sum(1 for _ in path.open()) for path in (landing / "segment" / "tracks").glob("*.jsonl"))
    assert result.usage_events == lines > 1000
    assert result.ingest_seconds > 0 and result.ingest_bound_seconds > 0


def test_the_runs_are_measured_and_the_daily_run_added_one_day(tiny):
    result, work = tiny
    assert result.full_build_seconds > 0 and result.daily_run_seconds > 0
    # The process tree's peak includes at least the Python process that ran Dagster (well over 100 MB).
    assert result.full_build_peak_gb > 0.1 and result.daily_run_peak_gb > 0.1
    days = sorted(p.stem for p in (work / "tiny" / "landing" / "segment" / "tracks").glob("*.jsonl"))
    with duckdb.connect(str(work / "tiny" / "warehouse.duckdb"), read_only=True) as con:
        [(first, last)] = con.execute(
            "select min(activity_date)::varchar, max(activity_date)::varchar from intermediate.int_usage_daily"
        ).fetchall()
    assert (first, last) == (days[0], days[-1])


def test_bi_queries_and_marts_comparison(tiny):
    result, work = tiny
    assert set(result.bi_p95_ms) == set(harness.BI_QUERIES)
    assert all(0 < ms < 10_000 for ms in result.bi_p95_ms.values())
    assert result.marts_identical
    assert result.marts_duckdb_seconds > 0 and result.marts_pandas_seconds > 0
    saved = json.loads((work / "tiny" / "result.json").read_text())
    assert saved["usage_events"] == result.usage_events


def test_the_results_table_renders(tiny):
    result, _ = tiny
    page = harness.render([result], "python -m benchmarks run --scales tiny")
    row = next(line for line in page.splitlines() if line.startswith("| tiny |"))
    assert f"{result.usage_events:,}" in row and f"{result.ingest_ratio:.2f}x" in row
