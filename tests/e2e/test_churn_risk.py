"""account_health and the churn backtest on generated data, checked against independent computations.

The small shared demo checks the mechanics row by row; a mid-size demo (more accounts, a longer history)
checks that the planted effects are recovered: detractors churn more, and the rules rank churners well.
"""

from __future__ import annotations

import csv
import math
import os
import random
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from analytics import churn_backtest
from settings import DBT_PROJECT_DIR
from tests.e2e import reference

pytestmark = pytest.mark.e2e


def rules() -> dict[str, dict]:
    with (DBT_PROJECT_DIR / "seeds" / "churn_risk_rules.csv").open() as handle:
        return {row["rule"]: row for row in csv.DictReader(handle)}


def fetch(warehouse: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def points(rule: dict, applies: bool, value) -> float:
    """The points of one driver: its weight, a scale driver's share of it (from the seed's definition)."""
    if not applies:
        return 0.0
    weight = float(rule["weight"])
    if rule["operator"] != "scale":
        return weight
    if value is None:
        return weight if rule["when_missing"] == "true" else 0.0
    lower, upper = float(rule["lower_threshold"]), float(rule["threshold"])
    return weight * min(1.0, max(0.0, (value - lower) / (upper - lower)))


def test_score_and_tier_follow_the_configuration(full_run: Path):
    config = rules()
    rows = fetch(full_run, "select * from marts.account_health")
    signals = {
        (r["account_id"], r["as_of_date"]): r
        for r in fetch(full_run, "select * from intermediate.int_account_signals_daily")
    }
    assert rows
    drivers = {name: rule for name, rule in config.items() if rule["kind"] == "driver"}
    graded = 0
    for row in rows:
        signal = signals[(row["account_id"], row["as_of_date"])]
        total = sum(points(rule, row[f"is_{name}_driver"], signal[rule["feature"]]) for name, rule in drivers.items())
        expected = math.floor(min(100.0, total) + 0.5)
        graded += any(row[f"is_{name}_driver"] for name, rule in drivers.items() if rule["operator"] == "scale")
        assert row["risk_score"] == expected
        tier = (
            "high"
            if expected >= float(config["high"]["threshold"])
            else "medium"
            if expected >= float(config["medium"]["threshold"])
            else "low"
        )
        assert row["risk_tier"] == tier
        assert row["revenue_at_risk_usd"] == pytest.approx(row["mrr_usd"] * expected / 100)
        # The readable drivers name exactly the drivers that apply.
        assert (row["risk_drivers"] == "") == (not any(row[f"is_{name}_driver"] for name in drivers))
    assert graded > 0


def test_only_paying_days_are_scored(full_run: Path):
    unpaid = fetch(
        full_run,
        """
        select health.account_id, health.as_of_date
        from marts.account_health as health
        where not exists (
            select 1 from intermediate.int_account_billing_historized as billing
            where billing.account_id = health.account_id and billing.mrr_usd > 0
              and billing.valid_from_date <= health.as_of_date
              and (billing.valid_to_date is null or health.as_of_date < billing.valid_to_date)
        )
        """,
    )
    assert unpaid == []


def test_latest_nps_and_detractor_driver_match_the_landing_files(small_landing: Path, full_run: Path):
    ref = reference.build(small_landing)
    answers: dict[str, list[tuple]] = defaultdict(list)
    for response in ref.responses:
        account = ref.resolve(response)
        if response.survey_type == "nps" and response.score is not None and account:
            answers[account].append((response.responded_at, response.response_id, response.score))
    rows = fetch(
        full_run, "select account_id, as_of_date, latest_nps_score, is_detractor_driver from marts.account_health"
    )
    random.Random(3).shuffle(rows)
    checked = 0
    for row in rows[:400]:
        known = sorted(a for a in answers.get(row["account_id"], []) if a[0].date() <= row["as_of_date"])
        latest = known[-1] if known else None
        assert row["latest_nps_score"] == (latest[2] if latest else None), row
        recent = latest is not None and latest[0].date() > row["as_of_date"] - timedelta(days=365)
        assert row["is_detractor_driver"] == (recent and latest[2] <= 6), row
        checked += latest is not None
    assert checked > 50


def test_usage_over_30_days_matches_the_raw_events(full_run: Path):
    rows = fetch(
        full_run,
        """
        with paying as (
            select account_id, as_of_date, events_last_30d,
                   count(*) over (partition by account_id order by as_of_date
                                  range between interval 29 days preceding and current row) as paying_days
            from marts.account_health
        )
        select * from paying where paying_days = 30 order by account_id, as_of_date
        """,
    )
    events = fetch(
        full_run,
        "select account_id, _partition_date as day, count(*) as n from raw_segment.tracks "
        "where account_id is not null group by 1, 2",
    )
    per_day = {(e["account_id"], e["day"]): e["n"] for e in events}
    assert rows
    for row in rows[:: max(1, len(rows) // 300)]:
        days = [row["as_of_date"] - timedelta(days=offset) for offset in range(30)]
        assert row["events_last_30d"] == sum(per_day.get((row["account_id"], day), 0) for day in days), row


def test_dim_accounts_profiles_every_stripe_account(small_landing: Path, full_run: Path):
    customers = reference.latest(small_landing, "stripe", "customers")
    accounts = {
        c["metadata"]["account_id"]
        for c in customers.values()
        if (c.get("metadata") or {}).get("account_id") and not c.get("deleted")
    }
    profile = {row["account_id"]: row for row in fetch(full_run, "select * from marts.dim_accounts")}
    assert set(profile) == accounts
    # Open tickets from the latest version of each ticket, tied to accounts through the organizations.
    organizations = reference.latest(small_landing, "zendesk", "organizations")
    account_of_org = {org_id: org.get("external_id") for org_id, org in organizations.items()}
    open_counts: dict[str, int] = defaultdict(int)
    for ticket in reference.latest(small_landing, "zendesk", "tickets").values():
        account = account_of_org.get(str(ticket.get("organization_id")))
        follow_up = "nps_followup" in (ticket.get("tags") or [])  # our outreach, not the customer's burden
        if account and not follow_up and ticket.get("status") in ("new", "open", "pending", "hold"):
            open_counts[account] += 1
    assert {a: r["open_tickets"] for a, r in profile.items() if r["open_tickets"]} == {
        a: n for a, n in open_counts.items() if a in profile
    }
    # The risk columns are those of the latest day of account_health; accounts not paying then have none.
    latest_day = fetch(
        full_run,
        "select * from marts.account_health where as_of_date = (select max(as_of_date) from marts.account_health)",
    )
    health = {row["account_id"]: row for row in latest_day}
    for account, row in profile.items():
        scored = health.get(account)
        assert row["risk_score"] == (scored["risk_score"] if scored else None)
        assert row["risk_tier"] == (scored["risk_tier"] if scored else None)
        assert row["is_paying"] == (row["mrr_usd"] > 0)


def test_the_planted_churn_effects_are_recovered(churn_run: Path):
    with duckdb.connect(str(churn_run), read_only=True) as con:
        frame = churn_backtest.scoring_frame(con)
        table = con.execute(
            "select model, evaluation, metric, value from marts.churn_risk_backtest where scoring_month is null"
        ).fetchall()
    assert len(frame) > 2000 and frame.churned_within_90d.sum() > 50
    # Detractors churn more than promoters in the next 90 days.
    by_category = frame.groupby("latest_nps_category").churned_within_90d.mean()
    assert by_category["detractor"] > 2 * by_category["promoter"]
    # The rules rank churners above stayers: AUC from pairs counted independently of scikit-learn.
    churners = frame[frame.churned_within_90d].risk_score.tolist()
    stayers = frame[~frame.churned_within_90d].risk_score.tolist()
    stayer_counts = defaultdict(int)
    for score in stayers:
        stayer_counts[score] += 1
    won = sum(
        sum(count for score, count in stayer_counts.items() if score < churner) + 0.5 * stayer_counts.get(churner, 0)
        for churner in churners
    )
    pairwise = won / (len(churners) * len(stayers))
    stored = {(model, evaluation, metric): value for model, evaluation, metric, value in table}
    assert stored[("rules", "all_months", "auc")] == pytest.approx(pairwise)
    assert pairwise >= 0.75
    # Higher tiers churn more.
    with duckdb.connect(str(churn_run), read_only=True) as con:
        rates = dict(
            con.execute(
                "select risk_tier, value from marts.churn_risk_backtest "
                "where evaluation = 'calibration' and metric = 'churn_rate'"
            ).fetchall()
        )
        compared = con.execute(
            "select model, value from marts.churn_risk_backtest where evaluation = 'test_months' and metric = 'auc'"
        ).fetchall()
        default = con.execute("select model from marts.churn_risk_backtest where metric = 'is_default'").fetchall()
    assert rates["high"] > rates["medium"] > rates["low"]
    # Both models were compared on the same later months; the default is the rules unless the model won clearly.
    test_auc = dict(compared)
    assert set(test_auc) == {"rules", "logistic_regression", "suggested_weights"}
    challenger_won = test_auc["logistic_regression"] >= test_auc["rules"] + churn_backtest.MIN_AUC_GAIN
    assert default == [("logistic_regression" if challenger_won else "rules",)]
    print(f"\ntest-month AUC: {test_auc}")
    # Suggested points: one row per driver row of the seed file, today's points beside them; a plain rule's training
    # rows where it applied are its is_<rule>_driver flags on the scoring days before the first test month.
    weights = {row["rule"]: row for row in fetch(churn_run, "select * from marts.churn_rule_weights")}
    with duckdb.connect(str(churn_run), read_only=True) as con:
        split = con.execute("select distinct first_test_month from marts.churn_rule_weights").fetchall()
        (fired,) = con.execute(
            "select count(*) filter (where is_failed_payments_driver) from marts.account_health "
            "where extract(day from as_of_date) = 1 and as_of_date < ?",
            [split[0][0]],
        ).fetchone()
    drivers = {name: rule for name, rule in rules().items() if rule["kind"] == "driver"}
    assert set(weights) == set(drivers) and len(split) == 1
    for name, rule in drivers.items():
        assert weights[name]["current_points"] == float(rule["weight"]), name
    assert weights["failed_payments"]["fired_account_months"] == fired > 0


def test_high_value_passives_and_detractors_are_listed(full_run: Path):
    profile = fetch(full_run, "select * from marts.dim_accounts")
    answers = fetch(full_run, "select response_id, comment from marts.fct_survey_responses")
    comments = {row["response_id"]: row["comment"] for row in answers}
    latest = {
        row["account_id"]: row["response_id"]
        for row in fetch(full_run, "select * from intermediate.int_account_nps_history where response_rank = 1")
    }
    last_day = fetch(full_run, "select max(valid_from_date) as d from intermediate.int_account_billing_historized")
    cutoff = last_day[0]["d"] - timedelta(days=365)
    paying = sorted(row["mrr_usd"] for row in profile if row["is_paying"])
    # percent rank = (number of smaller MRRs) / (paying accounts - 1)
    expected = {
        row["account_id"]
        for row in profile
        if row["is_paying"]
        and sum(mrr < row["mrr_usd"] for mrr in paying) / (len(paying) - 1) >= 0.9
        and row["latest_nps_category"] in ("passive", "detractor")
        and row["latest_nps_date"] >= cutoff
    }
    listed = fetch(full_run, "select * from marts.nps_revenue_high_value_accounts")
    assert expected and {row["account_id"] for row in listed} == expected
    for row in listed:
        assert row["latest_nps_comment"] == comments[latest[row["account_id"]]]
        assert row["arr_usd"] == pytest.approx(12 * row["mrr_usd"])


def test_revenue_follows_sentiment(churn_run: Path):
    """The demo plants it: healthy accounts expand and score high. Retention and the regression must show it."""
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    with duckdb.connect(str(churn_run), read_only=True) as con:
        cohorts = con.execute("select * from intermediate.int_account_revenue_cohorts").df()
        revenue = con.execute("select * from marts.nps_revenue where segment_type = 'overall'").df()
        per_point = con.execute("select * from marts.nps_revenue_per_point").df()

    # NRR over 6 months, pooled over every observed cohort month, from the panel: promoters keep and grow
    # more revenue than detractors; the mart's per-month figures are the same sums.
    observed = cohorts[cohorts.mrr_after_6m_usd.notna()]
    pooled = observed.groupby("nps_category").apply(
        lambda group: group.mrr_after_6m_usd.sum() / group.starting_mrr_usd.sum(), include_groups=False
    )
    assert pooled["promoter"] > pooled["passive"] > pooled["detractor"]
    month = observed.month_start.min()
    for category, group in observed[observed.month_start == month].groupby("nps_category"):
        row = revenue[(revenue.month_start == month) & (revenue.nps_category == category)].iloc[0]
        assert row.accounts == len(group)
        assert row.nrr_6m == pytest.approx(group.mrr_after_6m_usd.sum() / group.starting_mrr_usd.sum(), abs=1e-6)
        assert row.churn_rate_6m == pytest.approx((group.mrr_after_6m_usd == 0).mean(), abs=1e-6)

    # Revenue per NPS point: positive, its 95% interval excludes zero, at every horizon the demo can estimate.
    estimated = per_point[(per_point.outcome == "mrr_change_usd") & per_point.estimate.notna()]
    assert set(estimated.horizon_months) >= {3, 6}
    assert (estimated.estimate > 0).all() and (estimated.ci_low > 0).all()
    # The stored slope is the OLS slope of an independent fit with the same controls.
    answered = observed[observed.nps_score.notna()]
    controls = pd.get_dummies(answered[["plan"]].assign(month=answered.month_start.astype(str)), drop_first=True)
    x = pd.concat([answered[["nps_score", "tenure_months"]], controls], axis=1).astype(float)
    fit = LinearRegression().fit(x, answered.mrr_after_6m_usd - answered.starting_mrr_usd)
    six = estimated[estimated.horizon_months == 6].iloc[0]
    assert six.estimate == pytest.approx(fit.coef_[0], rel=1e-6)
    assert six.observations == len(answered)


def project_copy(tmp_path: Path, *extra_rules: str) -> Path:
    """The dbt project with more rows in seeds/churn_risk_rules.csv."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    seed = project / "seeds" / "churn_risk_rules.csv"
    seed.write_text(seed.read_text() + "".join(rule + "\n" for rule in extra_rules))
    return project


def build_health(project: Path, warehouse: Path) -> subprocess.CompletedProcess:
    dbt = Path(sys.executable).parent / "dbt"
    command = [str(dbt), "build", "--profiles-dir", ".", "--full-refresh", "--target-path", str(project / "target")]
    # The signals are already in the warehouse (a copy of the demo's); the rules and the scoring are rebuilt.
    command += ["--select", "churn_risk_rules", "account_health"]
    env = {**os.environ, "NPS_DUCKDB_PATH": str(warehouse), "DO_NOT_TRACK": "1"}
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)


# Three rules added by seed rows alone: a threshold rule with its own words, a rule for one plan only (no words:
# "<rule> (<value>)"), and a graded rule (scale: 0 points at 0 tickets, its full 8 at 4 tickets or more).
NEW_RULES = (
    "busy_support,driver,tickets_last_30d,>=,,3,false,12,,{tickets_last_30d} ticket{tickets_last_30d:plural} lately,x",
    "growth_tickets,driver,tickets_last_30d,>=,,1,false,7,plan=Growth,,Growth accounts with a ticket",
    "graded_tickets,driver,tickets_last_30d,scale,0,4,false,8,,tickets {tickets_last_30d} of 4,Graded tickets",
)


def test_rows_of_the_seed_add_drivers(full_run: Path, tmp_path: Path):
    """The seed is the only place a rule is defined: a new row is a new driver column, adds its points to the
    score (and may move the tier), and is named in risk_drivers in the words of its row, with no other change.
    The drivers' words are listed by weight, heaviest first, then by name."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(full_run, warehouse)
    result = build_health(project_copy(tmp_path, *NEW_RULES), warehouse)
    assert result.returncode == 0, result.stdout
    before = {(r["account_id"], r["as_of_date"]): r for r in fetch(full_run, "select * from marts.account_health")}
    after = fetch(warehouse, "select * from marts.account_health")
    assert {(r["account_id"], r["as_of_date"]) for r in after} == set(before)
    config = rules()
    drivers = {name: rule for name, rule in config.items() if rule["kind"] == "driver"}
    weights = {name: float(rule["weight"]) for name, rule in drivers.items()}
    signals = {
        (r["account_id"], r["as_of_date"]): r
        for r in fetch(full_run, "select * from intermediate.int_account_signals_daily")
    }
    weights |= {"busy_support": 12.0, "growth_tickets": 7.0, "graded_tickets": 8.0}
    new = {"is_busy_support_driver", "is_growth_tickets_driver", "is_graded_tickets_driver"}
    applied = defaultdict(int)
    for row in after:
        old = before[(row["account_id"], row["as_of_date"])]
        tickets = row["tickets_last_30d"]
        flags = {"busy_support": tickets >= 3, "growth_tickets": row["plan"] == "Growth" and tickets >= 1}
        flags["graded_tickets"] = tickets > 0
        for name, flag in flags.items():
            assert row[f"is_{name}_driver"] == flag, (name, row)
            applied[name] += flag
        signal = signals[(row["account_id"], row["as_of_date"])]
        old_points = sum(
            points(rule, old[f"is_{name}_driver"], signal[rule["feature"]]) for name, rule in drivers.items()
        )
        total = old_points + 12 * flags["busy_support"] + 7 * flags["growth_tickets"] + 8 * min(1, tickets / 4)
        assert row["risk_score"] == math.floor(min(100, total) + 0.5), row
        tier = (
            "high"
            if row["risk_score"] >= float(config["high"]["threshold"])
            else ("medium" if row["risk_score"] >= float(config["medium"]["threshold"]) else "low")
        )
        assert row["risk_tier"] == tier
        # The old words, one part per driver that applied, in (weight desc, name) order; the new ones join them.
        old_names = sorted((n for n in weights if old.get(f"is_{n}_driver")), key=lambda n: (-weights[n], n))
        old_parts = old["risk_drivers"].split("; ") if old["risk_drivers"] else []
        words = dict(zip(old_names, old_parts, strict=True))
        if flags["busy_support"]:
            words["busy_support"] = f"{tickets} ticket{'' if tickets == 1 else 's'} lately"
        if flags["growth_tickets"]:
            words["growth_tickets"] = f"growth_tickets ({tickets})"
        if flags["graded_tickets"]:
            words["graded_tickets"] = f"tickets {tickets} of 4"
        expected = "; ".join(words[n] for n in sorted(words, key=lambda n: (-weights[n], n)))
        assert row["risk_drivers"] == expected
        unchanged = ("risk_score", "risk_tier", "revenue_at_risk_usd", "risk_drivers")
        assert {k: v for k, v in row.items() if k not in unchanged and k not in new} == {
            k: v for k, v in old.items() if k not in unchanged
        }
    assert all(applied[name] > 0 for name in ("busy_support", "growth_tickets", "graded_tickets")), applied


def test_a_rule_on_an_unknown_feature_is_named(full_run: Path, tmp_path: Path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(full_run, warehouse)
    project = project_copy(tmp_path, "typo,driver,tickets_last_31d,>=,,3,false,12,,,A typo in the feature")
    result = build_health(project, warehouse)
    assert result.returncode != 0
    assert (
        "seeds/churn_risk_rules.csv, rule 'typo': feature 'tickets_last_31d' is not a column of "
        "int_account_signals_daily" in result.stdout
    )
