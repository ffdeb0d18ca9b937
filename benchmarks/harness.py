"""`make bench`: the pipeline measured at three data scales, written to docs/benchmarks.md.

For each scale: demo data from the generator (kept between runs in the work folder, keyed by its config), then
1. usage-event ingest: our loader (`ingestion.loader.load_files`, with its rules, rejects and reconciliation)
   against DuckDB reading the same files straight into a table, in the same process, INGEST_REPEATS rounds in
   alternating order (benchmarks/repeats.py), minimum and median of each;
2. the full build: the `daily_pipeline` job over every day but the last, in a child process, by this checkout and
   by the baseline commit (BASELINE_COMMIT, in its own warehouse);
3. the daily incremental run: the same job for the last day only, on top of each one's history, DAILY_REPEATS
   rounds in alternating order, each from a copy of the history;
4. the p95 latency of ten typical BI queries on the published serving file;
5. the NPS and CES marts: DuckDB running the models' compiled SQL against pandas computing the same numbers
   (benchmarks/pandas_marts.py) from the same inputs, results compared row for row.
Peak memory is the largest sum of resident memory over the child process and all its descendants (dbt runs in
its own process), sampled every 100 ms from /proc. Comparisons are ratios taken within the same run: the
machines are shared and their absolute speed varies.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from benchmarks.repeats import DAILY_REPEATS, INGEST_REPEATS, Runs, Variant, measure_daily_runs, ratio, rounds
from settings import REPO_ROOT

END_DATE = date(2026, 10, 31)
SCALES: dict[str, dict] = {
    # Small enough for `make test`: proves every step of the harness still runs.
    "tiny": {"accounts": 40, "months": 1, "events_per_account_day": 2.0},
    # The demo default (`make run`).
    "S": {"accounts": 2000, "months": 12, "events_per_account_day": 5.0},
    # About ten times larger: ten times the accounts, about 30 million usage events.
    "M": {"accounts": 20000, "months": 12, "events_per_account_day": 5.0},
    # 100 million usage events, landed gzip-compressed (about 10 GB instead of 60 GB of JSON lines).
    "L": {"accounts": 20000, "months": 12, "events_per_account_day": 18.0, "gzip_usage": True},
}
# DuckDB settings for every process of the benchmark (dbt reads them from its profile: see profiles.yml).
MEMORY_LIMIT = "4GB"
THREADS = 2

# Ten questions a BI dashboard asks of the serving file.
BI_QUERIES: dict[str, str] = {
    "nps trend (monthly, all)": (
        "select period_start, nps, nps_ci_low, nps_ci_high from marts.nps_by_period "
        "where period_grain = 'month' and segment_type = 'all' order by period_start"
    ),
    "nps by plan, last quarter": (
        "select segment_value, responses, nps from marts.nps_by_period where period_grain = 'quarter' "
        "and segment_type = 'plan' and period_start = (select max(period_start) from marts.nps_by_period "
        "where period_grain = 'quarter') order by nps"
    ),
    "weekly response rate": (
        "select period_start, sum(responses) / nullif(sum(sends), 0) as response_rate from marts.nps_by_period "
        "where period_grain = 'week' and segment_type = 'all' group by 1 order by 1"
    ),
    "ces by channel (monthly)": (
        "select period_start, segment_value, ces_mean, ces_easy_share from marts.ces_by_period "
        "where period_grain = 'month' and segment_type = 'channel' order by 1, 2"
    ),
    "program headline": "select * from marts.program_summary",
    "top 20 accounts at risk": (
        "select account_id, plan, mrr_usd, risk_score, revenue_at_risk_usd from marts.account_health "
        "where as_of_date = (select max(as_of_date) from marts.account_health) "
        "order by revenue_at_risk_usd desc limit 20"
    ),
    "revenue at risk by tier": (
        "select risk_tier, count(*) as accounts, sum(revenue_at_risk_usd) as revenue_at_risk "
        "from marts.account_health where as_of_date = (select max(as_of_date) from marts.account_health) "
        "group by 1 order by 1"
    ),
    "closed-loop SLA by team": (
        "select team, sum(met_target) / nullif(sum(target_due), 0) as attainment "
        "from marts.closed_loop_sla_weekly group by 1 order by 1"
    ),
    "detractors without follow-up": (
        "select response_id, account_id, responded_at, comment from marts.closed_loop "
        "where nps_category = 'detractor' and not is_followed_up order by responded_at desc limit 50"
    ),
    "NRR by NPS category": (
        "select nps_category, avg(nrr_6m) as nrr_6m from marts.nps_revenue where segment_type = 'all' "
        "group by 1 order by 1"
    ),
}
BI_REPEATS = 30


@dataclass
class ScaleResult:
    scale: str
    config: dict
    usage_events: int = 0
    landing_gb: float = 0.0
    ingest_runs: list[float] = field(default_factory=list)
    ingest_bound_runs: list[float] = field(default_factory=list)
    full_build_seconds: float = 0.0
    full_build_peak_gb: float = 0.0
    daily_runs: list[float] = field(default_factory=list)
    daily_run_peak_gb: float = 0.0
    baseline: str = ""  # the baseline commit measured beside this checkout, if any
    baseline_full_build_seconds: float = 0.0
    baseline_daily_runs: list[float] = field(default_factory=list)
    baseline_daily_run_peak_gb: float = 0.0
    bi_p95_ms: dict[str, float] = field(default_factory=dict)
    marts_duckdb_seconds: float = 0.0
    marts_pandas_seconds: float = 0.0
    marts_identical: bool = False

    @property
    def ingest_seconds(self) -> float:
        return Runs(self.ingest_runs).min

    @property
    def ingest_bound_seconds(self) -> float:
        return Runs(self.ingest_bound_runs).min

    @property
    def ingest_ratio(self) -> float:
        """Our loader's minimum over the straight read's minimum."""
        return ratio(Runs(self.ingest_runs), Runs(self.ingest_bound_runs))[0]

    @property
    def daily_run_seconds(self) -> float:
        return Runs(self.daily_runs).min

    @property
    def marts_speedup(self) -> float:
        return self.marts_pandas_seconds / self.marts_duckdb_seconds


def landing_for(work: Path, scale: str) -> Path:
    """The scale's landing folder, generated once per config (a marker file records the config it holds)."""
    config = {**SCALES[scale], "end_date": END_DATE.isoformat(), "seed": 42}
    landing = work / scale / "landing"
    marker = landing / "_bench_config.json"
    if marker.exists() and json.loads(marker.read_text()) == config:
        return landing
    subprocess.run(["rm", "-rf", str(landing)], check=True)
    command = [sys.executable, "-m", "demo", "--landing-dir", str(landing), "--end-date", config["end_date"]]
    for key in ("accounts", "months", "events_per_account_day", "seed"):
        command += [f"--{key.replace('_', '-')}", str(config[key])]
    if config.get("gzip_usage"):
        command.append("--gzip-usage")
    print(f"[{scale}] generating: {' '.join(command[1:])}", flush=True)
    subprocess.run(command, check=True, cwd=REPO_ROOT)
    marker.write_text(json.dumps(config))
    return landing


