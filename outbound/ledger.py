"""The outbound ledger: one row per message sent to Slack, the alerts log or Jira, so a re-run never sends twice.

Table `ops.outbound_messages`, keyed by a message key that names what the message is about
(`detractor_alert:<response_id>`, `weekly_digest:<week start>`, `jira_escalation:<theme>:<YYYY-MM>`).

Delivery guarantee: the row is written right after each successful delivery, one message at a time, never at
the end of a batch. A run that crashes (or is killed) mid-batch therefore re-sends nothing that was recorded;
the only message that can go out twice is the one whose delivery succeeded in the instant before its ledger
write (between the HTTP 200 and the DuckDB insert, a few milliseconds). That is at-least-once with a window of
one message: we prefer a rare duplicate alert to a lost one. (The alternative, writing a `sending` row before
the request, is at-most-once but loses the message when the process dies during the request.)

`deliver_all` is for channels that write a whole batch at once (the survey send lists append each file's rows in
one write and fsync): it records the batch in one statement after the write, so a crash in between writes the
batch again on the next run, and the sender must find what it already wrote (the send lists do, by key).

The functions take an open DuckDB connection and never open their own (DuckDB allows one writing process).
They write in autocommit mode; do not call the senders inside an open transaction, or a crash would roll back
the rows of messages already delivered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

TABLE = "ops.outbound_messages"

# Channels: where a message went (or would have gone).
SLACK = "slack"
LOG_FILE = "log_file"
JIRA = "jira"
JIRA_DRY_RUN = "jira_dry_run"

# Statuses. A key with one of DELIVERED is never sent again; any other status is pending.
SENT = "sent"  # the remote end accepted it (Slack 200, Jira 201)
LOGGED = "logged"  # written to the alerts log file because no Slack webhook was configured
DRY_RUN = "dry_run"  # Jira not configured: the exact request body it would have sent is recorded
FAILED = "failed"  # tried and refused or unreachable: retried on the next run, attempts incremented
DEFERRED = "deferred"  # not tried in this run (per-run cap, or the channel failed earlier in the batch)
DELIVERED = frozenset({SENT, LOGGED, DRY_RUN})

DDL = f"""
create table if not exists {TABLE} (
    message_key varchar primary key,
    channel varchar not null,
    payload json,
    status varchar not null,
    attempts integer not null default 0,
    created_at timestamp not null,
    first_attempt_at timestamp,
    last_attempt_at timestamp,
    sent_at timestamp,
    response_status integer,
    external_id varchar,
    error varchar
)
"""

_DELIVERED_SQL = ", ".join(f"'{status}'" for status in sorted(DELIVERED))

# How an attempt updates a message already in the ledger (`record`, `record_many`): a delivered row never changes.
_RECORD_ATTEMPT = f"""on conflict (message_key) do update set
            channel = excluded.channel,
            payload = excluded.payload,
            status = excluded.status,
            attempts = m.attempts + 1,
            first_attempt_at = coalesce(m.first_attempt_at, excluded.first_attempt_at),
            last_attempt_at = excluded.last_attempt_at,
            sent_at = excluded.sent_at,
            response_status = excluded.response_status,
            external_id = excluded.external_id,
            error = excluded.error
        where m.status not in ({_DELIVERED_SQL})"""


@dataclass(frozen=True)
class LedgerRow:
    """One row of `ops.outbound_messages`. Timestamps are UTC (naive, like the rest of the warehouse)."""

    message_key: str
    channel: str
    payload: Any
    status: str
    attempts: int
    created_at: datetime
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    sent_at: datetime | None
    response_status: int | None
    external_id: str | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status in DELIVERED


@dataclass
class DeliverySummary:
    """What one call of a sender did, by message key. `skipped` were delivered by an earlier run.

    `as_metadata()` gives counts and keys ready for Dagster asset metadata.
    """

    channel: str
    delivered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    external_ids: dict[str, str] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "delivered": len(self.delivered),
            "failed": len(self.failed),
            "deferred": len(self.deferred),
            "skipped_already_delivered": len(self.skipped),
            "failed_keys": self.failed[:20],
            "external_ids": dict(list(self.external_ids.items())[:20]),
        }


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create the `ops` schema and the ledger table if missing (idempotent)."""
    con.execute("create schema if not exists ops")
    con.execute(DDL)


