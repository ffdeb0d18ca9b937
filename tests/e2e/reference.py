"""An independent reference: NPS and CES numbers computed in plain Python straight from the landing files.

It shares no code with the pipeline (no DuckDB, no dbt, no ingestion package): it reads the vendor shapes
as documented in docs/sources.md and applies the metric definitions from the issue text.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

GRAINS = ("day", "week", "month", "quarter")


def period_start(day: date, grain: str) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def period_end(start: date, grain: str) -> date:
    """The period's last day (inclusive)."""
    if grain == "day":
        return start
    if grain == "week":
        return start + timedelta(days=6)
    months = start.month - 1 + (1 if grain == "month" else 3)
    return date(start.year + months // 12, months % 12 + 1, 1) - timedelta(days=1)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def nps_interval(promoters: int, detractors: int, responses: int) -> tuple[float, float]:
    """95% adjusted-Wald: add 3 to n and 0.75 to promoters and detractors; bounds clipped to [-100, 100]."""
    n = responses + 3
    p = (promoters + 0.75) / n
    d = (detractors + 0.75) / n
    centre = p - d
    se = math.sqrt((p + d - centre**2) / n)
    return max(-100.0, 100 * (centre - 1.96 * se)), min(100.0, 100 * (centre + 1.96 * se))


def json_versions(landing: Path, source: str, entity: str) -> list[tuple[date, int, dict]]:
    rows = []
    for path in sorted((landing / source / entity).glob("*.jsonl")):
        day = date.fromisoformat(path.stem)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                rows.append((day, number, json.loads(line)))
    return rows


def latest(landing: Path, source: str, entity: str, key: str = "id") -> dict[str, dict]:
    """The latest version of each object: latest file day, then latest line."""
    result: dict[str, tuple[date, int, dict]] = {}
    for day, number, obj in json_versions(landing, source, entity):
        object_key = str(obj[key])
        if object_key not in result or (day, number) >= result[object_key][:2]:
            result[object_key] = (day, number, obj)
    return {object_key: version[2] for object_key, version in result.items()}


def csv_rows(landing: Path, source: str, entity: str) -> list[dict]:
    rows = []
    for path in sorted((landing / source / entity).glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows.extend({k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(handle))
    return rows


def csv_latest(landing: Path, source: str, entity: str, key: str) -> dict[str, dict]:
    """The latest version of each CSV record (a send lands again on the day its lifecycle changes): latest file
    day, then latest line."""
    result: dict[str, dict] = {}
    for path in sorted((landing / source / entity).glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                result[row[key]] = {k: (v if v != "" else None) for k, v in row.items()}
    return result


@dataclass
class Response:
    response_id: str
    survey_type: str
    score: int
    responded_at: datetime
    channel: str | None
    survey_kind: str | None
    touchpoint: str | None
    email: str | None
    account_id: str | None
    ticket_id: str | None


@dataclass
class Reference:
    responses: list[Response]
    nps_sends: list[dict]
    account_of_email: dict[str, str] = field(default_factory=dict)

    def resolve(self, response: Response) -> str | None:
        if response.account_id:
            return response.account_id
        return self.account_of_email.get((response.email or "").strip().lower())

    def respondent(self, response: Response) -> tuple[str, str]:
        """Who answered: the lower-cased email, else the account the answer is tied to, else the response."""
        email = (response.email or "").strip().lower()
        if email:
            return ("email", email)
        account = self.resolve(response)
        return ("account", account) if account else ("response", response.response_id)

    def as_of(self) -> date:
        """The data's as-of date: the day of the latest response of any survey type."""
        return max(response.responded_at.date() for response in self.responses)


def build(landing: Path, nps_ref: str = "nps_score") -> Reference:
    responses: list[Response] = []
    for item in latest(landing, "typeform", "responses", key="response_id").values():
        hidden = item.get("hidden") or {}
        score = next(
            (a.get("number") for a in item.get("answers", []) if (a.get("field") or {}).get("ref") == nps_ref), None
        )
        if score is None:
            continue
        responses.append(
            Response(
                response_id=item["response_id"],
                survey_type="nps",
                score=int(score),
                responded_at=parse_time(item["submitted_at"]),
                channel=hidden.get("channel") or "email",
                survey_kind=hidden.get("survey_kind") or None,
                touchpoint=hidden.get("touchpoint") or None,
                email=hidden.get("email") or None,
                account_id=hidden.get("account_id") or None,
                ticket_id=None,
            )
        )
    for row in csv_rows(landing, "surveys", "responses"):
        responses.append(
            Response(
                response_id=row["response_id"],
                survey_type=row["survey_type"].lower(),
                score=int(row["score"]),
                responded_at=parse_time(row["responded_at"]),
                channel=row["channel"],
                survey_kind=row["survey_kind"],
                touchpoint=row["touchpoint"],
                email=row["email"],
                account_id=row["account_id"],
                ticket_id=row["ticket_id"],
            )
        )
    sends = [
        row
        for row in csv_latest(landing, "surveys", "sends", "send_id").values()
        if row["survey_type"].lower() == "nps"
    ]

    # Email -> account: Zendesk users through their organization's external_id first, then Stripe customers.
    organizations = latest(landing, "zendesk", "organizations")
    account_of_email: dict[str, set[str]] = defaultdict(set)
    for user in latest(landing, "zendesk", "users").values():
        organization = organizations.get(str(user.get("organization_id")))
        if user.get("email") and organization and organization.get("external_id"):
            account_of_email[user["email"].strip().lower()].add(organization["external_id"])
    via_stripe: dict[str, set[str]] = defaultdict(set)
    for customer in latest(landing, "stripe", "customers").values():
        account = (customer.get("metadata") or {}).get("account_id")
        if customer.get("email") and account:
            via_stripe[customer["email"].strip().lower()].add(account)
    resolved = {email: min(accounts) for email, accounts in via_stripe.items()}
    resolved.update({email: min(accounts) for email, accounts in account_of_email.items()})
    return Reference(responses=responses, nps_sends=sends, account_of_email=resolved)


def nps_by_period(reference: Reference, segment_types: tuple[str, ...]) -> dict[tuple, dict]:
    """(grain, period_start, segment_type, segment_value) -> counts, nps, interval, sends, response_rate, the
    respondent figures (each respondent's latest answer in the cell, ties to the greatest response id) and
    period_end / is_complete_period."""
    cells: dict[tuple, dict] = defaultdict(
        lambda: {"responses": 0, "promoters": 0, "passives": 0, "detractors": 0, "sends": 0}
    )
    latest: dict[tuple, dict[tuple, Response]] = defaultdict(dict)

    def segment_values(record: dict) -> list[tuple[str, str]]:
        values = {
            "overall": "all",
            **{name: record.get(name) or "unknown" for name in segment_types if name != "overall"},
        }
        return [(name, values[name]) for name in segment_types]

    for response in reference.responses:
        if response.survey_type != "nps":
            continue
        record = {"channel": response.channel, "survey_kind": response.survey_kind, "touchpoint": response.touchpoint}
        category = "promoters" if response.score >= 9 else "passives" if response.score >= 7 else "detractors"
        for grain in GRAINS:
            for segment in segment_values(record):
                cell = cells[(grain, period_start(response.responded_at.date(), grain), *segment)]
                cell["responses"] += 1
                cell[category] += 1
                key = (grain, period_start(response.responded_at.date(), grain), *segment)
                who = reference.respondent(response)
                kept = latest[key].get(who)
                if kept is None or (response.responded_at, response.response_id) > (
                    kept.responded_at,
                    kept.response_id,
                ):
                    latest[key][who] = response
    for send in reference.nps_sends:
        record = {"channel": send["channel"], "survey_kind": send["survey_kind"], "touchpoint": send["touchpoint"]}
        for grain in GRAINS:
            for segment in segment_values(record):
                cells[(grain, period_start(parse_time(send["sent_at"]).date(), grain), *segment)]["sends"] += 1
    as_of = reference.as_of()
    for key, cell in cells.items():
        n = cell["responses"]
        cell["nps"] = 100 * (cell["promoters"] - cell["detractors"]) / n if n else None
        cell["nps_ci_low"], cell["nps_ci_high"] = (
            nps_interval(cell["promoters"], cell["detractors"], n) if n else (None, None)
        )
        cell["response_rate"] = n / cell["sends"] if cell["sends"] else None
        scores = [response.score for response in latest[key].values()]
        m, promoters, detractors = len(scores), sum(s >= 9 for s in scores), sum(s <= 6 for s in scores)
        cell["respondents"], cell["respondent_promoters"], cell["respondent_detractors"] = m, promoters, detractors
        cell["respondent_passives"] = m - promoters - detractors
        cell["respondent_nps"] = 100 * (promoters - detractors) / m if m else None
        cell["respondent_nps_ci_low"], cell["respondent_nps_ci_high"] = (
            nps_interval(promoters, detractors, m) if m else (None, None)
        )
        cell["period_end"] = period_end(key[1], key[0])
        cell["is_complete_period"] = cell["period_end"] <= as_of
    return dict(cells)


def ces_by_period(reference: Reference, landing: Path, refund_tag: str = "refund") -> dict[tuple, dict]:
    """(grain, period_start, segment_type in overall/ticket_category, value) -> CES numbers and ticket medians."""
    tickets = latest(landing, "zendesk", "tickets")
    metrics = latest(landing, "zendesk", "ticket_metrics", key="ticket_id")
    groups: dict[tuple, list[Response]] = defaultdict(list)
    for response in reference.responses:
        if response.survey_type != "ces":
            continue
        ticket = tickets.get(response.ticket_id or "")
        category = (
            "no_ticket" if ticket is None else "refund_related" if refund_tag in ticket.get("tags", []) else "other"
        )
        for grain in GRAINS:
            start = period_start(response.responded_at.date(), grain)
            groups[(grain, start, "overall", "all")].append(response)
            groups[(grain, start, "ticket_category", category)].append(response)
    result = {}
    as_of = reference.as_of()
    for key, members in groups.items():
        linked = {m.ticket_id for m in members if m.ticket_id in metrics}
        first_reply = [metrics[t]["reply_time_in_minutes"]["calendar"] for t in linked]
        resolution = [metrics[t]["full_resolution_time_in_minutes"]["calendar"] for t in linked]
        first_reply = [v for v in first_reply if v is not None]
        resolution = [v for v in resolution if v is not None]
        result[key] = {
            "responses": len(members),
            "ces_mean": statistics.fmean(m.score for m in members),
            "ces_easy_share": sum(m.score >= 5 for m in members) / len(members),
            "median_first_reply_minutes": statistics.median(first_reply) if first_reply else None,
            "median_resolution_minutes": statistics.median(resolution) if resolution else None,
            "period_end": period_end(key[1], key[0]),
            "is_complete_period": period_end(key[1], key[0]) <= as_of,
        }
    return result
