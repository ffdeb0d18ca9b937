"""Writing a mart computed in Python back to the warehouse: one place for the one way it is done."""

from __future__ import annotations

from functools import cache

import duckdb
import pandas as pd
import yaml

from settings import DBT_PROJECT_DIR

# The descriptions of the marts computed in Python (a dbt source, so that dbt docs show them too).
PYTHON_MARTS_DOCS = DBT_PROJECT_DIR / "models" / "marts" / "_python_marts.yml"


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
    describe(con, table)
    return len(frame)


@cache
def documented() -> dict[str, tuple[str, dict[str, str]]]:
    """schema.table -> (description, {column: description}) of every mart declared in PYTHON_MARTS_DOCS."""
    declared = {}
    for source in yaml.safe_load(PYTHON_MARTS_DOCS.read_text())["sources"]:
        for table in source["tables"]:
            # Stripped: a folded YAML scalar ends in a newline, or not at the end of the file (PyYAML and dbt's
            # loader differ there), and a BI tool shows the text, not its line ending.
            columns = {column["name"]: column["description"].strip() for column in table.get("columns", [])}
            declared[f"{source['schema']}.{table['name']}"] = (table["description"].strip(), columns)
    return declared


def describe(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Comment `table` and its columns with their descriptions (none for a table not declared), as dbt's
    persist_docs does for the dbt marts: BI tools show them, and the serving file keeps them."""
    if table not in documented():
        return
    description, columns = documented()[table]
    con.execute(f"comment on table {table} is {_text(description)}")
    schema, name = table.split(".", 1)
    present = {
        row[0]
        for row in con.execute(
            "select column_name from duckdb_columns() where schema_name = ? and table_name = ?", [schema, name]
        ).fetchall()
    }
    for column, text in columns.items():
        if column in present:
            con.execute(f'comment on column {table}."{column}" is {_text(text)}')


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
