"""The churn_reason_themes mart: why churned customers said they left, in the survey comment themes.

A churned subscription's Stripe cancellation comment (marts.subscription_churn_reasons) is classified by the same
classifier and taxonomy as the survey comments; without a comment, Stripe's fixed feedback choice is mapped to a
theme by the `stripe_cancellation_feedback` section of taxonomy.yml (the one place that mapping lives).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import yaml

from analytics.tables import describe
from analytics.themes.classifier import TAXONOMY_PATH, Taxonomy, ThemeClassifier, default_classifier
from ingestion.stripe import CANCELLATION_FEEDBACK

CHURN_REASONS = "marts.subscription_churn_reasons"
CHURN_REASON_THEMES = "marts.churn_reason_themes"
FEEDBACK_SECTION = "stripe_cancellation_feedback"

# A comment of blanks is no comment: the feedback choice decides then.
_HAS_COMMENT = "length(trim(cancellation_comment, ' \t\r\n')) > 0"


def feedback_themes(taxonomy: Taxonomy, path: Path | str = TAXONOMY_PATH) -> dict[str, str]:
    """Stripe's feedback choice -> theme key, from `stripe_cancellation_feedback` in taxonomy.yml: every choice
    Stripe offers (ingestion/stripe CANCELLATION_FEEDBACK) exactly once, each to a theme of the taxonomy."""
    section = yaml.safe_load(Path(path).read_text(encoding="utf-8")).get(FEEDBACK_SECTION)
    if not isinstance(section, dict):
        raise ValueError(f"{path}: {FEEDBACK_SECTION} is missing or not a mapping of feedback choice to theme")
    problems = []
    missing = sorted(set(CANCELLATION_FEEDBACK) - set(section))
    unknown = sorted(set(section) - set(CANCELLATION_FEEDBACK))
    if missing:
        problems.append(f"no theme for Stripe's feedback choice(s) {missing}")
    if unknown:
        problems.append(f"{unknown} are not Stripe feedback choices {list(CANCELLATION_FEEDBACK)}")
    problems += [
        f"{choice}: {theme!r} is not a theme of the taxonomy {taxonomy.keys}"
        for choice, theme in section.items()
        if theme not in taxonomy.keys
    ]
    if problems:
        raise ValueError(f"{path}: {FEEDBACK_SECTION}: " + "; ".join(problems))
    return {str(choice): str(theme) for choice, theme in section.items()}


CHURN_REASON_THEMES_SQL = f"""
create or replace table {CHURN_REASON_THEMES} as
with

churned as (
    select
        subscription_id,
        account_id,
        stopped_on,
        churn_type,
        plan,
        cancellation_feedback,
        case when {_HAS_COMMENT} then cancellation_comment end as comment,
        mrr_lost_usd
    from {CHURN_REASONS}
    where {_HAS_COMMENT} or cancellation_feedback is not null
),

themed as (
    select
        churned.*,
        case when churned.comment is not null then 'comment' else 'feedback' end as theme_source,
        case
            when churned.comment is not null then classified.theme
            else coalesce(feedback.theme, $fallback)
        end as theme,
        case when churned.comment is not null then classified.sentiment_score end as sentiment_score
    from churned
    left join _churn_comments_classified as classified
        on churned.comment = cast(classified.comment as varchar)
    left join _churn_feedback_themes as feedback
        on churned.cancellation_feedback = cast(feedback.feedback as varchar)
)

select
    cast(themed.subscription_id as varchar) as subscription_id,
    cast(themed.account_id as varchar) as account_id,
    cast(themed.stopped_on as date) as stopped_on,
    cast(themed.churn_type as varchar) as churn_type,
    cast(themed.plan as varchar) as plan,
    cast(themed.cancellation_feedback as varchar) as cancellation_feedback,
    cast(themed.comment as varchar) as comment,
    cast(themed.theme as varchar) as theme,
    cast(labels.theme_label as varchar) as theme_label,
    cast(themed.theme_source as varchar) as theme_source,
    round(cast(themed.sentiment_score as double), 6) as sentiment_score,
    cast(themed.mrr_lost_usd as double) as mrr_lost_usd
from themed
left join _churn_theme_labels as labels
    on themed.theme = cast(labels.theme as varchar)
order by stopped_on, subscription_id
"""


def build(con: duckdb.DuckDBPyConnection, classifier: ThemeClassifier | None = None) -> int:
    """Replace churn_reason_themes: one row per row of subscription_churn_reasons (a subscription and the day it
    stopped paying) with a comment or a feedback choice. Distinct comments are classified in one batch; re-running
    on the same data writes the same rows."""
    classifier = classifier or default_classifier()
    taxonomy = classifier.taxonomy
    comments = [
        row[0]
        for row in con.execute(
            f"select distinct cancellation_comment from {CHURN_REASONS} where {_HAS_COMMENT} order by 1"
        ).fetchall()
    ]
    classified = classifier.classify_frame(comments)[["comment", "theme", "sentiment_score"]]
    frames = {
        "_churn_comments_classified": classified.astype({"comment": object, "theme": object}),
        "_churn_feedback_themes": pd.DataFrame(
            list(feedback_themes(taxonomy).items()), columns=["feedback", "theme"], dtype=object
        ),
        "_churn_theme_labels": pd.DataFrame(
            [(theme.key, theme.label) for theme in taxonomy.themes], columns=["theme", "theme_label"], dtype=object
        ),
    }
    for name, frame in frames.items():
        con.register(name, frame)
    try:
        con.execute(CHURN_REASON_THEMES_SQL, {"fallback": taxonomy.fallback})
    finally:
        for name in frames:
            con.unregister(name)
    describe(con, CHURN_REASON_THEMES)
    return con.execute(f"select count(*) from {CHURN_REASON_THEMES}").fetchall()[0][0]
