"""The daily survey send lists: marts.survey_send_list written as one import file per survey tool, each contact
listed at most once per fatigue window, so the fatigue rules hold before a send and not only in a report after it.

Files, in the outbox (`NPS_OUTBOX_DIR`): `send_lists/<tool>/<list date>.csv` when live, else (the default)
`send_lists/dry_run/<tool>/<list date>.csv`. Formats (docs/alerts.md#survey-send-lists; what each vendor's help
confirms, and what it does not, in docs/sources.md):
- delighted: Delighted's CSV upload of people: `email`, `name`, then one column per person property. The
  properties `Account ID` and `Plan` are those the Delighted connector reads back (dbt vars
  delighted_account_id_property, delighted_plan_property), so the answers come back tied to the account.
- simplesat: Simplesat's customer import: `First Name`, `Last Name`, `Email`, `Company` in that order (Simplesat
  reads the first four columns by position), then custom attributes.
- typeform: Typeform imports no contact list; the file is a mail-merge list whose `survey_link` is the form URL
  (`NPS_SEND_LISTS_TYPEFORM_URL`) with hidden fields account_id, email, survey_kind, touchpoint and channel, the
  fields the Typeform connector reads.

Never twice: each row is a ledger message `survey_send:<kind>:<email>:<list date>` (dry run:
`survey_send_dry_run:...`). Each file's new rows are appended in one write and fsynced, then the whole batch is
recorded in one statement (channel `send_list_csv`, status `logged`; dry run `send_list_dry_run`, status
`dry_run`); a crash in between finds the rows in their files by key on the next run and does not append them
again. A contact with a ledger row of the same kind and mode
whose list date is less than the kind's min_days_between (seed survey_fatigue_rules) before is not listed: a list
written today whose sends have not landed yet still counts. A dry run never blocks a live list (its own prefix).

Spreadsheet formula injection: any cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
leading apostrophe (OWASP's advice), so a spreadsheet shows it as text; the CSV quoting is RFC 4180.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb

import settings
from outbound import ledger
from outbound.ledger import DeliverySummary, Message, Outcome
from outbound.outbox import append_rows, spreadsheet_safe

LIVE_VARIABLE = "NPS_SEND_LISTS_LIVE"
TOOLS_VARIABLE = "NPS_SEND_LISTS_TOOLS"
TYPEFORM_URL_VARIABLE = "NPS_SEND_LISTS_TYPEFORM_URL"
LIVE_PREFIX = "survey_send:"
DRY_RUN_PREFIX = "survey_send_dry_run:"
LIVE_CHANNEL = "send_list_csv"
DRY_RUN_CHANNEL = "send_list_dry_run"

# The columns of each tool's import file. The last column of each names the survey: with the email it is the
# row's key in the file (a row appended just before a crash is found by it and not appended again).
TOOL_COLUMNS: dict[str, tuple[str, ...]] = {
    "delighted": (
        "email", "name", "Account ID", "Plan", "Company", "Touchpoint", "Ticket ID", "List Date", "Survey",
    ),
    "simplesat": (
        "First Name", "Last Name", "Email", "Company", "Account ID", "Plan", "Touchpoint", "Ticket ID", "List Date",
        "Survey",
    ),
    "typeform": (
        "email", "name", "account_id", "plan", "company", "touchpoint", "ticket_id", "list_date", "survey_link",
        "survey",
    ),
}  # fmt: skip
TOOLS = tuple(TOOL_COLUMNS)
EMAIL_COLUMN = {"delighted": "email", "simplesat": "Email", "typeform": "email"}


@dataclass(frozen=True)
class SendListConfig:
    """Live or dry run, the tools whose files are written, and the Typeform form URL for the survey links."""

    live: bool = False
    tools: tuple[str, ...] = TOOLS
    typeform_url: str | None = None

    @classmethod
    def from_env(cls) -> SendListConfig:
        """From NPS_SEND_LISTS_LIVE (true/false), NPS_SEND_LISTS_TOOLS (comma-separated) and
        NPS_SEND_LISTS_TYPEFORM_URL; a ValueError names the variable and the bad value."""
        switch = (settings.value(LIVE_VARIABLE) or "false").strip().lower()
        if switch not in {"true", "false"}:
            raise ValueError(f"{LIVE_VARIABLE} must be true or false, not {switch!r}")
        tools = tuple(t.strip().lower() for t in (settings.value(TOOLS_VARIABLE) or "").split(",") if t.strip())
        unknown = [t for t in tools if t not in TOOL_COLUMNS]
        if unknown:
            raise ValueError(f"{TOOLS_VARIABLE}: unknown survey tool(s) {unknown}; known: {', '.join(TOOLS)}")
        url = (settings.value(TYPEFORM_URL_VARIABLE) or "").strip() or None
        return cls(live=switch == "true", tools=tools, typeform_url=url)


@dataclass
class SendListResult:
    """What one call did: the rows by ledger key, the files that grew, and the rows held back by the ledger."""

    rows: DeliverySummary
    live: bool
    files: list[str] = field(default_factory=list)
    held_by_ledger: int = 0
    candidates: int = 0

    def as_metadata(self) -> dict[str, Any]:
        return {
            **self.rows.as_metadata(),
            "live": self.live,
            "files": self.files,
            "candidates": self.candidates,
            "held_by_ledger_fatigue": self.held_by_ledger,
        }


def neutralise(value: object) -> str:
    """The cell text, with a leading apostrophe when a spreadsheet would run it (outbound.outbox.spreadsheet_safe,
    the one rule of every outbox file)."""
    return spreadsheet_safe("" if value is None else str(value))


def survey_link(base_url: str | None, row: dict[str, Any]) -> str:
    """The Typeform form URL with the hidden fields after `#` (percent-encoded); empty without a form URL."""
    if not base_url:
        return ""
    fields = {
        "account_id": row["account_id"] or "",
        "email": row["email"],
        "survey_kind": row["survey_kind"],
        "touchpoint": row["touchpoint"],
        "channel": row["channel"] or "email",
    }
    return base_url.split("#", 1)[0] + "#" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in fields.items())


def tool_row(tool: str, row: dict[str, Any], typeform_url: str | None = None) -> dict[str, str]:
    """One mart row in the tool's columns, every cell neutralised. The marts hold no person name: empty."""
    ticket = "" if row["ticket_id"] is None else str(row["ticket_id"])
    day = row["list_date"].isoformat()
    if tool == "delighted":
        values = [row["email"], "", row["account_id"], row["plan"], row["account_name"], row["touchpoint"], ticket,
                  day, row["survey_name"]]  # fmt: skip
    elif tool == "simplesat":
        values = ["", "", row["email"], row["account_name"], row["account_id"], row["plan"], row["touchpoint"],
                  ticket, day, row["survey_name"]]  # fmt: skip
    else:
        values = [row["email"], "", row["account_id"], row["plan"], row["account_name"], row["touchpoint"], ticket,
                  day, survey_link(typeform_url, row), row["survey_name"]]  # fmt: skip
    return {column: neutralise(value) for column, value in zip(TOOL_COLUMNS[tool], values, strict=True)}