def pending(con: duckdb.DuckDBPyConnection, keys: Iterable[str]) -> set[str]:
    """The keys among `keys` not yet delivered: never seen, or last seen `failed` or `deferred`."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return set()
    ensure_table(con)
    done = con.execute(
        f"select message_key from {TABLE} where status in ({_DELIVERED_SQL}) "
        "and message_key in (select unnest(?::varchar[]))",
        [wanted],
    ).fetchall()
    return set(wanted) - {key for (key,) in done}


def record(
    con: duckdb.DuckDBPyConnection,
    message_key: str,
    *,
    channel: str,
    payload: Any,
    status: str,
    response_status: int | None = None,
    external_id: str | None = None,
    error: str | None = None,
) -> bool:
    """Record one delivery attempt of `message_key` (insert, or update a failed/deferred row).

    `payload` is the JSON-serialisable body sent (never credentials or URLs). `attempts` goes up by one;
    `first_attempt_at` is kept from the first attempt; `sent_at` is set for a delivered status. A row that is
    already delivered is left untouched (returns False): a delivered message stays delivered.
    """
    if status not in DELIVERED | {FAILED}:
        raise ValueError(f"record() takes a delivered or failed status, not {status!r} (use defer())")
    ensure_table(con)
    if _status(con, message_key) in DELIVERED:
        return False
    attempt = Outcome(status, response_status=response_status, external_id=external_id, error=error)
    record_many(con, [(Message(message_key, payload), attempt)], channel=channel)
    return True


def defer(con: duckdb.DuckDBPyConnection, message_key: str, *, channel: str, payload: Any) -> None:
    """Keep a message that was not tried in this run (status `deferred`, attempts unchanged) with its payload,
    so the next run sends it even if the caller no longer passes it. An existing row is left as it is."""
    ensure_table(con)
    con.execute(
        f"insert into {TABLE} (message_key, channel, payload, status, attempts, created_at) "
        "values (?, ?, ?, ?, 0, ?) on conflict (message_key) do nothing",
        [message_key, channel, json.dumps(payload, ensure_ascii=False), DEFERRED, _utcnow()],
    )


def undelivered(con: duckdb.DuckDBPyConnection, prefix: str) -> list[LedgerRow]:
    """Failed and deferred rows whose key starts with `prefix`, oldest first: the carry-over of earlier runs."""
    ensure_table(con)
    return _rows(
        con,
        f"where status not in ({_DELIVERED_SQL}) and starts_with(message_key, ?) order by created_at, message_key",
        [prefix],
    )


def get(con: duckdb.DuckDBPyConnection, message_key: str) -> LedgerRow | None:
    """The ledger row of one key, or None."""
    ensure_table(con)
    found = _rows(con, "where message_key = ?", [message_key])
    return found[0] if found else None


def rows(con: duckdb.DuckDBPyConnection, prefix: str = "") -> list[LedgerRow]:
    """All ledger rows whose key starts with `prefix`, ordered by key."""
    ensure_table(con)
    return _rows(con, "where starts_with(message_key, ?) order by message_key", [prefix])


def _rows(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[LedgerRow]:
    columns = [name for name in LedgerRow.__dataclass_fields__]
    result = con.execute(f"select {', '.join(columns)} from {TABLE} {where}", params).fetchall()
    found = []
    for values in result:
        row = dict(zip(columns, values, strict=True))
        row["payload"] = json.loads(row["payload"]) if row["payload"] is not None else None
        found.append(LedgerRow(**row))
    return found


def _status(con: duckdb.DuckDBPyConnection, message_key: str) -> str | None:
    found = con.execute(f"select status from {TABLE} where message_key = ?", [message_key]).fetchall()
    return found[0][0] if found else None


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ---------------------------------------------------------------------------------------------------------------
# The delivery loop shared by the Slack, log-file and Jira senders


@dataclass(frozen=True)
class Message:
    """One outbound message: its ledger key and the JSON body to send (no secrets)."""

    key: str
    payload: Any


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt gave. `stop` means the channel itself is unusable (unreachable, rate limited
    beyond the wait cap, credentials refused): the rest of the batch is deferred instead of failing one by one."""

    status: str
    response_status: int | None = None
    external_id: str | None = None
    error: str | None = None
    stop: bool = False


def deliver(
    con: duckdb.DuckDBPyConnection,
    messages: Iterable[Message],
    send: Callable[[Message], Outcome],
    *,
    channel: str,
    carry_over_prefix: str | None = None,
    max_messages: int | None = None,
) -> DeliverySummary:
    """Send each pending message once, recording each outcome right after its attempt.

    Order: the carry-over first (failed and deferred rows of earlier runs whose key starts with
    `carry_over_prefix` and that are not among `messages`, sent with their stored payload, oldest first), then
    the pending `messages` in the order given. Messages already delivered are skipped. At most `max_messages`
    attempts are made; the rest, and everything after an outcome with `stop`, are recorded `deferred`.
    """
    summary, queue = _queue(con, messages, channel=channel, carry_over_prefix=carry_over_prefix)
    attempts = 0
    stopped = False
    for message in queue:
        if stopped or (max_messages is not None and attempts >= max_messages):
            defer(con, message.key, channel=channel, payload=message.payload)
            summary.deferred.append(message.key)
            continue
        attempts += 1
        outcome = send(message)
        record(
            con,
            message.key,
            channel=channel,
            payload=message.payload,
            status=outcome.status,
            response_status=outcome.response_status,
            external_id=outcome.external_id,
            error=outcome.error,
        )
        _count(summary, message, outcome)
        stopped = stopped or outcome.stop
    return summary


