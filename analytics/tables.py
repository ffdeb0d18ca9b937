"""Writing a mart computed in Python back to the warehouse: one place for the one way it is done."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from importlib.metadata import version
from pathlib import Path

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


# The fingerprint of the inputs each Python mart was last computed from (one row per mart), written in the same
# connection right after the mart: a mart whose inputs, code and libraries are unchanged is not computed again.
INPUTS_TABLE = "analytics_meta.mart_inputs"


def inputs_fingerprint(frames: list[pd.DataFrame], code: list[Path], packages: list[str]) -> str:
    """SHA-256 over every value, column name and dtype of `frames`, the source of the `code` files and the
    installed versions of `packages`: equal fingerprints mean the same computation on the same inputs."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(repr([(str(name), str(dtype)) for name, dtype in frame.dtypes.items()]).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    for path in code:
        digest.update(path.read_bytes())
    for package in packages:
        digest.update(f"{package}=={version(package)}".encode())
    return digest.hexdigest()


def unchanged_inputs(con: duckdb.DuckDBPyConnection, table: str, fingerprint: str) -> bool:
    """True when `table` exists and was last written from inputs with this fingerprint (write_with_inputs)."""
    if not (_exists(con, table) and _exists(con, INPUTS_TABLE)):
        return False
    rows = con.execute(f"select fingerprint from {INPUTS_TABLE} where mart = ?", [table]).fetchall()
    return rows == [(fingerprint,)]


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".", 1)
    query = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return con.execute(query, [schema, name]).fetchone()[0] > 0


def write_with_inputs(con: duckdb.DuckDBPyConnection, table: str, fingerprint: str, write: Callable[[], int]) -> int:
    """`write()` (which replaces `table`), then the fingerprint of its inputs recorded. The old record goes first:
    a run stopped in between leaves none, and the next run computes again."""
    con.execute(f"create schema if not exists {INPUTS_TABLE.split('.', 1)[0]}")
    con.execute(f"create table if not exists {INPUTS_TABLE} (mart varchar primary key, fingerprint varchar)")
    con.execute(f"delete from {INPUTS_TABLE} where mart = ?", [table])
    rows = write()
    con.execute(f"insert into {INPUTS_TABLE} values (?, ?)", [table, fingerprint])
    return rows


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
