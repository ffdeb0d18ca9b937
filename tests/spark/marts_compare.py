"""Value-for-value comparison of a mart read from DuckDB and from Spark.

Rows are compared as sorted lists: strings, integers, booleans and dates exactly, timestamps as UTC microseconds
since the epoch, floating-point and decimal numbers within a relative tolerance (sums in another order differ in
their last bits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

REL_TOL = 1e-9
ABS_TOL = 1e-9


@dataclass
class Column:
    name: str
    kind: str  # 'timestamp', 'number' (approximate) or 'exact'


def duckdb_columns(con: Any, relation: str) -> list[Column]:
    rows = con.execute(f"describe select * from {relation}").fetchall()
    return [Column(name, _kind(str(data_type))) for name, data_type, *_ in rows]


def _kind(data_type: str) -> str:
    data_type = data_type.upper()
    if data_type.startswith("TIMESTAMP"):
        return "timestamp"
    if data_type in {"DOUBLE", "FLOAT", "REAL"} or data_type.startswith("DECIMAL"):
        return "number"
    return "exact"


def duckdb_rows(con: Any, relation: str, columns: list[Column]) -> list[tuple]:
    select = ", ".join(
        f'epoch_us("{column.name}")' if column.kind == "timestamp" else f'"{column.name}"' for column in columns
    )
    return con.execute(f"select {select} from {relation}").fetchall()


def spark_rows(spark: Any, table: str, columns: list[Column]) -> list[tuple]:
    select = ", ".join(
        f"unix_micros(`{column.name}`)" if column.kind == "timestamp" else f"`{column.name}`" for column in columns
    )
    return [tuple(row) for row in spark.sql(f"select {select} from {table}").collect()]


def _sort_key(row: tuple, columns: list[Column]) -> tuple:
    key = []
    for value, column in zip(row, columns, strict=True):
        if value is None:
            key.append((0, ""))
        elif column.kind == "number":
            key.append((1, f"{float(value):.6e}"))
        else:
            key.append((1, str(value)))
    return tuple(key)


def _equal(left: Any, right: Any, kind: str) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if kind == "number":
        left, right = float(left), float(right)
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return math.isclose(left, right, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(left, Decimal | float) or isinstance(right, Decimal | float):
        return float(left) == float(right)
    return left == right


def differences(duckdb_data: list[tuple], spark_data: list[tuple], columns: list[Column], limit: int = 5) -> list[str]:
    """Human-readable differences (at most `limit`); empty when the two sides hold the same rows."""
    if len(duckdb_data) != len(spark_data):
        return [f"{len(duckdb_data)} rows in DuckDB, {len(spark_data)} in Spark"]
    found = []
    left_rows = sorted(duckdb_data, key=lambda row: _sort_key(row, columns))
    right_rows = sorted(spark_data, key=lambda row: _sort_key(row, columns))
    for left, right in zip(left_rows, right_rows, strict=True):
        for value, other, column in zip(left, right, columns, strict=True):
            if not _equal(value, other, column.kind):
                found.append(f"{column.name}: DuckDB {value!r} != Spark {other!r} in row {left!r}")
                break
        if len(found) >= limit:
            break
    return found
