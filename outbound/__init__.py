"""Outbound actions: detractor alerts and the weekly digest to Slack (or the alerts log), theme escalations to
Jira (or a dry run), each sent at most once per message key thanks to the `ops.outbound_messages` ledger.

Plain functions over plain data and an open DuckDB connection; the Dagster assets query the marts and call
them. See docs/alerts.md.
"""

from outbound.jira import JiraConfig, ThemeEscalation, create_escalation_issues
from outbound.ledger import DeliverySummary, LedgerRow
from outbound.slack import (
    DetractorAlert,
    Mover,
    SlaAttainment,
    ThemeShare,
    WeeklyDigest,
    send_detractor_alerts,
    send_weekly_digest,
)

__all__ = [
    "DeliverySummary",
    "DetractorAlert",
    "JiraConfig",
    "LedgerRow",
    "Mover",
    "SlaAttainment",
    "ThemeEscalation",
    "ThemeShare",
    "WeeklyDigest",
    "create_escalation_issues",
    "send_detractor_alerts",
    "send_weekly_digest",
]
