"""The results page of `make bench` (docs/benchmarks.md), from the harness's results: one table of every scale,
the targets, every round of the repeated measurements, the BI queries."""

from __future__ import annotations

import os
import platform
from datetime import date
from pathlib import Path

from benchmarks.harness import BI_QUERIES, MEMORY_LIMIT, THREADS, ScaleResult
from benchmarks.repeats import Runs, ratio


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory_gb:.0f} GiB RAM, {platform.system()} {platform.release()}"


def render(results: list[ScaleResult], command: str) -> str:
    by_scale = {r.scale: r for r in results}
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (benchmarks/harness.py); every number below was measured in the same run.",
        "",
        f"- Machine: {machine()}",
        f"- Command: `{command}`",
        f"- DuckDB memory limit {MEMORY_LIMIT}, {THREADS} threads (the warehouse, dbt and the loader alike)",
        f"- Measured on {date.today().isoformat()}",
        "",
        "| scale | accounts | usage events | landing GB | ingest (events/s) | ingest vs DuckDB straight read "
        "| full build (s) | full build peak GB | daily run (s) | daily run peak GB | BI query p95, worst of 10 (ms) "
        "| NPS+CES marts: DuckDB (s) | pandas (s) | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.scale} | {r.config['accounts']:,} | {r.usage_events:,} | {r.landing_gb:.1f} "
            f"| {r.usage_events / r.ingest_seconds:,.0f} | {r.ingest_ratio:.2f}x "
            f"| {r.full_build_seconds:.0f} | {r.full_build_peak_gb:.2f} | {r.daily_run_seconds:.0f} "
            f"| {r.daily_run_peak_gb:.2f} | {max(r.bi_p95_ms.values()):.1f} "
            f"| {r.marts_duckdb_seconds:.2f} | {r.marts_pandas_seconds:.2f} | {r.marts_speedup:.1f}x |"
        )
    lines += ["", "## Targets", ""]
    for r in results:
        lines.append(f"- {r.scale}: usage-event ingest within 1.5x of DuckDB's straight read: {r.ingest_ratio:.2f}x")
    if "S" in by_scale and "L" in by_scale:
        ratio = by_scale["L"].daily_run_seconds / by_scale["S"].daily_run_seconds
        lines.append(f"- daily run with the L history vs the S history (at most 2x): {ratio:.2f}x")
    if "L" in by_scale:
        lines.append(f"- L full build peak memory (under 8 GB): {by_scale['L'].full_build_peak_gb:.2f} GB")
        lines.append(f"- L BI query p95 (under 100 ms): {max(by_scale['L'].bi_p95_ms.values()):.1f} ms")
    if "M" in by_scale:
        lines.append(
            f"- M NPS and CES marts, DuckDB vs pandas (at least 10x, identical results): "
            f"{by_scale['M'].marts_speedup:.1f}x, identical: {by_scale['M'].marts_identical}"
        )
    lines += repeated_measurements(results)
    lines += ["", "## BI query p95 (ms)", "", "| query | " + " | ".join(r.scale for r in results) + " |"]
    lines.append("|---|" + "---:|" * len(results))
    for name in BI_QUERIES:
        lines.append(f"| {name} | " + " | ".join(f"{r.bi_p95_ms[name]:.1f}" for r in results) + " |")
    return "\n".join(lines) + "\n"


def repeated_measurements(results: list[ScaleResult]) -> list[str]:
    """The ingest comparison and the daily run against the baseline: every run, minimum and median."""
    lines = [
        "",
        "## Ingest: every round",
        "",
        "Our loader and DuckDB's straight read of the same usage-event files, in alternating order (straight read "
        "first in odd rounds, loader first in even ones); the ratio of the minimums is the one in the table above.",
        "",
        "| scale | loader (s) | straight read (s) | ratio of minimums | ratio of medians |",
        "|---|---|---|---:|---:|",
    ]
    for r in results:
        loader, bound = Runs(r.ingest_runs), Runs(r.ingest_bound_runs)
        by_min, by_median = ratio(loader, bound)
        lines.append(f"| {r.scale} | {_runs_cell(loader)} | {_runs_cell(bound)} | {by_min:.2f}x | {by_median:.2f}x |")
    compared = [r for r in results if r.baseline]
    if compared:
        lines += [
            "",
            f"## The daily run against the baseline ({compared[0].baseline})",
            "",
            "The same job for the last day, by this checkout and by the baseline commit (its source tree exported "
            "with `git archive`, run with this virtualenv), each on the history of its own full build, in "
            "alternating order, each run from a copy of that history.",
            "",
            "| scale | this checkout (s) | baseline (s) | baseline / this, minimums | medians "
            "| peak GB, this / baseline | full build (s), this / baseline |",
            "|---|---|---|---:|---:|---|---|",
        ]
        for r in compared:
            current, base = Runs(r.daily_runs), Runs(r.baseline_daily_runs)
            by_min, by_median = ratio(base, current)
            lines.append(
                f"| {r.scale} | {_runs_cell(current)} | {_runs_cell(base)} | {by_min:.2f}x | {by_median:.2f}x "
                f"| {r.daily_run_peak_gb:.2f} / {r.baseline_daily_run_peak_gb:.2f} "
                f"| {r.full_build_seconds:.0f} / {r.baseline_full_build_seconds:.0f} |"
            )
    return lines


def _runs_cell(runs: Runs) -> str:
    """'min 1.2, median 1.4 (1.2, 1.5, 1.4, 1.3)': the runs in the order they ran."""
    every = ", ".join(f"{seconds:.1f}" for seconds in runs.seconds)
    return f"min {runs.min:.1f}, median {runs.median:.1f} ({every})"
