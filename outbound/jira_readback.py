"""The read-back of the theme escalation issues: status, resolution and dates of each Jira issue the platform
created (ledger rows `jira_escalation:<theme>:<YYYY-MM>` with an issue key in `external_id`), stored in
`ops.jira_issue_states`, one row per issue key, for the `feedback_to_feature` mart.

Each issue is read with GET /rest/api/3/issue/{issueIdOrKey}?fields=... (Jira Cloud REST API v3), with the
settings, authentication, redirect refusal and 429/5xx retries of outbound/jira.py. One GET per issue rather than
the JQL search (/rest/api/3/search/jql) because a key that no longer exists makes that search fail as a whole,
while the GET answers 404 for that issue only: such an issue is recorded `found = false` (deleted or moved out of
reach) and the run goes on. Any other refusal, or Jira unreachable, stops the run; the issues not read keep the
row of the last read. The rows read replace the earlier rows of the same keys (a re-read writes the same values
when nothing changed in Jira); rows of issue keys no longer in the ledger are removed.

Without Jira configured (outbound/jira.py settings) nothing is read and the table is left as it is (empty on a
warehouse that never had Jira): the escalations of a dry run have no issue key anyway.
"""

from __future__ import annotations

import logging
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from outbound import http, jira, ledger

TABLE = "ops.jira_issue_states"
ISSUE_FIELDS = "status,resolution,resolutiondate,created,updated,summary,labels"
COLUMNS = (
    "issue_key",
    "message_key",
    "found",
    "http_status",
    "summary",
    "status",
    "status_category",
    "resolution",
    "created_at",
    "resolved_at",
    "updated_at",
)
DDL = f"""
create table if not exists {TABLE} (
    issue_key varchar primary key,
    message_key varchar not null,
    found boolean not null,
    http_status integer not null,
    summary varchar,
    status varchar,
    status_category varchar,
    resolution varchar,
    created_at timestamp,
    resolved_at timestamp,
    updated_at timestamp
)
"""

logger = logging.getLogger("nps_platform.outbound.jira_readback")


@dataclass
class ReadBackSummary:
    """What one read-back did: issues read (found), not found (404), and not read (the run stopped)."""

    dry_run: bool
    read: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    not_read: list[str] = field(default_factory=list)
    error: str | None = None

    def as_metadata(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "read": len(self.read),
            "not_found": len(self.not_found),
            "not_read": len(self.not_read),
            "not_found_keys": self.not_found[:20],
            "error": self.error or "",
        }


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists ops")
    con.execute(DDL)


def escalated_issues(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """issue key -> ledger message key, for every escalation created in Jira (status sent, with an issue key)."""
    return {
        row.external_id: row.message_key
        for row in ledger.rows(con, jira.ESCALATION_PREFIX)
        if row.status == ledger.SENT and row.external_id
    }


def parse_jira_time(value: Any) -> datetime | None:
    """A Jira timestamp ('2026-03-01T10:15:30.000+0000') as naive UTC, like the rest of the warehouse."""
    if not value:
        return None
    text = str(value)
    if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit():  # +0000 -> +00:00
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def issue_row(issue_key: str, message_key: str, status: int, issue: Any) -> tuple:
    """The table row of one answer: the issue's fields when found, else only the key and the HTTP status."""
    fields = issue.get("fields") if isinstance(issue, dict) else None
    if status != 200 or not isinstance(fields, dict):
        return (issue_key, message_key, False, status, *([None] * 7))
    state = fields.get("status") or {}
    resolution = fields.get("resolution") or {}
    return (
        issue_key,
        message_key,
        True,
        status,
        fields.get("summary"),
        state.get("name"),
        (state.get("statusCategory") or {}).get("key"),
        resolution.get("name"),
        parse_jira_time(fields.get("created")),
        parse_jira_time(fields.get("resolutiondate")),
        parse_jira_time(fields.get("updated")),
    )


def read_issue_states(
    con: duckdb.DuckDBPyConnection,
    *,
    config: jira.JiraConfig | None = None,
    max_retry_wait_seconds: float = jira.MAX_RETRY_WAIT_SECONDS,
    server_error_retries: int = jira.SERVER_ERROR_RETRIES,
    backoff_seconds: float = jira.BACKOFF_SECONDS,
    timeout_seconds: float = jira.TIMEOUT_SECONDS,
) -> ReadBackSummary:
    """Read every escalated issue back from Jira into `ops.jira_issue_states` (see the module docstring).
    `config` defaults to `JiraConfig.from_env()`; without it, a dry run that reads and writes nothing."""
    if config is None:
        config = jira.JiraConfig.from_env()
    ensure_table(con)
    if config is None:
        logger.info("Jira read-back: Jira is not configured, nothing read (dry run)")
        return ReadBackSummary(dry_run=True)
    issues = escalated_issues(con)
    summary = ReadBackSummary(dry_run=False)
    client = http.opener()
    rows = []
    for issue_key, message_key in sorted(issues.items()):
        if summary.error is not None:
            summary.not_read.append(issue_key)
            continue
        path = f"/rest/api/3/issue/{urllib.parse.quote(issue_key, safe='')}?fields={ISSUE_FIELDS}"
        try:
            status, _, body = http.request(
                client,
                config,
                "GET",
                path,
                max_retry_wait_seconds=max_retry_wait_seconds,
                server_error_retries=server_error_retries,
                backoff_seconds=backoff_seconds,
                timeout_seconds=timeout_seconds,
            )
        except OSError as error:
            summary.error = jira.redact(f"not reached: {type(error).__name__}: {error}", config)
            summary.not_read.append(issue_key)
            continue
        if status == 200:
            rows.append(issue_row(issue_key, message_key, status, http.parse_json(body)))
            summary.read.append(issue_key)
        elif status == 404:
            rows.append(issue_row(issue_key, message_key, status, None))
            summary.not_found.append(issue_key)
            logger.warning(
                "Jira issue %s (%s) not found: deleted, or out of reach of the account", issue_key, message_key
            )
        else:
            summary.error = jira.redact(f"HTTP {status} on {issue_key}: {jira.jira_errors(body)}", config)
            summary.not_read.append(issue_key)
    if summary.error:
        logger.error(
            "Jira read-back stopped: %s; %d issues keep their last state", summary.error, len(summary.not_read)
        )
    _store(con, rows, list(issues))
    return summary


def _store(con: duckdb.DuckDBPyConnection, rows: list[tuple], ledger_keys: list[str]) -> None:
    """Replace the rows of the issues read, and drop the rows of issue keys no longer in the ledger, in one
    transaction."""
    placeholders = ", ".join("?" for _ in COLUMNS)
    con.execute("begin transaction")
    try:
        con.execute(
            f"delete from {TABLE} where issue_key in (select unnest(?::varchar[])) "
            "or issue_key not in (select unnest(?::varchar[]))",
            [[row[0] for row in rows], ledger_keys],
        )
        if rows:
            con.executemany(f"insert into {TABLE} ({', '.join(COLUMNS)}) values ({placeholders})", rows)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def states(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """All rows of the table, ordered by issue key (COLUMNS order)."""
    ensure_table(con)
    return con.execute(f"select {', '.join(COLUMNS)} from {TABLE} order by issue_key").fetchall()