def pending_rows(con: duckdb.DuckDBPyConnection, tools: Sequence[str], *, live: bool) -> tuple[list[dict], int]:
    """The rows of marts.survey_send_list for `tools`, less those whose contact the ledger (of this mode) listed
    for the same kind less than the kind's min_days_between days before the row's list date; and how many were
    held back. Rows of the same list date stay (the ledger skips them by key)."""
    ledger.ensure_table(con)
    prefix = LIVE_PREFIX if live else DRY_RUN_PREFIX
    delivered = ", ".join(f"'{status}'" for status in sorted(ledger.DELIVERED))
    cursor = con.execute(
        f"""
        with listed as (
            select
                json_extract_string(payload, '$.email') as email,
                json_extract_string(payload, '$.survey_kind') as survey_kind,
                cast(json_extract_string(payload, '$.list_date') as date) as list_date
            from {ledger.TABLE}
            where starts_with(message_key, ?) and status in ({delivered})
        ),
        rules as (select survey_kind, min_days_between from seeds.survey_fatigue_rules where survey_type = '*'),
        rows as (
            select
                s.*,
                exists (
                    select 1 from listed as l
                    where
                        l.email = s.email and l.survey_kind = s.survey_kind and l.list_date < s.list_date
                        and l.list_date > s.list_date - cast(r.min_days_between as integer)
                ) as is_held
            from marts.survey_send_list as s
            inner join rules as r on s.survey_kind = r.survey_kind
            where s.survey_tool in (select unnest(?::varchar[]))
        )
        select * from rows order by survey_tool, list_date, survey_kind, email
        """,
        [prefix, list(tools)],
    )
    names = [column[0] for column in cursor.description]
    found = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    return [row for row in found if not row["is_held"]], sum(row["is_held"] for row in found)


