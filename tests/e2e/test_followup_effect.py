"""The mart followup_effect on a planted data set, through the real loader, dbt, the Python mart and the publication,
against a computation made here again from the landing files (docs/metrics.md "Follow-up effect").

49 accounts, one contact each, two plans (Starter $50, Business $600) and two detractor scores (3 and 6). Each
detractor is contacted within 4 hours, within 24 hours, or later or never; 45 days later the same person answers
again: the next score is planted at 10, 9 and 8 by group, less (0, 1, 0) in turn, so fast contact raises it by
exactly 2 and 1 points in every stratum. Churn (MRR to 0, 30 days after the answer) is planted at 2/3 of the Starter
and 1/3 of the Business "later or never" accounts and 1/3 lower in the fast groups, while Business accounts are
contacted fast more often: a naive comparison overstates the effect, the stratified one recovers -1/3. Boundaries:
a first reply at exactly 4 h (within_4h) and 24 h (within_24h), one a minute after 24 h (later), detractors never
contacted, one with no later answer (and in a stratum without comparison: unmatched), one still inside its 24-hour
window at the end of the data (left out).
"""

from __future__ import annotations

import csv
import math
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics import followup_effect
from ingestion.surveys import RESPONSE_COLUMNS
from tests.e2e import reference
from tests.e2e import stripe_versions as s
from tests.e2e.landing_files import write_jsonl
from tests.e2e.test_closed_loop import FOLLOWUP_FIELD

pytestmark = pytest.mark.e2e

Z_95 = statistics.NormalDist().inv_cdf(0.975)

FIRST, LAST = "2026-01-05", "2026-07-25"
PRICES = {"Starter": 5000, "Business": 60000}  # cents a month: MRR bands '<100' and '500-1999'
BANDS = {"Starter": "<100", "Business": "500-1999"}
GROUPS = ("within_4h", "within_24h", "later_or_never")
CELL_SIZES = {
    ("Starter", "within_4h"): 3,
    ("Starter", "within_24h"): 3,
    ("Starter", "later_or_never"): 6,
    ("Business", "within_4h"): 6,
    ("Business", "within_24h"): 3,
    ("Business", "later_or_never"): 3,
}
CHURNED = {"Starter": (1 / 3, 2 / 3), "Business": (0, 1 / 3)}  # plan -> churn share (fast groups, later or never)
NEXT_SCORE = {"within_4h": 10, "within_24h": 9, "later_or_never": 8}
NOISE = (0, 1, 0)
PLANTED = {
    ("within_4h", "next_score"): 2.0,
    ("within_24h", "next_score"): 1.0,
    ("within_4h", "churn_90d"): -1 / 3,
    ("within_24h", "churn_90d"): -1 / 3,
    ("within_4h", "nrr_6m"): 1 / 3,
    ("within_24h", "nrr_6m"): 1 / 3,
}


def reply_minutes(group: str, k: int) -> int | None:
    """The first reply of the k-th detractor of a cell, in minutes after the answer (None: never contacted)."""
    if group == "within_4h":
        return 240 if k == 0 else 90
    if group == "within_24h":
        return 1440 if k == 0 else 600
    return 1441 if k == 1 else None if k % 2 == 0 else 4320


def design() -> list[dict]:
    """One dict per account: plan, score, planned group, reply minutes, churn day, first answer and next score."""
    accounts, index = [], 0
    for score in (3, 6):
        for (plan, group), size in CELL_SIZES.items():
            share = CHURNED[plan][group == "later_or_never"]
            for k in range(size):
                answered = datetime(2026, 1, 10, 10, tzinfo=UTC) + timedelta(days=index % 12)
                accounts.append(
                    {
                        "number": f"f{index:02d}",
                        "plan": plan,
                        "score": score,
                        "minutes": reply_minutes(group, k),
                        "answered": answered,
                        "churn_day": answered.date() + timedelta(days=30) if k < round(share * size) else None,
                        "next_score": NEXT_SCORE[group] - NOISE[k % 3],
                    }
                )
                index += 1
    # No later answer, in a stratum without comparison (score 0): counted, never matched.
    unmatched = datetime(2026, 1, 12, 9, tzinfo=UTC)
    accounts.append({"number": "u0", "plan": "Starter", "score": 0, "minutes": 30, "answered": unmatched})
    # The latest event of the data, never contacted: still inside its 24-hour window, left out.
    pending = datetime(2026, 7, 25, 8, tzinfo=UTC)
    accounts.append({"number": "p0", "plan": "Starter", "score": 5, "minutes": None, "answered": pending})
    return accounts


