"""Writing a mart computed in Python back to the warehouse: one place for the one way it is done."""

from __future__ import annotations

import duckdb
import pandas as pd


def replace_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    columns: dict[str, str],
    order_by: str | None = None,
) -> int:
    """Replace `table` (schema.name) with `frame` in one statement, each of `columns` cast to its DuckDB type in
    that order: readers never see a half-written table, and the same frame always writes the same table."""
    if "." in table:
        con.execute(f"create schema if not exists {table.rsplit('.', 1)[0]}")
    view = f"_frame_{table.replace('.', '_')}"
    selected = ",\n".join(f"cast({name} as {sql_type}) as {name}" for name, sql_type in columns.items())
    con.register(view, frame)
    try:
        con.execute(
            f"create or replace table {table} as select {selected} from {view}"
            + (f" order by {order_by}" if order_by else "")
        )
    finally:
        con.unregister(view)
    return len(frame)
