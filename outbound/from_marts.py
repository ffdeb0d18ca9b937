"""What to send, read from the marts: new detractors, the weekly digest, theme escalations.

Each function returns the plain inputs of outbound.slack / outbound.jira; the ledger makes sending idempotent,
so these may return messages that were already delivered (they are skipped).
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from outbound.jira import ThemeEscalation
from outbound.slack import DetractorAlert, Mover, SlaAttainment, ThemeShare, WeeklyDigest

# Detractors answered in the last ALERT_LOOKBACK_DAYS before the latest response are "new": a backfill of old
# dates does not flood the channel, a day missed by the schedule is still caught.
ALERT_LOOKBACK_DAYS = 2
MOVER_MIN_RESPONSES = 20  # a segment moves only if it had this many responses in both weeks
MOVERS = 3
TOP_THEMES = 3


def detractor_alerts(con: duckdb.DuckDBPyConnection, lookback_days: int = ALERT_LOOKBACK_DAYS) -> list[DetractorAlert]:
    rows = con.execute(
        f"""
        select response_id, responded_at, score, comment, account_id, plan, mrr_usd, email, survey_kind, touchpoint
        from marts.fct_survey_responses
        where
            survey_type = 'nps'
            and nps_category = 'detractor'
            and responded_at >= (
                select max(responded_at) - interval {int(lookback_days)} day from marts.fct_survey_responses
            )
        order by responded_at, response_id
        """
    ).fetchall()
    return [
        DetractorAlert(
            response_id=r[0],
            responded_at=r[1],
            score=int(r[2]),
            comment=r[3],
            account_id=r[4],
            plan=r[5],
            mrr_usd=float(r[6]) if r[6] is not None else None,
            email=r[7],
            survey_kind=r[8],
            touchpoint=r[9],
        )
        for r in rows
    ]


def last_complete_week(con: duckdb.DuckDBPyConnection) -> date | None:
    """Monday of the last full week (Monday to Sunday) before the latest response, or None without responses."""
    latest = con.execute("select max(response_date) from marts.fct_survey_responses").fetchall()[0][0]
    if latest is None:
        return None
    this_monday = latest - timedelta(days=latest.weekday())
    # The latest day being a Sunday completes its week.
    return this_monday if latest.weekday() == 6 else this_monday - timedelta(days=7)


def weekly_digest(con: duckdb.DuckDBPyConnection, week_start: date | None = None) -> WeeklyDigest | None:
    week_start = week_start or last_complete_week(con)
    if week_start is None:
        return None
    overall = con.execute(
        """
        select nps, nps_ci_low, nps_ci_high, responses
        from marts.nps_by_period
        where period_grain = 'week' and segment_type = 'overall' and period_start = ?
        """,
        [week_start],
    ).fetchall()
    nps, low, high, responses = overall[0] if overall else (None, None, None, 0)
    # The change and whether it is real: marts.nps_changes (the two-sample test), never a comparison of intervals.
    weekly_changes = """
        select segment_type, segment_value, nps_to, change, responses_to, p_value, is_significant
        from marts.nps_changes
        where period_grain = 'week' and comparison = 'previous_period' and period_start = ?
    """
    change = con.execute(weekly_changes + " and segment_type = 'overall'", [week_start]).fetchall()
    movers = [
        Mover(
            segment_type=r[0],
            segment_value=r[1],
            nps=r[2],
            nps_change=r[3],
            responses=r[4],
            p_value=r[5],
            significant=r[6],
        )
        for r in con.execute(
            weekly_changes
            + """
            and segment_type != 'overall' and responses_from >= ? and responses_to >= ?
            order by abs(change) desc, segment_type, segment_value
            limit ?
            """,
            [week_start, MOVER_MIN_RESPONSES, MOVER_MIN_RESPONSES, MOVERS],
        ).fetchall()
    ]
    themes = [
        ThemeShare(theme=r[0], share=r[1], count=r[2])
        for r in con.execute(
            """
            select classified.theme_label, count(*) / sum(count(*)) over () as share, count(*) as comments
            from marts.fct_survey_responses as responses
            inner join marts.comment_classifications as classified
                on responses.response_id = classified.response_id
            where
                responses.survey_type = 'nps' and responses.nps_category = 'detractor'
                and responses.response_date between ? and ?
            group by classified.theme_label
            order by comments desc, classified.theme_label
            limit ?
            """,
            [week_start, week_start + timedelta(days=6), TOP_THEMES],
        ).fetchall()
    ]
    sla_row = con.execute(
        """
        select target_due, met_target, met_fast_target from marts.closed_loop_sla_weekly
        where week_start = ? and team = 'all' and nps_category = 'detractor'
        """,
        [week_start],
    ).fetchall()
    sla = None
    if sla_row:
        due, met, met_fast = sla_row[0]
        sla = SlaAttainment(detractors=due, within_24h=met, within_4h=met_fast)
    return WeeklyDigest(
        week_start=week_start,
        nps=nps,
        nps_ci_low=low,
        nps_ci_high=high,
        responses=int(responses or 0),
        nps_change=change[0][3] if change else None,
        nps_change_p_value=change[0][5] if change else None,
        nps_change_significant=change[0][6] if change else None,
        movers=movers,
        top_detractor_themes=themes,
        sla=sla,
    )


def theme_escalations(con: duckdb.DuckDBPyConnection) -> list[ThemeEscalation]:
    rows = con.execute(
        """
        select theme_label, month_start, detractors, account_mrr, total_mrr_usd, sample_comments
        from marts.theme_escalations
        order by month_start, theme
        """
    ).fetchall()
    return [
        ThemeEscalation(
            theme=r[0],
            month=r[1],
            detractor_count=int(r[2]),
            accounts=[(item["account_id"], item["mrr_usd"]) for item in (r[3] or [])],
            total_mrr_usd=float(r[4]) if r[4] is not None else None,
            sample_comments=list(r[5] or []),
        )
        for r in rows
    ]
