"""The demo generator: deterministic, vendor-shaped landing files with the planted effects findable in them.

Every check reads the files the generator wrote, never its internals.
"""

from __future__ import annotations

import csv
import hashlib
import json
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest

from demo import DemoConfig, generate
from demo.__main__ import main

END = date(2026, 10, 31)
SMALL = DemoConfig(accounts=40, months=2, end_date=END, seed=11, events_per_account_day=2.0)
# Big enough for the planted effects to show through the noise, small enough to run in a few seconds.
EFFECTS = DemoConfig(accounts=250, months=8, end_date=END, seed=5, events_per_account_day=0.5)

JSON_KEYS = {
    ("stripe", "customers"): {
        "id", "object", "address", "balance", "created", "currency", "default_source", "delinquent", "description",
        "email", "invoice_prefix", "livemode", "metadata", "name", "phone", "preferred_locales", "tax_exempt",
    },
    ("stripe", "products"): {
        "id", "object", "active", "created", "default_price", "description", "images", "livemode",
        "marketing_features", "metadata", "name", "package_dimensions", "shippable", "statement_descriptor",
        "tax_code", "type", "unit_label", "updated", "url",
    },
    ("stripe", "subscriptions"): {
        "id", "object", "customer", "status", "created", "start_date", "current_period_start", "current_period_end",
        "cancel_at_period_end", "canceled_at", "ended_at", "currency", "collection_method", "metadata", "items",
    },
    ("stripe", "invoices"): {
        "id", "object", "customer", "subscription", "status", "billing_reason", "currency", "amount_due",
        "amount_paid", "amount_remaining", "subtotal", "total", "created", "period_start", "period_end",
        "attempt_count", "paid", "status_transitions", "lines",
    },
    ("stripe", "charges"): {
        "id", "object", "amount", "amount_captured", "amount_refunded", "refunded", "captured", "currency",
        "customer", "invoice", "created", "status", "paid", "failure_code", "failure_message", "outcome",
        "payment_method_details",
    },
    ("zendesk", "organizations"): {
        "id", "url", "name", "external_id", "domain_names", "details", "notes", "group_id", "shared_tickets",
        "shared_comments", "tags", "organization_fields", "created_at", "updated_at",
    },
    ("zendesk", "users"): {
        "id", "url", "name", "email", "created_at", "updated_at", "time_zone", "iana_time_zone", "phone", "locale",
        "locale_id", "organization_id", "role", "verified", "active", "suspended", "tags", "user_fields",
    },
    ("zendesk", "tickets"): {
        "id", "url", "external_id", "via", "created_at", "updated_at", "generated_timestamp", "type", "subject",
        "raw_subject", "description", "priority", "status", "recipient", "requester_id", "submitter_id",
        "assignee_id", "organization_id", "group_id", "collaborator_ids", "follower_ids", "has_incidents",
        "is_public", "due_at", "tags", "custom_fields", "satisfaction_rating", "brand_id", "allow_channelback",
        "allow_attachments",
    },
    ("zendesk", "ticket_metrics"): {
        "id", "ticket_id", "url", "created_at", "updated_at", "group_stations", "assignee_stations", "reopens",
        "replies", "assignee_updated_at", "requester_updated_at", "status_updated_at", "initially_assigned_at",
        "assigned_at", "solved_at", "latest_comment_added_at", "reply_time_in_minutes",
        "first_resolution_time_in_minutes", "full_resolution_time_in_minutes", "agent_wait_time_in_minutes",
        "requester_wait_time_in_minutes", "on_hold_time_in_minutes",
    },
    ("typeform", "responses"): {
        "landing_id", "token", "response_id", "response_type", "landed_at", "submitted_at", "metadata", "hidden",
        "calculated", "variables", "answers",
    },
    ("segment", "tracks"): {
        "type", "messageId", "event", "userId", "anonymousId", "timestamp", "sentAt", "receivedAt",
        "originalTimestamp", "context", "properties", "integrations", "version",
    },
}  # fmt: skip
PRICE_KEYS = {
    "id", "object", "active", "currency", "lookup_key", "nickname", "product", "recurring", "type", "unit_amount",
    "unit_amount_decimal",
}  # fmt: skip
RESPONSE_HEADER = [
    "response_id", "survey_type", "survey_kind", "score", "comment", "email", "account_id", "ticket_id", "channel",
    "touchpoint", "responded_at", "send_id",
]  # fmt: skip
SEND_HEADER = [
    "send_id", "survey_type", "survey_kind", "channel", "touchpoint", "account_id", "email", "sent_at",
    "delivered_at", "opened_at", "reminded_at", "bounced_at", "unsubscribed_at", "variant",
]  # fmt: skip
LIFECYCLE = SEND_HEADER[8:13]
DAY = 86_400


