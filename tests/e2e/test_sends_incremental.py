"""stg_surveys__sends, incremental on the partition window, built window by window (out of order, re-run, a day
re-landed with new versions of older sends) equals the latest version per send computed here from the raw CSV rows,
and a --full-refresh in every column. The window reaches dbt as the Dagster steps pass it: NPS_DBT_MIN_DATE and
NPS_DBT_MAX_DATE (orchestration/defs/dbt/parse.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e

COLUMNS = "send_id, survey_type, channel, account_id, email"


def latest_sends_from_raw(rows: list[tuple]) -> set[tuple]:
    """(send_id, survey_type, channel, account_id, email) per send, in plain Python over the raw rows
    (send_id, _partition_date, _line_number, survey_type, channel, account_id, email; CSV text): the row of the
    latest landing day, then the later line; text trimmed, empty as null, codes and emails lower-cased."""

    def text(value: str | None, lower: bool = False) -> str | None:
        value = (value or "").strip() or None
        return value.lower() if value and lower else value

    latest: dict[str, tuple] = {}
    for send_id, day, line, survey_type, channel, account_id, email in rows:
        if send_id not in latest or (day, line) > latest[send_id][0]:
            latest[send_id] = ((day, line), survey_type, channel, account_id, email)
    return {
        (text(send_id), text(survey_type, True), text(channel, True), text(account_id), text(email, True))
        for send_id, (_, survey_type, channel, account_id, email) in latest.items()
    }


def test_survey_sends_built_window_by_window_equal_a_full_refresh(full_run, tmp_path):
    warehouse = tmp_path / "sends.duckdb"
    shutil.copy(full_run, warehouse)

    def build(first: date | None = None, last: date | None = None, *args: str) -> None:
        window = {"NPS_DBT_MIN_DATE": first.isoformat(), "NPS_DBT_MAX_DATE": last.isoformat()} if first else {}
        env = {**os.environ, "NPS_DUCKDB_PATH": str(warehouse), "DO_NOT_TRACK": "1", **window}
        for name in ("NPS_DBT_MIN_DATE", "NPS_DBT_MAX_DATE"):
            if not first:
                env.pop(name, None)
        command = [str(Path(sys.executable).parent / "dbt"), "run", "--profiles-dir", ".", "-q"]
        command += ["--target-path", str(tmp_path / "target"), "--select", "stg_surveys__sends", *args]
        subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, check=True)

    def load_and_build(first: date, last: date) -> None:
        """The raw loader replaces the window's days, then the run builds the window."""
        with duckdb.connect(str(warehouse)) as con:
            con.execute("delete from raw_surveys.sends where _partition_date between ? and ?", [first, last])
            con.execute(
                "insert into raw_surveys.sends select * from main.landed_sends where _partition_date between ? and ?",
                [first, last],
            )
        build(first, last)

    def table(select: str = "*") -> list[tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute(f"select {select} from staging.stg_surveys__sends order by send_id").fetchall()

    def check() -> None:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            raw = con.execute(
                "select send_id, _partition_date, _line_number, survey_type, channel, account_id, email "
                "from raw_surveys.sends"
            ).fetchall()
        rows = table(COLUMNS)
        assert len(rows) == len(set(rows))
        assert set(rows) == latest_sends_from_raw(raw)

    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table main.landed_sends as select * from raw_surveys.sends")
        days = [
            day
            for (day,) in con.execute("select distinct _partition_date from main.landed_sends order by 1").fetchall()
        ]
        middle = days[len(days) // 2]
        # 20 sends last landed in the first half land again five days after the middle,
        # their channel written as the tool exports it (' SMS '), and 5 of those a third time on the last day.
        later = middle + timedelta(days=5)
        assert later < days[-3]
        con.execute(
            "create table main.resent as select send_id from main.landed_sends group by 1 "
            "having max(_partition_date) < ? order by 1 limit 20",
            [middle],
        )
        con.execute(
            "insert into main.landed_sends select * replace (' SMS ' as channel, cast(? as date) as _partition_date, "
            "100000 + row_number() over (order by send_id) as _line_number) "
            "from main.landed_sends where send_id in (select send_id from main.resent)",
            [later],
        )
        con.execute(
            "insert into main.landed_sends select * replace ('In_App' as channel, cast(? as date) as _partition_date, "
            "200000 + row_number() over (order by send_id) as _line_number) "
            "from main.landed_sends where _partition_date = ? and send_id in "
            "(select send_id from main.resent order by 1 limit 5)",
            [days[-1], later],
        )
        con.execute("delete from raw_surveys.sends")
        con.execute("drop table if exists staging.stg_surveys__sends")

    def channels_of_resent() -> dict[str, int]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return dict(
                con.execute(
                    "select channel, count(*) from staging.stg_surveys__sends "
                    "where send_id in (select trim(send_id) from main.resent) group by 1"
                ).fetchall()
            )

    load_and_build(middle, days[-3])
    check()
    assert channels_of_resent() == {"sms": 20}  # only the newer versions are loaded so far
    load_and_build(days[0], middle - timedelta(days=1))
    check()
    assert channels_of_resent() == {"sms": 20}  # the older window loaded later does not replace them
    before = table()
    build(middle - timedelta(days=10), middle + timedelta(days=10))
    assert table() == before
    load_and_build(days[-2], days[-1])
    check()
    assert channels_of_resent() == {"sms": 15, "in_app": 5}
    incremental = table()
    build(None, None, "--full-refresh")
    assert table() == incremental
