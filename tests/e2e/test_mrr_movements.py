"""The mart mrr_movements, through the real loader, dbt and the publication, against movements computed here again
from the landed Stripe subscriptions (docs/metrics.md "MRR movements").

Five accounts in USD and EUR: new, expansion, contraction, churn, a change undone inside one month (EUR 100 -> 300
-> 100), and one that paid only from Feb 3 to Feb 20 (never at a month's end) and returns on Apr 2: a reactivation,
not new. Month-end MRR comes from the reference of tests/e2e/test_stripe_versions.py (`expected_mrr`); the
movements, their currency and the every-change basis are derived here from the landing files. No discounts, so an
account's MRR changes only on the days a version lands.
"""

from __future__ import annotations

import json
from calendar import monthrange
from collections import defaultdict
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.e2e import stripe_versions as s
from tests.e2e.dbt_tests import dbt_test_results
from tests.e2e.landing_files import write_jsonl
from tests.e2e.test_stripe_versions import MONTHS, expected_mrr, fx_rate, single, subscription_mrr

pytestmark = pytest.mark.e2e

FIRST, LAST = "2026-01-05", "2026-04-15"
LAST_DAY = date.fromisoformat(LAST)
SUBSCRIPTIONS = {
    FIRST: [
        single("m1", 10000),
        single("m2", 20000, currency="eur"),
        single("m3", 5000),
        single("r1", 8000, status="trialing"),
        single("w1", 10000, currency="eur"),
    ],
    "2026-02-03": [single("r1", 8000)],
    "2026-02-10": [single("m1", 15000)],
    "2026-02-20": [single("r1", 8000, status="paused")],
    "2026-03-03": [single("m2", 10000, currency="eur")],
    "2026-03-05": [single("w1", 30000, currency="eur")],
    "2026-03-10": [single("m3", 5000, status="canceled", canceled="2026-03-10")],
    "2026-03-20": [single("w1", 10000, currency="eur")],
    "2026-04-02": [single("r1", 8000)],
    # The latest landed day (nothing changes): months are measured up to it.
    LAST: [single("m1", 15000)],
}
NUMBERS = sorted({sub["customer"].removeprefix("cus_") for subs in SUBSCRIPTIONS.values() for sub in subs})
MART_COLUMNS = "month_start, movement_basis, movement, currency, accounts, movements, movement_usd"


