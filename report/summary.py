"""The short summary `make run` prints: overall NPS with its interval, CES, response rate, mart row counts."""

from __future__ import annotations

from pathlib import Path

import duckdb

MARTS_SCHEMA = "marts"


def mart_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = con.execute(
        "select table_name from information_schema.tables where table_schema = ? order by table_name",
        [MARTS_SCHEMA],
    ).fetchall()
    return {name: con.execute(f'select count(*) from {MARTS_SCHEMA}."{name}"').fetchall()[0][0] for (name,) in tables}


def program_summary(con: duckdb.DuckDBPyConnection) -> dict:
    cursor = con.execute(f"select * from {MARTS_SCHEMA}.program_summary")
    columns = [column[0] for column in cursor.description]
    rows = cursor.fetchall()
    return dict(zip(columns, rows[0], strict=True)) if rows else {}


def set_aside(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    """(records quarantined, files rejected whole, landing entries not loaded): what the loader kept aside."""
    rejects = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema like 'raw\\_%' escape '\\' and table_name like '%\\_rejects' escape '\\'"
    ).fetchall()
    records = sum(con.execute(f'select count(*) from {schema}."{table}"').fetchall()[0][0] for schema, table in rejects)
    counts = []
    for table in ("raw_meta.rejected_files", "raw_meta.landing_ignored"):
        schema, name = table.split(".")
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
        ).fetchall()[0][0]
        counts.append(con.execute(f"select count(*) from {table}").fetchall()[0][0] if exists else 0)
    return records, counts[0], counts[1]


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}"


def render(warehouse: Path) -> str:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        summary = program_summary(con)
        counts = mart_row_counts(con)
        quarantined, files_rejected, ignored = set_aside(con)
    lines = ["", "NPS program summary (all responses in the warehouse)"]
    if summary:
        lines += [
            f"  NPS            {_signed(summary['nps'])}  (95% interval {_signed(summary['nps_ci_low'])} to "
            f"{_signed(summary['nps_ci_high'])}; {summary['responses']:,} responses: {summary['promoters']:,} "
            f"promoters, {summary['passives']:,} passives, {summary['detractors']:,} detractors)",
            "  CES            "
            + (
                f"{summary['ces_mean']:.2f} on 1-7 ({summary['ces_responses']:,} responses)"
                if summary["ces_mean"] is not None
                else "n/a (no CES responses)"
            ),
            "  Response rate  "
            + (
                f"{100 * summary['response_rate']:.1f}% of {summary['nps_sends']:,} NPS sends"
                if summary["response_rate"] is not None
                else "n/a (no sends)"
            ),
            f"  Unmatched      {summary['unmatched_responses']:,} responses with no account (kept, account empty)",
            f"  Period         {summary['first_response_date']} to {summary['last_response_date']}",
        ]
    lines.append(
        f"  Set aside      {quarantined:,} records quarantined (raw_<source>.<entity>_rejects), {files_rejected:,} "
        f"files rejected whole (raw_meta.rejected_files), {ignored:,} landing entries not loaded "
        "(raw_meta.landing_ignored)"
    )
    lines.append("  Mart rows      " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
    lines.append(f"  Warehouse      {warehouse}")
    return "\n".join(lines)
