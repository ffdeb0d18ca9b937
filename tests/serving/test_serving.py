"""Publishing the marts for BI tools: the copy, its atomic swap, failures that publish nothing, real readers."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from serving import PublishError, publish
from serving import publication as serving

READER_SCRIPT = Path(__file__).with_name("bi_reader.py")


@pytest.fixture(autouse=True)
def default_serving_locations(monkeypatch):
    """Serving copies beside the test's warehouse, whatever the developer's environment says."""
    monkeypatch.delenv("NPS_SERVING_PATH", raising=False)
    monkeypatch.delenv("NPS_PARQUET_DIR", raising=False)


def make_warehouse(path: Path, *, responses: int = 40, version: int = 1) -> Path:
    """Two marts (one with most DuckDB types the real marts use), a non-mart schema and a dbt leftover."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts; create schema if not exists staging")
        con.execute(
            """
            create or replace table marts.nps_by_period as
            select
                range::integer as period_index,
                date '2026-01-01' + range::integer as period_start,
                (range % 5)::bigint as promoters,
                (range % 3)::bigint as passives,
                (range % 2)::bigint as detractors,
                ((range % 5) + (range % 3) + (range % 2))::bigint as responses,
                case when range % 7 = 0 then null else range / 3.0 end as nps,
                (range * 1.25)::decimal(18, 2) as mrr_usd,
                range % 2 = 0 as is_even,
                timestamp '2026-01-01 10:00:00' + to_minutes(range) as built_at,
                case when range % 4 = 0 then null else 'segment ' || (range % 4) end as segment_value,
                ? as version
            from range(?)
            """,
            [version, responses],
        )
        con.execute(f"create or replace table marts.program_summary as select {responses} as responses, {version} as v")
        con.execute(
            "create or replace view marts.promoters_only as select * from marts.nps_by_period where promoters > 0"
        )
        # Descriptions, as dbt's persist_docs writes them (a quote inside, to be escaped on the way).
        con.execute("comment on table marts.nps_by_period is 'NPS per period, the ''long'' table'")
        con.execute("comment on column marts.nps_by_period.nps is 'Net Promoter Score'")
        con.execute("comment on view marts.promoters_only is 'Rows with promoters'")
        con.execute("create or replace table staging.stg_secret as select 'not for BI' as note")
        con.execute("create or replace table marts.nps_by_period__dbt_tmp as select 1 as half_built")
    return path


def locations(tmp_path: Path) -> tuple[Path, Path, Path]:
    return tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb", tmp_path / "parquet"


def rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def differences(sql_a: str, sql_b: str, *attach: tuple[Path, str]) -> int:
    """Rows in one result and not the other, both ways, duplicates counted (EXCEPT ALL)."""
    with duckdb.connect() as con:
        for path, alias in attach:
            con.execute(f"attach '{path}' as {alias} (read_only)")
        return con.execute(
            f"select (select count(*) from ({sql_a} except all {sql_b})) + (select count(*) from ({sql_b} except all {sql_a}))"
        ).fetchall()[0][0]


def state(serving_path: Path, parquet_dir: Path) -> dict:
    """Everything a reader could see: the serving file's bytes and every file of the Parquet folder."""
    listing = {}
    for path in sorted(parquet_dir.rglob("*")):
        key = str(path.relative_to(parquet_dir))
        if path.is_symlink():
            listing[key] = "-> " + os.readlink(path)
        elif path.is_file():
            listing[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"serving": hashlib.sha256(serving_path.read_bytes()).hexdigest(), "parquet": listing}


def temporary_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if serving.TMP_MARK in p.name)


# --- publish() ---------------------------------------------------------------------------------------------------


