"""Segment track calls: product usage, generated in bulk with numpy and written per day by DuckDB.

Volume per account and day follows seats, health, the weekday and some day-to-day noise, scaled so
the mean over subscribed account-days is `events_per_account_day`. Usage falls in the 30-60 days
before a cancellation (the planted warning sign) and dips while an account is at risk. Events only
happen while the account is subscribed. Randomness is numpy (one seeded stream per day); DuckDB only
formats and writes, ordered by timestamp, so the files are byte-identical for the same config.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from demo.accounts import Account
from demo.config import DAY, DemoConfig, Window
from demo.lifecycle import AccountLifecycle
from demo.seeding import np_rng
from demo.timestamps import utc_day

EVENTS: tuple[str, ...] = (
    "Signed In",
    "Dashboard Viewed",
    "Report Created",
    "Report Exported",
    "Alert Configured",
    "Invite Sent",
    "Integration Connected",
)
EVENT_MIX = np.array([0.2, 0.38, 0.17, 0.12, 0.06, 0.04, 0.03])
REPORT_CREATED = EVENTS.index("Report Created")
_WEEKDAY_FACTOR = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.3, 0.3]) * 7 / 5.6

# Formats a chunk of days in one statement; each day is then copied out on its own, in order.
_FORMAT = """
create or replace temp table formatted_tracks as
select
    day,
    seq,
    'track' as "type",
    md5({seed} || ':' || day || ':' || seq)::uuid as "messageId",
    event as "event",
    user_id as "userId",
    null::varchar as "anonymousId",
    stamp as "timestamp",
    strftime(make_timestamp(sent * 1000), '%Y-%m-%dT%H:%M:%S.%gZ') as "sentAt",
    strftime(make_timestamp(recv * 1000), '%Y-%m-%dT%H:%M:%S.%gZ') as "receivedAt",
    stamp as "originalTimestamp",
    {{
        'groupId': account_id,
        'library': {{'name': 'analytics.js', 'version': '4.1.0'}},
        'ip': ip,
        'locale': locale,
        'page': {{'path': case event
            when 'Signed In' then '/login'
            when 'Dashboard Viewed' then '/dashboards'
            when 'Report Created' then '/reports/new'
            when 'Report Exported' then '/reports'
            when 'Alert Configured' then '/alerts'
            when 'Invite Sent' then '/settings/team'
            else '/settings/integrations' end}}
    }} as "context",
    case event
        when 'Signed In' then json_object('method', ['password', 'google', 'sso'][r2 % 3 + 1])
        when 'Dashboard Viewed' then json_object(
            'dashboard_id', printf('dsh_%05d%02d', acct_num, r2 % 12), 'widget_count', r2 % 14 + 2)
        when 'Report Created' then json_object(
            'report_id', printf('rpt_%08x', r1),
            'report_type', ['funnel', 'retention', 'trend', 'table', 'cohort'][r2 % 5 + 1],
            'from_template', r2 % 3 = 0)
        when 'Report Exported' then json_object(
            'report_id', printf('rpt_%08x', r1), 'format', ['csv', 'pdf', 'xlsx'][r2 % 3 + 1])
        when 'Alert Configured' then json_object(
            'metric', ['signups', 'revenue', 'active_users', 'churn_rate'][r2 % 4 + 1],
            'channel', ['email', 'slack'][r2 % 2 + 1], 'threshold', r2 % 90 + 5)
        when 'Invite Sent' then json_object(
            'invitee_role', ['member', 'admin', 'viewer'][r2 % 3 + 1], 'invite_count', r2 % 3 + 1)
        else json_object(
            'integration', ['salesforce', 'hubspot', 'slack', 'snowflake', 'bigquery', 'stripe'][r2 % 6 + 1])
    end as "properties",
    '{{}}'::json as "integrations",
    2 as "version"
