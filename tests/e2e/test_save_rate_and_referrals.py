"""churn_save_rate and referral_revenue on demo data that plants both effects (demo/outreach.py, demo/lifecycle.py:
half of the cancellations at a period's end get a save call, after which 55% take the cancellation back instead of
35%; 30% of the accounts signing up inside the window were referred, mostly by healthy accounts), through the real
loader and dbt, against the same figures computed here from the landing files.

What comes from the warehouse, and why: the days each account is in the high tier (marts.account_health, checked
by tests/e2e/test_churn_risk.py and test_churn_planted.py) and, for referral revenue, each account's MRR at a
month's end (int_account_mrr_monthly, checked by tests/e2e/test_mrr_movements.py): recomputing the churn rules or
the currency conversion here would copy the SQL. Everything else is from the landing files: the entries (from the
tiers, and whether the account had asked to cancel that day, account_health.cancellation_requested), the calls
(Zendesk tickets and organizations), whether the account still pays 90 days later (Stripe
subscriptions), who referred whom (Stripe customer metadata) and the referrer's NPS category (survey answers).

About 5 minutes on two cores (demo generation, load, dbt); run with -s to see the figures."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from statsmodels.stats.proportion import proportion_confint

from settings import DBT_PROJECT_DIR
from tests.e2e import reference
from tests.e2e.test_churn_planted import dbt

pytestmark = pytest.mark.e2e

DEMO = {"accounts": 500, "months": 10, "end_date": date(2026, 10, 31), "seed": 5, "events_per_account_day": 1.0}
WINDOW_DAYS, OUTCOME_DAYS = 14, 90  # dbt vars save_call_window_days, save_outcome_days (their defaults)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from demo import DemoConfig, generate
    from ingestion.landing import dates_present, day_files
    from ingestion.loader import ensure_tables, load_files
    from ingestion.registry import ENTITIES

    root = tmp_path_factory.mktemp("save_rate")
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    generate(landing, DemoConfig(**DEMO))
    with duckdb.connect(str(warehouse)) as con:
        days = dates_present(landing, ENTITIES)
        for spec in ENTITIES:
            ensure_tables(con, spec)
            files, refused = day_files(landing, spec, days)
            assert refused == []
            if files:
                assert load_files(con, files, "demo").errors == []
    dbt(DBT_PROJECT_DIR, warehouse, "seed", "--full-refresh")
    dbt(DBT_PROJECT_DIR, warehouse, "run", "--full-refresh", "--select", "+churn_save_rate", "+referral_revenue")
    return landing, warehouse


def query(warehouse: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def account_of_customer(landing: Path) -> dict[str, dict]:
    return {cid: c for cid, c in reference.latest(landing, "stripe", "customers").items() if not c.get("deleted")}


def paying_on(landing: Path) -> callable:
    """A function (account, day) -> whether any subscription of the account pays on that day: the version landed
    last on or before the day is active or past_due with a positive amount."""
    customers = account_of_customer(landing)
    versions: dict[str, list[tuple[date, int, str, bool]]] = defaultdict(list)
    for day, number, sub in reference.json_versions(landing, "stripe", "subscriptions"):
        account = (customers.get(sub["customer"]) or {}).get("metadata", {}).get("account_id")
        if account:
            amount = sum(i["price"]["unit_amount"] * i["quantity"] for i in sub["items"]["data"])
            paying = sub["status"] in ("active", "past_due") and amount > 0
            versions[account].append((day, number, sub["id"], paying))

    def paying(account: str, day: date) -> bool:
        state: dict[str, bool] = {}
        for landed, _, subscription, is_paying in sorted(versions.get(account, [])):
            if landed <= day:
                state[subscription] = is_paying
        return any(state.values())

    return paying


def expected_entries(landing: Path, warehouse: Path) -> list[dict]:
    tiers = query(
        warehouse, "select account_id, as_of_date, risk_tier, cancellation_requested from marts.account_health"
    )
    asked = {(t["account_id"], t["as_of_date"]) for t in tiers if t["cancellation_requested"] >= 1}
    first, as_of = min(t["as_of_date"] for t in tiers), max(t["as_of_date"] for t in tiers)
    high = {(t["account_id"], t["as_of_date"]) for t in tiers if t["risk_tier"] == "high"}
    starts = sorted(
        (account, day) for account, day in high if day > first and (account, day - timedelta(days=1)) not in high
    )
    organizations = {
        str(o["id"]): o.get("external_id") for o in reference.latest(landing, "zendesk", "organizations").values()
    }
    calls: dict[str, list[date]] = defaultdict(list)
    for ticket in reference.latest(landing, "zendesk", "tickets").values():
        account = organizations.get(str(ticket.get("organization_id")))
        if account and (ticket["via"]["channel"] == "voice" or "at_risk_call" in (ticket.get("tags") or [])):
            calls[account].append(reference.parse_time(ticket["created_at"]).date())
    paying = paying_on(landing)
    entries = []
    for position, (account, entered) in enumerate(starts):
        following = starts[position + 1] if position + 1 < len(starts) else None
        until = entered + timedelta(days=WINDOW_DAYS)
        if following and following[0] == account:
            until = min(until, following[1])
        outcome = entered + timedelta(days=OUTCOME_DAYS)
        entries.append(
            {
                "month": entered.replace(day=1),
                "reason": "cancellation_requested" if (account, entered) in asked else "other",
                "account": account,
                "called": any(entered < call <= until for call in calls[account]),
                "known": outcome <= as_of,
                "saved": paying(account, outcome) if outcome <= as_of else None,
            }
        )
    return entries


def newcombe(s1: int, n1: int, s2: int, n2: int) -> tuple[float, float, float]:
    (l1, u1), (l2, u2) = proportion_confint(s1, n1, method="wilson"), proportion_confint(s2, n2, method="wilson")
    p1, p2 = s1 / n1, s2 / n2
    return p1 - p2, p1 - p2 - math.hypot(p1 - l1, u2 - p2), p1 - p2 + math.hypot(u1 - p1, p2 - l2)


def test_churn_save_rate_matches_the_landing_files_and_shows_the_planted_calls(run):
    landing, warehouse = run
    entries = expected_entries(landing, warehouse)
    rows = {
        (r["period_grain"], r["entry_month"], r["entry_reason"]): r
        for r in query(warehouse, "select * from marts.churn_save_rate")
    }
    groups = defaultdict(list)
    for entry in entries:
        for reason in ("any", entry["reason"]):
            groups[("month", entry["month"], reason)].append(entry)
            groups[("all", None, reason)].append(entry)
    assert set(rows) == set(groups)
    for key, members in groups.items():
        row = rows[key]
        called = [e for e in members if e["called"] and e["known"]]
        others = [e for e in members if not e["called"] and e["known"]]
        assert row["entries"] == len(members), key
        assert row["accounts"] == len({e["account"] for e in members}), key
        assert row["called_entries"] == sum(e["called"] for e in members), key
        assert (row["called_with_outcome"], row["called_saved"]) == (len(called), sum(e["saved"] for e in called))
        assert (row["not_called_with_outcome"], row["not_called_saved"]) == (
            len(others),
            sum(e["saved"] for e in others),
        )
        assert row["is_outcome_complete"] == all(e["known"] for e in members)
        for prefix, group in (("called", called), ("not_called", others)):
            if group:
                saved = sum(e["saved"] for e in group)
                low, high = proportion_confint(saved, len(group), method="wilson")
                assert row[f"{prefix}_save_rate"] == pytest.approx(saved / len(group), abs=1e-12)
                assert row[f"{prefix}_save_rate_ci_low"] == pytest.approx(low, abs=1e-9)
                assert row[f"{prefix}_save_rate_ci_high"] == pytest.approx(high, abs=1e-9)
            else:
                assert row[f"{prefix}_save_rate"] is None
        if called and others:
            difference = newcombe(
                sum(e["saved"] for e in called), len(called), sum(e["saved"] for e in others), len(others)
            )
            assert (
                row["save_rate_difference"],
                row["save_rate_difference_ci_low"],
                row["save_rate_difference_ci_high"],
            ) == pytest.approx(difference, abs=1e-9)

    for reason in ("any", "other"):
        row = rows[("all", None, reason)]
        print(
            f"\n{reason}: {row['entries']} entries, {row['called_entries']} called, difference {row['save_rate_difference']}"
        )
    overall = rows[("all", None, "cancellation_requested")]
    print(
        f"\nsave rate after a cancellation request: {overall['entries']} entries into the high tier, called {overall['called_save_rate']:.3f} "
        f"of {overall['called_with_outcome']}, not called {overall['not_called_save_rate']:.3f} of "
        f"{overall['not_called_with_outcome']}, difference {overall['save_rate_difference']:+.3f} "
        f"({overall['save_rate_difference_ci_low']:+.3f} to {overall['save_rate_difference_ci_high']:+.3f})"
    )
    # The planted effect (a call after a cancellation request: 55% take it back instead of 35%; measured from the
    # landing files of a larger demo in tests/ingestion/test_demo_outreach.py) shows where the comparison is fair,
    # after a cancellation request. Few requests start a high-tier spell in a demo this size (most accounts are
    # high already when they ask), so its interval is wide; the direction is what this seed must show (seed 5 at
    # c621e82: 15 entries, 2 called of which 2 saved, 8 not called of which 3 saved). The interval's width is the
    # honest figure here; tests/ingestion/test_demo_outreach.py measures the planted rates on enough accounts.
    assert overall["called_with_outcome"] >= 2 and overall["not_called_with_outcome"] >= 5
    assert overall["save_rate_difference"] > 0.2


def test_referral_revenue_matches_the_landing_files_and_promoters_refer_most(run):
    landing, warehouse = run
    customers = account_of_customer(landing)
    account_of = {cid: c.get("metadata", {}).get("account_id") for cid, c in customers.items()}
    answers: dict[str, list[tuple]] = defaultdict(list)
    survey = reference.build(landing)
    for response in survey.responses:
        account = survey.resolve(response)
        if response.survey_type == "nps" and account:
            answers[account].append((response.responded_at, response.response_id, response.score))
    referred: dict[str, tuple] = {}
    for cid, customer in customers.items():
        account, referrer = account_of[cid], customer.get("metadata", {}).get("referred_by")
        if not (account and referrer):
            continue
        referrer = account_of.get(referrer) if referrer.startswith("cus_") else referrer
        if referrer == account:
            continue
        at = datetime.fromtimestamp(customer["created"], UTC)
        if account not in referred or (at, cid) < referred[account][:2]:
            referred[account] = (at, cid, referrer)
    category = {}
    for account, (at, _, referrer) in referred.items():
        before = sorted(a for a in answers.get(referrer, []) if a[0] <= at)
        score = before[-1][2] if before else None
        category[account] = (
            "no_answer" if score is None else "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        )
    assert len(referred) >= 30

    mrr = query(warehouse, "select account_id, month_start, mrr_usd from intermediate.int_account_mrr_monthly")
    expected: dict[tuple, dict] = defaultdict(lambda: {"referred": 0, "mrr": 0.0, "new": 0, "total": 0.0})
    months = {m["month_start"] for m in mrr}
    for m in mrr:
        for name in ("promoter", "passive", "detractor", "no_answer"):
            expected[(m["month_start"], name)]["total"] += m["mrr_usd"]
        if m["account_id"] in category:
            cell = expected[(m["month_start"], category[m["account_id"]])]
            cell["referred"] += m["mrr_usd"] > 0
            cell["mrr"] += m["mrr_usd"]
    for account, (at, _, _) in referred.items():
        month = at.date().replace(day=1)
        if month in months:
            expected[(month, category[account])]["new"] += 1
    rows = query(warehouse, "select * from marts.referral_revenue")
    assert len(rows) == 4 * len(months)
    for row in rows:
        cell = expected[(row["month_start"], row["referrer_nps_category"])]
        assert row["referred_accounts"] == cell["referred"], row
        assert row["new_referred_accounts"] == cell["new"], row
        # To the cent (MRR of annual plans and other currencies has fractions of a cent; a sum on the half cent
        # may round either way depending on the order it is added in).
        assert row["referral_mrr_usd"] == pytest.approx(cell["mrr"], abs=0.005 + 1e-6), row
        assert row["total_mrr_usd"] == pytest.approx(cell["total"], abs=0.005 + 1e-6), row
        assert round(row["referral_mrr_usd"] * 100) == pytest.approx(row["referral_mrr_usd"] * 100, abs=1e-6), row

    last = max(months)
    by_category = {r["referrer_nps_category"]: r["referral_mrr_usd"] for r in rows if r["month_start"] == last}
    print(f"\nreferral MRR in {last}: {by_category}")
    # Planted: most referrers are healthy accounts, whose answers are mostly promoter scores.
    assert by_category["promoter"] > by_category["passive"] + by_category["detractor"]