def test_publishes_exactly_the_marts_with_their_contents(tmp_path):
    warehouse, serving_path, parquet_dir = locations(tmp_path)
    make_warehouse(warehouse)

    result = publish(warehouse, serving_path, parquet_dir, run_id="run-1")

    tables = rows(serving_path, "select table_schema, table_name from information_schema.tables order by all")
    assert tables == [
        ("marts", "nps_by_period"),
        ("marts", "program_summary"),
        ("marts", "promoters_only"),
        ("meta", "publication"),
        ("meta", "published_marts"),
    ]
    assert result.row_counts == {"nps_by_period": 40, "program_summary": 1, "promoters_only": 32}
    for table in result.row_counts:
        assert (
            differences(
                f"select * from w.marts.{table}",
                f"select * from s.marts.{table}",
                (warehouse, "w"),
                (serving_path, "s"),
            )
            == 0
        )
        parquet = parquet_dir / "current" / table / "data.parquet"
        assert differences(f"select * from w.marts.{table}", f"select * from '{parquet}'", (warehouse, "w")) == 0
    # Same column types in the serving file as in the warehouse (BI tools read the types).
    types = "select table_name, column_name, data_type from information_schema.columns where table_catalog = '{db}' and table_schema = 'marts' and table_name not like '%dbt%' order by all"
    with duckdb.connect() as con:
        con.execute(f"attach '{warehouse}' as w (read_only)")
        con.execute(f"attach '{serving_path}' as s (read_only)")
        assert con.execute(types.format(db="w")).fetchall() == con.execute(types.format(db="s")).fetchall()

    [publication] = rows(
        serving_path, "select publication_id, run_id, source_fingerprint, marts, total_rows from meta.publication"
    )
    assert publication == (result.publication_id, "run-1", result.source_fingerprint, 3, 73)
    assert rows(serving_path, "select table_name, row_count from meta.published_marts order by 1") == sorted(
        result.row_counts.items()
    )
    manifest = json.loads((parquet_dir / "current" / "_publication.json").read_text())
    assert manifest["publication_id"] == result.publication_id
    assert {name: mart["rows"] for name, mart in manifest["marts"].items()} == result.row_counts
    assert os.readlink(parquet_dir / "current") == result.publication_id
    assert temporary_files(tmp_path) == []
    # Readable by the older DuckDB that BI tools embed, not only by the 2.0 that wrote it.
    assert rows(
        serving_path, "select tags['storage_version'] from duckdb_databases() where database_name = 'serving'"
    ) == [("v1.0.0+",)]


def test_republishing_replaces_everything_and_keeps_one_previous_parquet_version(tmp_path):
    warehouse, serving_path, parquet_dir = locations(tmp_path)
    make_warehouse(warehouse, responses=10, version=1)
    first = publish(warehouse, serving_path, parquet_dir)
    make_warehouse(warehouse, responses=25, version=2)
    second = publish(warehouse, serving_path, parquet_dir)

    assert rows(serving_path, "select count(*), max(version) from marts.nps_by_period") == [(25, 2)]
    with duckdb.connect() as con:
        assert con.execute(
            f"select count(*), max(version) from '{parquet_dir}/current/nps_by_period/data.parquet'"
        ).fetchall() == [(25, 2)]
    assert second.source_fingerprint != first.source_fingerprint
    versions = sorted(p.name for p in parquet_dir.iterdir() if p.name != "current")
    assert versions == sorted([first.publication_id, second.publication_id])

    third = publish(warehouse, serving_path, parquet_dir)
    assert third.source_fingerprint == second.source_fingerprint  # same content, same fingerprint
    versions = sorted(p.name for p in parquet_dir.iterdir() if p.name != "current")
    assert versions == sorted([second.publication_id, third.publication_id])  # the oldest one is gone
    assert temporary_files(tmp_path) == []


