"""comment_themes and theme_escalations on hand-made responses: the threshold N at its boundary, shares, MRR."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pytest

from analytics.themes import marts


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_survey_responses (response_id varchar, survey_type varchar, nps_category varchar, "
        "score integer, comment varchar, account_id varchar, mrr_usd double, responded_at timestamp)"
    )
    con.execute(
        "create table marts.comment_classifications (response_id varchar, theme varchar, theme_label varchar, "
        "theme_confidence double, sentiment_score double, theme_method varchar)"
    )
    return con


def add(con, response_id, category, theme, account, mrr, at, comment="c", survey_type="nps", sentiment=-0.5):
    score = {"detractor": 3, "passive": 7, "promoter": 10}[category]
    con.execute(
        "insert into marts.fct_survey_responses values (?, ?, ?, ?, ?, ?, ?, ?)",
        [response_id, survey_type, category, score, comment, account, mrr, at],
    )
    con.execute(
        "insert into marts.comment_classifications values (?, ?, ?, 1.0, ?, 'keyword_baseline')",
        [response_id, theme, theme.replace("_", " ").title(), sentiment],
    )


def test_a_theme_escalates_at_exactly_n_detractors_in_a_month(con):
    march = datetime(2026, 3, 1, 9)
    # performance: 3 detractors in March (two from acc_a, whose MRR at its latest answer is 300)
    add(con, "p1", "detractor", "performance", "acc_a", 200.0, march, "slow A")
    add(con, "p2", "detractor", "performance", "acc_a", 300.0, march + timedelta(days=3), "slow B")
    add(con, "p3", "detractor", "performance", "acc_b", 50.0, march + timedelta(days=9), "slow C")
    # usability: 2 detractors in March and 1 in April, never 3 in one month
    add(con, "u1", "detractor", "usability", "acc_c", 10.0, march)
    add(con, "u2", "detractor", "usability", "acc_c", 10.0, march + timedelta(days=1))
    add(con, "u3", "detractor", "usability", "acc_c", 10.0, march + timedelta(days=31))
    # passives and promoters never count; praise never escalates; a CES comment is not NPS
    add(con, "q1", "passive", "performance", "acc_d", 10.0, march)
    add(con, "g1", "detractor", "praise", "acc_e", 10.0, march)
    add(con, "g2", "detractor", "praise", "acc_e", 10.0, march)
    add(con, "g3", "detractor", "praise", "acc_e", 10.0, march)
    add(con, "c1", "detractor", "usability", "acc_c", 10.0, march, survey_type="ces")

    assert marts.build(con, threshold=3)[marts.THEME_ESCALATIONS] == 1
    row = con.execute(
        "select month_start, theme, detractors, accounts, total_mrr_usd, sample_comments, account_mrr, "
        "min_detractors from marts.theme_escalations"
    ).fetchall()[0]
    assert row[:5] == (march.date().replace(day=1), "performance", 3, 2, 350.0)
    assert row[5] == ["slow C", "slow B", "slow A"]  # most recent first
    assert row[6] == [{"account_id": "acc_a", "mrr_usd": 300.0}, {"account_id": "acc_b", "mrr_usd": 50.0}]
    assert row[7] == 3
    # One more usability detractor in March crosses the threshold; a higher threshold drops performance.
    add(con, "u4", "detractor", "usability", "acc_f", 5.0, march + timedelta(days=20))
    assert marts.build(con, threshold=3)[marts.THEME_ESCALATIONS] == 2
    assert marts.build(con, threshold=4)[marts.THEME_ESCALATIONS] == 0


def test_comment_theme_shares_per_category_and_month(con):
    march = datetime(2026, 3, 2, 9)
    add(con, "d1", "detractor", "performance", "acc_a", 100.0, march, sentiment=-1.0)
    add(con, "d2", "detractor", "performance", "acc_b", 50.0, march, sentiment=0.0)
    add(con, "d3", "detractor", "billing_pricing", "acc_a", 100.0, march)
    add(con, "d4", "detractor", "billing_pricing", None, None, march)
    add(con, "p1", "promoter", "praise", "acc_c", 20.0, march, sentiment=1.0)
    marts.build(con, threshold=10)
    rows = {
        (r[0], r[1]): r[2:]
        for r in con.execute(
            "select nps_category, theme, comments, category_comments, share_of_comments, avg_sentiment_score, "
            "accounts, mrr_usd from marts.comment_themes"
        ).fetchall()
    }
    assert rows[("detractor", "performance")] == (2, 4, 0.5, -0.5, 2, 150.0)
    assert rows[("detractor", "billing_pricing")] == (2, 4, 0.5, -0.5, 1, 100.0)
    assert rows[("promoter", "praise")] == (1, 1, 1.0, 1.0, 1, 20.0)
    assert rows[("all", "performance")] == (2, 5, 0.4, -0.5, 2, 150.0)


def test_the_threshold_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(marts.MIN_DETRACTORS_VARIABLE, raising=False)
    assert marts.min_detractors() == 10
    monkeypatch.setenv(marts.MIN_DETRACTORS_VARIABLE, "7")
    assert marts.min_detractors() == 7
    monkeypatch.setenv(marts.MIN_DETRACTORS_VARIABLE, "zero")
    with pytest.raises(ValueError, match="NPS_THEME_ESCALATION_MIN_DETRACTORS"):
        marts.min_detractors()
