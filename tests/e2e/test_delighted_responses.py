"""Delighted responses, unsubscribes and bounces as its API v1 lists them, through the real loader and dbt into the
NPS and CES marts.

The objects are Delighted's (`GET /v1/survey_responses.json` with `expand[]=person`, `/v1/unsubscribes.json`,
`/v1/bounces.json`): times in Unix seconds, `updated_at` null until a response changes, `person` expanded or only
its id, the account id in the person property "Account ID" when the team set it. A response updated later lands
again on its updated day (the later version counts); an out-of-scale score is quarantined. The expected counts are
computed here from the landing files by the documented rules, not by the models.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from settings import DBT_PROJECT_DIR
from tests.e2e.landing_files import write_jsonl
from tests.ingestion.catalogue_delighted import (
    delighted_bounce,
    delighted_person,
    delighted_response,
    delighted_unsubscribe,
)

pytestmark = pytest.mark.e2e

SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
EMAILS = [f"person{i}@acct{i % 3}.example" for i in range(6)]
MARCH_2 = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
MARCH_3 = int(datetime(2026, 3, 3, tzinfo=UTC).timestamp())
NPS_SCORES = [10, 9, 9, 7, 3, 0, 8, 10]
CES_SCORES = [7, 5, 2, 6]


def response(number: int, survey_type: str, score: int, at: int, **changes) -> dict:
    """Response `number`: person expanded with one of EMAILS; every third one carries the account property."""
    email = EMAILS[number % len(EMAILS)]
    properties = {"Plan": "Pro", "Delighted Source": "Email"}
    if number % 3 == 0:
        properties["Account ID"] = f"acc_prop{number}"
    return delighted_response(
        str(5000 + number),
        survey_type,
        score,
        person=delighted_person(str(700 + number), email.upper() if number % 4 == 0 else email),
        created_at=at,
        person_properties=properties,
        **changes,
    )


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("delighted")
    customers = [
        {
            "id": f"cus_D{i}aBcDeF",
            "object": "customer",
            "address": None,
            "created": 1769904000,
            "currency": "usd",
            "email": email,
            "livemode": False,
            "metadata": {"account_id": f"acc_{email.split('@')[1].split('.')[0]}"},
            "name": f"Customer {i}",
        }
        for i, email in enumerate(EMAILS)
    ]
    write_jsonl(landing, "stripe", "customers", "2026-03-01", customers)
    first_day = [response(i, "nps", s, MARCH_2 + 3600 * i) for i, s in enumerate(NPS_SCORES)]
    first_day += [response(20 + i, "ces", s, MARCH_2 + 3600 * (10 + i)) for i, s in enumerate(CES_SCORES)]
    first_day.append(response(30, "csat", 4, MARCH_2 + 3600 * 15))
    # A 5-star survey loads and counts in no NPS/CSAT/CES mart.
    first_day.append(response(31, "5-star", 5, MARCH_2 + 3600 * 16))
    # Out of the NPS scale: quarantined with its reason, counted nowhere.
    first_day.append(response(32, "nps", 11, MARCH_2 + 3600 * 17))
    # Listed without `expand[]=person`: no email, but the account property.
    first_day.append(
        delighted_response(
            "5033", "nps", 6, person="733", created_at=MARCH_2 + 3600 * 18, person_properties={"Account ID": "acc_x"}
        )
    )
    write_jsonl(landing, "delighted", "survey_responses", "2026-03-02", first_day)
    # Response 4 updated the next day: its 3 becomes a 9; the updated version lands on its updated day.
    edited = response(4, "nps", 9, MARCH_2 + 3600 * 4, updated_at=MARCH_3 + 8 * 3600)
    write_jsonl(landing, "delighted", "survey_responses", "2026-03-03", [edited])
    write_jsonl(
        landing,
        "delighted",
        "unsubscribes",
        "2026-03-02",
        [delighted_unsubscribe("701", EMAILS[1], unsubscribed_at=MARCH_2)],
    )
    write_jsonl(landing, "delighted", "bounces", "2026-03-03", [delighted_bounce("702", EMAILS[2], bounced_at=MARCH_3)])
    return landing


@pytest.fixture(scope="module")
def warehouse(pipeline, landing, tmp_path_factory) -> Path:
    warehouse = tmp_path_factory.mktemp("delighted_warehouse") / "warehouse.duckdb"
    pipeline.run(warehouse, landing, date(2026, 3, 1), date(2026, 3, 3))
    return warehouse


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def latest_responses(landing: Path) -> dict[str, dict]:
    """The latest version of each response in the landing files (latest updated_at, then day, then line)."""
    latest: dict[str, dict] = {}
    for path in sorted((landing / "delighted" / "survey_responses").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            obj = json.loads(line)
            previous = latest.get(obj["id"])
            if previous is None or (obj["updated_at"] or 0) >= (previous["updated_at"] or 0):
                latest[obj["id"]] = obj
    return latest


def expected_scores(landing: Path) -> dict[str, list[int]]:
    """Per survey type counted by the marts, the on-scale scores of the latest versions."""
    scores: dict[str, list[int]] = {kind: [] for kind in SCALES}
    for obj in latest_responses(landing).values():
        kind = obj["survey_type"]
        if kind in SCALES and SCALES[kind][0] <= obj["score"] <= SCALES[kind][1]:
            scores[kind].append(obj["score"])
    return scores


def test_the_reference_reads_the_files_as_written(landing):
    assert expected_scores(landing) == {"nps": [10, 9, 9, 7, 9, 0, 8, 10, 6], "csat": [4], "ces": [7, 5, 2, 6]}


def test_nps_counts_delighted_responses(warehouse, landing):
    scores = expected_scores(landing)["nps"]
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    assert rows(
        warehouse,
        "select responses, promoters, detractors, nps from marts.nps_by_period "
        "where period_grain = 'month' and segment_type = 'overall' and period_start = date '2026-03-01'",
    ) == [(len(scores), promoters, detractors, pytest.approx(100.0 * (promoters - detractors) / len(scores)))]
    assert rows(
        warehouse,
        "select survey_type, count(*) from marts.fct_survey_responses where source = 'delighted' group by 1 order by 1",
    ) == sorted((kind, len(values)) for kind, values in expected_scores(landing).items())


def test_ces_counts_delighted_responses(warehouse, landing):
    scores = expected_scores(landing)["ces"]
    assert rows(
        warehouse,
        "select responses, ces_mean, ces_easy_share from marts.ces_by_period "
        "where period_grain = 'month' and segment_type = 'overall' and period_start = date '2026-03-01'",
    ) == [(len(scores), pytest.approx(sum(scores) / len(scores)), pytest.approx(sum(s >= 5 for s in scores) / 4))]


def test_the_account_property_comes_first_then_the_email(warehouse, landing):
    expected = {}
    for obj in latest_responses(landing).values():
        if (
            obj["survey_type"] not in SCALES
            or not SCALES[obj["survey_type"]][0] <= obj["score"] <= SCALES[obj["survey_type"]][1]
        ):
            continue
        provided = (obj["person_properties"] or {}).get("Account ID")
        email = obj["person"]["email"].lower() if isinstance(obj["person"], dict) else None
        # The facts' id is the source's id prefixed with the source (Delighted's and SimpleSAT's ids can meet).
        expected[f"delighted-{obj['id']}"] = provided or "acc_" + email.split("@")[1].split(".")[0]
    actual = rows(
        warehouse, "select response_id, account_id from marts.fct_survey_responses where source = 'delighted'"
    )
    assert dict(actual) == expected
    assert expected["delighted-5033"] == "acc_x" and expected["delighted-5003"] == "acc_prop3"
    assert expected["delighted-5001"] == "acc_acct1"


def test_staging_keeps_the_updated_version_and_the_person(warehouse):
    assert rows(
        warehouse,
        "select response_id, score, person_id, email, account_id, plan, updated_at "
        "from staging.stg_delighted__survey_responses where response_id in ('5004', '5033') order by 1",
    ) == [
        ("5004", 9, "704", "person4@acct1.example", None, "Pro", datetime(2026, 3, 3, 8, 0)),
        ("5033", 6, "733", None, "acc_x", None, None),
    ]


def test_the_out_of_scale_score_is_quarantined(warehouse):
    rejected = rows(
        warehouse, "select _source_file, _line_number, reason, raw_record from raw_delighted.survey_responses_rejects"
    )
    assert [(Path(file).name, line, reason) for file, line, reason, _ in rejected] == [
        ("2026-03-02.jsonl", 15, "score 11 is outside 0-10 for nps")
    ]
    assert json.loads(rejected[0][3])["id"] == "5032"


def test_unsubscribes_and_bounces_are_staged(warehouse):
    assert rows(warehouse, "select person_id, email, unsubscribed_at from staging.stg_delighted__unsubscribes") == [
        ("701", EMAILS[1], datetime(2026, 3, 2))
    ]
    assert rows(warehouse, "select person_id, email, bounced_at from staging.stg_delighted__bounces") == [
        ("702", EMAILS[2], datetime(2026, 3, 3))
    ]


def test_the_union_unit_test_with_delighted_rows_passes(warehouse, tmp_path):
    # The dbt unit test of int_survey_responses_unioned (Delighted rows: an NPS detractor, a CES 5, 5-star and eNPS
    # left out), on a copy of this warehouse, whose tables give the column types.
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, copy)
    dbt = Path(sys.executable).parent / "dbt"
    command = [str(dbt), "test", "--profiles-dir", ".", "--target-path", str(tmp_path / "target")]
    command += ["--select", "int_survey_responses_unioned,test_type:unit"]
    env = {**os.environ, "NPS_DUCKDB_PATH": str(copy), "DO_NOT_TRACK": "1"}
    result = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    assert {r["unique_id"].split(".")[-1]: r["status"] for r in results}["nps_category_boundaries"] == "pass"


def test_an_unsubscribed_contact_is_eligible_for_no_survey(warehouse, landing):
    unsubscribed = {
        json.loads(line)["email"].lower()
        for path in (landing / "delighted" / "unsubscribes").glob("*.jsonl")
        for line in path.read_text().splitlines()
    }
    respondents = {
        obj["person"]["email"].lower()
        for obj in latest_responses(landing).values()
        if isinstance(obj["person"], dict) and obj["survey_type"] in SCALES
    }
    eligibility = rows(
        warehouse,
        "select email, unsubscribed_at, is_eligible_relational, is_eligible_transactional, is_in_relational_sample "
        "from marts.survey_eligibility",
    )
    assert {email for email, *_ in eligibility} == respondents and unsubscribed == {EMAILS[1]}
    for email, unsubscribed_at, relational, transactional, sampled in eligibility:
        # No send in these files: only the unsubscribe makes a contact ineligible.
        assert (unsubscribed_at is not None, relational, transactional) == (
            (True, False, False) if email in unsubscribed else (False, True, True)
        ), email
        assert not (sampled and email in unsubscribed)