def test_a_reader_keeps_its_publication_until_it_reconnects(tmp_path):
    warehouse, serving_path, parquet_dir = locations(tmp_path)
    make_warehouse(warehouse, responses=10, version=1)
    publish(warehouse, serving_path, parquet_dir)
    make_warehouse(warehouse, responses=20, version=2)

    with duckdb.connect(str(serving_path), read_only=True) as before:
        publish(warehouse, serving_path, parquet_dir)
        # The open connection still reads the file it opened (same inode), complete and unchanged.
        assert before.execute("select count(*), max(version) from marts.nps_by_period").fetchall() == [(10, 1)]
    assert rows(serving_path, "select count(*), max(version) from marts.nps_by_period") == [(20, 2)]


def test_a_reader_in_another_process_does_not_block_publishing(tmp_path):
    warehouse, serving_path, parquet_dir = locations(tmp_path)
    make_warehouse(warehouse, responses=10, version=1)
    publish(warehouse, serving_path, parquet_dir)
    make_warehouse(warehouse, responses=30, version=2)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(serving_path)!r}, read_only=True)\n"
            "print(con.execute('select count(*) from marts.nps_by_period').fetchall()[0][0], flush=True)\n"
            "sys.stdin.readline()\n"
            "print(con.execute('select count(*) from marts.nps_by_period').fetchall()[0][0], flush=True)\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "10"
        publish(warehouse, serving_path, parquet_dir)  # a writer could not even open the file the reader holds
        out, _ = holder.communicate("go\n", timeout=30)
    finally:
        holder.kill()
    assert out.strip() == "10"
    assert rows(serving_path, "select count(*) from marts.nps_by_period") == [(30,)]


def test_a_bi_client_querying_across_many_publishes_never_fails(tmp_path):
    """The swap itself, many times over: a duckdb-engine client in another process while 40 publishes replace
    the file (the end-to-end test below covers whole pipeline runs, with one swap each)."""
    warehouse, serving_path, parquet_dir = locations(tmp_path)
    make_warehouse(warehouse, responses=10)
    publish(warehouse, serving_path, parquet_dir)
    stop, report = tmp_path / "stop-reader", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, str(READER_SCRIPT), str(serving_path), str(stop), str(report)])
    try:
        ids = []
        for version in range(40):
            make_warehouse(warehouse, responses=10 + version % 7 * 100, version=version)
            ids.append(publish(warehouse, serving_path, parquet_dir).publication_id)
            time.sleep(0.1)
        deadline = time.monotonic() + 30
        latest = report.with_suffix(".latest")
        while not (latest.exists() and latest.read_text() == ids[-1]) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    stats = json.loads(report.read_text())
    print(
        f"\nreader: {stats['queries']} queries, {len(stats['errors'])} errors, {len(stats['inconsistent'])} "
        f"inconsistent answers, across {len(stats['publications'])} of {len(ids)} publications"
    )
    assert stats["errors"] == []
    assert stats["inconsistent"] == []
    assert stats["queries"] >= 20
    assert len(set(stats["publications"]) & set(ids)) >= 10  # it kept up with the swaps


def _raise_after(original):
    def broken(*args, **kwargs):
        original(*args, **kwargs)
        raise RuntimeError("simulated crash after the Parquet files were written")

    return broken


def _raise(*args, **kwargs):
    raise RuntimeError("simulated crash")


def test_descriptions_are_published_as_comments(tmp_path: Path):
    warehouse, serving_path, parquet_dir = locations(tmp_path)
    make_warehouse(warehouse)
    publish(warehouse, serving_path, parquet_dir)
    tables = "select table_name, comment from duckdb_tables() where schema_name = 'marts' and comment is not null"
    assert sorted(rows(serving_path, tables)) == [
        ("nps_by_period", "NPS per period, the 'long' table"),
        ("promoters_only", "Rows with promoters"),
    ]
    columns = "select table_name, column_name, comment from duckdb_columns() where comment is not null"
    assert rows(serving_path, columns) == [("nps_by_period", "nps", "Net Promoter Score")]