def deliver_all(
    con: duckdb.DuckDBPyConnection,
    messages: Iterable[Message],
    send_all: Callable[[list[Message]], list[Outcome]],
    *,
    channel: str,
    carry_over_prefix: str | None = None,
) -> DeliverySummary:
    """As `deliver`, for a channel that takes the whole batch in one attempt (a file appended and fsynced once,
    not once per row): `send_all` gets every pending message, in `deliver`'s order, and returns one delivered or
    failed outcome each, in the same order; they are recorded in one statement when it returns. A crash between
    the two sends the batch again on the next run, so `send_all` must recognise what it already wrote (the send
    lists find their rows in the file by key). `stop` has no meaning here: `send_all` decides each outcome."""
    summary, queue = _queue(con, messages, channel=channel, carry_over_prefix=carry_over_prefix)
    if not queue:
        return summary
    outcomes = send_all(queue)
    if len(outcomes) != len(queue):
        raise ValueError(f"send_all returned {len(outcomes)} outcomes for {len(queue)} messages")
    record_many(con, list(zip(queue, outcomes, strict=True)), channel=channel)
    for message, outcome in zip(queue, outcomes, strict=True):
        _count(summary, message, outcome)
    return summary


def record_many(con: duckdb.DuckDBPyConnection, attempts: list[tuple[Message, Outcome]], *, channel: str) -> None:
    """Record many delivery attempts in one statement, each as `record` would (delivered rows left untouched)."""
    if not attempts:
        return
    statuses = {outcome.status for _, outcome in attempts}
    if not statuses <= DELIVERED | {FAILED}:
        raise ValueError(f"record_many() takes delivered or failed statuses, not {sorted(statuses)}")
    ensure_table(con)
    now = _utcnow()
    columns = (
        [message.key for message, _ in attempts],
        [json.dumps(message.payload, ensure_ascii=False) for message, _ in attempts],
        [outcome.status for _, outcome in attempts],
        [outcome.response_status for _, outcome in attempts],
        [outcome.external_id for _, outcome in attempts],
        [outcome.error for _, outcome in attempts],
    )
    con.execute(
        f"""
        insert into {TABLE} as m (message_key, channel, payload, status, attempts, created_at, first_attempt_at,
                                  last_attempt_at, sent_at, response_status, external_id, error)
        select
            message_key, ?, payload, status, 1, ?, ?, ?,
            case when status in ({_DELIVERED_SQL}) then cast(? as timestamp) end,
            response_status, external_id, error
        from (
            select
                unnest(?::varchar[]) as message_key,
                unnest(?::varchar[]) as payload,
                unnest(?::varchar[]) as status,
                unnest(?::integer[]) as response_status,
                unnest(?::varchar[]) as external_id,
                unnest(?::varchar[]) as error
        )
        {_RECORD_ATTEMPT}
        """,
        [channel, now, now, now, now, *columns],
    )


def _queue(
    con: duckdb.DuckDBPyConnection, messages: Iterable[Message], *, channel: str, carry_over_prefix: str | None
) -> tuple[DeliverySummary, list[Message]]:
    """The messages to attempt, in order (the carry-over, then the pending given ones), and a summary that names
    those skipped as delivered before."""
    ensure_table(con)
    given = list({message.key: message for message in messages}.values())
    todo = pending(con, [message.key for message in given])
    summary = DeliverySummary(channel=channel)
    summary.skipped = [message.key for message in given if message.key not in todo]
    queue: list[Message] = []
    if carry_over_prefix is not None:
        given_keys = {message.key for message in given}
        queue += [
            Message(row.message_key, row.payload)
            for row in undelivered(con, carry_over_prefix)
            if row.message_key not in given_keys
        ]
    queue += [message for message in given if message.key in todo]
    return summary, queue


def _count(summary: DeliverySummary, message: Message, outcome: Outcome) -> None:
    if outcome.status in DELIVERED:
        summary.delivered.append(message.key)
        if outcome.external_id:
            summary.external_ids[message.key] = outcome.external_id
    else:
        summary.failed.append(message.key)
