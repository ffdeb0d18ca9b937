"""`python -m ingestion.api fetch [--source stripe ...]`: pull the API-mode sources into the landing folder.

Run it once before the first `make run` of a source switched to API mode, so the run loads every day the
history covers (a Dagster run fetches too, but loads only the days of its partitions).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import settings
from ingestion.api.connector import ApiFetchError, fetch
from ingestion.api.settings import API_SOURCES, ConfigurationError, api_sources

REPO_ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion.api", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_parser = commands.add_parser("fetch", help="fetch new and changed objects into the landing folder")
    fetch_parser.add_argument(
        "--source",
        action="append",
        choices=API_SOURCES,
        help="a source to fetch (repeatable); default: every source with NPS_SOURCE_MODE_<SOURCE>=api",
    )
    args = parser.parse_args(argv)
    landing = settings.landing_dir()
    try:
        sources = args.source or api_sources()
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not sources:
        print("No source is in API mode (set NPS_SOURCE_MODE_<SOURCE>=api, or pass --source).")
        return 0
    status = 0
    for source in sources:
        try:
            result = fetch(source, landing)
        except (ApiFetchError, ConfigurationError) as error:
            print(f"error: {error}", file=sys.stderr)
            status = 1
            continue
        print(
            f"{source}: {result.rows_fetched} object version(s) in {result.seconds} s, "
            f"{sum(result.requests.values())} request(s); {len(result.files_changed)} landing file(s) written "
            f"under {landing}"
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
