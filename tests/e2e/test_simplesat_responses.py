"""SimpleSAT responses as its API returns them, through the real loader and dbt into the NPS and CES marts.

The objects are SimpleSAT's response objects (`POST /api/v1/responses/search`, API v1): the survey's `metric` says
what a response measures, the score is the `choice` string of the answer whose question carries that metric,
`tags` and `team_members` may be null, `sentiment` comes in any case. A response modified later lands again on its
modified day (the later version counts); an out-of-scale choice is quarantined. The expected counts are computed
here from the landing files by the documented rules, not by the models.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from settings import DBT_PROJECT_DIR
from tests.e2e.landing_files import write_jsonl
from tests.ingestion.catalogue import simplesat, simplesat_answer

pytestmark = pytest.mark.e2e

SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
EMAILS = [f"person{i}@acct{i % 3}.example" for i in range(6)]


def response(number: int, metric: str, choice: str, created: str, **changes) -> dict:
    """A response of survey `metric`: the primary answer, then a follow-up custom question without metric."""
    primary = simplesat_answer(metric, choice, 100 * number, sentiment=changes.pop("sentiment", "Positive"))
    follow_up = simplesat_answer(None, "Faster replies", 100 * number + 1, choice_label="Faster replies")
    survey = {"id": {"nps": 11, "csat": 12, "ces": 13}.get(metric, 14), "name": f"{metric} survey", "metric": metric}
    obj = simplesat(
        number,
        metric,
        choice,
        survey=survey,
        created=created,
        modified=created,
        answers=[primary, follow_up],
        customer={
            "id": 3300 + number,
            "external_id": f"zd-user-{number}",
            "name": f"Person {number}",
            "email": EMAILS[number % len(EMAILS)].upper() if number % 4 == 0 else EMAILS[number % len(EMAILS)],
            "company": f"Acct {number % 3}",
            "custom_attributes": {},
            "tags": [],
        },
    )
    if metric == "nps":
        obj.update(ticket=None, team_members=None)
    obj.update(changes)
    return obj


NPS_CHOICES = ["10", "9", "9", "7", "3", "0", "8", "10"]
CES_CHOICES = ["7", "5", "2", "6"]


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("simplesat")
    customers = [
        {
            "id": f"cus_S{i}aBcDeF",
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
    first_day = [response(i, "nps", c, f"2026-03-02T0{i}:15:00Z") for i, c in enumerate(NPS_CHOICES)]
    first_day += [
        response(20 + i, "ces", c, f"2026-03-02T1{i}:30:00Z", sentiment="NEUTRAL") for i, c in enumerate(CES_CHOICES)
    ]
    first_day.append(response(30, "csat", "4", "2026-03-02T15:00:00Z", sentiment="positive"))
    # A survey of another metric loads (a drift warning) and counts in no mart.
    first_day.append(response(31, "custom", "Blue", "2026-03-02T16:00:00Z"))
    # Out of the NPS scale: quarantined with its reason, counted nowhere.
    first_day.append(response(32, "nps", "11", "2026-03-02T17:00:00Z"))
    write_jsonl(landing, "simplesat", "responses", "2026-03-02", first_day)
    # Response 4 edited the next day: its 3 becomes a 9; the modified version lands on its modified day.
    edited = response(4, "nps", "9", "2026-03-02T04:15:00Z", modified="2026-03-03T08:00:00Z")
    write_jsonl(landing, "simplesat", "responses", "2026-03-03", [edited])
    return landing


@pytest.fixture(scope="module")
def warehouse(pipeline, landing, tmp_path_factory) -> Path:
    warehouse = tmp_path_factory.mktemp("simplesat_warehouse") / "warehouse.duckdb"
    pipeline.run(warehouse, landing, date(2026, 3, 1), date(2026, 3, 3))
    return warehouse


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def expected_scores(landing: Path) -> dict[str, list[int]]:
    """Per metric, the scores of the latest version of each response, read from the landing files."""
    latest: dict[int, dict] = {}
    for path in sorted((landing / "simplesat" / "responses").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            obj = json.loads(line)
            if obj["id"] not in latest or obj["modified"] >= latest[obj["id"]]["modified"]:
                latest[obj["id"]] = obj
    scores: dict[str, list[int]] = {metric: [] for metric in SCALES}
    for obj in latest.values():
        metric = obj["survey"]["metric"].lower()
        if metric not in SCALES:
            continue
        (primary,) = [a for a in obj["answers"] if a["question"]["metric"] == metric]
        low, high = SCALES[metric]
        if low <= int(primary["choice"]) <= high:
            scores[metric].append(int(primary["choice"]))
    return scores


def test_the_reference_reads_the_files_as_written(landing):
    assert expected_scores(landing) == {
        "nps": [10, 9, 9, 7, 9, 0, 8, 10],
        "csat": [4],
        "ces": [7, 5, 2, 6],
    }


def test_nps_counts_simplesat_responses(warehouse, landing):
    scores = expected_scores(landing)["nps"]
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    assert rows(
        warehouse,
        "select responses, nps from marts.nps_by_period "
        "where period_grain = 'month' and segment_type = 'overall' and period_start = date '2026-03-01'",
    ) == [(len(scores), pytest.approx(100.0 * (promoters - detractors) / len(scores)))]


def test_ces_counts_simplesat_responses(warehouse, landing):
    scores = expected_scores(landing)["ces"]
    assert rows(
        warehouse,
        "select responses, ces_mean, ces_easy_share from marts.ces_by_period "
        "where period_grain = 'month' and segment_type = 'overall' and period_start = date '2026-03-01'",
    ) == [(len(scores), pytest.approx(sum(scores) / len(scores)), pytest.approx(sum(s >= 5 for s in scores) / 4))]


def test_staging_types_the_response(warehouse):
    assert rows(
        warehouse,
        "select response_id, survey_type, score, sentiment, email, ticket_external_id, team_member_email, survey_kind "
        "from staging.stg_simplesat__responses where response_id in ('4', '20', '30') order by response_id",
    ) == [
        ("20", "ces", 7, "neutral", "person2@acct2.example", "812", "sam@support.example", "transactional"),
        ("30", "csat", 4, "positive", "person0@acct0.example", "812", "sam@support.example", "transactional"),
        ("4", "nps", 9, "positive", "person4@acct1.example", None, None, "relational"),
    ]


def test_accounts_are_resolved_from_the_customer_email(warehouse, landing):
    by_account = rows(
        warehouse,
        "select account_id, count(*) from marts.fct_survey_responses where source = 'simplesat' "
        "and survey_type = 'nps' group by 1 order by 1",
    )
    expected: dict[str, int] = {}
    for number in range(len(NPS_CHOICES)):
        account = "acc_" + EMAILS[number % len(EMAILS)].split("@")[1].split(".")[0]
        expected[account] = expected.get(account, 0) + 1
    assert by_account == sorted(expected.items())


def test_the_out_of_scale_choice_is_quarantined(warehouse):
    rejected = rows(
        warehouse, "select _source_file, _line_number, reason, raw_record from raw_simplesat.responses_rejects"
    )
    assert [(Path(file).name, line, reason) for file, line, reason, _ in rejected] == [
        ("2026-03-02.jsonl", 15, "answers[question.metric=nps].choice 11 is above 10")
    ]
    assert json.loads(rejected[0][3])["id"] == 32


def test_the_union_unit_test_with_simplesat_rows_passes(warehouse, tmp_path):
    # The dbt unit test of int_survey_responses_unioned (SimpleSAT rows: an NPS promoter, a CES 4, another metric
    # left out), on a copy of this warehouse, whose tables give the column types of the mocked models.
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


def test_ces_responses_join_their_zendesk_ticket(warehouse, landing):
    tickets = {}
    for path in (landing / "simplesat" / "responses").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            obj = json.loads(line)
            if obj["survey"]["metric"] == "ces":
                tickets[f"simplesat-{obj['id']}"] = int(obj["ticket"]["external_id"])
    assert rows(
        warehouse,
        "select response_id, ticket_id from intermediate.int_survey_responses_unioned "
        "where source = 'simplesat' and survey_type = 'ces' order by 1",
    ) == sorted(tickets.items())
