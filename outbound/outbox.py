"""The action lists written as CSV files in the outbox, each person or account once, plus a Slack summary.

`promoters/<week start>.csv`: one row per promoter response of the ISO week (Monday start), ledger key
`promoter_thanks:<response_id>`. `at_risk/<date>.csv`: one row per account entering the list that day, key
`at_risk_call:<account_id>:<date>`. `fixed_themes/<resolved date>.csv`: one row per customer to tell that a theme
they raised is fixed, key `fix_notice:<theme>:<YYYY-MM>:<customer>`. The outbox is `NPS_OUTBOX_DIR`, default
`outbox/` beside the warehouse.

Append-only: a file grows as new people enter its week or day; a re-run appends nothing (the ledger says they
were listed) and never rewrites a row a team may already have worked on. Each row is appended and fsynced, then
recorded (channel `outbox_csv`, status `logged`), one at a time. A row appended just before a crash (before its
ledger write) is found in the file by its key column on the next run and recorded, not appended again.

A cell a spreadsheet would run as a formula (text starting with `=`, `+`, `-`, `@`, a tab or a carriage return,
such as a comment `=HYPERLINK(...)`) is written with a leading apostrophe, as OWASP's "CSV Injection" advises:
Excel and Google Sheets then show the text as typed. Numbers (`-0.250`) are written as they are.

Writing local files is safe, so this is the default. A Slack summary (counts and the file name, no e-mail or
comment) is posted once per file and count only when `NPS_SLACK_WEBHOOK_URL` is set and the run listed someone.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

import settings
from outbound import ledger, slack
from outbound.action_lists import ENTERED_HIGH, AtRiskAccount, FixNotice, Promoter
from outbound.ledger import DeliverySummary, Message, Outcome

OUTBOX = "outbox_csv"
PROMOTER_PREFIX = "promoter_thanks:"
AT_RISK_PREFIX = "at_risk_call:"
PROMOTER_SUMMARY_PREFIX = "promoter_list_summary:"
AT_RISK_SUMMARY_PREFIX = "at_risk_list_summary:"
FIX_NOTICE_PREFIX = "fix_notice:"
FIX_NOTICE_SUMMARY_PREFIX = "fix_notice_list_summary:"
FIX_NOTICE_COLUMNS = (
    "resolved_date",
    "notice_id",
    "theme",
    "month_start",
    "issue_key",
    "customer_key",
    "account_id",
    "email",
    "response_ids",
)
PROMOTER_COLUMNS = (
    "week_start",
    "response_id",
    "responded_at",
    "score",
    "email",
    "account_id",
    "account_name",
    "plan",
    "mrr_usd",
    "risk_tier",
    "ask_referral",
    "comment",
)
AT_RISK_COLUMNS = (
    "list_date",
    "account_id",
    "account_name",
    "owner",
    "reason",
    "risk_tier",
    "previous_risk_tier",
    "risk_score",
    "risk_drivers",
    "revenue_at_risk_usd",
    "mrr_usd",
    "usage_change_30d",
    "plan",
)


@dataclass
class ListResult:
    """What one call did: the rows (`rows`, by ledger key) and, when Slack is configured, the summaries."""

    rows: DeliverySummary
    files: list[str] = field(default_factory=list)
    summaries: DeliverySummary | None = None

    def as_metadata(self) -> dict[str, Any]:
        return {
            **self.rows.as_metadata(),
            "files": self.files,
            "slack_summaries": len(self.summaries.delivered) if self.summaries else 0,
        }


def outbox_dir(outbox: str | Path | None = None, warehouse: Path | None = None) -> Path:
    return settings.absolute(outbox) if outbox else settings.outbox_dir(warehouse)


def write_promoter_list(
    con: duckdb.DuckDBPyConnection,
    promoters: Sequence[Promoter],
    *,
    outbox: str | Path | None = None,
    webhook_url: str | None = None,
) -> ListResult:
    """Append each promoter not yet listed to `promoters/<week start>.csv`; see the module docstring."""
    messages = [
        Message(
            f"{PROMOTER_PREFIX}{p.response_id}",
            {
                "file": f"promoters/{p.week_start.isoformat()}.csv",
                "row": {
                    "week_start": p.week_start.isoformat(),
                    "response_id": p.response_id,
                    "responded_at": p.responded_at.isoformat(timespec="seconds"),
                    "score": str(p.score),
                    "email": p.email or "",
                    "account_id": p.account_id or "",
                    "account_name": p.account_name or "",
                    "plan": p.plan or "",
                    "mrr_usd": _number(p.mrr_usd),
                    "risk_tier": p.risk_tier or "",
                    "ask_referral": "" if p.ask_referral is None else str(p.ask_referral).lower(),
                    "comment": p.comment or "",
                },
            },
        )
        for p in promoters
    ]

    def summary_text(file: str, rows: list[dict[str, str]], new: int) -> str:
        referrals = sum(row["ask_referral"] == "true" for row in rows)
        ask = f"; {referrals} to ask for a referral or review" if any(row["ask_referral"] for row in rows) else ""
        return (
            f"Promoter thank-you list, week of {rows[0]['week_start']}: {new} new promoter(s), "
            f"{len(rows)} in the week{ask}. File: {file} in the outbox."
        )

    return _write(
        con, messages, PROMOTER_COLUMNS, "response_id", PROMOTER_PREFIX, PROMOTER_SUMMARY_PREFIX, summary_text,
        outbox=outbox, webhook_url=webhook_url,
    )  # fmt: skip


def write_at_risk_list(
    con: duckdb.DuckDBPyConnection,
    accounts: Sequence[AtRiskAccount],
    *,
    outbox: str | Path | None = None,
    webhook_url: str | None = None,
) -> ListResult:
    """Append each account not yet listed for its day to `at_risk/<date>.csv`; see the module docstring."""
    messages = [
        Message(
            f"{AT_RISK_PREFIX}{a.account_id}:{a.list_date.isoformat()}",
            {
                "file": f"at_risk/{a.list_date.isoformat()}.csv",
                "row": {
                    "list_date": a.list_date.isoformat(),
                    "account_id": a.account_id,
                    "account_name": a.account_name or "",
                    "owner": a.owner or "",
                    "reason": a.reason,
                    "risk_tier": a.risk_tier or "",
                    "previous_risk_tier": a.previous_risk_tier or "",
                    "risk_score": _number(a.risk_score, 0),
                    "risk_drivers": a.risk_drivers or "",
                    "revenue_at_risk_usd": _number(a.revenue_at_risk_usd),
                    "mrr_usd": _number(a.mrr_usd),
                    "usage_change_30d": _number(a.usage_change_30d, 3),
                    "plan": a.plan or "",
                },
            },
        )
        for a in accounts
    ]

    def summary_text(file: str, rows: list[dict[str, str]], new: int) -> str:
        entered = sum(row["reason"] == ENTERED_HIGH for row in rows)
        at_risk = sum(float(row["revenue_at_risk_usd"] or 0) for row in rows)
        return (
            f"At-risk call list for {rows[0]['list_date']}: {new} new account(s), {len(rows)} on the day "
            f"({entered} entered the high risk tier, {len(rows) - entered} early usage decline), "
            f"${at_risk:,.2f} of MRR at risk. File: {file} in the outbox."
        )

    return _write(
        con, messages, AT_RISK_COLUMNS, "account_id", AT_RISK_PREFIX, AT_RISK_SUMMARY_PREFIX, summary_text,
        outbox=outbox, webhook_url=webhook_url,
    )  # fmt: skip


def write_fix_notice_list(
    con: duckdb.DuckDBPyConnection,
    notices: Sequence[FixNotice],
    *,
    outbox: str | Path | None = None,
    webhook_url: str | None = None,
) -> ListResult:
    """Append each customer not yet listed for their escalation to `fixed_themes/<resolved date>.csv`."""
    messages = [
        Message(
            f"{FIX_NOTICE_PREFIX}{n.notice_id}",
            {
                "file": f"fixed_themes/{n.resolved_at.date().isoformat()}.csv",
                "row": {
                    "resolved_date": n.resolved_at.date().isoformat(),
                    "notice_id": n.notice_id,
                    "theme": n.theme,
                    "month_start": n.month_start.isoformat(),
                    "issue_key": n.issue_key or "",
                    "customer_key": n.customer_key,
                    "account_id": n.account_id or "",
                    "email": n.email or "",
                    "response_ids": n.response_ids,
                },
            },
        )
        for n in notices
    ]

    def summary_text(file: str, rows: list[dict[str, str]], new: int) -> str:
        themes = ", ".join(sorted({row["theme"] for row in rows}))
        return (
            f"Fixed themes, resolved {rows[0]['resolved_date']}: {new} new customer(s) to tell, {len(rows)} in the "
            f"file (themes: {themes}). File: {file} in the outbox."
        )

    return _write(
        con, messages, FIX_NOTICE_COLUMNS, "notice_id", FIX_NOTICE_PREFIX, FIX_NOTICE_SUMMARY_PREFIX, summary_text,
        outbox=outbox, webhook_url=webhook_url,
    )  # fmt: skip


def append_rows(path: Path, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    """Append rows to a list file (the header first when the file is new or empty), in one write, fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new_file = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\r\n")
        if new_file:
            writer.writeheader()
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())


