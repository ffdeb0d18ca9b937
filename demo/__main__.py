"""`python -m demo --landing-dir DIR [...]`: generate the demo landing files and print row counts."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from demo.config import DemoConfig
from demo.generator import generate


def main(argv: list[str] | None = None) -> int:
    defaults = DemoConfig()
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--landing-dir", type=Path, required=True, help="folder to write <source>/<entity>/ files to")
    parser.add_argument("--accounts", type=int, default=defaults.accounts)
    parser.add_argument("--months", type=int, default=defaults.months)
    parser.add_argument("--end-date", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: yesterday UTC)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--events-per-account-day", type=float, default=defaults.events_per_account_day)
    parser.add_argument("--gzip-usage", action="store_true", help="usage events as <day>.jsonl.gz (about 6x smaller)")
    args = parser.parse_args(argv)
    config = DemoConfig(
        accounts=args.accounts,
        months=args.months,
        end_date=args.end_date,
        seed=args.seed,
        events_per_account_day=args.events_per_account_day,
        gzip_usage=args.gzip_usage,
    )
    started = time.perf_counter()
    counts = generate(args.landing_dir, config)
    width = max(len(name) for name in counts)
    for name, count in counts.items():
        print(f"{name:<{width}}  {count:>12,}")
    print(f"{'total':<{width}}  {sum(counts.values()):>12,}")
    print(f"written to {args.landing_dir} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