def _tracks_files(landing: Path) -> list[Path]:
    return sorted(path for path in (landing / "segment" / "tracks").iterdir() if path.name.endswith((".jsonl", ".gz")))


def measure_ingest(landing: Path, work: Path, repeats: int = INGEST_REPEATS) -> tuple[int, Runs, Runs]:
    """(events, our loader's runs, DuckDB's straight read's runs) for every usage-event file, `repeats` rounds with
    the order swapped every other round (the second of a round reads files the first left in the page cache)."""
    from ingestion.landing import landing_file
    from ingestion.loader import load_files
    from ingestion.loader.tables import SEGMENT_COLUMNS as _SEGMENT_COLUMNS
    from ingestion.registry import get_entity

    spec = get_entity("segment", "tracks")
    files = [landing_file(landing, spec, date.fromisoformat(path.name[:10])) for path in _tracks_files(landing)]
    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in _SEGMENT_COLUMNS.items()) + "}"
    paths = "[" + ", ".join(f"'{lf.path}'" for lf in files) + "]"
    timings: dict[str, Runs] = {"bound": Runs(), "loader": Runs()}
    events = None
    for _, name in rounds(["bound", "loader"], repeats):
        database = work / f"ingest_{name}.duckdb"
        database.unlink(missing_ok=True)
        with duckdb.connect(str(database), config={"memory_limit": MEMORY_LIMIT, "threads": THREADS}) as con:
            started = time.perf_counter()
            if name == "bound":
                con.execute(
                    "create table tracks as select * from "
                    f"read_json({paths}, format = 'newline_delimited', columns = {columns})"
                )
            else:
                result = load_files(con, files, batch_id="bench")
                if result.errors:
                    raise RuntimeError(f"ingest failed: {result.errors[0]}")
            timings[name].seconds.append(time.perf_counter() - started)
            table = "tracks" if name == "bound" else "raw_segment.tracks"
            [(count,)] = con.execute(f"select count(*) from {table}").fetchall()
        database.unlink()
        if events is not None and count != events:
            raise RuntimeError(f"{name} kept {count:,} usage events where the other run had {events:,}")
        events = count
    return events, timings["loader"], timings["bound"]


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and every descendant, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_measured(command: list[str], env: dict[str, str], cwd: Path = REPO_ROOT) -> tuple[float, float]:
    """(seconds, peak GB of the process tree) of a child process; raises with its output if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_bytes(process.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output[-4000:]}")
    return seconds, peak / 1e9


def pipeline_env(warehouse: Path, landing: Path) -> dict[str, str]:
    return {
        **os.environ,
        "NPS_DUCKDB_PATH": str(warehouse),
        "NPS_LANDING_DIR": str(landing),
        "PYTHONPATH": str(REPO_ROOT),
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "GX_ANALYTICS_ENABLED": "false",
    }


def run_pipeline(first: date, last: date) -> None:
    """The `daily_pipeline` job over [first, last] in this process (the child that run_measured watches)."""
    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from orchestration.definitions import defs

    job = defs().resolve_job_def("daily_pipeline")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags={ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat()},
        )
    if not result.success:
        failures = [event.message or "" for event in result.all_events if event.is_failure]
        raise SystemExit("pipeline failed:\n" + "\n".join(failures[:5]))


def bi_p95_ms(serving: Path) -> dict[str, float]:
    """p95 over BI_REPEATS runs of each query, on one read-only connection as a BI tool's pool keeps it."""
    results = {}
    with duckdb.connect(str(serving), read_only=True) as con:
        for name, sql in BI_QUERIES.items():
            con.execute(sql).fetchall()  # warm, as a dashboard that was opened once
            timings = []
            for _ in range(BI_REPEATS):
                started = time.perf_counter()
                con.execute(sql).fetchall()
                timings.append((time.perf_counter() - started) * 1000)
            results[name] = statistics.quantiles(timings, n=20)[18]
    return results