def read_list(path: Path) -> list[dict[str, str]]:
    """The rows of an outbox file as dicts (what a team's tool reads)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write(
    con: duckdb.DuckDBPyConnection,
    messages: list[Message],
    columns: Sequence[str],
    key_column: str,
    prefix: str,
    summary_prefix: str,
    summary_text: Callable[[str, list[dict[str, str]], int], str],
    *,
    outbox: str | Path | None,
    webhook_url: str | None,
) -> ListResult:
    folder = outbox_dir(outbox)
    keys_in_file: dict[str, set[str]] = {}

    def append(message: Message) -> Outcome:
        path = folder / message.payload["file"]
        row = message.payload["row"]
        try:
            if str(path) not in keys_in_file:
                keys_in_file[str(path)] = {r.get(key_column, "") for r in read_list(path)} if path.exists() else set()
            key = spreadsheet_safe(row[key_column])  # as the file holds it
            if key in keys_in_file[str(path)]:  # appended before a crash, not yet recorded
                return Outcome(ledger.LOGGED)
            append_rows(path, columns, [{column: spreadsheet_safe(row.get(column, "")) for column in columns}])
        except OSError as error:
            return Outcome(ledger.FAILED, error=f"outbox file {path} not written: {error}", stop=True)
        keys_in_file[str(path)].add(key)
        return Outcome(ledger.LOGGED)

    rows = ledger.deliver(con, messages, append, channel=OUTBOX, carry_over_prefix=prefix)
    payloads = {message.key: message.payload for message in messages}
    for key in rows.delivered:  # the carry-over of earlier runs
        if key not in payloads:
            payloads[key] = ledger.get(con, key).payload
    files = sorted({payloads[key]["file"] for key in rows.delivered})
    result = ListResult(rows=rows, files=files)
    url = ((settings.value(slack.WEBHOOK_URL_VARIABLE) or "") if webhook_url is None else webhook_url).strip()
    if url and files:
        summaries = []
        for file in files:
            listed = read_list(folder / file)
            new = sum(payloads[key]["file"] == file for key in rows.delivered)
            text = summary_text(file, listed, new)
            summaries.append(Message(f"{summary_prefix}{Path(file).stem}:{len(listed)}", {"text": text}))
        result.summaries = slack.send_messages(con, summaries, prefix=summary_prefix, webhook_url=url)
    return result


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """The cell as written: text a spreadsheet would run as a formula gets a leading apostrophe; numbers do not."""
    if not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def _number(value: float | None, places: int = 2) -> str:
    return "" if value is None else f"{value:.{places}f}"
