"""The JSON-object layout: one vendor object per line, kept whole in `payload` with its primary key in `record_id`."""

from __future__ import annotations

import duckdb

from ingestion.entities import EntitySpec
from ingestion.loader.lines import stage_lines
from ingestion.loader.results import StagedFile
from ingestion.loader.tables import sql_string


def key_expression(spec: EntitySpec, json_text: str) -> str:
    """The primary key: the first of the key fields that is present and not blank, trimmed."""
    return (
        "coalesce("
        + ", ".join(
            f"nullif(trim(json_extract_string({json_text}, {sql_string(k)})), '')" for k in spec.primary_key_fields
        )
        + ")"
    )


def stage(con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: list[StagedFile]) -> None:
    """The files' objects into `_incoming (file_index, line_number, record_id, payload)`, unreadable lines into
    `_rejected`; top-level fields the vendor's reference does not list are noted on each file (schema drift)."""
    stage_lines(con, files)
    con.execute(
        f"""
        create or replace temp table _incoming as
        select file_index, line_number, {key_expression(spec, "line_text")} as record_id, line_text::json as payload
        from _lines
        """
    )
    con.execute("drop table _lines")
    if spec.known_fields:
        drift = con.execute(
            f"""
            select file_index, list(distinct field order by field) from (
                select file_index, unnest(json_keys(payload)) as field from _incoming
            )
            where field not in ({", ".join(sql_string(name) for name in spec.known_fields)})
            group by 1
            """
        ).fetchall()
        note_drift(files, dict(drift))


def note_drift(files: list[StagedFile], unknown: dict[int, list[str]]) -> None:
    for staged in files:
        staged.extra_columns = sorted(set(staged.extra_columns) | set(unknown.get(staged.file_index, [])))
