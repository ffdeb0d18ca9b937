"""`make bench` in miniature, so that the harness cannot rot: every step on the tiny scale, numbers checked (e2e);
and the harness's logic on its own: the alternating rounds, minimum and median, the daily runs of two versions
each from its own history, the baseline's source tree, the results page."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from benchmarks import harness
from benchmarks.render import render
from benchmarks.repeats import (
    Runs,
    Variant,
    baseline_checkout,
    lock_differences,
    measure_daily_runs,
    ratio,
    rounds,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, dbt_manifest: Path) -> tuple[harness.ScaleResult, Path]:
    work = tmp_path_factory.mktemp("bench")
    return harness.run_scale("tiny", work, ingest_repeats=2, daily_repeats=1), work


@pytest.mark.e2e
def test_every_usage_event_is_ingested_and_counted(tiny):
    result, work = tiny
    landing = work / "tiny" / "landing"
    lines = sum(sum(1 for _ in path.open()) for path in (landing / "segment" / "tracks").glob("*.jsonl"))
    assert result.usage_events == lines > 1000
    assert len(result.ingest_runs) == len(result.ingest_bound_runs) == 2
    assert result.ingest_seconds == min(result.ingest_runs) > 0 and result.ingest_bound_seconds > 0


@pytest.mark.e2e
def test_the_runs_are_measured_and_the_daily_run_added_one_day(tiny):
    result, work = tiny
    assert result.full_build_seconds > 0 and result.daily_run_seconds > 0
    # The process tree's peak includes at least the Python process that ran Dagster (well over 100 MB).
    assert result.full_build_peak_gb > 0.1 and result.daily_run_peak_gb > 0.1
    days = sorted(p.stem for p in (work / "tiny" / "landing" / "segment" / "tracks").glob("*.jsonl"))
    assert len(result.daily_runs) == 1 and not result.baseline and not result.baseline_daily_runs
    with duckdb.connect(str(work / "tiny" / "current" / "warehouse.duckdb"), read_only=True) as con:
        [(first, last)] = con.execute(
            "select min(activity_date)::varchar, max(activity_date)::varchar from intermediate.int_usage_daily"
        ).fetchall()
    assert (first, last) == (days[0], days[-1])


@pytest.mark.e2e
def test_bi_queries_and_marts_comparison(tiny):
    result, work = tiny
    assert set(result.bi_p95_ms) == set(harness.BI_QUERIES)
    assert all(0 < ms < 10_000 for ms in result.bi_p95_ms.values())
    assert result.marts_identical
    assert result.marts_duckdb_seconds > 0 and result.marts_pandas_seconds > 0
    saved = json.loads((work / "tiny" / "result.json").read_text())
    assert saved["usage_events"] == result.usage_events


@pytest.mark.e2e
def test_the_results_table_renders(tiny):
    result, _ = tiny
    page = render([result], "python -m benchmarks run --scales tiny")
    row = next(line for line in page.splitlines() if line.startswith("| tiny |"))
    assert f"{result.usage_events:,}" in row and f"{result.ingest_ratio:.2f}x" in row


# The harness's logic on its own, without a pipeline run.


def test_rounds_alternate_the_order_so_each_side_goes_first_as_often():
    assert list(rounds(["bound", "loader"], 4)) == [
        (0, "bound"),
        (0, "loader"),
        (1, "loader"),
        (1, "bound"),
        (2, "bound"),
        (2, "loader"),
        (3, "loader"),
        (3, "bound"),
    ]
    assert list(rounds(["a", "b"], 1)) == [(0, "a"), (0, "b")]
    with pytest.raises(ValueError, match="at least 1"):
        list(rounds(["a"], 0))


def test_runs_give_minimum_median_and_their_ratios():
    loader, bound = Runs([3.0, 1.5, 2.0, 10.0]), Runs([1.0, 1.2, 0.9, 1.1])
    assert (loader.min, loader.median) == (1.5, 2.5)  # median of an even count: mean of the middle two
    assert (bound.min, bound.median) == (0.9, 1.05)
    by_min, by_median = ratio(loader, bound)
    assert by_min == pytest.approx(1.5 / 0.9) and by_median == pytest.approx(2.5 / 1.05)
    assert Runs([4.0, 1.0, 7.0]).median == 4.0


def test_measure_ingest_repeats_both_reads_and_counts_every_event(tmp_path):
    from demo import DemoConfig, generate

    landing = tmp_path / "landing"
    generate(landing, DemoConfig(accounts=3, months=1, end_date=harness.END_DATE, seed=1))
    lines = sum(sum(1 for _ in path.open()) for path in (landing / "segment" / "tracks").glob("*.jsonl"))
    events, loader, bound = harness.measure_ingest(landing, tmp_path, repeats=3)
    assert events == lines > 0
    assert len(loader.seconds) == len(bound.seconds) == 3
    assert all(seconds > 0 for seconds in loader.seconds + bound.seconds)
    assert not list(tmp_path.glob("ingest_*.duckdb"))  # the scratch databases are removed


def _variants(tmp_path: Path) -> list[Variant]:
    variants = [Variant("current", tmp_path, tmp_path / "current"), Variant("baseline", tmp_path, tmp_path / "base")]
    for variant in variants:
        variant.folder.mkdir()
        variant.warehouse.write_text(f"{variant.name} history")
    return variants


def test_daily_runs_alternate_and_each_starts_from_its_own_history(tmp_path):
    variants = _variants(tmp_path)
    seen: list[tuple[str, str]] = []
    timings = iter([(10.0, 1.0), (20.0, 2.5), (22.0, 2.0), (9.0, 1.5)])

    def run(variant: Variant) -> tuple[float, float]:
        seen.append((variant.name, variant.warehouse.read_text()))
        variant.warehouse.write_text(variant.warehouse.read_text() + " + day")  # the run adds the day
        (variant.folder / "serving.duckdb").write_text("published")
        return next(timings)

    results = measure_daily_runs(variants, 2, run)
    assert seen == [
        ("current", "current history"),
        ("baseline", "baseline history"),
        ("baseline", "baseline history"),  # the second run of each starts from the copy, not from the first's day
        ("current", "current history"),
    ]
    assert results["current"][0].seconds == [10.0, 9.0] and results["current"][1] == 1.5
    assert results["baseline"][0].seconds == [20.0, 22.0] and results["baseline"][1] == 2.5
    for variant in variants:
        assert variant.warehouse.read_text() == f"{variant.name} history + day"
        assert not variant.history.exists()


def test_one_daily_run_each_takes_no_copy(tmp_path):
    variants = _variants(tmp_path)
    copies: list[tuple[Path, Path]] = []
    results = measure_daily_runs(
        variants, 1, lambda variant: (1.0, 0.5), copy=lambda source, target: copies.append((source, target))
    )
    assert copies == []
    assert {name: runs.seconds for name, (runs, _) in results.items()} == {"current": [1.0], "baseline": [1.0]}


def test_the_copies_of_the_history_are_removed_when_a_run_fails(tmp_path):
    variants = _variants(tmp_path)

    def run(variant: Variant) -> tuple[float, float]:
        raise RuntimeError("pipeline failed")

    with pytest.raises(RuntimeError, match="pipeline failed"):
        measure_daily_runs(variants, 2, run)
    assert not any(variant.history.exists() for variant in variants)


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def test_the_baseline_is_the_commit_s_tree_exported_once(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "pipeline.py").write_text("version = 1\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    first = _git(repo, "rev-parse", "HEAD")
    (repo / "pipeline.py").write_text("version = 2\n")
    (repo / "later.py").write_text("")
    _git(repo, "commit", "-q", "-am", "second")
    _git(repo, "add", "later.py")
    _git(repo, "commit", "-q", "-m", "third")

    work = tmp_path / "work"
    folder = baseline_checkout(first[:7], work, repo=repo, parse=False)
    assert folder == work / f"baseline-{first[:12]}"
    assert (folder / "pipeline.py").read_text() == "version = 1\n" and not (folder / "later.py").exists()
    assert (folder / ".bench_baseline").read_text() == first
    assert (repo / "pipeline.py").read_text() == "version = 2\n"  # the repository's own files are untouched
    assert len(_git(repo, "worktree", "list").splitlines()) == 1  # no worktree registered
    # Exported once: a second call finds the marker and keeps the tree as it is.
    (folder / "left_by_a_run.txt").write_text("")
    assert baseline_checkout(first, work, repo=repo, parse=False) == folder
    assert (folder / "left_by_a_run.txt").exists()
    with pytest.raises(subprocess.CalledProcessError):
        baseline_checkout("no-such-commit", work, repo=repo, parse=False)


def test_the_baseline_gets_the_pins_this_virtualenv_does_not_match_ahead_of_it_on_its_path(tmp_path):
    lock = """# a comment
