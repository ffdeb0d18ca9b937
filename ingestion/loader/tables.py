"""The raw tables a load writes: the entity's table and rejects table, and the load bookkeeping in `raw_meta`."""

from __future__ import annotations

import duckdb

from ingestion.entities import EntitySpec

LOAD_LOG = "raw_meta.file_loads"
REJECTED_FILES = "raw_meta.rejected_files"
# Usage-event loads whose appended rows are committed before the load itself (ingestion/loader/usage_events.py).
LOADS_IN_PROGRESS = "raw_meta.loads_in_progress"
# Entries of the landing folder that are not a day file of an entity (ingestion/landing.py, `scan`).
LANDING_IGNORED = "raw_meta.landing_ignored"

LOAD_COLUMNS_DDL = """
    _partition_date date not null,
    _source_file varchar not null,
    _line_number bigint not null,
    _batch_id varchar not null,
    _loaded_at timestamp not null
"""

# The raw columns of usage events and the track-call fields they are read from (DuckDB's JSON reader types them).
SEGMENT_COLUMNS = {
    "messageId": "VARCHAR",
    "event": "VARCHAR",
    "userId": "VARCHAR",
    "anonymousId": "VARCHAR",
    "timestamp": "VARCHAR",
    "properties": "JSON",
    "context": "JSON",
}
RAW_SEGMENT_COLUMNS = (
    "message_id, event, user_id, anonymous_id, account_id, event_timestamp, properties, context, "
    "_partition_date, _source_file, _line_number, _batch_id, _loaded_at"
)


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ensure_meta_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw_meta")
    con.execute(
        f"""
        create table if not exists {LOAD_LOG} (
            source varchar not null,
            entity varchar not null,
            partition_date date not null,
            source_file varchar not null,
            size_bytes bigint not null,
            mtime_ns bigint not null,
            sha256 varchar not null,
            records_read bigint not null,
            records_loaded bigint not null,
            records_rejected bigint not null,
            batch_id varchar not null,
            loaded_at timestamp not null,
            primary key (source, entity, partition_date)
        )
        """
    )
    # Warehouses created before quarantine and contracts existed: add the columns in place. `contract` is the
    # fingerprint of the rules the file was validated under (a file is validated again when they change).
    con.execute(f"alter table {LOAD_LOG} add column if not exists records_rejected bigint default 0")
    con.execute(f"alter table {LOAD_LOG} add column if not exists contract varchar")
    con.execute(
        f"""
        create table if not exists {REJECTED_FILES} (
            source varchar not null,
            entity varchar not null,
            partition_date date not null,
            source_file varchar not null,
            line_number bigint,
            reason varchar not null,
            batch_id varchar not null,
            rejected_at timestamp not null,
            primary key (source, entity, partition_date)
        )
        """
    )
    con.execute(
        f"create table if not exists {LOADS_IN_PROGRESS} "
        "(source varchar not null, entity varchar not null, batch_id varchar not null, loaded_at timestamp not null)"
    )
    con.execute(
        f"""
        create table if not exists {LANDING_IGNORED} (
            source varchar,
            entity varchar,
            path varchar not null,
            reason varchar not null,
            seen_at timestamp not null
        )
        """
    )


def ensure_tables(con: duckdb.DuckDBPyConnection, spec: EntitySpec) -> None:
    con.execute(f"create schema if not exists {spec.schema}")
    ensure_meta_tables(con)
    con.execute(f"create table if not exists {spec.table} ({_payload_columns_ddl(spec)} {LOAD_COLUMNS_DDL})")
    if spec.layout == "csv":
        # Schema drift: columns the contract does not name are kept here, as JSON, and reported.
        con.execute(f"alter table {spec.table} add column if not exists _extra_columns json")
        for name in spec.csv_optional_columns:  # a warehouse created before the column was added
            con.execute(f'alter table {spec.table} add column if not exists "{name}" varchar')
    con.execute(
        f"create table if not exists {spec.rejects_table} "
        f"(reason varchar not null, raw_record varchar, {LOAD_COLUMNS_DDL})"
    )


def _payload_columns_ddl(spec: EntitySpec) -> str:
    if spec.layout == "json_object":
        return "record_id varchar not null, payload json not null,"
    if spec.layout == "csv":
        return "".join(f'"{name}" varchar, ' for name in spec.csv_columns)
    return """
        message_id varchar not null, event varchar, user_id varchar, anonymous_id varchar,
        account_id varchar, event_timestamp varchar, properties json, context json,
    """
