"""JSON lines with their exact physical line numbers, read by DuckDB; a line that is not UTF-8, not JSON or not a
JSON object is set aside with its number, and the other lines of the file still load.

Shared by the JSON-object layout and by the line-by-line path of usage events (a file DuckDB's JSON reader
rejects). Records are read by DuckDB (`read_text`, split in SQL); Python reads bytes only on error paths: to
decompress a `.gz` file for `read_text`, and to find and blank the lines of a file that are not UTF-8.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import duckdb

from ingestion.landing import LandingFileError, open_bytes
from ingestion.loader.results import StagedFile
from ingestion.loader.tables import sql_string

# Values a lenient parser takes but JSON (RFC 8259) does not, outside strings: NaN and Infinity, a trailing comma.
NOT_STRICT_JSON = r'^(?:[^"]|"(?:[^"\\]|\\.)*")*?(?:[:,\[]\s*[-+]?(?:NaN|Infinity|nan|inf|infinity)\s*[,}\]]|,\s*[}\]])'
# The key whose value is NaN or Infinity, to name the field in the reason.
NON_NUMBER_KEY = r'"((?:[^"\\]|\\.)*)"\s*:\s*[-+]?(?:NaN|Infinity|nan|inf|infinity)\s*[,}\]]'
_REJECTED_DDL = "(file_index integer, line_number bigint, reason varchar, raw_record varchar)"


def create_rejected(con: duckdb.DuckDBPyConnection) -> None:
    """`_rejected`: the records of this load set aside before the rules (unreadable lines, malformed CSV rows)."""
    con.execute(f"create or replace temp table _rejected {_REJECTED_DDL}")


def locate_bad_json_line(path: Path) -> tuple[int, str] | None:
    """Error path only: the first line that is not UTF-8 or not a JSON object, to name it exactly."""
    number = 0
    try:
        with open_bytes(path) as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as error:
                    return number, f"not valid UTF-8 ({error.reason} at byte {error.start} of the line)"
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as error:
                    return number, f"not valid JSON ({error.msg} at column {error.colno})"
                if not isinstance(value, dict):
                    return number, "line is JSON but not an object"
    except (OSError, EOFError, zlib.error) as error:
        # A .gz file that is not gzip, or is cut short: the lines before the break were readable.
        return number + 1, f"not a readable gzip file ({error})"
    return None


def json_error(path: Path, error: duckdb.Error) -> LandingFileError:
    located = locate_bad_json_line(path)
    if located is not None:
        return LandingFileError(path, located[1], line=located[0])
    return LandingFileError(path, f"cannot be read: {str(error).splitlines()[0]}")


def _json_lines_sql(paths: Sequence[Path]) -> str:
    """Numbered non-blank lines of JSONL files, split in SQL so every record keeps its exact line."""
    listed = "[" + ", ".join(sql_string(str(path)) for path in paths) + "]"
    return f"""
        with parts as (
            select filename, string_split(content, chr(10)) as lines from read_text({listed})
        ),
        numbered as (
            select filename, unnest(lines) as line_text, generate_subscripts(lines, 1) as line_number from parts
        )
        -- A byte-order mark (U+FEFF) some exporters put at the start of a file is not part of the record.
        -- A line of spaces, or of a carriage return only, is a blank line.
        select filename, line_number, ltrim(rtrim(line_text, chr(13)), chr(65279)) as line_text
        from numbered
        where trim(ltrim(rtrim(line_text, chr(13)), chr(65279)), ' ' || chr(9) || chr(13)) <> ''
    """


def _plain_text(staged: StagedFile, folder: Path) -> Path | None:
    """The file itself, or (a `.gz` file) its content decompressed into `folder`: DuckDB's `read_text` does not
    decompress. A broken gzip file fails whole, naming where it breaks."""
    path = staged.lf.path
    if not path.name.endswith(".gz"):
        return path
    plain = folder / f"{staged.file_index}.jsonl"
    try:
        with open_bytes(path) as source, plain.open("wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
    except (OSError, EOFError, zlib.error):
        line, reason = locate_bad_json_line(path) or (None, "not a readable gzip file")
        staged.fail(LandingFileError(path, reason, line=line))
        return None
    return plain


def _blank_non_utf8_lines(path: Path, folder: Path, file_index: int) -> tuple[Path, list[tuple[int, str, str]]]:
    """Error path: a copy of the file whose lines that are not UTF-8 are blanked (so every other line keeps its
    number), and those lines as (line, reason, the line with its bad bytes escaped)."""
    bad: list[tuple[int, str, str]] = []
    copy = folder / f"{file_index}.utf8.jsonl"
    with path.open("rb") as source, copy.open("wb") as target:
        for number, raw in enumerate(source, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                line = raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
                bad.append((number, f"not valid UTF-8 ({error.reason} at byte {error.start} of the line)", line))
                raw = b"\n" if raw.endswith(b"\n") else b""
            target.write(raw)
    return copy, bad


def stage_lines(con: duckdb.DuckDBPyConnection, files: list[StagedFile], *, strict: bool = True) -> None:
    """JSONL files into `_lines (file_index, line_number, line_text)`; lines that are not UTF-8, not JSON or not a
    JSON object go to `_rejected` with their number. `strict` also refuses what JSON does not allow but DuckDB's
    parser takes (NaN, Infinity, a trailing comma); usage events are read by DuckDB's JSON reader, which takes
    them, so their line-by-line path does the same."""
    con.execute("create or replace temp table _lines (file_index integer, line_number bigint, line_text varchar)")
    with tempfile.TemporaryDirectory(prefix="nps-lines-") as folder:
        readable = {}
        for staged in files:
            path = _plain_text(staged, Path(folder))
            if path is not None:
                readable[staged.file_index] = path
        if readable:
            _insert_lines(con, files, readable, Path(folder))
    valid = "coalesce(json_valid(line_text), false)"
    if strict:
        valid += f" and not regexp_matches(line_text, {sql_string(NOT_STRICT_JSON)})"
    lenient = f"coalesce(json_valid(line_text), false) and regexp_matches(line_text, {sql_string(NOT_STRICT_JSON)})"
    key = f"regexp_extract(line_text, {sql_string(NON_NUMBER_KEY)}, 1)"
    con.execute(
        f"""
        insert into _rejected
        select file_index, line_number,
               case when {lenient} and {key} <> ''
                        then 'not valid JSON: field ' || {key} || ' is NaN or Infinity, which JSON does not allow'
                    when {lenient} then 'not valid JSON (NaN, Infinity or a trailing comma, which JSON does not allow)'
                    when not ({valid}) then 'not valid JSON (a truncated or malformed line)'
                    else 'line is JSON but not an object' end,
               line_text
        from _lines
        where not ({valid}) or left(ltrim(line_text), 1) <> '{{'
        """
    )
    con.execute(f"delete from _lines where not ({valid}) or left(ltrim(line_text), 1) <> '{{'")


def _insert_lines(con, files: list[StagedFile], readable: dict[int, Path], folder: Path) -> None:
    insert = (
        "insert into _lines select f.file_index, l.line_number, l.line_text from ({lines}) as l "
        "join (select unnest(?::integer[]) as file_index, unnest(?::varchar[]) as path) as f on f.path = l.filename"
    )
    try:
        con.execute(
            insert.format(lines=_json_lines_sql(list(readable.values()))),
            [list(readable), [str(path) for path in readable.values()]],
        )
        return
    except duckdb.Error:
        pass
    # A file is not UTF-8 (DuckDB's `read_text` refuses it whole): read them one by one; the lines of such a file
    # that are not UTF-8 are set aside and the rest of it loads.
    by_index = {staged.file_index: staged for staged in files}
    for index, path in readable.items():
        try:
            con.execute(insert.format(lines=_json_lines_sql([path])), [[index], [str(path)]])
            continue
        except duckdb.Error:
            pass
        copy, bad = _blank_non_utf8_lines(path, folder, index)
        try:
            con.execute(insert.format(lines=_json_lines_sql([copy])), [[index], [str(copy)]])
        except duckdb.Error as error:
            by_index[index].fail(json_error(by_index[index].lf.path, error))
            continue
        if bad:
            con.executemany("insert into _rejected values (?, ?, ?, ?)", [[index, *row] for row in bad])