def measure_marts(warehouse: Path, work: Path) -> tuple[float, float, bool]:
    """(DuckDB seconds, pandas seconds, identical) for nps_by_period + ces_by_period from the same inputs."""
    from benchmarks import pandas_marts

    compiled = compile_marts(warehouse, work)
    with duckdb.connect(str(warehouse), read_only=True, config={"threads": THREADS}) as con:
        duck_seconds = sum(pandas_marts.duckdb_seconds(con, sql) for sql in compiled.values())
        inputs = pandas_marts.load_inputs(con)
        started = time.perf_counter()
        nps = pandas_marts.nps_by_period(inputs)
        ces = pandas_marts.ces_by_period(inputs)
        pandas_seconds = time.perf_counter() - started
        expected_nps = con.execute("select * from marts.nps_by_period").df()
        expected_ces = con.execute("select * from marts.ces_by_period").df()
    keys = ["period_grain", "period_start", "segment_type", "segment_value"]
    pandas_marts.compare(expected_nps, nps, keys)
    pandas_marts.compare(expected_ces, ces, keys)
    return duck_seconds, pandas_seconds, True


def compile_marts(warehouse: Path, work: Path) -> dict[str, str]:
    """The compiled SQL of the two marts, from `dbt compile` into a target folder of the benchmark's own (for the
    warehouse given: compiled SQL names the database, which DuckDB takes from the file name)."""
    target = work / "dbt-target"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "compile",
            "--quiet",
            "--profiles-dir",
            ".",
            "--target-path",
            str(target),
            "--select",
            "nps_by_period ces_by_period",
        ],
        cwd=REPO_ROOT / "dbt_project",
        check=True,
        env={**os.environ, "DO_NOT_TRACK": "1", "NPS_DUCKDB_PATH": str(warehouse)},
    )
    folder = target / "compiled" / "nps_platform" / "models" / "marts"
    return {name: (folder / f"{name}.sql").read_text() for name in ("nps_by_period", "ces_by_period")}


