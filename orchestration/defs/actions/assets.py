"""Actions that reach people: a Slack alert per new detractor, the weekly digest, Jira issues for theme
escalations (read back into ops.jira_issue_states for the feedback_to_feature mart), Zendesk follow-up cases, and
the promoter and at-risk lists in the outbox. Each message (list row) is delivered at most once (ledger
`ops.outbound_messages`, see docs/alerts.md); without a Slack URL, Jira settings or the Zendesk live switch the
messages go to the alerts log or are recorded as a dry run.

Engine: DuckDB only (the ledger and the Jira states are tables of the DuckDB warehouse on every target); in Spark
mode each step first copies the marts it depends on from Spark into the warehouse, and feedback_to_feature writes
its marts back to Spark (WarehouseResource.with_marts)."""

from pathlib import Path

import dagster as dg

import outbound
import settings
from analytics import feedback_to_feature as f2f
from orchestration.defs.resources import WarehouseResource
from outbound import action_lists, from_marts, jira_readback, outbox, send_lists, zendesk_cases
from outbound import followup_cases as cases

ENGINE_METADATA = {
    "engine": "DuckDB only (the ledger ops.* lives in the DuckDB warehouse); in Spark mode the marts it reads are "
    "copied from Spark first, and the marts it builds written back"
}


def alerts_log(warehouse: WarehouseResource) -> Path:
    """`NPS_ALERTS_LOG`, else alerts.log next to the warehouse (each warehouse keeps its own ledger and log)."""
    return settings.alerts_log(warehouse.path)


def _result(summary: outbound.DeliverySummary, **extra) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={**summary.as_metadata(), **extra})


