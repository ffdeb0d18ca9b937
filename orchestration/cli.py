"""`make run`: demo data if the landing folder is empty, every landing date in one Dagster run, then a summary.

python -m orchestration.cli run [--force]    # --force re-reads and re-validates every landing file
python -m orchestration.cli summary
python -m orchestration.cli empty-day <source>/<entity> <YYYY-MM-DD>   # empty a loaded day on purpose
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from ingestion.landing import dates_present, fingerprint, is_empty
from ingestion.registry import ENTITIES
from report.summary import render
from settings import REPO_ROOT, duckdb_path, export_defaults, landing_dir

RUN_LOG = "raw_meta.pipeline_runs"
_CODE_FOLDERS = ("ingestion", "orchestration", "dbt_project/models", "dbt_project/macros", "dbt_project/seeds")


def code_fingerprint() -> str:
    """Changes when the pipeline's code or dbt project changes, so `make run` rebuilds after an upgrade."""
    digest = hashlib.sha256()
    for folder in _CODE_FOLDERS:
        for path in sorted((REPO_ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".sql", ".yml", ".csv"}:
                digest.update(str(path.relative_to(REPO_ROOT)).encode() + path.read_bytes())
    digest.update((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_bytes())
    return digest.hexdigest()


def last_successful_fingerprint(warehouse: Path) -> str | None:
    if not warehouse.exists():
        return None
    with duckdb.connect(str(warehouse), read_only=True) as con:
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'raw_meta' "
            "and table_name = 'pipeline_runs'"
        ).fetchall()[0][0]
        marts = con.execute("select count(*) from information_schema.tables where table_schema = 'marts'").fetchall()[
            0
        ][0]
        if not exists or not marts:
            return None
        rows = con.execute(f"select fingerprint from {RUN_LOG} order by finished_at desc limit 1").fetchall()
    return rows[0][0] if rows else None


def record_run(warehouse: Path, run_fingerprint: str, run_id: str, first: date, last: date) -> None:
    from orchestration.defs.resources import WarehouseResource

    resource = WarehouseResource(database=str(warehouse))
    with resource.write_connection() as con:
        con.execute("create schema if not exists raw_meta")
        con.execute(
            f"create table if not exists {RUN_LOG} (fingerprint varchar, run_id varchar, "
            "first_partition date, last_partition date, finished_at timestamp)"
        )
        con.execute(
            f"insert into {RUN_LOG} values (?, ?, ?, ?, ?)",
            [run_fingerprint, run_id, first, last, datetime.now(UTC).replace(tzinfo=None)],
        )


def say(line: str) -> None:
    print(line, flush=True)


def fetch_remote_sources(landing: Path) -> bool:
    """Sources switched to their vendor API (NPS_SOURCE_MODE_<SOURCE>=api) fetch what changed, and sources read
    from object storage (NPS_SOURCE_MODE_SEGMENT=s3) mirror their changed day objects, into the landing folder
    first, so that the run loads every day they touched (and a remote-fed landing folder is never mistaken for an
    empty one). False, with the error printed (it never holds a credential), when one failed."""
    from ingestion.api.connector import ApiFetchError, fetch
    from ingestion.api.settings import ConfigurationError, api_sources, s3_sources
    from ingestion.object_storage import ObjectStorageError, mirror

    try:
        for source in api_sources():
            result = fetch(source, landing)
            changed = len(result.files_changed)
            print(f"Fetched {source} from its API: {result.rows_fetched:,} objects, {changed} day file(s) changed")
        for source in s3_sources():
            mirrored = mirror(source, landing)
            print(
                f"Mirrored {source} from {mirrored.url} ({mirrored.backend}): {mirrored.objects_listed} object(s), "
                f"{len(mirrored.downloaded)} downloaded, {len(mirrored.files_changed)} day file(s) changed"
            )
    except (ApiFetchError, ObjectStorageError, ConfigurationError) as error:
        print(f"error: {error}")
        return False
    return True


def run(force: bool, demo: dict | None = None) -> int:
    export_defaults()
    landing, warehouse = landing_dir(), duckdb_path()
    if not fetch_remote_sources(landing):
        return 2
    if is_empty(landing):
        from demo import DemoConfig, generate
        from orchestration.run_output import demo_progress

        print(f"Landing folder {landing} is empty: generating demo data ...", flush=True)
        with demo_progress(landing, say):
            counts = generate(landing, DemoConfig(**(demo or {})))
        print(f"  wrote {sum(counts.values()):,} records in {len(counts)} entities", flush=True)

    days = dates_present(landing, ENTITIES)
    if not days:
        print(f"error: no landing files found under {landing} (<source>/<entity>/<YYYY-MM-DD>.jsonl|.csv)")
        return 2
    tomorrow = datetime.now(UTC).date().toordinal() + 1
    if days[-1].toordinal() >= tomorrow:
        print(f"error: landing files dated in the future ({days[-1]}) under {landing}; file dates are UTC days")
        return 2

    run_fingerprint = hashlib.sha256((fingerprint(landing) + code_fingerprint()).encode()).hexdigest()
    if not force and last_successful_fingerprint(warehouse) == run_fingerprint:
        print(f"Nothing changed in {landing} since the last successful run: the warehouse is up to date.")
        print(render(warehouse))
        return 0

    import dagster as dg

    # Dagster 1.13 has no public name for these tags, and `execute_in_process` takes one partition key, not a
    # range: a range run is asked for with the tags Dagster's own backfills write.
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from orchestration.definitions import defs
    from orchestration.defs.ingestion.assets import RELOAD_TAG
    from orchestration.run_output import QUIET_CONSOLE, checks_failed_without_stopping, follow_run, run_log_path

    job = defs().resolve_job_def("daily_pipeline")
    instance = dg.DagsterInstance.get()
    print(f"Loading {len(days)} days ({days[0]} to {days[-1]}) from {landing} into {warehouse} ...", flush=True)
    tags = {ASSET_PARTITION_RANGE_START_TAG: days[0].isoformat(), ASSET_PARTITION_RANGE_END_TAG: days[-1].isoformat()}
    if force:
        tags[RELOAD_TAG] = "all"
    run_id, log_path = str(uuid.uuid4()), run_log_path(warehouse, datetime.now(UTC))
    print(f"Full log (DEBUG included): {log_path}", flush=True)
    with follow_run(instance, run_id, len(job.graph.nodes), log_path):
        result = job.execute_in_process(
            instance=instance, tags=tags, raise_on_error=False, run_id=run_id, run_config=QUIET_CONSOLE
        )
    if not result.success:
        failures = [event.message for event in result.all_events if event.is_failure]
        print("Run failed:\n  " + "\n  ".join(message or "" for message in failures[:5]), file=sys.stderr)
        print(f"Full log: {log_path}", file=sys.stderr)
        return 1
    print(f"Full log: {log_path}")
    if failed := checks_failed_without_stopping(result.all_events, job):
        print(f"\n{len(failed)} check(s) failed without stopping the run (samples: the full log, the Dagster UI):")
        print("\n".join(f"  {line}" for line in failed))
    record_run(warehouse, run_fingerprint, result.run_id, days[0], days[-1])
    print(render(warehouse))
    return 0


def empty_day(entity: str, day: date) -> int:
    """Remove the day's records of the entity and record its landing file (empty or absent) as loaded; the marts
    follow at the next run."""
    from ingestion.landing import landing_file
    from ingestion.loader import empty_day as empty
    from ingestion.registry import get_entity
    from orchestration.defs.resources import WarehouseResource

    export_defaults()
    try:
        spec = get_entity(*entity.split("/", 1))
    except (KeyError, TypeError):
        print(f"error: unknown entity {entity!r} (<source>/<entity>, e.g. zendesk/tickets)", file=sys.stderr)
        return 2
    lf = landing_file(landing_dir(), spec, day)
    if lf.path.is_file() and lf.path.stat().st_size > 0 and any(line.strip() for line in lf.path.open("rb")):
        print(f"error: {lf.path} holds data: remove it or empty it first, then run this again", file=sys.stderr)
        return 2
    with WarehouseResource(database=str(duckdb_path())).write_connection() as con:
        removed = empty(con, lf, batch_id=f"empty-day:{datetime.now(UTC).isoformat()}")
    print(f"{spec.table}: {removed} record(s) of {day} removed; the next run rebuilds the marts without them")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="load every landing date and build the marts")
    run_parser.add_argument(
        "--force", action="store_true", help="run even if nothing changed, reading and validating every file again"
    )
    run_parser.add_argument("--demo-accounts", type=int, help="accounts in the demo data (default 2000)")
    run_parser.add_argument("--demo-months", type=int, help="months of demo data (default 12)")
    commands.add_parser("summary", help="print the summary of the current warehouse")
    empty = commands.add_parser(
        "empty-day",
        help="empty one loaded day of one entity on purpose (a file that would empty it is otherwise refused)",
    )
    empty.add_argument("entity", help="<source>/<entity>, e.g. zendesk/tickets")
    empty.add_argument("day", type=date.fromisoformat, help="the day, YYYY-MM-DD")
    args = parser.parse_args(argv)
    if args.command == "empty-day":
        return empty_day(args.entity, args.day)
    if args.command == "run":
        demo = {"accounts": args.demo_accounts, "months": args.demo_months}
        return run(force=args.force, demo={key: value for key, value in demo.items() if value is not None})
    export_defaults()
    print(render(duckdb_path()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