def write_send_lists(
    con: duckdb.DuckDBPyConnection,
    *,
    config: SendListConfig | None = None,
    outbox: str | Path | None = None,
) -> SendListResult:
    """Append each pending row of marts.survey_send_list to its tool's file; see the module docstring."""
    config = config or SendListConfig.from_env()
    folder = settings.absolute(outbox) if outbox else settings.outbox_dir()
    rows, held = pending_rows(con, config.tools, live=config.live)
    prefix, channel = (LIVE_PREFIX, LIVE_CHANNEL) if config.live else (DRY_RUN_PREFIX, DRY_RUN_CHANNEL)
    base = "send_lists" if config.live else "send_lists/dry_run"
    messages = [
        Message(
            f"{prefix}{row['survey_kind']}:{row['email']}:{row['list_date'].isoformat()}",
            {
                "file": f"{base}/{row['survey_tool']}/{row['list_date'].isoformat()}.csv",
                "tool": row["survey_tool"],
                "email": row["email"],
                "survey_kind": row["survey_kind"],
                "survey_name": row["survey_name"],
                "list_date": row["list_date"].isoformat(),
                "row": tool_row(row["survey_tool"], row, config.typeform_url),
            },
        )
        for row in rows
    ]
    delivered = ledger.LOGGED if config.live else ledger.DRY_RUN

    def append_all(batch: list[Message]) -> list[Outcome]:
        """Each file's new rows in one append and one fsync; a row already in its file (appended just before a
        crash, not yet recorded) is not appended again."""
        by_path: dict[Path, list[int]] = {}
        for index, message in enumerate(batch):
            by_path.setdefault(folder / message.payload["file"], []).append(index)
        outcomes: list[Outcome] = [Outcome(ledger.FAILED)] * len(batch)
        for path, indexes in by_path.items():
            tool = batch[indexes[0]].payload["tool"]
            columns, email = TOOL_COLUMNS[tool], EMAIL_COLUMN[tool]
            try:
                present = {(row[email], row[columns[-1]]) for row in read_file(path)}
                new = []
                for index in indexes:
                    row = batch[index].payload["row"]
                    if (row[email], row[columns[-1]]) not in present:
                        present.add((row[email], row[columns[-1]]))
                        new.append(row)
                if new:
                    append_rows(path, columns, new)
                outcome = Outcome(delivered)
            except OSError as error:
                outcome = Outcome(ledger.FAILED, error=f"send list {path} not written: {error}")
            for index in indexes:
                outcomes[index] = outcome
        return outcomes

    summary = ledger.deliver_all(con, messages, append_all, channel=channel, carry_over_prefix=prefix)
    files = {message.key: message.payload["file"] for message in messages}
    for key in summary.delivered:
        if key not in files:  # the carry-over of an earlier run
            files[key] = ledger.get(con, key).payload["file"]
    return SendListResult(
        rows=summary,
        live=config.live,
        files=sorted({files[key] for key in summary.delivered}),
        held_by_ledger=held,
        candidates=len(rows) + held,
    )


def read_file(path: Path) -> list[dict[str, str]]:
    """The rows of a send-list file as dicts; none when it does not exist."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def latest_list_date(con: duckdb.DuckDBPyConnection) -> date | None:
    """The list date of marts.survey_send_list (None when empty)."""
    return con.execute("select max(list_date) from marts.survey_send_list").fetchall()[0][0]
