"""The CSV layout: RFC 4180 files with a header row, every column kept as text.

DuckDB's CSV reader reads the records (fixed dialect, every column VARCHAR, strict), and sets aside the rows it
cannot parse (wrong number of fields, an unterminated quote, bytes that are not UTF-8) with their byte position.
A record's line is the physical line on which it starts, also after a quoted field that spans lines: the header
and the record boundaries are read with Python's csv module (line numbers only, the values come from DuckDB).
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from ingestion.entities import EntitySpec
from ingestion.landing import LandingFileError
from ingestion.loader.results import StagedFile
from ingestion.loader.tables import sql_string


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_header(path: Path) -> list[str]:
    """The header row, checked: present, UTF-8, every column named once."""
    with path.open("rb") as handle:
        first_line = handle.readline()
    try:
        text = first_line.decode("utf-8-sig")
        header = next(csv.reader([text])) if text.strip() else []
    except UnicodeDecodeError as error:
        raise LandingFileError(path, f"header is not valid UTF-8 ({error.reason})", line=1) from None
    if not header:
        raise LandingFileError(
            path,
            "empty file: expected a header row" if not first_line else "line 1 is blank: expected a header row",
            line=1,
        )
    for position, name in enumerate(header, start=1):
        if not name.strip():
            raise LandingFileError(path, f"header column {position} has no name", line=1)
        if header.index(name) + 1 != position:
            raise LandingFileError(
                path, f'header names column "{name}" twice (columns {header.index(name) + 1} and {position})', line=1
            )
    return header


def record_start_lines(path: Path) -> list[int]:
    """The physical line on which each record after the header starts (blank lines are not records)."""
    starts: list[int] = []
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle)
        end = 0
        for row in reader:
            start, end = end + 1, reader.line_num
            if row:
                starts.append(start)
    return starts[1:]


def _line_of_byte(content: bytes, position: int) -> int:
    return content.count(b"\n", 0, position) + 1


def stage(con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: list[StagedFile]) -> None:
    """The files' rows into `_incoming (file_index, line_number, record_id, <columns>, _extra_columns)`, rows DuckDB
    cannot parse into `_rejected`; columns the contract does not name are kept in `_extra_columns` and noted."""
    columns = ", ".join(f"{ident(name)} varchar" for name in spec.csv_columns)
    con.execute(
        f"create or replace temp table _incoming (file_index integer, line_number bigint, record_id varchar, "
        f"{columns}, _extra_columns json)"
    )
    for staged in files:
        try:
            _stage_file(con, spec, staged)
        finally:
            con.execute("drop table if exists _csv_errors")
            con.execute("drop table if exists _csv_scans")


def _stage_file(con: duckdb.DuckDBPyConnection, spec: EntitySpec, staged: StagedFile) -> None:
    path = staged.lf.path
    try:
        header = read_header(path)
    except LandingFileError as error:
        staged.fail(error)
        return
    missing = [name for name in spec.csv_columns if name not in header and name not in spec.optional_csv_columns]
    if missing:
        staged.fail(LandingFileError(path, f"header is missing required column(s): {', '.join(missing)}", line=1))
        return
    # No sniffing: the dialect is fixed (RFC 4180) and every column is text.
    typed = "{" + ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in header) + "}"
    extra = [name for name in header if name not in spec.csv_columns]
    staged.extra_columns = extra
    extra_json = (
        "to_json(struct_pack(" + ", ".join(f"{ident(name)} := {ident(name)}" for name in extra) + "))"
        if extra
        else "null::json"
    )
    reader = (
        f"read_csv({sql_string(str(path))}, header = true, auto_detect = false, delim = ',', "
        f"quote = '\"', escape = '\"', columns = {typed}, strict_mode = true, "
        f"store_rejects = true, rejects_table = '_csv_errors', rejects_scan = '_csv_scans')"
    )
    selected = ", ".join(ident(name) if name in header else "null::varchar" for name in spec.csv_columns)
    try:
        con.execute(
            f"""
            insert into _incoming
            select {staged.file_index}, row_number() over (), nullif(trim({ident(spec.csv_columns[0])}), ''),
                   {selected}, {extra_json}
            from {reader}
            """
        )
        errors = con.execute(
            "select line_byte_position, first(error_message order by column_idx), first(csv_line) "
            "from _csv_errors group by line_byte_position order by line_byte_position"
        ).fetchall()
    except duckdb.Error as error:
        staged.fail(LandingFileError(path, f"cannot be read: {str(error).splitlines()[0]}"))
        return
    content = path.read_bytes()
    rejected = [(_line_of_byte(content, position), message, text) for position, message, text in errors]
    starts = record_start_lines(path)
    rejected_lines = {line for line, _, _ in rejected}
    good_lines = [line for line in starts if line not in rejected_lines]
    [(good_rows,)] = con.execute("select count(*) from _incoming where file_index = ?", [staged.file_index]).fetchall()
    if len(good_lines) == good_rows:
        # Rows are numbered in file order: the n-th row read is the n-th record that was not set aside.
        con.execute(
            """
            update _incoming set line_number = lines.line
            from (
                select generate_subscripts(l, 1) as ordinal, unnest(l) as line from (select ?::bigint[] as l)
            ) as lines
            where _incoming.file_index = ? and _incoming.line_number = lines.ordinal
            """,
            [good_lines, staged.file_index],
        )
    else:
        # The two readers disagree on where records start (a malformed file): lines counted by records instead.
        con.execute("update _incoming set line_number = line_number + 1 where file_index = ?", [staged.file_index])
    if rejected:
        con.executemany(
            "insert into _rejected values (?, ?, ?, ?)",
            [[staged.file_index, line, f"malformed CSV record: {message}", text] for line, message, text in rejected],
        )