def run_scale(
    scale: str,
    work: Path,
    baseline: str | None = None,
    ingest_repeats: int = INGEST_REPEATS,
    daily_repeats: int = DAILY_REPEATS,
) -> ScaleResult:
    """Every measurement of one scale; with `baseline` (a commit), its full build and daily runs beside ours."""
    from ingestion.landing import dates_present
    from ingestion.registry import ENTITIES
    from settings import serving_path

    result = ScaleResult(scale=scale, config=SCALES[scale])
    landing = landing_for(work, scale)
    result.landing_gb = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()) / 1e9
    print(f"[{scale}] ingest comparison, {ingest_repeats} rounds", flush=True)
    result.usage_events, loader, bound = measure_ingest(landing, work / scale, ingest_repeats)
    result.ingest_runs, result.ingest_bound_runs = loader.seconds, bound.seconds

    variants = [Variant("current", REPO_ROOT, work / scale / "current")]
    if baseline:
        from benchmarks.repeats import baseline_checkout, baseline_overlay

        print(f"[{scale}] baseline {baseline}: its source tree and the packages it pins differently", flush=True)
        source = baseline_checkout(baseline, work)
        result.baseline = baseline
        variants.append(Variant("baseline", source, work / scale / "baseline", baseline_overlay(source)))
    for stale in [*(work / scale).glob("warehouse.duckdb*"), *(variant.folder for variant in variants)]:
        subprocess.run(["rm", "-rf", str(stale)], check=True)
    days = dates_present(landing, ENTITIES)

    def pipeline(variant: Variant, first: date, last: date) -> tuple[float, float]:
        variant.folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "benchmarks", "pipeline", first.isoformat(), last.isoformat()]
        env = pipeline_env(variant.warehouse, landing) | {"PYTHONPATH": variant.pythonpath}
        return run_measured(command, env, cwd=variant.source)

    for variant in variants:
        print(f"[{scale}] full build {days[0]} to {days[-2]} ({variant.name})", flush=True)
        seconds, peak = pipeline(variant, days[0], days[-2])
        if variant.name == "current":
            result.full_build_seconds, result.full_build_peak_gb = seconds, peak
        else:
            result.baseline_full_build_seconds = seconds
    print(f"[{scale}] daily run {days[-1]}, {daily_repeats} rounds", flush=True)
    daily = measure_daily_runs(variants, daily_repeats, lambda variant: pipeline(variant, days[-1], days[-1]))
    runs, result.daily_run_peak_gb = daily["current"]
    result.daily_runs = runs.seconds
    if baseline:
        runs, result.baseline_daily_run_peak_gb = daily["baseline"]
        result.baseline_daily_runs = runs.seconds

    warehouse = variants[0].warehouse
    result.bi_p95_ms = bi_p95_ms(serving_path(warehouse))
    print(f"[{scale}] NPS and CES marts: DuckDB vs pandas", flush=True)
    result.marts_duckdb_seconds, result.marts_pandas_seconds, result.marts_identical = measure_marts(
        warehouse, work / scale
    )
    (work / scale / "result.json").write_text(json.dumps(asdict(result), indent=2))
    return result