@dg.asset(
    key=dg.AssetKey(["actions", "detractor_alerts"]),
    deps=[dg.AssetKey(["marts", "fct_survey_responses"])],
    group_name="actions",
    metadata=ENGINE_METADATA,
    kinds={"slack"},
    owners=["team:customer-success"],
    description=(
        "A Slack message (NPS_SLACK_WEBHOOK_URL) for each detractor of the last 2 days of responses: score, "
        "comment, account, plan and MRR. Sent once per response; without a URL, written to the alerts log."
    ),
)
def detractor_alerts(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.with_marts(context) as con:
        alerts = from_marts.detractor_alerts(con)
        summary = outbound.send_detractor_alerts(con, alerts, log_path=alerts_log(warehouse))
    context.log.info(f"detractor alerts: {len(alerts)} recent detractors; {summary.as_metadata()}")
    return _result(summary, recent_detractors=len(alerts))


@dg.asset(
    key=dg.AssetKey(["actions", "weekly_digest"]),
    deps=[
        dg.AssetKey(["marts", "nps_by_period"]),
        dg.AssetKey(["marts", "nps_changes"]),
        dg.AssetKey(["marts", "comment_classifications"]),
        dg.AssetKey(["marts", "closed_loop_sla_weekly"]),
    ],
    group_name="actions",
    metadata=ENGINE_METADATA,
    kinds={"slack"},
    owners=["team:customer-success"],
    description=(
        "The weekly digest of the last complete week (Monday to Sunday): NPS and its 95% interval, the change, "
        "the segments that moved most (each change with its two-sample test from marts.nps_changes: a move is real "
        "only at p < 0.05), the top detractor themes and follow-up attainment. Sent once per week."
    ),
)
def weekly_digest(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.with_marts(context) as con:
        digest = from_marts.weekly_digest(con)
        if digest is None:
            context.log.info("weekly digest: no responses yet")
            return dg.MaterializeResult(metadata={"week_start": "none"})
        summary = outbound.send_weekly_digest(con, digest, log_path=alerts_log(warehouse))
    return _result(summary, week_start=digest.week_start.isoformat())


@dg.asset(
    key=dg.AssetKey(["actions", "theme_escalation_issues"]),
    deps=[dg.AssetKey(["marts", "theme_escalations"])],
    group_name="actions",
    metadata=ENGINE_METADATA,
    kinds={"jira"},
    owners=["team:product"],
    description=(
        "One Jira issue per theme escalation (NPS_JIRA_URL, NPS_JIRA_EMAIL, NPS_JIRA_API_TOKEN, "
        "NPS_JIRA_PROJECT_KEY), created once; without those settings the issue it would create is recorded as a "
        "dry run in ops.outbound_messages."
    ),
)
def theme_escalation_issues(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.with_marts(context) as con:
        escalations = from_marts.theme_escalations(con)
        summary = outbound.create_escalation_issues(con, escalations)
    context.log.info(f"theme escalations: {len(escalations)}; {summary.as_metadata()}")
    return _result(summary, escalations=len(escalations))


@dg.asset(
    key=dg.AssetKey(["actions", "jira_issue_states"]),
    deps=[dg.AssetKey(["actions", "theme_escalation_issues"])],
    group_name="actions",
    metadata=ENGINE_METADATA,
    kinds={"jira"},
    owners=["team:product"],
    description=(
        "The escalation issues read back from Jira (GET /rest/api/3/issue/{key}): status, status category, "
        "resolution, created, resolved and updated, one row per issue key in ops.jira_issue_states (an issue "
        "deleted in Jira: found = false). Without the Jira settings nothing is read."
    ),
)
def jira_issue_states(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.with_marts(context) as con:
        summary = jira_readback.read_issue_states(con)
    context.log.info(f"Jira read-back: {summary.as_metadata()}")
    return dg.MaterializeResult(metadata=summary.as_metadata())


@dg.asset(
    key=dg.AssetKey(["marts", "feedback_to_feature"]),
    deps=[
        dg.AssetKey(["actions", "jira_issue_states"]),
        dg.AssetKey(["marts", "comment_classifications"]),
        dg.AssetKey(["marts", "fct_survey_responses"]),
    ],
    group_name="marts",
    metadata=ENGINE_METADATA,
    kinds={"python", "duckdb"},
    owners=["team:product"],
    description=(
        "One row per theme escalation: its Jira issue's state, days to fix against NPS_FIX_TARGET_DAYS (default "
        "30), the accounts and responses that raised the theme that month and, once fixed, the customers to tell; "
        "with marts.feedback_to_feature_notify, the list of them (analytics/feedback_to_feature.py)."
    ),
)
def feedback_to_feature(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.with_marts(context) as con:
        counts = f2f.build(con)
    return dg.MaterializeResult(metadata={table: rows for table, rows in counts.items()})


@dg.asset(
    key=dg.AssetKey(["actions", "fix_notice_list"]),
    deps=[dg.AssetKey(["marts", "feedback_to_feature"])],
    group_name="actions",
    metadata=ENGINE_METADATA,
    kinds={"csv", "slack"},
    owners=["team:customer-success"],
    description=(
        "The customers to tell that a theme they raised is fixed (marts.feedback_to_feature_notify: escalations "
        "whose Jira issue is done), appended once per customer and escalation to fixed_themes/<resolved date>.csv "
        "in the outbox (NPS_OUTBOX_DIR), with e-mail, account, Jira issue and the responses that raised it; "
        "feedback_to_feature_notify.notice_listed_at records it from the next build. A Slack summary when "
        "NPS_SLACK_WEBHOOK_URL is set."
    ),
)
def fix_notice_list(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.with_marts(context) as con:
        found = action_lists.fix_notices(con)
        result = outbox.write_fix_notice_list(con, found, outbox=settings.outbox_dir(warehouse.path))
    context.log.info(f"fix notice list: {len(found)} customers of fixed themes; {result.as_metadata()}")
    return dg.MaterializeResult(metadata={**result.as_metadata(), "customers_of_fixed_themes": len(found)})


@dg.asset(
    key=dg.AssetKey(["actions", "followup_cases"]),
    deps=[
        dg.AssetKey(["marts", "fct_survey_responses"]),
        dg.AssetKey(["marts", "account_health"]),
        dg.AssetKey(["marts", "comment_classifications"]),
    ],
    group_name="actions",
    metadata=ENGINE_METADATA,
    kinds={"zendesk"},
    owners=["team:customer-success"],
    description=(
        "A Zendesk follow-up case (ticket) for each detractor (NPS_FOLLOWUP_CASES_CATEGORIES: and passive) of the "
        "last NPS_FOLLOWUP_CASES_LOOKBACK_DAYS days (default 7), assigned by seed followup_case_rules, with "
        "external_id nps-followup:<response_id>; created once. A dry run recorded in ops.outbound_messages unless "
        "NPS_FOLLOWUP_CASES_LIVE=true and the Zendesk connector's site, e-mail and API token are set."
    ),
)
def followup_cases(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.with_marts(context) as con:
        responses = cases.recent_responses(
            con, zendesk_cases.configured_categories(), zendesk_cases.configured_lookback_days()
        )
        summary = zendesk_cases.create_followup_cases(con, responses)
    context.log.info(f"follow-up cases: {len(responses)} recent responses; {summary.as_metadata()}")
    return _result(summary, recent_responses=len(responses))


def _lookback_days() -> int:
    return settings.whole_number("NPS_ACTION_LISTS_LOOKBACK_DAYS", minimum=1)


@dg.asset(
    key=dg.AssetKey(["actions", "promoter_thanks_list"]),
    deps=[
        dg.AssetKey(["marts", "fct_survey_responses"]),
        dg.AssetKey(["marts", "account_health"]),
        dg.AssetKey(["marts", "dim_accounts"]),
    ],
    group_name="actions",
    metadata=ENGINE_METADATA,
    kinds={"csv", "slack"},
    owners=["team:customer-success"],
    description=(
        "The promoters (NPS 9-10) of the last NPS_ACTION_LISTS_LOOKBACK_DAYS days (default 7) to thank, appended "
        "once each to promoters/<week start>.csv in the outbox (NPS_OUTBOX_DIR), with e-mail, account, plan, MRR, "
        "score and comment; NPS_PROMOTER_LIST_REFERRAL=true flags those to ask for a referral or review. A Slack "
        "summary when NPS_SLACK_WEBHOOK_URL is set."
    ),
)
def promoter_thanks_list(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    referral = (settings.value("NPS_PROMOTER_LIST_REFERRAL") or "").lower() == "true"
    with warehouse.with_marts(context) as con:
        found = action_lists.promoters(con, lookback_days=_lookback_days(), referral=referral)
        result = outbox.write_promoter_list(con, found, outbox=settings.outbox_dir(warehouse.path))
    context.log.info(f"promoter list: {len(found)} recent promoters; {result.as_metadata()}")
    return dg.MaterializeResult(metadata={**result.as_metadata(), "recent_promoters": len(found)})


@dg.asset(
    key=dg.AssetKey(["actions", "at_risk_call_list"]),
    deps=[dg.AssetKey(["marts", "account_health"]), dg.AssetKey(["marts", "dim_accounts"])],
    group_name="actions",
    metadata=ENGINE_METADATA,
    kinds={"csv", "slack"},
    owners=["team:customer-success"],
    description=(
        "The accounts entering the high risk tier or showing an early usage decline on each day of the last "
        "NPS_ACTION_LISTS_LOOKBACK_DAYS days of marts.account_health, with the drivers in words and the revenue at "
        "risk, appended once per account and day to at_risk/<date>.csv in the outbox (NPS_OUTBOX_DIR). A Slack "
        "summary when NPS_SLACK_WEBHOOK_URL is set."
    ),
)
def at_risk_call_list(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.with_marts(context) as con:
        found = action_lists.at_risk_accounts(con, lookback_days=_lookback_days())
        result = outbox.write_at_risk_list(con, found, outbox=settings.outbox_dir(warehouse.path))
    context.log.info(f"at-risk call list: {len(found)} accounts; {result.as_metadata()}")
    return dg.MaterializeResult(metadata={**result.as_metadata(), "accounts": len(found)})


@dg.asset(
    key=dg.AssetKey(["actions", "survey_send_lists"]),
    deps=[dg.AssetKey(["marts", "survey_send_list"])],
    group_name="actions",
    kinds={"csv"},
    owners=["team:customer-success"],
    metadata=ENGINE_METADATA,
    description=(
        "The day's survey send lists from marts.survey_send_list (fatigue rules, quarterly sample, timing by "
        "touchpoint, no unsubscribe or bounce), one import file per survey tool (Delighted people upload, "
        "Simplesat customer import, a Typeform mail-merge list with hidden-field links) in the outbox, each contact "
        "once per fatigue window through the ledger. A dry run in send_lists/dry_run/ unless NPS_SEND_LISTS_LIVE=true."
    ),
)
def survey_send_lists(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    config = send_lists.SendListConfig.from_env()
    with warehouse.with_marts(context) as con:
        result = send_lists.write_send_lists(con, config=config, outbox=settings.outbox_dir(warehouse.path))
    context.log.info(f"survey send lists: {result.as_metadata()}")
    return dg.MaterializeResult(metadata=result.as_metadata())