@pytest.mark.parametrize(
    "step",
    ["_verify_copy", "_export_parquet", "_point_current_at", "_replace_serving_file"],
    ids=["copy-does-not-match", "after-parquet-written", "while-swapping-parquet", "while-replacing-serving-file"],
)
def test_a_failed_publish_leaves_the_previous_publication_untouched(tmp_path, monkeypatch, step):
    warehouse, serving_path, parquet_dir = locations(tmp_path)
    make_warehouse(warehouse, responses=10, version=1)
    publish(warehouse, serving_path, parquet_dir)
    make_warehouse(warehouse, responses=20, version=2)
    publish(warehouse, serving_path, parquet_dir)  # so a previous Parquet version exists too
    before = state(serving_path, parquet_dir)
    make_warehouse(warehouse, responses=30, version=3)

    replacement = _raise_after(serving._export_parquet) if step == "_export_parquet" else _raise
    monkeypatch.setattr(serving, step, replacement)
    with pytest.raises(RuntimeError, match="simulated crash"):
        publish(warehouse, serving_path, parquet_dir)

    assert state(serving_path, parquet_dir) == before
    assert rows(serving_path, "select count(*), max(version) from marts.nps_by_period") == [(20, 2)]
    assert temporary_files(tmp_path) == []
    assert not serving_path.with_name(serving_path.name + ".wal").exists()


def test_a_copy_that_differs_from_the_warehouse_is_refused():
    source = {"nps_by_period": (40, "123"), "program_summary": (1, "9")}
    serving._verify_copy(source, dict(source))
    with pytest.raises(PublishError, match="nps_by_period: 40 rows in the warehouse, 39 copied"):
        serving._verify_copy(source, {**source, "nps_by_period": (39, "123")})
    with pytest.raises(PublishError, match="program_summary: 1 rows in both, different content"):
        serving._verify_copy(source, {**source, "program_summary": (1, "8")})
    with pytest.raises(PublishError, match="program_summary: not copied"):
        serving._verify_copy(source, {"nps_by_period": (40, "123")})


def test_missing_marts_publish_nothing(tmp_path):
    warehouse, serving_path, parquet_dir = locations(tmp_path)
    make_warehouse(warehouse)
    with pytest.raises(PublishError, match="marts missing from the warehouse: account_health"):
        publish(warehouse, serving_path, parquet_dir, expected_marts=["nps_by_period", "account_health"])
    empty = tmp_path / "empty.duckdb"
    with duckdb.connect(str(empty)) as con:
        con.execute("create schema marts")
    with pytest.raises(PublishError, match="holds no table"):
        publish(empty, serving_path, parquet_dir)
    assert not serving_path.exists()
    assert not (parquet_dir / "current").exists()
    assert temporary_files(tmp_path) == []


def test_leftovers_of_a_killed_publish_are_removed_by_the_next_one(tmp_path):
    warehouse, serving_path, parquet_dir = locations(tmp_path)
    make_warehouse(warehouse)
    parquet_dir.mkdir()
    (tmp_path / "serving.duckdb.tmp-20260101T000000Z-deadbeef").write_bytes(b"half a database")
    (tmp_path / "serving.duckdb.tmp-20260101T000000Z-deadbeef.wal").write_bytes(b"log")
    (parquet_dir / ".tmp-20260101T000000Z-deadbeef" / "nps_by_period").mkdir(parents=True)
    publish(warehouse, serving_path, parquet_dir)
    assert temporary_files(tmp_path) == []


# --- the Dagster asset -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def definitions(dbt_manifest) -> dg.Definitions:
    from orchestration.definitions import defs

    return defs()


def test_the_asset_depends_on_every_mart_and_runs_in_the_daily_job(definitions):
    graph = definitions.resolve_asset_graph()
    node = graph.get(dg.AssetKey(["serving", "marts_published"]))
    every_mart = {key for key in graph.get_all_asset_keys() if key.path[0] == "marts"}
    assert len(every_mart) >= 10
    assert set(node.parent_keys) == every_mart
    assert node.group_name == "serving"
    assert {"duckdb", "parquet"} <= set(node.kinds)
    assert node.owners and node.description
    job = definitions.resolve_job_def("daily_pipeline")
    steps = {n.name for n in job.graph.nodes}
    assert "serving__marts_published" in steps
    assert sorted(s for s in steps if s.startswith("dbt_")) == ["dbt_build"]