# -- reading the landing folder ------------------------------------------------------------------------


def parse_time(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def day_of(ts: int) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def json_versions(landing: Path, source: str, entity: str) -> list[tuple[date, dict]]:
    rows = []
    for path in sorted((landing / source / entity).glob("*.jsonl")):
        rows += [(date.fromisoformat(path.stem), json.loads(line)) for line in path.read_text("utf-8").splitlines()]
    return rows


def latest(landing: Path, source: str, entity: str, key: str = "id") -> dict:
    return {obj[key]: obj for _, obj in json_versions(landing, source, entity)}


def csv_rows(landing: Path, entity: str) -> list[tuple[date, dict]]:
    rows = []
    for path in sorted((landing / "surveys" / entity).glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows += [(date.fromisoformat(path.stem), row) for row in csv.DictReader(handle)]
    return rows


def file_hashes(landing: Path) -> dict[str, str]:
    return {
        str(path.relative_to(landing)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(landing.rglob("*"))
        if path.is_file()
    }


class Reply(NamedTuple):
    """A survey response from either tool; the first six fields are the ones its send must share."""

    survey_type: str
    survey_kind: str
    channel: str
    touchpoint: str
    account_id: str
    email: str
    at: int
    score: int
    ticket_id: str | None


class Landing:
    """The facts the planted-effect checks need, derived from the files alone."""

    def __init__(self, landing: Path):
        self.path = landing
        organizations = latest(landing, "zendesk", "organizations")
        customers = latest(landing, "stripe", "customers")
        self.account_of_customer = {c["id"]: c["metadata"].get("account_id") for c in customers.values()}
        self.account_of_email = {
            c["email"]: c["metadata"]["account_id"] for c in customers.values() if c["metadata"].get("account_id")
        }
        for user in latest(landing, "zendesk", "users").values():
            organization = organizations.get(user["organization_id"])
            if organization:
                self.account_of_email[user["email"]] = organization["external_id"]
        self.subscriptions = latest(landing, "stripe", "subscriptions")
        self.cancellations: dict[str, list[int]] = defaultdict(list)
        for sub in self.subscriptions.values():
            account = self.account_of_customer.get(sub["customer"])
            if sub["canceled_at"] and account:
                self.cancellations[account].append(sub["canceled_at"])
        self.tickets = latest(landing, "zendesk", "tickets")
        self.responses: list[Reply] = []
        for _, item in json_versions(landing, "typeform", "responses"):
            hidden = item["hidden"]
            score = item["answers"][0]["number"]
            self.responses.append(
                Reply("nps", hidden["survey_kind"], "email", hidden["touchpoint"], hidden["account_id"],
                      hidden["email"], parse_time(item["submitted_at"]), score, None)
            )  # fmt: skip
        for _, row in csv_rows(landing, "responses"):
            self.responses.append(
                Reply(row["survey_type"], row["survey_kind"], row["channel"], row["touchpoint"], row["account_id"],
                      row["email"], parse_time(row["responded_at"]), int(row["score"]), row["ticket_id"] or None)
            )  # fmt: skip
        # A send lands again, whole, on the day its lifecycle last changed: the latest version counts.
        self.sends = list({row["send_id"]: row for _, row in csv_rows(landing, "sends")}.values())

    def account(self, reply: Reply) -> str | None:
        return reply.account_id or self.account_of_email.get(reply.email)

    def nps(self) -> list[Reply]:
        return [r for r in self.responses if r.survey_type == "nps"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    landing = tmp_path_factory.mktemp("small")
    return landing, generate(landing, SMALL)


@pytest.fixture(scope="module")
def effects(tmp_path_factory: pytest.TempPathFactory) -> Landing:
    landing = tmp_path_factory.mktemp("effects")
    generate(landing, EFFECTS)
    return Landing(landing)


# -- determinism and shape -------------------------------------------------------------------------------


def test_same_config_writes_byte_identical_files(small, tmp_path):
    landing, counts = small
    again = generate(tmp_path / "again", SMALL)
    assert again == counts
    first, second = file_hashes(landing), file_hashes(tmp_path / "again")
    assert first == second
    assert len(first) > 100
    other = generate(tmp_path / "other_seed", DemoConfig(**{**SMALL.__dict__, "seed": SMALL.seed + 1}))
    assert file_hashes(tmp_path / "other_seed") != first and other != counts


def test_counts_are_the_rows_in_the_files(small):
    landing, counts = small
    assert set(counts) == {f"{source}/{entity}" for source, entity in JSON_KEYS} | {
        "surveys/responses",
        "surveys/sends",
    }
    for name, count in counts.items():
        files = sorted((landing / name).iterdir())
        lines = sum(len(path.read_text("utf-8").splitlines()) for path in files)
        header_lines = len(files) if name.startswith("surveys/") else 0
        assert lines - header_lines == count > 0, name


def test_file_names_are_days_within_the_window(small):
    landing, _ = small
    first = date(2026, 9, 1)  # two months ending 2026-10-31
    for path in landing.rglob("*.*"):
        assert path.suffix in {".jsonl", ".csv"}
        assert first <= date.fromisoformat(path.stem) <= END, path


def test_every_json_line_has_the_vendor_keys(small):
    landing, _ = small
    for (source, entity), keys in JSON_KEYS.items():
        versions = json_versions(landing, source, entity)
        assert versions, (source, entity)
        for _, obj in versions:
            assert keys <= obj.keys(), (source, entity, keys - obj.keys())
    products = {product["id"]: product for _, product in json_versions(landing, "stripe", "products")}
    assert sorted(p["name"] for p in products.values()) == ["Business", "Enterprise", "Growth", "Starter"]
    without_nickname = 0
    for _, sub in json_versions(landing, "stripe", "subscriptions"):
        item = sub["items"]["data"][0]
        # Every price points to a listed product; a nickname, when set, is the product's name.
        assert item["price"]["product"] in products
        assert item["price"]["nickname"] in (None, products[item["price"]["product"]]["name"])
        without_nickname += item["price"]["nickname"] is None
        assert sub["items"]["url"] == f"/v1/subscription_items?subscription={sub['id']}"
        assert item["price"].keys() >= PRICE_KEYS and item["quantity"] >= 1
        assert item["price"]["recurring"]["interval"] in {"month", "year"}
        assert sub["status"] in {"trialing", "active", "past_due", "canceled"}
    assert without_nickname > 0
    for _, invoice in json_versions(landing, "stripe", "invoices"):
        assert invoice["amount_due"] == invoice["amount_paid"] + invoice["amount_remaining"]
        assert invoice["status"] in {"paid", "open", "uncollectible"}
        assert invoice["paid"] == (invoice["status"] == "paid")
        assert set(invoice["status_transitions"]) == {"finalized_at", "paid_at", "voided_at", "marked_uncollectible_at"}
        for line in invoice["lines"]["data"]:
            assert {"id", "object", "amount", "currency", "quantity", "period", "price", "proration"} <= line.keys()
    for _, charge in json_versions(landing, "stripe", "charges"):
        assert charge["status"] in {"succeeded", "failed"}
        assert (charge["failure_code"] is None) == (charge["status"] == "succeeded")
        assert set(charge["outcome"]) == {"network_status", "reason", "risk_level", "seller_message", "type"}
        assert charge["payment_method_details"]["type"] == "card"
        assert 0 <= charge["amount_refunded"] <= charge["amount"]
    for _, ticket in json_versions(landing, "zendesk", "tickets"):
        assert ticket["via"]["channel"] in {"email", "web", "chat", "api"} and "source" in ticket["via"]
        assert ticket["status"] in {"new", "open", "pending", "solved", "closed"}
        assert ticket["generated_timestamp"] == parse_time(ticket["updated_at"])
    for _, metrics in json_versions(landing, "zendesk", "ticket_metrics"):
        for key in ("reply_time_in_minutes", "full_resolution_time_in_minutes", "agent_wait_time_in_minutes"):
            assert set(metrics[key]) == {"calendar", "business"}
    for _, item in json_versions(landing, "typeform", "responses"):
        assert item["token"] == item["response_id"] and item["response_type"] == "completed"
        assert set(item["hidden"]) == {"account_id", "email", "touchpoint", "survey_kind"}
        assert item["answers"][0]["field"]["ref"] == "nps_score" and 0 <= item["answers"][0]["number"] <= 10
        assert parse_time(item["landed_at"]) < parse_time(item["submitted_at"])
    for _, event in json_versions(landing, "segment", "tracks")[:2000]:
        assert event["type"] == "track" and event["anonymousId"] is None and event["userId"].startswith("usr_")
        assert event["context"]["groupId"].startswith("acc_") and event["timestamp"].endswith("Z")
        assert len(event["timestamp"]) == len("2026-03-01T14:03:22.123Z")


def test_csv_headers_are_exact_and_quoting_round_trips(small):
    landing, _ = small
    for entity, header in (("responses", RESPONSE_HEADER), ("sends", SEND_HEADER)):
        paths = sorted((landing / "surveys" / entity).glob("*.csv"))
        assert paths
        for path in paths:
            assert path.read_text("utf-8").splitlines()[0] == ",".join(header)
            with path.open(encoding="utf-8", newline="") as handle:
                assert all(len(row) == len(header) for row in csv.reader(handle))
    for _, row in csv_rows(landing, "responses"):
        low, high = {"nps": (0, 10), "ces": (1, 7), "csat": (1, 5)}[row["survey_type"]]
        assert low <= int(row["score"]) <= high
        assert (row["ticket_id"] != "") == (row["survey_type"] in {"ces", "csat"})


def test_file_date_is_the_day_each_record_was_created_or_updated(small):
    landing, _ = small
    window_start = date(2026, 9, 1)

    def expected(ts: int) -> date:
        return max(day_of(ts), window_start)  # objects older than the window arrive with its first day

    for source, entity, field in (
        ("zendesk", "tickets", "updated_at"),
        ("zendesk", "ticket_metrics", "updated_at"),
        ("zendesk", "users", "updated_at"),
        ("zendesk", "organizations", "updated_at"),
        ("typeform", "responses", "submitted_at"),
        ("segment", "tracks", "timestamp"),
    ):
        for day, obj in json_versions(landing, source, entity):
            assert day == expected(parse_time(obj[field])), (source, entity, obj.get("id"))
    for day, row in csv_rows(landing, "responses"):
        assert day == day_of(parse_time(row["responded_at"])), row
    # A send lands on its sent day with what had happened by then, and again on the day of its last later event.
    sends = defaultdict(list)
    for day, row in csv_rows(landing, "sends"):
        sends[row["send_id"]].append((day, row))
    relanded = 0
    for versions in sends.values():
        first_day, first = versions[0]
        assert first_day == day_of(parse_time(first["sent_at"])), first
        assert all(day_of(parse_time(first[e])) == first_day for e in LIFECYCLE if first[e]), first
        if len(versions) > 1:
            relanded += 1
            ((last_day, last),) = versions[1:]
            assert last_day == max(day_of(parse_time(last[e])) for e in LIFECYCLE if last[e]) > first_day, last
    assert relanded > 0
    # Stripe has no updated_at: the first version of every object is on its creation day, later ones after it.
    for entity in ("customers", "subscriptions", "invoices", "charges"):
        seen: set[str] = set()
        for day, obj in json_versions(landing, "stripe", entity):
            if obj["id"] in seen:
                assert day > expected(obj["created"])
            else:
                assert day == expected(obj["created"]), (entity, obj["id"])
                seen.add(obj["id"])
    # A ticket is written on its created day and again when solved (with later updated_at).
    by_ticket = defaultdict(list)
    for day, ticket in json_versions(landing, "zendesk", "tickets"):
        by_ticket[ticket["id"]].append((day, ticket))
    for versions in by_ticket.values():
        assert versions[0][0] == day_of(parse_time(versions[0][1]["created_at"]))
        updates = [parse_time(ticket["updated_at"]) for _, ticket in versions]
        assert updates == sorted(updates)
    assert any(v[-1][1]["status"] in {"solved", "closed"} and len(v) > 1 for v in by_ticket.values())


def test_every_response_answers_an_earlier_send(small, effects):
    for landing in (Landing(small[0]), effects):
        sends = defaultdict(list)
        for row in landing.sends:
            key = tuple(row[column] for column in SEND_HEADER[1:7])
            sends[key].append(parse_time(row["sent_at"]))
        assert len({row["send_id"] for row in landing.sends}) == len(landing.sends)
        for reply in landing.responses:
            assert any(sent < reply.at for sent in sends[reply[:6]]), reply


def test_response_rates_follow_the_channel(effects):
    sent, answered = defaultdict(int), defaultdict(int)
    for row in effects.sends:
        sent[row["channel"]] += 1
    for reply in effects.responses:
        answered[reply.channel] += 1
    assert 0.38 <= answered["in_app"] / sent["in_app"] <= 0.52
    # Email: 15-25% answer the invitation; the reminders of demo.send_lifecycle (half of those still unanswered
    # after 3 days, of whom 8% then answer) add about 3 points.
    assert 0.15 <= answered["email"] / sent["email"] <= 0.31


def test_some_responses_need_the_email_and_some_match_nothing(effects):
    typeform = [r for r in effects.responses if r.survey_kind == "relational"]
    blank = [r for r in typeform if r.account_id == ""]
    assert 0.05 <= len(blank) / len(typeform) <= 0.2
    unmatched = [r for r in blank if r.email not in effects.account_of_email]
    assert unmatched and len(unmatched) / len(typeform) <= 0.03
    assert all(effects.account_of_email.get(r.email) for r in blank if r not in unmatched)


def test_customers_without_account_metadata_resolve_through_their_domain(effects):
    customers = latest(effects.path, "stripe", "customers")
    domains = {
        domain: org["external_id"]
        for org in latest(effects.path, "zendesk", "organizations").values()
        for domain in org["domain_names"]
    }
    missing = [c for c in customers.values() if not c["metadata"].get("account_id")]
    assert 0 < len(missing) / len(customers) < 0.08
    assert all(c["email"].split("@")[1] in domains for c in missing)


def test_usage_happens_only_while_subscribed(effects):
    spans = defaultdict(list)
    for sub in effects.subscriptions.values():
        account = effects.account_of_customer.get(sub["customer"])
        spans[account].append((sub["created"], sub["ended_at"] or 10**12))
    for _, event in json_versions(effects.path, "segment", "tracks"):
        ts = parse_time(event["timestamp"][:19] + "Z")
        spans_of_account = spans.get(event["context"]["groupId"])
        if spans_of_account is None:  # the few customers without account metadata
            continue
        assert any(start <= ts + 1 and ts < end for start, end in spans_of_account), event


# -- planted effects ---------------------------------------------------------------------------------------


def test_overall_scores_are_realistic(effects):
    nps = [r.score for r in effects.nps()]
    score = 100 * (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)) / len(nps)
    assert len(nps) > 500 and 5 <= score <= 45
    assert len(set(nps)) >= 8
    ces = [r.score for r in effects.responses if r.survey_type == "ces"]
    assert 4.5 <= statistics.fmean(ces) <= 5.8
    refund_share = sum("refund" in t["tags"] for t in effects.tickets.values()) / len(effects.tickets)
    assert 0.08 <= refund_share <= 0.18


def test_refund_tickets_carry_high_effort(effects):
    ces = [r for r in effects.responses if r.survey_type == "ces"]
    refund = [r.score for r in ces if "refund" in effects.tickets[int(r.ticket_id)]["tags"]]
    other = [r.score for r in ces if "refund" not in effects.tickets[int(r.ticket_id)]["tags"]]
    assert len(refund) >= 20 and len(other) >= 100
    assert statistics.fmean(refund) < statistics.fmean(other) - 1.5
    assert statistics.fmean(refund) < 4 < 5 < statistics.fmean(other)


def test_detractors_churn_more_than_promoters(effects):
    def cancel_rate(replies: list[Reply]) -> float:
        """Share of replies followed by a cancellation of the account within 90 days."""
        churned = 0
        for reply in replies:
            cancelled = effects.cancellations.get(effects.account(reply), [])
            churned += any(reply.at < ts <= reply.at + 90 * DAY for ts in cancelled)
        return churned / len(replies)

    nps = [r for r in effects.nps() if effects.account(r)]
    detractors = [r for r in nps if r.score <= 6]
    promoters = [r for r in nps if r.score >= 9]
    assert len(detractors) >= 50 and len(promoters) >= 100
    assert cancel_rate(detractors) > max(3 * cancel_rate(promoters), cancel_rate(promoters) + 0.05)


def test_usage_falls_before_cancellation(effects):
    events = defaultdict(int)
    for day, event in json_versions(effects.path, "segment", "tracks"):
        events[(event["context"]["groupId"], day)] += 1
    first_day = min(day for _, day in events)
    before, earlier = 0, 0
    accounts = 0
    for account, cancelled in effects.cancellations.items():
        cancel_day = day_of(min(cancelled))
        if cancel_day - timedelta(days=90) < first_day:
            continue
        late = sum(events[(account, cancel_day - timedelta(days=k))] for k in range(1, 31))
        early = sum(events[(account, cancel_day - timedelta(days=k))] for k in range(61, 91))
        if early:
            accounts += 1
            before, earlier = before + late, earlier + early
    assert accounts >= 10
    assert before < 0.8 * earlier


def test_expansion_lifts_nps(effects):
    rank = {"Starter": 0, "Growth": 1, "Business": 2, "Enterprise": 3}
    expanded_at: dict[str, int] = {}
    previous: dict[str, tuple[int, int]] = {}
    # The plan is the Product's name (most prices carry no nickname).
    names = {product["id"]: product["name"] for _, product in json_versions(effects.path, "stripe", "products")}
    for day, sub in json_versions(effects.path, "stripe", "subscriptions"):
        item = sub["items"]["data"][0]
        size = (rank[names[item["price"]["product"]]], item["quantity"])
        account = effects.account_of_customer.get(sub["customer"])
        if sub["id"] in previous and size > previous[sub["id"]] and account and account not in expanded_at:
            expanded_at[account] = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        previous[sub["id"]] = size
    before, after = [], []
    for reply in effects.nps():
        expanded = expanded_at.get(effects.account(reply) or "")
        if expanded is not None:
            (after if reply.at >= expanded else before).append(reply.score)
    assert len(expanded_at) >= 10 and len(before) >= 20 and len(after) >= 20
    assert statistics.fmean(after) > statistics.fmean(before) + 0.3


# -- command line ------------------------------------------------------------------------------------------


def test_cli_writes_and_prints_counts(tmp_path, capsys):
    landing = tmp_path / "cli"
    args = ["--landing-dir", str(landing), "--accounts", "5", "--months", "1", "--end-date", "2026-10-31"]
    assert main([*args, "--seed", "3", "--events-per-account-day", "1.5"]) == 0
    out = capsys.readouterr().out
    assert "segment/tracks" in out and "total" in out
    assert any((landing / "segment" / "tracks").glob("2026-10-*.jsonl"))


def test_detractors_hear_back_through_follow_up_tickets(effects: Landing):
    """Follow-up tickets (tag nps_followup, the response id in a custom field) answer a detractor or promoter
    response of their requester, are opened after it, and reach most detractors within a day."""
    answers = {}
    for _, item in json_versions(effects.path, "typeform", "responses"):
        answers[item["response_id"]] = (
            item["hidden"]["email"],
            parse_time(item["submitted_at"]),
            item["answers"][0]["number"],
        )
    for _, row in csv_rows(effects.path, "responses"):
        if row["survey_type"] == "nps":
            answers[row["response_id"]] = (row["email"], parse_time(row["responded_at"]), int(row["score"]))
    users = latest(effects.path, "zendesk", "users")
    metrics = {m["ticket_id"]: m for _, m in json_versions(effects.path, "zendesk", "ticket_metrics")}
    reached: dict[str, float] = {}
    for ticket in effects.tickets.values():
        if "nps_followup" not in ticket["tags"]:
            continue
        response_id = {f["id"]: f["value"] for f in ticket["custom_fields"]}[360_001_234_568]
        email, answered, score = answers[response_id]
        assert score <= 6 or score >= 9
        assert users[ticket["requester_id"]]["email"] == email
        assert parse_time(ticket["created_at"]) >= answered
        if score <= 6 and ticket["id"] in metrics:
            minutes = metrics[ticket["id"]]["reply_time_in_minutes"]["calendar"]
            reached[response_id] = (parse_time(ticket["created_at"]) + 60 * minutes - answered) / 3600
    detractors = [r for r, (_, _, score) in answers.items() if score <= 6]
    assert 0.6 < len(reached) / len(detractors) < 0.95  # most, not all
    within_day = sum(hours <= 24 for hours in reached.values()) / len(reached)
    within_4h = sum(hours <= 4 for hours in reached.values()) / len(reached)
    assert within_day > 0.8 and 0.2 < within_4h < 0.7


def test_send_lifecycles_are_consistent_and_reminders_raise_the_response_rate(effects):
    """demo.send_lifecycle: in-app prompts are seen as sent, a bounce is never delivered, opened or reminded, every
    email respondent opened first; of the email sends still unanswered 3 days after the send (not bounced), about
    half get a reminder then, and those answer about 8 points more often."""
    # A CSV response names its send; a Typeform (relational) one is the contact's (one send per 90 days).
    answered_at: dict[str, list[int]] = defaultdict(list)
    for _, row in csv_rows(effects.path, "responses"):
        answered_at[row["send_id"]].append(parse_time(row["responded_at"]))
    for _, item in json_versions(effects.path, "typeform", "responses"):
        answered_at[item["hidden"]["email"]].append(parse_time(item["submitted_at"]))
    at_risk = {True: [0, 0], False: [0, 0]}  # reminded -> [sends, answered]
    window_end = parse_time(f"{END + timedelta(days=1)}T00:00:00Z")
    for row in effects.sends:
        times = {event: parse_time(row[event]) if row[event] else None for event in LIFECYCLE}
        sent = parse_time(row["sent_at"])
        if row["channel"] == "in_app":
            assert times["delivered_at"] == times["opened_at"] == sent
        if times["bounced_at"] is not None:
            assert times["delivered_at"] is None and times["opened_at"] is None and times["reminded_at"] is None
        if times["reminded_at"] is not None:
            assert times["reminded_at"] == sent + 3 * DAY and row["channel"] == "email"
        key = row["email"] if row["survey_kind"] == "relational" else row["send_id"]
        answers = [at for at in answered_at[key] if sent <= at < sent + 30 * DAY]
        if row["channel"] == "email" and answers:
            assert times["opened_at"] is not None and times["opened_at"] <= min(answers)
        email_delivered = row["channel"] == "email" and times["bounced_at"] is None and not times["unsubscribed_at"]
        unanswered_then = not any(at < sent + 3 * DAY for at in answers)
        if email_delivered and unanswered_then and sent + 3 * DAY < window_end:
            counts = at_risk[times["reminded_at"] is not None]
            counts[0] += 1
            counts[1] += bool(answers)
    reminded, unreminded = at_risk[True], at_risk[False]
    assert 0.4 <= reminded[0] / (reminded[0] + unreminded[0]) <= 0.6
    lift = reminded[1] / reminded[0] - unreminded[1] / unreminded[0]
    assert 0.04 <= lift <= 0.12, (reminded, unreminded)