def subscription(number: str, plan: str, **options) -> dict:
    items = [(f"si_{number}", s.price(f"price_{number}", plan, PRICES[plan]), 1, [])]
    return s.subscription(s.CLOVER, f"sub_{number}", f"cus_{number}", FIRST, items, **options)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("followup_effect")
    accounts = design()
    write_jsonl(landing, "stripe", "customers", FIRST, [s.customer(a["number"]) for a in accounts])
    write_jsonl(landing, "stripe", "subscriptions", FIRST, [subscription(a["number"], a["plan"]) for a in accounts])
    by_day: dict[str, list[dict]] = defaultdict(list)
    for a in accounts:
        if a.get("churn_day"):
            day = a["churn_day"].isoformat()
            by_day[day].append(subscription(a["number"], a["plan"], status="canceled", canceled=day))
    by_day[LAST].append(
        s.subscription(s.CLOVER, "sub_z0", "cus_z0", LAST, [("si_z0", s.price("p_z0", "X", 900), 1, [])])
    )
    for day, subs in by_day.items():
        write_jsonl(landing, "stripe", "subscriptions", day, subs)
    write_jsonl(landing, "stripe", "customers", LAST, [s.customer("z0")])

    answers: dict[str, list[dict]] = defaultdict(list)
    tickets: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
    for i, a in enumerate(accounts):
        person = {"email": f"pat@{a['number']}.example", "account_id": f"acc_{a['number']}"}
        answers[a["answered"].date().isoformat()].append(
            {"response_id": f"r_{a['number']}_1", "score": a["score"], "responded_at": iso(a["answered"])} | person
        )
        if a.get("next_score") is not None:
            later = a["answered"] + timedelta(days=45)
            answers[later.date().isoformat()].append(
                {"response_id": f"r_{a['number']}_2", "score": a["next_score"], "responded_at": iso(later)} | person
            )
        if a["minutes"] is not None:
            ticket_id = 70000 + i
            created = iso(a["answered"])
            ticket = {
                "id": ticket_id,
                "status": "solved",
                "subject": "Following up on your feedback",
                "requester_id": None,
                "organization_id": None,
                "group_id": None,
                "tags": ["nps_followup"],
                "custom_fields": [{"id": FOLLOWUP_FIELD, "value": f"r_{a['number']}_1"}],
                "via": {"channel": "api"},
                "created_at": created,
                "updated_at": created,
            }
            minutes = {"calendar": a["minutes"], "business": a["minutes"]}
            metric = {
                "id": 800000 + ticket_id,
                "ticket_id": ticket_id,
                "reopens": 0,
                "replies": 1,
                "reply_time_in_minutes": minutes,
                "full_resolution_time_in_minutes": minutes,
                "solved_at": created,
                "created_at": created,
                "updated_at": created,
            }
            tickets[a["answered"].date().isoformat()].append((ticket, metric))
    for day, rows in answers.items():
        path = landing / "surveys" / "responses" / f"{day}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=RESPONSE_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow(dict.fromkeys(RESPONSE_COLUMNS, "") | row | {"survey_type": "nps"})
    for day, pairs in tickets.items():
        write_jsonl(landing, "zendesk", "tickets", day, [ticket for ticket, _ in pairs])
        write_jsonl(landing, "zendesk", "ticket_metrics", day, [metric for _, metric in pairs])
    return landing


@pytest.fixture(scope="module")
def warehouse(pipeline, landing, tmp_path_factory) -> Path:
    warehouse = tmp_path_factory.mktemp("followup_effect_warehouse") / "warehouse.duckdb"
    pipeline.run(warehouse, landing, date.fromisoformat(FIRST), date.fromisoformat(LAST))
    return warehouse