def stub_marts(fail: str | None = None, skip: str | None = None) -> list[dg.AssetsDefinition]:
    """Stand-ins with the real mart keys, built like the real ones: most in one multi-asset step whose outputs
    are optional (as dbt's), one in a step of its own (as the Python marts). They write a table per mart."""
    from orchestration.defs.serving.assets import mart_keys

    python_mart = dg.AssetKey(["marts", "churn_risk_backtest"])

    def build(context, key: dg.AssetKey) -> None:
        with context.resources.warehouse.write_connection() as con:
            con.execute("create schema if not exists marts")
            con.execute(f'create or replace table marts."{key.path[-1]}" as select 1 as built')

    @dg.multi_asset(
        specs=[dg.AssetSpec(key, skippable=True) for key in mart_keys() if key != python_mart],
        can_subset=True,
        name="stub_dbt_marts",
        required_resource_keys={"warehouse"},
    )
    def dbt_like(context):
        for key in sorted(context.selected_asset_keys, key=lambda k: k.path):
            if key.path[-1] == skip:
                continue
            build(context, key)
            yield dg.MaterializeResult(asset_key=key)
            if key.path[-1] == fail:
                raise RuntimeError(f"{key.path[-1]} failed")

    @dg.asset(key=python_mart, required_resource_keys={"warehouse"})
    def python_like(context):
        if python_mart.path[-1] == fail:
            raise RuntimeError("churn_risk_backtest failed")
        build(context, python_mart)

    return [dbt_like, python_like]


@pytest.mark.parametrize(
    ("fail", "skip"),
    [("nps_by_period", None), ("churn_risk_backtest", None), (None, "account_health")],
    ids=["a-dbt-mart-fails", "a-python-mart-fails", "a-mart-is-not-built"],
)
def test_a_run_where_a_mart_fails_or_is_skipped_publishes_nothing(dbt_manifest, tmp_path, fail, skip):
    from orchestration.defs.resources import WarehouseResource
    from orchestration.defs.serving.assets import marts_published

    warehouse = tmp_path / "warehouse.duckdb"
    resources = {"warehouse": WarehouseResource(database=str(warehouse))}
    good = dg.materialize([*stub_marts(), marts_published()], resources=resources)
    assert good.success
    [published] = rows(tmp_path / "serving.duckdb", "select publication_id from meta.publication")
    before = state(tmp_path / "serving.duckdb", tmp_path / "parquet")

    result = dg.materialize(
        [*stub_marts(fail=fail, skip=skip), marts_published()], resources=resources, raise_on_error=False
    )

    assert result.success is (fail is None)
    # Dagster never starts the step: after a failure upstream it abandons it ("Dependencies for step ... failed.
    # Not executing."), after an output that was not produced it skips it (STEP_SKIPPED).
    step = "serving__marts_published"
    assert [e.event_type_value for e in result.all_events if e.step_key == step and e.is_step_event] == (
        [] if fail else ["STEP_SKIPPED"]
    )
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert dg.AssetKey(["serving", "marts_published"]) not in materialized
    assert rows(tmp_path / "serving.duckdb", "select publication_id from meta.publication") == [published]
    assert state(tmp_path / "serving.duckdb", tmp_path / "parquet") == before


