"""Staged records of JSON objects and CSV rows: the contract's rules, and the replacement of their days.

The layouts stage a load's records in `_incoming` (valid structure) and `_rejected` (set aside with a reason);
`apply_rules` moves the records that break a contract rule from one to the other; `replace_partitions` replaces
the files' days in the raw and rejects tables in one transaction and returns each file's counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from ingestion.contracts.parse_once import read_paths_once
from ingestion.contracts.rules import Contract
from ingestion.entities import EntitySpec, RowRule
from ingestion.loader.results import FileLoad, StagedFile, file_load
from ingestion.loader.tables import LOAD_LOG, REJECTED_FILES, sql_string


def rule_sql(spec: EntitySpec, rules: tuple[RowRule, ...], key: str = "record_id") -> tuple[str, str]:
    """(the reason of the first rule a record breaks, a predicate true when it breaks any); `key` is its key.
    A rule that cannot be evaluated on a record (NULL) counts as broken. The rules read the contract's
    projection (`Contract.over`)."""
    key_reason = "event has no messageId" if spec.layout == "segment_tracks" else "record has no primary key"
    listed = [
        (f"{key} is null", f"'{key_reason} (field {spec.primary_key_description})'"),
        *((rule.bad_when, rule.reason) for rule in rules),
    ]
    predicates = [f"coalesce(({bad_when}), true)" for bad_when, _ in listed]
    reason = "case " + " ".join(f"when {p} then {r}" for p, (_, r) in zip(predicates, listed, strict=True)) + " end"
    return reason, " or ".join(predicates)


def raw_record_sql(spec: EntitySpec, key: str = "record_id") -> str:
    if spec.layout == "json_object":
        return "payload::varchar"
    if spec.layout == "csv":
        return "to_json(struct_pack(" + ", ".join(f'"{c}" := "{c}"' for c in spec.csv_columns) + "))::varchar"
    return (
        f"to_json(struct_pack(messageId := {key}, event := event, userId := user_id, "
        "anonymousId := anonymous_id, timestamp := event_timestamp, context := context, "
        "properties := properties))::varchar"
    )


def apply_rules(con: duckdb.DuckDBPyConnection, spec: EntitySpec, contract: Contract) -> None:
    """Move records without a primary key or breaking a rule from `_incoming` to `_rejected` (first rule wins).
    The rules are evaluated once, over the contract's projection of the staged records, each record's JSON parsed
    once for all the paths they read (`read_paths_once`)."""
    reason, broken = rule_sql(spec, contract.rules)
    staged = contract.over("_staged_records")
    (reason, broken, staged), parsed = read_paths_once([reason, broken, staged], "_incoming")
    con.execute(
        f"""
        create or replace temp table _broken as
        select file_index, line_number, {reason} as reason, {raw_record_sql(spec)} as raw_record
        from {staged.replace("_staged_records", parsed)} where {broken}
        """
    )
    con.execute("insert into _rejected select * from _broken")
    con.execute(
        "delete from _incoming using _broken where _incoming.file_index = _broken.file_index "
        "and _incoming.line_number = _broken.line_number"
    )


def staged_counts(con: duckdb.DuckDBPyConnection) -> tuple[dict[int, int], dict[int, int]]:
    """Per file: (records read, records set aside) of what is staged."""
    read = dict(
        con.execute(
            "select file_index, count(*) from (select file_index from _incoming union all "
            "select file_index from _rejected) group by 1"
        ).fetchall()
    )
    rejected = dict(con.execute("select file_index, count(*) from _rejected group by 1").fetchall())
    return read, rejected


def drop_files(con: duckdb.DuckDBPyConnection, indexes: list[int]) -> None:
    """Take the staged records of files rejected whole out of the load."""
    if indexes:
        for table in ("_incoming", "_rejected"):
            con.execute(f"delete from {table} where file_index in ({', '.join(map(str, indexes))})")


def replace_partitions(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, good: list[StagedFile], batch_id: str, contract: str
) -> list[FileLoad]:
    """JSON objects and CSV records: staged in `_incoming`; within a file the later line is the later version."""
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    partitions = partitions_of(good)
    if spec.layout == "json_object":
        select = "record_id, payload"
    else:
        select = ", ".join(f'"{c}"' for c in spec.csv_columns) + ", _extra_columns"
    # Versions are ranked only among the keys that occur more than once in a file (a hash aggregate finds them,
    # grouping by a 64-bit hash is much cheaper than by the text), not by a window over every record.
    con.execute(
        """
        create or replace temp table _superseded as
        select file_index, line_number from (
            select file_index, line_number,
                   row_number() over (partition by file_index, record_id order by line_number desc) as version_rank
            from _incoming semi join (
                select file_index, hash(record_id) as key_hash from _incoming group by all having count(*) > 1
            ) as repeated
            on repeated.file_index = _incoming.file_index and repeated.key_hash = hash(_incoming.record_id)
        )
        where version_rank > 1
        """
    )
    read, rejected = staged_counts(con)
    in_file = dict(con.execute("select file_index, count(*) from _superseded group by 1").fetchall())
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {spec.table} where _partition_date in {partitions}")
        con.execute(f"delete from {spec.rejects_table} where _partition_date in {partitions}")
        con.execute(
            f"""
            insert into {spec.table} by name
            select {select}, files.partition_date as _partition_date, files.relative_path as _source_file,
                   incoming.line_number as _line_number, ?::varchar as _batch_id, ?::timestamp as _loaded_at
            from _incoming as incoming
            join _files as files using (file_index)
            anti join _superseded as superseded using (file_index, line_number)
            """,
            [batch_id, loaded_at],
        )
        insert_staged_rejects(con, spec, good, batch_id, loaded_at)
        loads = [
            file_load(f, read.get(f.file_index, 0), rejected.get(f.file_index, 0), in_file.get(f.file_index, 0))
            for f in good
        ]
        log_loads(con, spec, good, loads, batch_id, loaded_at, contract)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return loads


def insert_staged_rejects(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, good: list[StagedFile], batch_id: str, loaded_at: datetime
) -> None:
    """The records set aside in `_rejected` (with their file's line) into the rejects table, for the good files."""
    con.execute(
        f"""
        insert into {spec.rejects_table}
        select rejected.reason, rejected.raw_record, files.partition_date, files.relative_path,
               rejected.line_number, ?, ?::timestamp
        from _rejected as rejected join _files as files using (file_index)
        where file_index in ({", ".join(str(f.file_index) for f in good)})
        order by rejected.file_index, rejected.line_number
        """,
        [batch_id, loaded_at],
    )


def partitions_of(files: list[StagedFile]) -> str:
    return "(" + ", ".join(f"date '{f.lf.partition_date.isoformat()}'" for f in files) + ")"


def resend_window_filter(spec: EntitySpec, files: list[StagedFile]) -> str:
    """`and _partition_date between ...`: the days where an earlier copy of a loaded key is looked for."""
    if spec.resend_window_days is None:
        return ""
    days = [f.lf.partition_date for f in files]
    window = timedelta(days=spec.resend_window_days)
    return f"and _partition_date between date '{min(days) - window}' and date '{max(days) + window}'"


def log_loads(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    good: list[StagedFile],
    loads: list[FileLoad],
    batch_id: str,
    loaded_at: datetime,
    contract: str,
) -> None:
    """The load log's row of every file, in one statement (lists unnested side by side), inside the load's
    transaction; the files are no longer listed as rejected."""
    con.execute(
        f"""
        insert or replace into {LOAD_LOG} (source, entity, partition_date, source_file, size_bytes, mtime_ns, sha256,
            records_read, records_loaded, records_rejected, batch_id, loaded_at, contract)
        select ?, ?, unnest(?::date[]), unnest(?::varchar[]), unnest(?::bigint[]), unnest(?::bigint[]),
               unnest(?::varchar[]), unnest(?::bigint[]), unnest(?::bigint[]), unnest(?::bigint[]), ?, ?::timestamp, ?
        """,
        [
            spec.source,
            spec.entity,
            [f.lf.partition_date for f in good],
            [f.lf.relative_path for f in good],
            [f.size for f in good],
            [f.mtime_ns for f in good],
            [f.sha256 for f in good],
            [load.records_read for load in loads],
            [load.records_loaded for load in loads],
            [load.records_rejected for load in loads],
            batch_id,
            loaded_at,
            contract,
        ],
    )
    con.execute(
        f"delete from {REJECTED_FILES} where source = ? and entity = ? and partition_date in {partitions_of(good)}",
        [spec.source, spec.entity],
    )


__all__ = ["sql_string"]