def landed_versions(landing: Path) -> dict[str, list[tuple[date, dict]]]:
    """account -> its subscription as landed each day, in day order (one subscription per account here)."""
    versions: dict[str, list[tuple[date, dict]]] = defaultdict(list)
    for path in sorted((landing / "stripe" / "subscriptions").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            sub = json.loads(line)
            versions[sub["customer"].replace("cus_", "acc_")].append((date.fromisoformat(path.stem), sub))
    return versions


def classify(previous: float, mrr: float, paid_before: bool) -> str | None:
    if previous == 0 and mrr > 0:
        return "reactivation" if paid_before else "new"
    if previous > 0 and mrr == 0:
        return "churn"
    return "expansion" if mrr > previous else "contraction" if mrr < previous else None


def aggregate(moves: list[tuple[date, str, str, str, float]]) -> dict[tuple, tuple[int, int, float]]:
    """(month, movement, currency) -> (accounts, movements, USD to the cent, as the mart rounds it) from
    (month, movement, currency, account, USD)."""
    groups: dict[tuple, list[tuple[str, float]]] = defaultdict(list)
    for month, movement, currency, account, usd in moves:
        groups[(month, movement, currency)].append((account, usd))
    return {
        key: (len({a for a, _ in members}), len(members), round(sum(u for _, u in members), 2))
        for key, members in groups.items()
    }


def expected_month_end(landing: Path) -> dict[tuple, tuple[int, int, float]]:
    """Month-end MRR against the previous month's end; reactivation when the account paid on any earlier day."""
    mrr, versions = expected_mrr(landing), landed_versions(landing)
    moves = []
    for account, landed in versions.items():
        paying_days = [day for day, sub in landed if subscription_mrr(sub, day, {}, {}) > 0]
        previous, previous_currency = 0.0, None
        for month in MONTHS:
            current = mrr[(account, month)]
            measured = min(date(month.year, month.month, monthrange(month.year, month.month)[1]), LAST_DAY)
            in_effect = [sub for day, sub in landed if day <= measured]
            currency = in_effect[-1]["currency"] if current > 0 else previous_currency
            movement = classify(previous, current, any(day < month for day in paying_days))
            if movement:
                moves.append((month, movement, currency, account, current - previous))
            previous, previous_currency = current, (currency if current > 0 else None)
    return aggregate(moves)


def expected_every_change(landing: Path) -> dict[tuple, tuple[int, int, float]]:
    """Every landed version whose MRR differs from the one before, classified against it."""
    moves = []
    for account, landed in landed_versions(landing).items():
        previous, previous_currency, paid_before = 0.0, None, False
        for day, sub in landed:
            current = subscription_mrr(sub, day, {}, {})
            movement = classify(previous, current, paid_before)
            if movement:
                currency = sub["currency"] if current > 0 else previous_currency
                moves.append((day.replace(day=1), movement, currency, account, current - previous))
            paid_before = paid_before or current > 0
            previous, previous_currency = current, sub["currency"]
    return aggregate(moves)


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("mrr_movements")
    write_jsonl(landing, "stripe", "customers", FIRST, [s.customer(n) for n in NUMBERS])
    for day, subs in SUBSCRIPTIONS.items():
        write_jsonl(landing, "stripe", "subscriptions", day, subs)
    write_jsonl(landing, "stripe", "coupons", FIRST, [s.coupon("UNUSED", "forever", percent_off=10)])
    return landing


@pytest.fixture(scope="module")
def warehouse(pipeline, landing, tmp_path_factory) -> Path:
    warehouse = tmp_path_factory.mktemp("mrr_movements_warehouse") / "warehouse.duckdb"
    pipeline.run(warehouse, landing, date.fromisoformat(FIRST), LAST_DAY)
    return warehouse


def rows(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


def mart(database: Path, basis: str) -> dict[tuple, tuple[int, int, float]]:
    result = rows(
        database,
        f"select month_start, movement, currency, accounts, movements, movement_usd from marts.mrr_movements "
        f"where movement_basis = '{basis}'",
    )
    return {(month, movement, currency): (a, m, usd) for month, movement, currency, a, m, usd in result}


def test_the_reference_gives_the_movements_by_hand(landing):
    # The reference itself, against arithmetic by hand: it must not simply agree with the model.
    eur = fx_rate("eur")
    jan, feb, mar, apr = MONTHS
    assert expected_month_end(landing) == (
        {
            (jan, "new", "usd"): (2, 2, 150.0),
            (jan, "new", "eur"): (2, 2, round(300 * eur, 2)),
            (feb, "expansion", "usd"): (1, 1, 50.0),
            (mar, "contraction", "eur"): (1, 1, round(-100 * eur, 2)),
            (mar, "churn", "usd"): (1, 1, -50.0),
            # Paid Feb 3 - Feb 20 only, never at a month's end: its return is a reactivation.
            (apr, "reactivation", "usd"): (1, 1, 80.0),
        }
    )
    assert expected_every_change(landing) == (
        {
            (jan, "new", "usd"): (2, 2, 150.0),
            (jan, "new", "eur"): (2, 2, round(300 * eur, 2)),
            (feb, "new", "usd"): (1, 1, 80.0),
            (feb, "churn", "usd"): (1, 1, -80.0),
            (feb, "expansion", "usd"): (1, 1, 50.0),
            (mar, "expansion", "eur"): (1, 1, round(200 * eur, 2)),
            (mar, "contraction", "eur"): (2, 2, -round(300 * eur, 2)),
            (mar, "churn", "usd"): (1, 1, -50.0),
            (apr, "reactivation", "usd"): (1, 1, 80.0),
        }
    )


def test_month_end_movements_match_the_landing_files(warehouse, landing):
    assert mart(warehouse, "month_end") == expected_month_end(landing)


def test_every_change_movements_match_the_landing_files(warehouse, landing):
    assert mart(warehouse, "every_change") == expected_every_change(landing)


def test_both_bases_add_up_to_the_same_net_change_each_month(warehouse):
    by_basis = rows(
        warehouse,
        "select month_start, movement_basis, sum(movement_usd) from marts.mrr_movements group by 1, 2 order by 1, 2",
    )
    net = defaultdict(dict)
    for month, basis, usd in by_basis:
        net[month][basis] = usd
    assert sorted(net) == MONTHS
    for month, bases in net.items():
        assert bases["month_end"] == pytest.approx(bases["every_change"], abs=0.01), month


def test_a_return_after_paying_inside_an_earlier_month_is_a_reactivation(warehouse):
    assert rows(
        warehouse,
        "select month_start, mrr_usd, movement, currency from intermediate.int_account_mrr_monthly "
        "where account_id = 'acc_r1' order by 1",
    ) == [
        (MONTHS[0], 0.0, "none", None),
        (MONTHS[1], 0.0, "none", None),
        (MONTHS[2], 0.0, "none", None),
        (MONTHS[3], 80.0, "reactivation", "usd"),
    ]


def test_the_mart_is_published_to_the_serving_file_and_parquet(warehouse):
    serving, current = warehouse.parent / "serving.duckdb", warehouse.parent / "parquet" / "current"
    expected = sorted(rows(warehouse, f"select {MART_COLUMNS} from marts.mrr_movements"))
    assert len(expected) == 15
    assert sorted(rows(serving, f"select {MART_COLUMNS} from marts.mrr_movements")) == expected
    assert rows(serving, "select row_count from meta.published_marts where table_name = 'mrr_movements'") == [(15,)]
    parquet = current / "mrr_movements" / "data.parquet"
    with duckdb.connect() as con:
        assert sorted(con.execute(f"select {MART_COLUMNS} from read_parquet('{parquet}')").fetchall()) == expected


def test_the_dbt_unit_test_of_the_reactivation_boundary_passes(warehouse, tmp_path):
    # dbt unit tests take the column types of their inputs from the warehouse: this module's has them all.
    results = dbt_test_results(warehouse, "int_account_mrr_monthly,test_type:unit", tmp_path / "target")
    assert {(r["unique_id"].rsplit(".", 1)[-1], r["status"]) for r in results} == {
        ("mrr_movements_follow_chartmogul", "pass"),
        ("reactivation_counts_any_earlier_paying_day", "pass"),
    }