def test_the_asset_reports_what_it_published(dbt_manifest, tmp_path):
    from orchestration.defs.resources import WarehouseResource
    from orchestration.defs.serving.assets import mart_keys, marts_published

    warehouse = tmp_path / "warehouse.duckdb"
    result = dg.materialize(
        [*stub_marts(), marts_published()], resources={"warehouse": WarehouseResource(database=str(warehouse))}
    )
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[0] == "serving"]
    metadata = event.materialization.metadata
    assert metadata["row_counts"].value == {key.path[-1]: 1 for key in mart_keys()}
    assert metadata["serving_path"].value == str(tmp_path / "serving.duckdb")
    assert metadata["parquet_path"].value == str(tmp_path / "parquet" / "current")
    assert metadata["duration_seconds"].value >= 0
    assert (
        metadata["publication_id"].value
        == rows(tmp_path / "serving.duckdb", "select publication_id from meta.publication")[0][0]
    )


# --- real BI clients during real runs ----------------------------------------------------------------------------


def mart_stats(path: Path) -> dict[str, tuple[int, str]]:
    """Row count and content checksum of every table of schema marts (dbt work tables aside)."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
            if "__dbt_" not in name
        ]
        return {
            table: tuple(con.execute(f'select count(*), sum(hash(t))::varchar from marts."{table}" as t').fetchall()[0])
            for table in tables
        }


@pytest.mark.e2e
def test_bi_readers_never_fail_nor_see_half_a_publication_during_full_runs(pipeline, small_landing, tmp_path):
    from ingestion.landing import dates_present
    from ingestion.registry import ENTITIES

    warehouse, serving_path, parquet_dir = locations(tmp_path)
    stop, report = tmp_path / "stop-reader", tmp_path / "reader.json"
    days = dates_present(small_landing, ENTITIES)
    latest = report.with_suffix(".latest")

    def wait_for_answer_from(publication_id: str) -> None:
        deadline = time.monotonic() + 60
        while not (latest.exists() and latest.read_text() == publication_id):
            assert reader.poll() is None and time.monotonic() < deadline, f"no answer from {publication_id}"
            time.sleep(0.05)

    reader = subprocess.Popen([sys.executable, str(READER_SCRIPT), str(serving_path), str(stop), str(report)])
    try:
        pipeline.run(warehouse, small_landing, days[0], days[-1])  # the first publication
        [first_publication] = rows(serving_path, "select publication_id from meta.publication")[0]
        wait_for_answer_from(first_publication)
        second_run_started = time.time()
        pipeline.run(warehouse, small_landing, days[0], days[-1])  # a whole run, with the reader querying throughout
        second_run_ended = time.time()
        [second_publication] = rows(serving_path, "select publication_id from meta.publication")[0]
        wait_for_answer_from(second_publication)  # the publish is the run's last step: give the reader its turn
    finally:
        stop.touch()
        reader.wait(timeout=60)
    stats = json.loads(report.read_text())
    duration = second_run_ended - second_run_started
    print(
        f"\nreader: {stats['queries']} queries, {len(stats['errors'])} errors, {len(stats['inconsistent'])} "
        f"inconsistent answers; second run {duration:.0f} s; answers per publication "
        f"{ {key: value['queries'] for key, value in stats['publications'].items()} }"
    )

    assert stats["errors"] == []
    assert stats["inconsistent"] == []
    assert stats["queries"] > 50
    assert second_publication != first_publication
    # It read the first publication from before the second run started until that run replaced it, then the new one.
    assert set(stats["publications"]) == {first_publication, second_publication}
    first, second = stats["publications"][first_publication], stats["publications"][second_publication]
    assert first["first"] < second_run_started and first["last"] > second_run_ended - 10
    assert first["last"] < second["first"]
    assert first["queries"] > 50

    # What BI tools read now is exactly what the warehouse holds.
    published = mart_stats(serving_path)
    assert published == mart_stats(warehouse)
    assert "nps_by_period" in published and "account_health" in published
    with duckdb.connect() as con:
        for table, (count, _) in published.items():
            parquet = parquet_dir / "current" / table / "data.parquet"
            assert con.execute(f"select count(*) from '{parquet}'").fetchall() == [(count,)], table
    assert temporary_files(tmp_path) == []
