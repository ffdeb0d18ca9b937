"""python -m benchmarks run [--scales S M L] [--work DIR] [--out docs/benchmarks.md] [--baseline COMMIT|none]
[--ingest-repeats N] [--daily-repeats N]; see benchmarks/harness.py and benchmarks/repeats.py."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from benchmarks import harness
from benchmarks.render import render
from benchmarks.repeats import BASELINE_COMMIT, DAILY_REPEATS, INGEST_REPEATS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="measure the given scales and write the results table")
    run.add_argument("--scales", nargs="+", default=["S", "M", "L"], choices=sorted(harness.SCALES))
    run.add_argument("--work", type=Path, default=Path("data/bench"), help="generated data and warehouses")
    run.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    run.add_argument(
        "--baseline",
        default=BASELINE_COMMIT,
        help=f"commit whose full build and daily run are measured beside this checkout's (default {BASELINE_COMMIT}); "
        "'none' to measure this checkout only",
    )
    run.add_argument("--ingest-repeats", type=int, default=INGEST_REPEATS, help="rounds of the ingest comparison")
    run.add_argument("--daily-repeats", type=int, default=DAILY_REPEATS, help="daily runs of each version")
    pipeline = commands.add_parser("pipeline", help="(internal) the daily_pipeline job over FIRST..LAST")
    pipeline.add_argument("first", type=date.fromisoformat)
    pipeline.add_argument("last", type=date.fromisoformat)
    args = parser.parse_args(argv)
    if args.command == "pipeline":
        harness.run_pipeline(args.first, args.last)
        return 0
    baseline = None if args.baseline.lower() == "none" else args.baseline
    results = [
        harness.run_scale(scale, args.work.resolve(), baseline, args.ingest_repeats, args.daily_repeats)
        for scale in args.scales
    ]
    command = (
        "make bench" if args.scales == ["S", "M", "L"] else f"python -m benchmarks run --scales {' '.join(args.scales)}"
    )
    args.out.write_text(render(results, command))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