def rows(database: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(database), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# -- the same figures, from the landing files ------------------------------------------------------------------


def landed_mrr(landing: Path) -> tuple[dict[str, list[tuple[date, float, str]]], date]:
    """account -> its (day landed, MRR in USD, plan) in day order, and the latest landed day (no discounts, USD)."""
    versions: dict[str, list[tuple[date, float, str]]] = defaultdict(list)
    for day, _, sub in reference.json_versions(landing, "stripe", "subscriptions"):
        item = sub["items"]["data"][0]
        paying = sub["status"] in ("active", "past_due") and sub["ended_at"] is None
        mrr = item["price"]["unit_amount"] * item["quantity"] / 100 if paying else 0.0
        versions[sub["customer"].replace("cus_", "acc_")].append((day, mrr, item["price"]["nickname"]))
    return {account: sorted(v) for account, v in versions.items()}, max(d for v in versions.values() for d, *_ in v)


def mrr_on(versions: list[tuple[date, float, str]], day: date) -> tuple[float, str] | None:
    known = [(mrr, plan) for landed, mrr, plan in versions if landed <= day]
    return known[-1] if known else None


def expected_units(landing: Path) -> list[dict]:
    answers = [r for r in reference.build(landing).responses if r.survey_type == "nps"]
    tickets = reference.latest(landing, "zendesk", "tickets")
    metrics = reference.latest(landing, "zendesk", "ticket_metrics", key="ticket_id")
    as_of = max([r.responded_at for r in answers] + [reference.parse_time(t["created_at"]) for t in tickets.values()])
    outreach = {}
    for ticket in tickets.values():
        response_id = next(f["value"] for f in ticket["custom_fields"] if f["id"] == FOLLOWUP_FIELD)
        minutes = metrics[str(ticket["id"])]["reply_time_in_minutes"]["calendar"]
        outreach[response_id] = reference.parse_time(ticket["created_at"]) + timedelta(minutes=minutes)
    by_person = defaultdict(list)
    for answer in answers:
        by_person[answer.email.lower()].append(answer)
    versions, billing_as_of = landed_mrr(landing)
    units = []
    for person in by_person.values():
        person.sort(key=lambda r: (r.responded_at, r.response_id))
        for position, answer in enumerate(person):
            if answer.score > 6:
                continue
            reached = outreach.get(answer.response_id)
            hours = None if reached is None else (reached - answer.responded_at).total_seconds() / 3600
            if hours is None and answer.responded_at + timedelta(hours=24) > as_of:
                continue  # still pending
            group = "later_or_never" if hours is None or hours > 24 else "within_4h" if hours <= 4 else "within_24h"
            account, day = answer.account_id, answer.responded_at.date()
            mrr, plan = mrr_on(versions[account], day)
            band = "<100" if mrr < 100 else "100-499" if mrr < 500 else "500-1999" if mrr < 2000 else "2000+"
            nxt = person[position + 1].score if position + 1 < len(person) else None
            unit = {"group": group, "stratum": (plan, band, answer.score), "account": account, "mrr": mrr}
            unit["next_score"] = nxt
            unit["next_nps"] = None if nxt is None else (100 if nxt >= 9 else -100 if nxt <= 6 else 0)
            churned = any(day < d <= day + timedelta(days=90) and m == 0 for d, m, _ in versions[account])
            unit["churn_90d"] = float(churned) if day + timedelta(days=90) <= billing_as_of else None
            horizon = date(day.year + (day.month + 5) // 12, (day.month + 5) % 12 + 1, day.day)
            unit["nrr_6m"] = mrr_on(versions[account], horizon)[0] if horizon <= billing_as_of else None
            units.append(unit)
    return units


def expected_row(units: list[dict], group: str, outcome: str) -> dict:
    """The row written out step by step: cell ratios, treated-count weights, the clustered linear variance."""
    observed = [u for u in units if u[outcome] is not None]
    weight = (lambda u: u["mrr"]) if outcome == "nrr_6m" else (lambda u: 1.0)
    own = [u for u in observed if u["group"] == group]
    row = {"units": len(own), "accounts": len({u["account"] for u in own})}
    row["value"] = sum(u[outcome] for u in own) / sum(weight(u) for u in own)
    if group == "later_or_never":
        return row

    def cell(g, stratum):
        return [u for u in observed if u["group"] == g and u["stratum"] == stratum]

    strata = sorted({u["stratum"] for u in own} & {u["stratum"] for u in observed if u["group"] == "later_or_never"})
    n = {st: len(cell(group, st)) for st in strata}
    total = sum(n.values())
    ratio = {
        (g, st): sum(u[outcome] for u in cell(g, st)) / sum(weight(u) for u in cell(g, st))
        for g in (group, "later_or_never")
        for st in strata
    }
    matched = sum(n[st] * ratio[(group, st)] for st in strata) / total
    comparison = sum(n[st] * ratio[("later_or_never", st)] for st in strata) / total
    # Cells of two or more: influences times the factor below, summed per account; a cell of one unit: the pooled
    # within-cell variance of (y - R x) / x (cells of two or more, both groups) times w^2, added.
    per_account, singles, squares, freedom = defaultdict(float), [], 0.0, 0
    for g, sign in ((group, 1), ("later_or_never", -1)):
        for st in strata:
            members, size = cell(g, st), sum(weight(u) for u in cell(g, st))
            for u in members:
                per_account[u["account"]] += 0.0
            if len(members) == 1:
                singles.append(n[st] / total)
                continue
            # 1 / (1 - sum of squared weights x / sum(x)): n / (n - 1) for a plain mean.
            factor = math.sqrt(1 / (1 - sum((weight(u) / size) ** 2 for u in members)))
            for u in members:
                residual = u[outcome] - ratio[(g, st)] * weight(u)
                per_account[u["account"]] += sign * n[st] / total * residual / size * factor
                squares += (residual / weight(u)) ** 2
            freedom += len(members) - 1
    pooled = squares / freedom if freedom else 0.0
    se = math.sqrt(sum(v * v for v in per_account.values()) + sum(pooled * c * c for c in singles))
    difference = matched - comparison
    row |= {"matched_units": total, "strata": len(strata), "matched_value": matched, "comparison_value": comparison}
    row |= {"comparison_units": sum(len(cell("later_or_never", st)) for st in strata), "difference": difference}
    row |= {"std_error": se, "ci_low": difference - Z_95 * se, "ci_high": difference + Z_95 * se}
    row["p_value"] = math.erfc(abs(difference) / se / math.sqrt(2)) if se > 0 else None
    return row


def test_the_design_plants_what_the_docstring_says(landing):
    units = expected_units(landing)
    groups = defaultdict(int)
    for unit in units:
        groups[unit["group"]] += 1
    assert dict(groups) == {"within_4h": 19, "within_24h": 12, "later_or_never": 18}  # 48 + u0; p0 left out
    later = [u for u in units if u["group"] == "later_or_never"]
    assert statistics.mean(u["next_score"] for u in later) == pytest.approx(8 - 1 / 3)
    assert {u["stratum"] for u in units if u["account"] == "acc_u0"} == {("Starter", "<100", 0)}


def test_every_figure_matches_the_landing_files(warehouse, landing):
    units = expected_units(landing)
    mart = {(r["contact_group"], r["outcome"]): r for r in rows(warehouse, "select * from marts.followup_effect")}
    assert set(mart) == {(g, o) for g in GROUPS for o in followup_effect.OUTCOMES}
    for (group, outcome), row in mart.items():
        expected = expected_row(units, group, outcome)
        for column, value in expected.items():
            assert row[column] == pytest.approx(value, abs=1e-7), (group, outcome, column)
        if group == "later_or_never":
            assert row["difference"] is None and row["matched_units"] is None
    # The unit without a later answer counts for churn but not for the next score; unmatched in its stratum.
    assert mart[("within_4h", "churn_90d")]["units"] == 19 and mart[("within_4h", "churn_90d")]["matched_units"] == 18
    assert mart[("within_4h", "next_score")]["units"] == 18


def test_the_planted_effect_is_recovered_within_its_interval(warehouse):
    mart = {(r["contact_group"], r["outcome"]): r for r in rows(warehouse, "select * from marts.followup_effect")}
    for key, planted in PLANTED.items():
        row = mart[key]
        assert row["difference"] == pytest.approx(planted, abs=1e-9), key
        assert row["ci_low"] <= planted <= row["ci_high"], key
    # Business accounts are contacted fast more often and churn less anyway: the naive gap overstates the effect.
    naive = mart[("within_4h", "churn_90d")]["value"] - mart[("later_or_never", "churn_90d")]["value"]
    assert naive < PLANTED[("within_4h", "churn_90d")] - 0.05
    # At 19 fast units the small-sample variance no longer excludes 0 (ci_high 0.0245 measured; the former, too
    # narrow interval did): the sign is recovered, the significance is not claimed.
    assert mart[("within_4h", "churn_90d")]["difference"] < 0 < mart[("within_4h", "churn_90d")]["ci_high"]


def test_a_rebuild_writes_the_same_table_and_it_is_published(warehouse, tmp_path):
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    with duckdb.connect(str(copy)) as con:
        before = con.execute("select * from marts.followup_effect order by all").fetchall()
        assert followup_effect.build(con) == 12
        assert con.execute("select * from marts.followup_effect order by all").fetchall() == before
    serving = warehouse.parent / "serving.duckdb"
    assert sorted(map(tuple, (r.values() for r in rows(serving, "select * from marts.followup_effect")))) == sorted(
        before
    )
