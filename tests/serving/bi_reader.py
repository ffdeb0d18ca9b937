"""A BI client in its own process: queries the serving file through duckdb-engine (SQLAlchemy) until told to stop.

python tests/serving/bi_reader.py <serving.duckdb> <stop file> <report.json>

Every query opens a new engine and connection, read-only, as a dashboard refresh does; it records errors, answers
that are inconsistent (a row of nps_by_period whose categories do not add up to its responses, or a row count
different from the one the publication recorded) and which publication each answer came from.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

CONSISTENCY_QUERY = """
select
    (select count(*) from marts.nps_by_period) as rows,
    (select count(*) from marts.nps_by_period
     where promoters + passives + detractors <> responses) as inconsistent_rows,
    (select row_count from meta.published_marts where table_name = 'nps_by_period') as published_rows,
    (select publication_id from meta.publication) as publication_id
"""
PAUSE_SECONDS = 0.02


def main(serving: Path, stop_file: Path, report: Path) -> None:
    stats: dict = {"queries": 0, "errors": [], "inconsistent": [], "publications": {}, "waits": 0}
    latest = report.with_suffix(".latest")  # the publication of the latest answer, for the test to wait on
    while not stop_file.exists():
        if not serving.exists():  # nothing published yet: not a query, not an error
            stats["waits"] += 1
            time.sleep(PAUSE_SECONDS)
            continue
        engine = create_engine(f"duckdb:///{serving}", connect_args={"read_only": True})
        try:
            with engine.connect() as connection:
                rows, inconsistent_rows, published_rows, publication_id = connection.execute(
                    text(CONSISTENCY_QUERY)
                ).one()
        except Exception as error:  # every failure counts, whatever its kind
            stats["errors"].append(f"{time.time():.3f} {type(error).__name__}: {str(error)[:300]}")
        else:
            now = time.time()
            stats["queries"] += 1
            if publication_id not in stats["publications"]:
                latest.with_suffix(".tmp").write_text(publication_id)
                latest.with_suffix(".tmp").replace(latest)
            seen = stats["publications"].setdefault(publication_id, {"queries": 0, "first": now, "last": now})
            seen["queries"] += 1
            seen["last"] = now
            if inconsistent_rows or not rows or rows != published_rows:
                stats["inconsistent"].append([publication_id, rows, inconsistent_rows, published_rows])
        finally:
            engine.dispose()
        time.sleep(PAUSE_SECONDS)
    report.write_text(json.dumps(stats))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
