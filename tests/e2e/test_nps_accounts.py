"""Account NPS, its MRR-weighted roll-up and the sample plan on the small demo's full run, against independent
computations: the answers, their accounts and respondents from the landing files (tests/e2e/reference.py), the
power analysis from statsmodels (NormalIndPower) and from the textbook formula with scipy's normal quantiles."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower

from tests.e2e import reference
from tests.e2e.test_marts import query, same

pytestmark = pytest.mark.e2e

ALPHA, POWER, TARGET_POINTS = 0.05, 0.80, 5.0


@pytest.fixture(scope="module")
def ref(small_landing: Path) -> reference.Reference:
    return reference.build(small_landing)


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def expected_accounts(ref: reference.Reference, full_run: Path) -> dict[tuple, dict]:
    """(account, quarter) -> counts over each contact's latest answer, and the MRR of the quarter's last month."""
    latest: dict[tuple, dict] = defaultdict(dict)
    responses: dict[tuple, int] = defaultdict(int)
    for response in ref.responses:
        account = ref.resolve(response)
        if response.survey_type != "nps" or not account:
            continue
        key = (account, quarter_start(response.responded_at.date()))
        responses[key] += 1
        who = ref.respondent(response)
        kept = latest[key].get(who)
        if kept is None or (response.responded_at, response.response_id) > (kept.responded_at, kept.response_id):
            latest[key][who] = response
    # MRR at the quarter's end: the month-end MRR of its last month (int_account_mrr_monthly, the revenue marts'
    # measure), else the latest month the billing data reaches; 0 for an account billing does not know.
    monthly = query(full_run, "select account_id, month_start, mrr_usd from intermediate.int_account_mrr_monthly")
    mrr = {(row["account_id"], row["month_start"]): row["mrr_usd"] for row in monthly}
    last_month = max(row["month_start"] for row in monthly)
    expected = {}
    for key, contacts in latest.items():
        scores = [response.score for response in contacts.values()]
        promoters, detractors = sum(s >= 9 for s in scores), sum(s <= 6 for s in scores)
        start = key[1]
        month = min(date(start.year, start.month + 2, 1), last_month)
        expected[key] = {
            "responses": responses[key],
            "contacts": len(scores),
            "promoters": promoters,
            "passives": len(scores) - promoters - detractors,
            "detractors": detractors,
            "account_nps": 100 * (promoters - detractors) / len(scores),
            "mrr_usd": mrr.get((key[0], month), 0.0),
        }
    return expected


def test_account_nps_counts_each_contact_once_as_the_landing_files_say(ref, full_run: Path):
    expected = expected_accounts(ref, full_run)
    rows = query(full_run, "select * from marts.nps_by_account")
    actual = {(row["account_id"], row["quarter_start"]): row for row in rows}
    assert set(actual) == set(expected)
    mismatches = [
        (key, column, actual[key][column], value)
        for key, cell in expected.items()
        for column, value in cell.items()
        if not same(actual[key][column], value)
    ]
    assert mismatches == []
    # The demo has contacts answering more than once, accounts with several contacts, and accounts without MRR.
    assert any(cell["responses"] > cell["contacts"] for cell in expected.values())
    assert any(cell["contacts"] > 1 for cell in expected.values())
    assert sum(cell["mrr_usd"] > 0 for cell in expected.values()) >= 20


def test_mrr_weighted_nps_weighs_each_account_by_its_mrr(ref, full_run: Path):
    by_quarter: dict[date, list[dict]] = defaultdict(list)
    for (_, start), cell in expected_accounts(ref, full_run).items():
        by_quarter[start].append(cell)
    rows = {row["quarter_start"]: row for row in query(full_run, "select * from marts.nps_account_rollup")}
    assert set(rows) == set(by_quarter)
    for start, cells in by_quarter.items():
        mrr = sum(cell["mrr_usd"] for cell in cells)
        row = rows[start]
        assert row["accounts"] == len(cells)
        assert row["paying_accounts"] == sum(cell["mrr_usd"] > 0 for cell in cells)
        assert row["contacts"] == sum(cell["contacts"] for cell in cells)
        assert same(row["account_averaged_nps"], sum(cell["account_nps"] for cell in cells) / len(cells))
        assert same(row["mrr_usd"], mrr)
        weighted = sum(cell["mrr_usd"] * cell["account_nps"] for cell in cells) / mrr
        assert same(row["mrr_weighted_nps"], weighted), (start, row["mrr_weighted_nps"], weighted)


def test_sample_plan_matches_statsmodels_and_the_textbook_formula(ref, full_run: Path):
    z_sum = norm.ppf(1 - ALPHA / 2) + norm.ppf(POWER)
    landing_cells = reference.nps_by_period(ref, ("overall", "channel", "survey_kind", "touchpoint"))
    periods = query(full_run, "select * from marts.nps_by_period where period_grain = 'quarter' and respondents > 0")
    counts = {(row["period_start"], row["segment_type"], row["segment_value"]): row for row in periods}
    eligible = eligible_contacts(full_run)
    rows = query(full_run, "select * from marts.nps_sample_plan")
    assert {(r["quarter_start"], r["segment_type"], r["segment_value"]) for r in rows} == set(counts)
    planned = 0
    for row in rows:
        key = (row["quarter_start"], row["segment_type"], row["segment_value"])
        cell = counts[key]
        landing_cell = landing_cells.get(("quarter", *key))
        if landing_cell is not None:  # the segments the landing files give without billing: counts from them
            cell = landing_cell
        n, promoters, detractors = cell["respondents"], cell["respondent_promoters"], cell["respondent_detractors"]
        assert row["respondents"] == n, key
        variance = promoters / n + detractors / n - ((promoters - detractors) / n) ** 2
        if variance <= 1e-12:
            assert row["min_detectable_change"] is None and row["respondents_needed"] is None, row
            continue
        sd = math.sqrt(variance)
        assert same(row["respondent_variance"], variance), row
        # statsmodels: the smallest standardised effect a two-sided z-test of two samples of n finds with 80%
        # power (it also counts the far tail, a difference of under 1e-6 here).
        effect = NormalIndPower().solve_power(nobs1=n, alpha=ALPHA, power=POWER, ratio=1.0)
        assert math.isclose(row["min_detectable_change"], 100 * effect * sd, rel_tol=1e-4), row
        assert math.isclose(row["min_detectable_change"], 100 * z_sum * math.sqrt(2 * variance / n), rel_tol=1e-9)
        needed = NormalIndPower().solve_power(effect_size=TARGET_POINTS / 100 / sd, alpha=ALPHA, power=POWER)
        assert abs(row["respondents_needed"] - needed) < 1, row
        assert row["respondents_needed"] == math.ceil(z_sum**2 * 2 * variance / (TARGET_POINTS / 100) ** 2 - 1e-9)
        total = eligible.get(key[1:])
        if key[1] in ("channel", "survey_kind", "touchpoint"):
            assert row["eligible_contacts"] is None and row["sample_share_needed"] is None, row
            continue
        assert row["eligible_contacts"] == (total or 0), row
        if total:
            assert same(row["respondent_share_needed"], row["respondents_needed"] / total)
            rate = counts[key]["response_rate"]
            assert same(row["sample_share_needed"], row["respondents_needed"] / total / rate if rate else None)
        planned += 1
    assert planned >= 10


def eligible_contacts(full_run: Path) -> dict[tuple[str, str], int]:
    """(segment_type, value) -> contacts eligible for a relational survey, by their account's current attributes."""
    rows = query(
        full_run,
        "select e.email, a.account_id, a.plan, a.region, a.mrr_band, a.tenure_months "
        "from marts.survey_eligibility as e left join marts.dim_accounts as a on e.account_id = a.account_id "
        "where e.is_eligible_relational",
    )
    counts: dict[tuple[str, str], set] = defaultdict(set)
    for row in rows:
        months = row["tenure_months"]
        tenure = None
        if row["account_id"] is not None:
            tenure = "0-3m" if months < 3 else "3-12m" if months < 12 else "12-24m" if months < 24 else "24m+"
        counts[("overall", "all")].add(row["email"])
        for segment, value in (("plan", row["plan"]), ("region", row["region"]), ("mrr_band", row["mrr_band"])):
            counts[(segment, value or "unknown")].add(row["email"])
        counts[("tenure_band", tenure or "unknown")].add(row["email"])
    return {key: len(emails) for key, emails in counts.items()}