dagster==1.13.27
plotly==7.1.0  # via the report
SQLAlchemy[asyncio]==2.1.9 ; python_version >= "3.11"
--index-url https://example.org/simple
duckdb==1.4.0
"""
    here = {"dagster": "1.13.27", "SQLAlchemy": "2.0.54", "duckdb": "1.4.0"}
    assert lock_differences(lock, here.get) == ["plotly==7.1.0", "SQLAlchemy==2.1.9"]
    assert lock_differences("dagster==1.13.27\n", here.get) == []
    baseline = Variant("baseline", tmp_path / "src", tmp_path / "wh", tmp_path / "src" / ".bench-packages")
    assert baseline.pythonpath == f"{tmp_path}/src:{tmp_path}/src/.bench-packages"
    assert Variant("current", tmp_path, tmp_path / "wh").pythonpath == str(tmp_path)


def test_the_page_shows_every_round_and_the_baseline_side_by_side():
    result = harness.ScaleResult(
        scale="S",
        config=harness.SCALES["S"],
        usage_events=2_000_000,
        landing_gb=1.7,
        ingest_runs=[8.0, 6.0, 7.0, 9.0],
        ingest_bound_runs=[4.0, 5.0, 4.5, 4.0],
        full_build_seconds=160.0,
        full_build_peak_gb=1.8,
        daily_runs=[50.0, 40.0],
        daily_run_peak_gb=1.2,
        baseline="f51c35a",
        baseline_full_build_seconds=170.0,
        baseline_daily_runs=[66.0, 60.0],
        baseline_daily_run_peak_gb=1.3,
        bi_p95_ms=dict.fromkeys(harness.BI_QUERIES, 2.0),
        marts_duckdb_seconds=0.1,
        marts_pandas_seconds=0.7,
        marts_identical=True,
    )
    page = render([result], "make bench")
    table = next(line for line in page.splitlines() if line.startswith("| S | 2,000 |"))
    # Ingest: minimums 6.0 and 4.0 (ratio 1.50x), events per second from the loader's minimum.
    assert "| 1.50x |" in table and "| 333,333 |" in table and "| 40 |" in table
    ingest = next(line for line in page.split("## Ingest: every round")[1].splitlines() if line.startswith("| S |"))
    # Medians 7.5 and 4.25: 1.76x; every run listed in the order it ran.
    assert ingest == (
        "| S | min 6.0, median 7.5 (8.0, 6.0, 7.0, 9.0) | min 4.0, median 4.2 (4.0, 5.0, 4.5, 4.0) | 1.50x | 1.76x |"
    )
    daily = page.split("## The daily run against the baseline (f51c35a)")[1]
    row = next(line for line in daily.splitlines() if line.startswith("| S |"))
    # Baseline over this checkout: minimums 60 / 40 = 1.50x, medians 63 / 45 = 1.40x.
    assert row == (
        "| S | min 40.0, median 45.0 (50.0, 40.0) | min 60.0, median 63.0 (66.0, 60.0) | 1.50x | 1.40x "
        "| 1.20 / 1.30 | 160 / 170 |"
    )


def test_the_page_leaves_out_the_baseline_table_without_a_baseline():
    result = harness.ScaleResult(
        scale="tiny",
        config=harness.SCALES["tiny"],
        usage_events=10,
        ingest_runs=[1.0],
        ingest_bound_runs=[1.0],
        daily_runs=[1.0],
        bi_p95_ms=dict.fromkeys(harness.BI_QUERIES, 1.0),
        marts_duckdb_seconds=1.0,
        marts_pandas_seconds=1.0,
    )
    assert "against the baseline" not in render([result], "x")
