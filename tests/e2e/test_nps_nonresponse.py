"""nps_nonresponse on the small demo, against a computation in plain Python: sends and answers from the landing files
(tests/e2e/reference.py), each send tied to its respondent's answer within 30 days and before the next send, one
row per person and quarter, and the post-stratified NPS with its standard error. The account attributes at send
time, the weekly usage trend and the billing versions come from the warehouse's building blocks (checked against the
landing files by their own tests); every link, count, mean and weight of the mart is recomputed here."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from tests.e2e import reference
from tests.e2e.test_marts import query, same

pytestmark = pytest.mark.e2e

WINDOW = timedelta(days=30)
SEGMENT_TYPES = ("overall", "plan", "mrr_band", "region", "tenure_band", "channel", "survey_kind", "touchpoint")
Z_95 = 1.959963984540054


def send_key(send: dict) -> tuple[str, str]:
    email = (send["email"] or "").strip().lower()
    if email:
        return ("email", email)
    account = (send["account_id"] or "").strip()
    return ("account", account) if account else ("response", send["send_id"])


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@pytest.fixture(scope="module")
def expected(small_landing: Path, full_run: Path) -> dict[tuple, dict]:
    ref = reference.build(small_landing)
    attributes = {
        row["event_id"]: row
        for row in query(
            full_run,
            """
            select event_id, plan, mrr_band, region, tenure_band, account_id, cast(mrr_usd as double) as mrr_usd
            from intermediate.int_survey_events_enriched where event_type = 'send' and survey_type = 'nps'
            """,
        )
    }
    usage = {
        (row["account_id"], row["week_start"]): row["usage_change_30d"]
        for row in query(
            full_run, "select account_id, week_start, usage_change_30d from intermediate.int_account_usage_weekly"
        )
    }
    billing_last_day = query(
        full_run,
        """
        select greatest(
            (select max(valid_from_date) from intermediate.int_account_billing_historized),
            (select max(measured_on) from intermediate.int_account_usage_weekly)
        ) as day
        """,
    )[0]["day"]
    churn_days = defaultdict(list)
    for row in query(
        full_run,
        "select account_id, valid_from_date from intermediate.int_account_billing_historized where mrr_usd = 0",
    ):
        churn_days[row["account_id"]].append(row["valid_from_date"])

    answers = defaultdict(list)
    for response in ref.responses:
        if response.survey_type == "nps":
            answers[ref.respondent(response)].append(response)
    sends = defaultdict(list)
    for send in ref.nps_sends:
        if send["sent_at"]:
            sends[send_key(send)].append({**send, "at": reference.parse_time(send["sent_at"])})

    people: dict[tuple, dict] = {}
    for key, rows in sends.items():
        rows.sort(key=lambda row: (row["at"], row["send_id"]))
        for position, send in enumerate(rows):
            end = send["at"] + WINDOW
            if position + 1 < len(rows):
                end = min(end, rows[position + 1]["at"])
            found = [answer for answer in answers[key] if send["at"] <= answer.responded_at < end]
            answer = max(found, key=lambda item: (item.responded_at, item.response_id), default=None)
            quarter = reference.period_start(send["at"].date(), "quarter")
            person = people.setdefault((quarter, key), {"first": send, "answer": None})
            if answer and (
                person["answer"] is None
                or (answer.responded_at, answer.response_id)
                > (person["answer"].responded_at, person["answer"].response_id)
            ):
                person["answer"] = answer

    cells: dict[tuple, dict] = defaultdict(lambda: defaultdict(list))
    for (quarter, _), person in people.items():
        first = person["first"]
        built = attributes[first["send_id"]]
        send_day = first["at"].date()
        mrr = built["mrr_usd"]
        account = built["account_id"]
        observed = mrr is not None and mrr > 0 and send_day + timedelta(days=90) <= billing_last_day
        churned = any(send_day < day <= send_day + timedelta(days=90) for day in churn_days.get(account, []))
        values = {
            "overall": "all",
            **{name: built[name] or "unknown" for name in ("plan", "mrr_band", "region", "tenure_band")},
            **{name: first[name] or "unknown" for name in ("channel", "survey_kind", "touchpoint")},
        }
        # The trend at the end of the week before the send's week (weeks from Monday).
        trend = usage.get((account, send_day - timedelta(days=send_day.weekday() + 7)))
        group = "respondent" if person["answer"] else "non_respondent"
        score = person["answer"].score if person["answer"] else None
        for segment_type in SEGMENT_TYPES:
            cell = cells[(quarter, segment_type, values[segment_type])]
            cell["groups"].append(group)
            cell["scores"].append(score)
            if mrr is not None:
                cell[f"{group}_mrr"].append(mrr)
            if trend is not None:
                cell[f"{group}_usage"].append(trend)
            if observed:
                cell[f"{group}_churn"].append(churned)

    as_of = ref.as_of()
    rows: dict[tuple, dict] = {}
    for key, cell in cells.items():
        scores = [score for score in cell["scores"] if score is not None]
        promoters, detractors = sum(s >= 9 for s in scores), sum(s <= 6 for s in scores)
        row = {
            "quarter_end": reference.period_end(key[0], "quarter"),
            "surveyed": len(cell["groups"]),
            "respondents": len(scores),
            "non_respondents": len(cell["groups"]) - len(scores),
            "response_rate": len(scores) / len(cell["groups"]),
            "promoters": promoters,
            "passives": len(scores) - promoters - detractors,
            "detractors": detractors,
            "nps": 100 * (promoters - detractors) / len(scores) if scores else None,
        }
        row["is_complete_period"] = row["quarter_end"] <= as_of
        for group in ("respondent", "non_respondent"):
            row[f"{group}_avg_mrr_usd"] = mean(cell[f"{group}_mrr"])
            row[f"{group}_avg_usage_change_30d"] = mean(cell[f"{group}_usage"])
            row[f"{group}_churn_observed"] = len(cell[f"{group}_churn"])
            row[f"{group}_churned_90d"] = sum(cell[f"{group}_churn"])
            row[f"{group}_churn_rate_90d"] = mean([float(flag) for flag in cell[f"{group}_churn"]])
        rows[key] = row

    # Post-stratification over the values of each quarter's segment type.
    by_type = defaultdict(list)
    for (quarter, segment_type, _), row in rows.items():
        by_type[(quarter, segment_type)].append(row)
    for members in by_type.values():
        answered = [row for row in members if row["respondents"]]
        represented = sum(row["surveyed"] for row in answered)
        promoters = sum(row["promoters"] for row in members)
        detractors = sum(row["detractors"] for row in members)
        respondents = sum(row["respondents"] for row in members)
        shared = {
            "nps_unweighted": 100 * (promoters - detractors) / respondents if respondents else None,
            "surveyed_share_unrepresented": 1 - represented / sum(row["surveyed"] for row in members),
            "nps_reweighted": None,
            "nps_reweighted_std_error": None,
            "nps_reweighted_ci_low": None,
            "nps_reweighted_ci_high": None,
        }
        if represented:
            estimate, variance = 0.0, 0.0
            for row in answered:
                weight = row["surveyed"] / represented
                p, d = row["promoters"] / row["respondents"], row["detractors"] / row["respondents"]
                estimate += weight * (p - d)
                variance += weight**2 * (p + d - (p - d) ** 2) / row["respondents"]
            shared["nps_reweighted"] = 100 * estimate
            shared["nps_reweighted_std_error"] = 100 * math.sqrt(variance)
            shared["nps_reweighted_ci_low"] = max(-100.0, 100 * (estimate - Z_95 * math.sqrt(variance)))
            shared["nps_reweighted_ci_high"] = min(100.0, 100 * (estimate + Z_95 * math.sqrt(variance)))
        for row in members:
            row.update(shared)
    return rows


@pytest.fixture(scope="module")
def actual(full_run: Path) -> dict[tuple, dict]:
    return {
        (row["quarter_start"], row["segment_type"], row["segment_value"]): row
        for row in query(full_run, "select * from marts.nps_nonresponse")
    }


def close(actual_value, expected_value, tolerance: float = 1e-9) -> bool:
    if isinstance(expected_value, float) and actual_value is not None:
        return math.isclose(actual_value, expected_value, rel_tol=tolerance, abs_tol=tolerance)
    return same(actual_value, expected_value)


def test_every_quarter_and_segment_matches_the_plain_python_computation(actual, expected):
    assert set(actual) == set(expected)
    assert len(expected) > 20
    for key, row in expected.items():
        for column, value in row.items():
            # Means of money are rounded to 6 places, of shares and reweighted figures to 9, by the mart.
            tolerance = 1e-6 if column.endswith("mrr_usd") else 1e-8
            assert close(actual[key][column], value, tolerance), (key, column, actual[key][column], value)


def test_the_demo_has_non_respondents_and_reweighting_that_moves(expected):
    """The comparison is not vacuous on the demo: people who did not answer, churn observed in both groups, and a
    segment type whose reweighting differs from the plain NPS."""
    overall = [row for (_, kind, _), row in expected.items() if kind == "overall"]
    assert sum(row["non_respondents"] for row in overall) > 0
    assert sum(row["respondent_churn_observed"] for row in overall) > 0
    assert sum(row["non_respondent_churn_observed"] for row in overall) > 0
    assert any(
        row["nps_reweighted"] is not None and abs(row["nps_reweighted"] - row["nps_unweighted"]) > 0.01
        for row in expected.values()
    )


def test_the_overall_reweighted_nps_is_the_respondents_nps(actual):
    rows = [row for row in actual.values() if row["segment_type"] == "overall" and row["respondents"]]
    assert rows
    for row in rows:
        assert row["nps_reweighted"] == pytest.approx(row["nps"], abs=1e-8)
        assert row["surveyed_share_unrepresented"] == 0