from (
    select
        e.day, e.seq, e.sent, e.recv, e.r1, e.r2, e.account + 1 as acct_num,
        {events}[e.event + 1] as event,
        strftime(make_timestamp(e.ts * 1000), '%Y-%m-%dT%H:%M:%S.%gZ') as stamp,
        u.user_id, u.ip, a.account_id, a.locale
    from chunk_events as e
    join product_users as u on u.person = e.person
    join accounts as a on a.account = e.account
)
"""
_COPY_DAY = (
    "copy (select * exclude (day, seq) from formatted_tracks where day = {day} order by seq) to '{path}' "
    "(format json, compression {compression})"
)
CHUNK_EVENTS = 1_000_000  # events formatted per statement (bounds memory at any volume)


class _People:
    """Every product user of every account, flattened: person p of account a is row offsets[a] + p."""

    def __init__(self, accounts: list[Account]):
        self.counts = np.array([len(a.people) for a in accounts], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        self.offset_seconds = np.array([a.time_zone.utc_offset_hours * 3600 for a in accounts])
        self.health = np.array([a.health for a in accounts])
        self.users = pd.DataFrame(
            {
                "person": np.arange(int(self.counts.sum()), dtype=np.int64),
                "user_id": [p.user_id for a in accounts for p in a.people],
                "ip": [p.ip for a in accounts for p in a.people],
            }
        )
        self.accounts = pd.DataFrame(
            {
                "account": np.arange(len(accounts), dtype=np.int64),
                "account_id": [a.account_id for a in accounts],
                "locale": [a.country.locale for a in accounts],
            }
        )


def _activity(lives: list[AccountLifecycle], window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per account and day: subscribed seconds [lo, hi) and the planted multiplier (decline, risk, onboarding)."""
    n_accounts, n_days = len(lives), window.days
    lo = np.zeros((n_accounts, n_days), dtype=np.int64)
    hi = np.zeros((n_accounts, n_days), dtype=np.int64)
    factor = np.ones((n_accounts, n_days))
    start = window.start_ts
    days = np.arange(n_days)
    for a, life in enumerate(lives):
        for begin, end in life.active:
            begin, end = max(begin, start), min(end, window.end_ts)
            if end <= begin:
                continue
            first, last = (begin - start) // DAY, (end - 1 - start) // DAY
            hi[a, first : last + 1] = DAY
            lo[a, first] = (begin - start) % DAY
            hi[a, last] = (end - start) - last * DAY
        for begin, end in life.at_risk:
            first, last = max(0, (begin - start) // DAY), min(n_days, (end - start) // DAY + 1)
            if last > first:
                factor[a, first:last] *= 0.85
        for churn in life.churns:
            if churn.decline_days <= 0:
                continue
            requested = (churn.requested_ts - start) / DAY
            onset = requested - churn.decline_days
            progress = np.clip((days - onset) / (churn.decline_days / 2), 0.0, 1.0)
            decline = 1.0 - churn.decline_depth * progress
            decline[days >= requested] *= 0.7
            ended = (churn.ended_ts - start) // DAY
            window_days = (days >= onset) & (days <= ended)
            factor[a, window_days] *= decline[window_days]
        signup = (life.account.signup_ts - start) / DAY
        ramp = np.clip(0.5 + (days - signup) / 28, 0.5, 1.0)
        factor[a] *= np.where(days >= signup, ramp, 1.0)
    return lo, hi, factor


def event_counts(
    lives: list[AccountLifecycle], window: Window, config: DemoConfig, people: _People
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi, factor = _activity(lives, window)
    covered = (hi - lo) / DAY
    weekday = _WEEKDAY_FACTOR[(np.arange(window.days) + window.start.weekday()) % 7]
    base = np.minimum(people.counts, 60) ** 0.6 * (0.6 + 0.8 * people.health)
    expected = base[:, None] * weekday[None, :] * factor * covered
    total = expected.sum()
    if total > 0:
        expected *= config.events_per_account_day * covered.sum() / total
    rng = np_rng(config.seed, "usage-counts")
    noise = rng.gamma(5.0, 1 / 5.0, size=expected.shape)
    counts = rng.poisson(expected * noise)
    return counts, lo, hi


def _day_events(
    d: int,
    counts: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    people: _People,
    forced: np.ndarray,
    window: Window,
    seed: int,
) -> pd.DataFrame:
    """One day's events (numeric columns only), sorted by time; `seq` is the order within the day."""
    rng = np_rng(seed, "usage-day", d)
    account = np.repeat(np.arange(len(people.counts)), counts[:, d])
    n = len(account)
    person = people.offsets[account] + (rng.random(n) ** 1.8 * people.counts[account]).astype(np.int64)
    event = rng.choice(len(EVENTS), size=n, p=EVENT_MIX / EVENT_MIX.sum())
    local = np.where(rng.random(n) < 0.85, rng.normal(13.5 * 3600, 2.6 * 3600, n), rng.random(n) * DAY)
    seconds = (np.clip(local, 0, DAY - 1) - people.offset_seconds[account]).astype(np.int64) % DAY
    span_lo, span_hi = lo[account, d], hi[account, d]
    seconds = span_lo + seconds * (span_hi - span_lo) // DAY
    ts = (window.start_ts + d * DAY) * 1000 + seconds * 1000 + rng.integers(0, 1000, n)
    if len(forced):
        account = np.concatenate([account, forced[:, 1]])
        person = np.concatenate([person, people.offsets[forced[:, 1]] + forced[:, 2]])
        event = np.concatenate([event, np.full(len(forced), REPORT_CREATED)])
        ts = np.concatenate([ts, forced[:, 0]])
    n = len(account)
    order = np.lexsort((np.arange(n), ts))
    sent = ts[order] + rng.integers(50, 3000, n)
    return pd.DataFrame(
        {
            "day": np.full(n, d, dtype=np.int32),
            "seq": np.arange(n),
            "ts": ts[order],
            "sent": sent,
            "recv": sent + rng.integers(20, 600, n),
            "event": event[order].astype(np.int8),
            "account": account[order],
            "person": person[order],
            "r1": rng.integers(0, 2**31, n),
            "r2": rng.integers(0, 1_000_000, n),
        }
    )


def write_usage(
    landing_dir: Path,
    lives: list[AccountLifecycle],
    window: Window,
    config: DemoConfig,
    core_events: list[tuple[int, int, int]],
) -> int:
    """Write segment/tracks/<day>.jsonl for every day with events; returns the number of events.

    Days are generated with numpy (one random stream per day, so chunking never changes the output),
    formatted by DuckDB a chunk of days at a time, and copied out per day ordered by time.
    """
    accounts = [life.account for life in lives]
    people = _People(accounts)
    counts, lo, hi = event_counts(lives, window, config, people)
    folder = landing_dir / "segment" / "tracks"
    folder.mkdir(parents=True, exist_ok=True)
    forced = np.array(core_events, dtype=np.int64).reshape(-1, 3)
    forced_day = (forced[:, 0] // 1000 - window.start_ts) // DAY
    names = "[" + ", ".join(f"'{name}'" for name in EVENTS) + "]"
    written = 0
    con = duckdb.connect()
    try:
        con.execute("set enable_progress_bar = false")
        con.register("people_frame", people.users)
        con.execute("create table product_users as select * from people_frame")
        con.register("accounts_frame", people.accounts)
        con.execute("create table accounts as select * from accounts_frame")
        chunk: list[pd.DataFrame] = []
        size = 0
        for d in range(window.days):
            frame = _day_events(d, counts, lo, hi, people, forced[forced_day == d], window, config.seed)
            if len(frame):
                chunk.append(frame)
                size += len(frame)
            if chunk and (size >= CHUNK_EVENTS or d == window.days - 1):
                frame = pd.concat(chunk, ignore_index=True)
                written += _write_chunk(con, frame, folder, window, config, names)
                chunk, size = [], 0
    finally:
        con.close()
    return written


def _write_chunk(
    con: duckdb.DuckDBPyConnection, events: pd.DataFrame, folder: Path, window: Window, config: DemoConfig, names: str
) -> int:
    con.register("chunk_events", events)
    con.execute(_FORMAT.format(seed=config.seed, events=names))
    suffix, compression = (".jsonl.gz", "gzip") if config.gzip_usage else (".jsonl", "none")
    con.unregister("chunk_events")
    for d in np.unique(events["day"].to_numpy()).tolist():
        path = folder / f"{utc_day(window.start_ts + d * DAY).isoformat()}{suffix}"
        con.execute(_COPY_DAY.format(day=d, path=str(path).replace("'", "''"), compression=compression))
    con.execute("drop table formatted_tracks")
    return len(events)
