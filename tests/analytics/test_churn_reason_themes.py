"""churn_reason_themes on hand-made churn reasons: cancellation comments get the survey themes (labels by hand),
Stripe's feedback choices without a comment get the theme of taxonomy.yml, every churn with either appears once."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from analytics.themes import churn, load_taxonomy

MARCH, APRIL = date(2026, 3, 10), date(2026, 4, 2)

# Realistic cancellation comments and the theme a person gives them (docs/themes.md, labelling rule).
LABELLED_COMMENTS = {
    "Too expensive for a team of our size, the per-seat price doubled at renewal.": "billing_pricing",
    "We need a native HubSpot integration and you still don't have one.": "missing_feature",
    "Support took over a week to answer our tickets.": "support_experience",
    "Exports kept failing and the sync broke every other week.": "reliability_bugs",
    "Reports take minutes to load, the dashboards are painfully slow.": "performance",
    "Too complicated for our team, nobody could find anything in the menus.": "usability",
    "We never got through the setup, the onboarding took months.": "onboarding",
    "Company was acquired.": "other",
}
# Stripe's feedback choices and their themes, as stated in taxonomy.yml (stripe_cancellation_feedback).
FEEDBACK = {
    "too_expensive": "billing_pricing",
    "missing_features": "missing_feature",
    "customer_service": "support_experience",
    "too_complex": "usability",
    "low_quality": "reliability_bugs",
    "switched_service": "other",
    "unused": "other",
    "other": "other",
}
LABELS = {
    "billing_pricing": "Billing and pricing",
    "missing_feature": "Missing feature",
    "support_experience": "Support experience",
    "reliability_bugs": "Reliability and bugs",
    "performance": "Performance",
    "usability": "Usability",
    "onboarding": "Onboarding",
    "other": "Other",
}


def churn_reasons() -> list[tuple]:
    """(subscription_id, account_id, stopped_on, churn_type, reason, feedback, comment, mrr_lost_usd)."""
    rows = [
        # A comment on every theme; feedback too_expensive beside a comment about support: the comment decides.
        (f"sub_c{i}", f"acc_c{i}", MARCH, "voluntary", "cancellation_requested", None, comment, 100.0 + i)
        for i, comment in enumerate(LABELLED_COMMENTS)
    ]
    rows[2] = (*rows[2][:5], "too_expensive", *rows[2][6:])
    rows += [
        # Every feedback choice without a comment.
        (f"sub_f_{choice}", f"acc_f_{choice}", MARCH, "voluntary", "cancellation_requested", choice, None, 50.0)
        for choice in FEEDBACK
    ]
    return [
        *rows,
        # A blank comment is no comment: the feedback choice decides.
        ("sub_blank", "acc_b", MARCH, "voluntary", "cancellation_requested", "too_complex", " \n ", 20.0),
        # The same subscription churned twice (it came back in between): one row per churn.
        ("sub_twice", "acc_t", MARCH, "voluntary", "cancellation_requested", "unused", None, 30.0),
        ("sub_twice", "acc_t", APRIL, "voluntary", "cancellation_requested", None, "Too expensive.", 35.0),
        # Neither comment nor feedback (a failed payment, a silent cancellation): not in the mart.
        ("sub_failed", "acc_x", MARCH, "involuntary", "payment_failed", None, None, 80.0),
        ("sub_silent", "acc_y", APRIL, "voluntary", "cancellation_requested", None, "", 90.0),
    ]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.subscription_churn_reasons (subscription_id varchar, account_id varchar, stopped_on date, "
        "churn_type varchar, cancellation_reason varchar, cancellation_feedback varchar, cancellation_comment varchar, "
        "status varchar, plan varchar, mrr_lost_usd double)"
    )
    con.executemany(
        "insert into marts.subscription_churn_reasons values (?, ?, ?, ?, ?, ?, ?, 'canceled', 'Pro', ?)",
        churn_reasons(),
    )
    return con


def themes_by_churn(con) -> dict[tuple, tuple]:
    rows = con.execute(
        "select subscription_id, stopped_on, theme, theme_label, theme_source, comment, sentiment_score, "
        "mrr_lost_usd from marts.churn_reason_themes"
    ).fetchall()
    assert len(rows) == len({row[:2] for row in rows})  # each churn once
    return {row[:2]: row[2:] for row in rows}


def test_cancellation_comments_get_the_hand_labelled_themes(con):
    assert churn.build(con) == len(LABELLED_COMMENTS) + len(FEEDBACK) + 3
    themed = themes_by_churn(con)
    got = {themed[(f"sub_c{i}", MARCH)][3]: themed[(f"sub_c{i}", MARCH)][0] for i in range(len(LABELLED_COMMENTS))}
    assert got == LABELLED_COMMENTS
    for i in range(len(LABELLED_COMMENTS)):
        theme, label, source, _, _, mrr = themed[(f"sub_c{i}", MARCH)]
        assert (label, source, mrr) == (LABELS[theme], "comment", 100.0 + i)
    # The lexicon by hand: "painfully" and "slow" are negative words, nothing positive: -2 / (2 + 1).
    assert themed[("sub_c4", MARCH)][4] == pytest.approx(-2 / 3, abs=1e-6)
    assert themed[("sub_c7", MARCH)][4] == 0.0  # "Company was acquired." has no lexicon word


def test_feedback_choices_without_a_comment_get_the_taxonomy_theme(con):
    churn.build(con)
    themed = themes_by_churn(con)
    for choice, theme in FEEDBACK.items():
        assert themed[(f"sub_f_{choice}", MARCH)][:5] == (theme, LABELS[theme], "feedback", None, None), choice
    assert themed[("sub_blank", MARCH)][:4] == ("usability", "Usability", "feedback", None)


def test_every_churn_with_a_comment_or_feedback_appears_once_and_reruns_write_the_same_rows(con):
    churn.build(con)
    expected = {
        (sub, stopped_on)
        for sub, _, stopped_on, _, _, feedback, comment, _ in churn_reasons()
        if feedback is not None or (comment or "").strip()
    }
    assert set(themes_by_churn(con)) == expected
    assert ("sub_failed", MARCH) not in expected and ("sub_silent", APRIL) not in expected
    twice = themes_by_churn(con)
    assert twice[("sub_twice", MARCH)][:3] == ("other", "Other", "feedback")
    assert twice[("sub_twice", APRIL)][:3] == ("billing_pricing", "Billing and pricing", "comment")
    first = con.execute("select * from marts.churn_reason_themes").fetchall()
    churn.build(con)
    assert con.execute("select * from marts.churn_reason_themes").fetchall() == first
    columns = [row[0] for row in con.execute("describe marts.churn_reason_themes").fetchall()]
    assert columns == [
        "subscription_id",
        "account_id",
        "stopped_on",
        "churn_type",
        "plan",
        "cancellation_feedback",
        "comment",
        "theme",
        "theme_label",
        "theme_source",
        "sentiment_score",
        "mrr_lost_usd",
    ]


def test_the_feedback_mapping_is_checked(tmp_path):
    taxonomy = load_taxonomy()
    text = churn.TAXONOMY_PATH.read_text(encoding="utf-8")
    broken = tmp_path / "taxonomy.yml"
    broken.write_text(
        text.replace("  unused: other", "  unused: adoption").replace(
            "  low_quality: reliability_bugs", "  lowquality: x"
        )
    )
    with pytest.raises(ValueError) as error:
        churn.feedback_themes(taxonomy, broken)
    message = str(error.value)
    assert str(broken) in message and "stripe_cancellation_feedback" in message
    assert "['low_quality']" in message and "['lowquality']" in message
    assert "unused: 'adoption' is not a theme" in message
    missing = tmp_path / "missing.yml"
    missing.write_text("fallback: other\n")
    with pytest.raises(ValueError, match="stripe_cancellation_feedback is missing"):
        churn.feedback_themes(taxonomy, missing)
