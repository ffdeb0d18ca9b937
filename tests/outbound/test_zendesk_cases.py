"""Follow-up cases created as Zendesk tickets through a local server playing the Tickets API (create, list by
external_id, 429 with Retry-After, refused credentials), the dry run, and the ledger that keeps a re-run, or a run
after a crash between Zendesk's 201 and the ledger write, from creating a ticket twice."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest

from outbound import experiments, ledger, zendesk_cases
from outbound.followup_cases import CaseRule, FollowupResponse, assign, load_rules, recent_responses
from outbound.zendesk_cases import ZendeskConfig, create_followup_cases

TOKEN = "zd-test-only-token-6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv"
EMAIL = "nps-bot@acme.com"
BASIC = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
ZENDESK_ENV = (
    "NPS_FOLLOWUP_CASES_LIVE",
    "NPS_FOLLOWUP_CASES_CATEGORIES",
    "NPS_FOLLOWUP_CASES_LOOKBACK_DAYS",
    "NPS_FOLLOWUP_CASES_MAX_PER_RUN",
    "NPS_FOLLOWUP_CASES_RESPONSE_FIELD_ID",
    "NPS_ZENDESK_API_URL",
    "NPS_ZENDESK_SUBDOMAIN",
    "NPS_ZENDESK_EMAIL",
    "NPS_ZENDESK_API_TOKEN",
)

RULES = [
    CaseRule(1, "enterprise", plan="enterprise", group_id=501, priority="high"),
    CaseRule(2, "big", min_mrr_usd=2000, group_id=502, assignee_id=9001, priority="high"),
    CaseRule(3, "default", group_id=503, priority="normal"),
]
ACME = FollowupResponse(
    response_id="resp_1",
    responded_at=datetime(2026, 3, 2, 9, 31),
    score=3,
    nps_category="detractor",
    comment="Exports time out   every morning.",
    account_id="acc_00042",
    plan="business",
    region="EMEA",
    mrr_usd=2500.0,
    email="jane@acme.com",
    risk_tier="high",
    theme="performance",
    theme_label="Performance",
    survey_kind="relational",
    touchpoint="relationship",
)
GLOBEX = FollowupResponse(
    response_id="resp_2", responded_at=datetime(2026, 3, 2, 10, 0), score=6, nps_category="detractor", plan="starter"
)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str
    body: dict | None


class FakeZendesk:
    """Tickets in memory: POST /api/v2/tickets.json creates one (201, ids from 1001), GET /api/v2/tickets.json lists
    them, filtered by `external_id`. A wrong Authorization header gets 401; queued (status, body, headers) answers
    replace the next answers."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.tickets: list[dict] = []
        self.faults: deque[tuple[int, dict | str, dict[str, str]]] = deque()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                with fake._lock:
                    fake.requests.append(
                        Request(
                            method,
                            url.path,
                            parse_qs(url.query),
                            self.headers.get("Authorization", ""),
                            json.loads(raw) if raw else None,
                        )
                    )
                    status, body, headers = fake._answer(method, url.path, parse_qs(url.query), raw)
                payload = (json.dumps(body) if isinstance(body, dict) else body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _answer(self, method: str, path: str, query: dict, raw: bytes) -> tuple[int, dict | str, dict[str, str]]:
        if self.faults:
            return self.faults.popleft()
        if self.requests[-1].authorization != BASIC:
            return 401, "Couldn't authenticate you", {}
        if path != "/api/v2/tickets.json":
            return 404, {"error": "InvalidEndpoint", "description": "Not found"}, {}
        if method == "GET":
            wanted = query.get("external_id", [None])[0]
            found = [t for t in self.tickets if wanted is None or t["external_id"] == wanted]
            return 200, {"tickets": found, "next_page": None, "previous_page": None, "count": len(found)}, {}
        ticket = {**json.loads(raw)["ticket"], "id": 1001 + len(self.tickets), "status": "new"}
        self.tickets.append(ticket)
        return 201, {"ticket": ticket, "audit": {"id": 1}}, {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def no_zendesk_env(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for name in ZENDESK_ENV:
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.DEBUG)


@pytest.fixture
def zendesk(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeZendesk]:
    server = FakeZendesk()
    monkeypatch.setenv("NPS_ZENDESK_API_URL", server.base_url + "/")
    monkeypatch.setenv("NPS_ZENDESK_EMAIL", EMAIL)
    monkeypatch.setenv("NPS_ZENDESK_API_TOKEN", TOKEN)
    monkeypatch.setenv("NPS_FOLLOWUP_CASES_LIVE", "true")
    yield server
    server.close()


def assert_no_secret(con: duckdb.DuckDBPyConnection, caplog: pytest.LogCaptureFixture, *more: object) -> None:
    dump = repr(con.execute(f"select * from {ledger.TABLE}").fetchall())
    for text in (dump, caplog.text, *map(repr, more)):
        assert TOKEN not in text and BASIC.removeprefix("Basic ") not in text


ACME_COMMENT = "\n".join(
    [
        "NPS detractor: score 3/10, answered 2026-03-02 09:31 UTC.",
        'Comment: "Exports time out every morning."',
        "Account: acc_00042 (plan business, MRR $2,500, region EMEA).",
        "Churn risk tier: high.",
        "Theme: Performance.",
        "Contact: jane@acme.com.",
        "Survey: relational / relationship; response resp_1.",
        "Assigned by rule 'big' of followup_case_rules; raised by the NPS platform (ledger key followup_case:resp_1).",
    ]
)


def test_each_response_becomes_one_ticket_with_the_documented_shape_and_a_rerun_creates_none(con, zendesk, caplog):
    summary = create_followup_cases(con, [ACME, GLOBEX], rules=RULES, variants=[])

    assert summary.channel == "zendesk"
    assert summary.delivered == ["followup_case:resp_1", "followup_case:resp_2"]
    assert summary.external_ids == {"followup_case:resp_1": "1001", "followup_case:resp_2": "1002"}
    # Each case: a lookup by external id, then the create.
    assert zendesk.calls() == [("GET", "/api/v2/tickets.json"), ("POST", "/api/v2/tickets.json")] * 2
    assert zendesk.requests[0].query == {"external_id": ["nps-followup:resp_1"]}
    assert {r.authorization for r in zendesk.requests} == {BASIC}
    assert base64.b64decode(BASIC.split(" ")[1]).decode() == f"{EMAIL}/token:{TOKEN}"

    assert zendesk.requests[1].body == {
        "ticket": {
            "subject": "NPS detractor follow-up: 3/10 from acc_00042 (business, $2,500 MRR)",
            "comment": {"body": ACME_COMMENT, "public": False},
            "external_id": "nps-followup:resp_1",
            "priority": "high",
            "tags": ["nps_followup", "nps_detractor", "nps_score_3", "nps_risk_high", "nps_theme_performance"],
            "requester": {"name": "jane@acme.com", "email": "jane@acme.com"},
            "group_id": 502,
            "assignee_id": 9001,
        }
    }
    globex = zendesk.requests[3].body["ticket"]
    assert (globex["group_id"], globex["priority"], "assignee_id" in globex, "requester" in globex) == (
        503,
        "normal",
        False,
        False,
    )
    assert globex["subject"] == "NPS detractor follow-up: 6/10 from an unknown account (starter, unknown MRR)"
    assert globex["tags"] == ["nps_followup", "nps_detractor", "nps_score_6"]

    rows = ledger.rows(con, "followup_case:")
    assert [(r.channel, r.status, r.response_status, r.attempts, r.external_id) for r in rows] == [
        ("zendesk", "sent", 201, 1, "1001"),
        ("zendesk", "sent", 201, 1, "1002"),
    ]
    assert rows[0].payload == zendesk.requests[1].body

    again = create_followup_cases(con, [ACME, GLOBEX], rules=RULES, variants=[])
    assert len(zendesk.requests) == 4 and len(zendesk.tickets) == 2
    assert again.delivered == [] and again.skipped == ["followup_case:resp_1", "followup_case:resp_2"]
    assert_no_secret(con, caplog, summary, again, ZendeskConfig.from_env())


def test_each_case_carries_its_variant_of_every_followup_experiment_as_a_tag_and_a_line(con, zendesk, tmp_path):
    seed = tmp_path / "experiments.csv"
    seed.write_text(
        "experiment,applies_to,variant,is_control,share,description\n"
        "subject,send,subject_a,true,0.5,Plain\n"
        "subject,send,subject_b,false,0.5,Question\n"
        "script,followup_case,script_a,true,0.5,Standard apology\n"
        "script,followup_case,script_b,false,0.5,Listen first\n"
    )
    variants = experiments.load(seed)
    create_followup_cases(con, [ACME, GLOBEX], rules=RULES, variants=variants)
    # The split, worked out here: SHA-256 of "script:<response id>", its first 8 bytes over 2^64, below 0.5 is a.
    for request, response_id in ((zendesk.requests[1], "resp_1"), (zendesk.requests[3], "resp_2")):
        point = int.from_bytes(hashlib.sha256(f"script:{response_id}".encode()).digest()[:8], "big") / 2**64
        variant, description = ("script_a", "Standard apology") if point < 0.5 else ("script_b", "Listen first")
        ticket = request.body["ticket"]
        assert [tag for tag in ticket["tags"] if tag.startswith("nps_variant_")] == [f"nps_variant_{variant}"]
        assert ticket["comment"]["body"].endswith(f"Experiment script: variant {variant} ({description}).")


def test_a_ticket_created_before_a_crash_is_found_by_external_id_and_not_created_again(con, zendesk, monkeypatch):
    real_record = ledger.record

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed between the 201 and the ledger write")

    monkeypatch.setattr(ledger, "record", killed)
    with pytest.raises(KeyboardInterrupt):
        create_followup_cases(con, [ACME], rules=RULES)
    assert [t["external_id"] for t in zendesk.tickets] == ["nps-followup:resp_1"]
    assert ledger.get(con, "followup_case:resp_1") is None

    monkeypatch.setattr(ledger, "record", real_record)
    summary = create_followup_cases(con, [ACME], rules=RULES)

    assert zendesk.calls()[2:] == [("GET", "/api/v2/tickets.json")]  # found: no second POST
    assert len(zendesk.tickets) == 1
    assert summary.external_ids == {"followup_case:resp_1": "1001"}
    row = ledger.get(con, "followup_case:resp_1")
    assert (row.status, row.response_status, row.external_id) == ("sent", 200, "1001")


def test_a_429_waits_for_retry_after_on_the_lookup_and_the_create(con, zendesk):
    zendesk.faults.append((429, "Too Many Requests", {"Retry-After": "1"}))
    started = time.monotonic()
    first = create_followup_cases(con, [ACME], rules=RULES)
    assert time.monotonic() - started >= 1.0
    assert first.external_ids == {"followup_case:resp_1": "1001"}
    assert zendesk.calls() == [("GET", "/api/v2/tickets.json")] * 2 + [("POST", "/api/v2/tickets.json")]

    # The create itself limited: the lookup answers, the POST gets 429, waits, and is sent again once.
    zendesk.requests.clear()
    original = zendesk._answer

    limited: list[str] = []

    def limit_first_post(method, path, query, raw):
        if method == "POST" and not limited:
            limited.append(path)
            return 429, {"error": "TooManyRequests"}, {"Retry-After": "1"}
        return original(method, path, query, raw)

    zendesk._answer = limit_first_post
    second = create_followup_cases(con, [GLOBEX], rules=RULES)
    assert second.external_ids == {"followup_case:resp_2": "1002"}
    assert zendesk.calls() == [("GET", "/api/v2/tickets.json")] + [("POST", "/api/v2/tickets.json")] * 2
    assert zendesk.requests[1].body == zendesk.requests[2].body and len(zendesk.tickets) == 2


def test_a_long_retry_after_fails_the_case_defers_the_rest_and_the_next_run_sends_them(con, zendesk, caplog):
    zendesk.faults.append((429, "Too Many Requests", {"Retry-After": "600"}))
    first = create_followup_cases(con, [ACME, GLOBEX], rules=RULES)
    assert (first.failed, first.deferred) == (["followup_case:resp_1"], ["followup_case:resp_2"])
    row = ledger.get(con, "followup_case:resp_1")
    assert (row.status, row.response_status, row.error) == ("failed", 429, "HTTP 429 on GET: Too Many Requests")
    assert ledger.get(con, "followup_case:resp_2").status == "deferred"

    second = create_followup_cases(con, [], rules=RULES)  # both come back from the ledger
    assert second.delivered == ["followup_case:resp_1", "followup_case:resp_2"]
    assert [t["external_id"] for t in zendesk.tickets] == ["nps-followup:resp_1", "nps-followup:resp_2"]
    assert_no_secret(con, caplog, first, second)


def test_refused_credentials_and_invalid_tickets_are_recorded_without_the_token(con, zendesk, caplog, monkeypatch):
    monkeypatch.setenv("NPS_ZENDESK_API_TOKEN", "wrong-" + TOKEN)
    refused = create_followup_cases(con, [ACME, GLOBEX], rules=RULES)
    assert (refused.failed, refused.deferred) == (["followup_case:resp_1"], ["followup_case:resp_2"])
    assert ledger.get(con, "followup_case:resp_1").error == "HTTP 401 on GET: Couldn't authenticate you"
    assert len(zendesk.requests) == 1 and zendesk.tickets == []
    assert "Couldn't authenticate you" in caplog.text

    monkeypatch.setenv("NPS_ZENDESK_API_TOKEN", TOKEN)
    invalid = {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {"group": [{"description": "Group: is invalid", "error": "InvalidValue"}]},
    }
    zendesk.faults.extend([(200, {"tickets": []}, {}), (422, invalid, {})])
    second = create_followup_cases(con, [], rules=RULES)
    assert (second.failed, second.delivered) == (["followup_case:resp_1"], ["followup_case:resp_2"])
    assert ledger.get(con, "followup_case:resp_1").error == (
        "HTTP 422 on POST: RecordInvalid; Record validation errors; group: Group: is invalid"
    )
    assert_no_secret(con, caplog, refused, second)


def test_without_the_live_switch_the_body_is_recorded_as_a_dry_run_and_nothing_is_sent(con, zendesk, monkeypatch):
    monkeypatch.delenv("NPS_FOLLOWUP_CASES_LIVE")  # the connector's site and token are set, but not the switch
    monkeypatch.setenv("NPS_FOLLOWUP_CASES_RESPONSE_FIELD_ID", "360001234568")
    summary = create_followup_cases(con, [ACME], rules=RULES)

    assert zendesk.requests == []
    assert (summary.channel, summary.delivered) == ("zendesk_dry_run", ["followup_case:resp_1"])
    row = ledger.get(con, "followup_case:resp_1")
    assert (row.channel, row.status, row.attempts, row.external_id) == ("zendesk_dry_run", "dry_run", 1, None)
    ticket = row.payload["ticket"]
    assert ticket["external_id"] == "nps-followup:resp_1"
    # The seed's follow-up experiments by default (SHA-256 of "<experiment>:resp_1" puts it in these variants).
    assert ticket["comment"]["body"].startswith(
        ACME_COMMENT + "\nExperiment outreach_script: variant script_listen_first"
    )
    assert ticket["tags"][-2:] == ["nps_variant_script_listen_first", "nps_variant_timing_within_4h"]
    assert ticket["custom_fields"] == [{"id": 360001234568, "value": "resp_1"}]
    assert (ticket["group_id"], ticket["assignee_id"]) == (502, 9001)
    assert create_followup_cases(con, [ACME], rules=RULES).skipped == ["followup_case:resp_1"]
    assert TOKEN not in json.dumps(row.payload)


def test_live_without_zendesk_settings_is_an_error_naming_them(monkeypatch):
    monkeypatch.setenv("NPS_FOLLOWUP_CASES_LIVE", "true")
    monkeypatch.setenv("NPS_ZENDESK_API_TOKEN", TOKEN)
    with pytest.raises(ValueError, match=r"NPS_ZENDESK_SUBDOMAIN \(or NPS_ZENDESK_API_URL\), NPS_ZENDESK_EMAIL") as e:
        ZendeskConfig.from_env()
    assert TOKEN not in str(e.value)
    monkeypatch.setenv("NPS_ZENDESK_SUBDOMAIN", "acme")
    monkeypatch.setenv("NPS_ZENDESK_EMAIL", EMAIL)
    config = ZendeskConfig.from_env()
    assert config.base_url == "https://acme.zendesk.com" and TOKEN not in repr(config)
    monkeypatch.setenv("NPS_FOLLOWUP_CASES_LIVE", "maybe")
    with pytest.raises(ValueError, match="NPS_FOLLOWUP_CASES_LIVE must be true or false"):
        ZendeskConfig.from_env()


def test_the_categories_setting(monkeypatch):
    assert zendesk_cases.configured_categories() == ("detractor",)
    monkeypatch.setenv("NPS_FOLLOWUP_CASES_CATEGORIES", "Detractor, passive")
    assert zendesk_cases.configured_categories() == ("detractor", "passive")
    monkeypatch.setenv("NPS_FOLLOWUP_CASES_CATEGORIES", "detractor,promoter")
    with pytest.raises(ValueError, match="NPS_FOLLOWUP_CASES_CATEGORIES"):
        zendesk_cases.configured_categories()


def test_the_per_run_cap_defers_the_rest(con, zendesk, monkeypatch):
    monkeypatch.setenv("NPS_FOLLOWUP_CASES_MAX_PER_RUN", "1")
    first = create_followup_cases(con, [ACME, GLOBEX], rules=RULES)
    assert (first.delivered, first.deferred) == (["followup_case:resp_1"], ["followup_case:resp_2"])
    assert create_followup_cases(con, [ACME, GLOBEX], rules=RULES).delivered == ["followup_case:resp_2"]
    assert len(zendesk.tickets) == 2


def write_rules(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "rules.csv"
    header = "rule_order,rule_id,nps_category,plan,region,min_mrr_usd,max_mrr_usd,group_id,assignee_id,priority"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_the_seed_rules_first_match_wins_and_bad_rows_are_named(tmp_path):
    seed = load_rules()
    assert seed[-1].matches_everything and [r.rule_order for r in seed] == sorted(r.rule_order for r in seed)

    path = write_rules(
        tmp_path,
        "3,default,*,*,*,,,30,,normal",
        "1,apac_passives,passive,*,APAC,,,10,,low",
        "2,mid,*,*,*,100,500,,77,high",
    )
    rules = load_rules(path)
    assert [r.rule_id for r in rules] == ["apac_passives", "mid", "default"]

    def rule_for(**fields) -> str:
        base = {"response_id": "r", "responded_at": None, "score": 5, "nps_category": "detractor"}
        return assign(rules, FollowupResponse(**(base | fields))).rule_id

    assert rule_for(nps_category="passive", region="APAC", mrr_usd=200.0) == "apac_passives"
    assert rule_for(region="APAC", mrr_usd=200.0) == "mid"
    assert rule_for(mrr_usd=100.0) == "mid" and rule_for(mrr_usd=500.0) == "default"  # [100, 500)
    assert rule_for(mrr_usd=None) == "default"

    bad = {
        "1,a,*,*,*,,,,,normal": "line 2: column group_id: a group_id or an assignee_id is needed",
        "1,a,promoter,*,*,,,5,,normal": "line 2: column nps_category: one of *, detractor, passive is needed",
        "1,a,*,*,*,,,5,,soon": "line 2: column priority",
        "1,a,*,*,*,lots,,5,,normal": "line 2: column min_mrr_usd: a number of US dollars is needed, not 'lots'",
        "1,a,*,*,*,500,100,5,,normal": "line 2: column max_mrr_usd: the upper bound must be above",
        "x,a,*,*,*,,,5,,normal": "line 2: column rule_order: a whole number is needed",
        "1,a,*,enterprise,*,,,5,,normal": "no default row",
    }
    for row, message in bad.items():
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("*", r"\*")) as raised:
            load_rules(write_rules(tmp_path, row))
        assert str(path) in str(raised.value)
    with pytest.raises(ValueError, match="column rule_order: 1 given twice"):
        load_rules(write_rules(tmp_path, "1,a,*,*,*,,,5,,normal", "1,b,*,*,*,,,5,,normal"))


def build_marts(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    """A small marts schema: responses around the 7-day window, two health snapshots, one classified comment."""
    con.execute("create schema marts")
    con.execute(
        """
        create table marts.fct_survey_responses (
            response_id varchar, survey_type varchar, responded_at timestamp, score integer, nps_category varchar,
            comment varchar, account_id varchar, plan varchar, region varchar, mrr_usd double, email varchar,
            survey_kind varchar, touchpoint varchar
        )
        """
    )
    rows = [
        ("old", "nps", now - timedelta(days=8), 2, "detractor", "Too old", "acc_1"),
        ("d1", "nps", now - timedelta(days=6), 4, "detractor", "Slow exports", "acc_1"),
        ("p1", "nps", now - timedelta(days=1), 7, "passive", None, "acc_2"),
        ("pr", "nps", now - timedelta(hours=5), 10, "promoter", "Great", "acc_2"),
        ("c1", "csat", now - timedelta(hours=4), 1, None, "Bad call", "acc_1"),
        ("d2", "nps", now - timedelta(hours=3), 0, "detractor", None, "acc_3"),
    ]
    for response_id, survey, at, score, category, comment, account in rows:
        con.execute(
            "insert into marts.fct_survey_responses values (?, ?, ?, ?, ?, ?, ?, 'growth', 'NA', 300, ?, "
            "'relational', 'relationship')",
            [response_id, survey, at, score, category, comment, account, f"{response_id}@example.com"],
        )
    con.execute("create table marts.account_health (as_of_date date, account_id varchar, risk_tier varchar)")
    con.execute(
        "insert into marts.account_health values (?, 'acc_1', 'low'), (?, 'acc_1', 'high'), (?, 'acc_2', 'medium')",
        [now.date() - timedelta(days=3), now.date() - timedelta(days=1), now.date()],
    )
    con.execute("create table marts.comment_classifications (response_id varchar, theme varchar, theme_label varchar)")
    con.execute("insert into marts.comment_classifications values ('d1', 'performance', 'Performance')")


def test_recent_responses_reads_the_window_the_categories_the_latest_tier_and_the_theme(con):
    now = datetime(2026, 3, 10, 12, 0)
    build_marts(con, now)

    detractors = recent_responses(con, ("detractor",), 7, as_of=now)
    assert [(r.response_id, r.score, r.risk_tier, r.theme, r.theme_label) for r in detractors] == [
        ("d1", 4, "high", "performance", "Performance"),
        ("d2", 0, None, None, None),
    ]
    assert (detractors[0].comment, detractors[0].plan, detractors[0].region, detractors[0].mrr_usd) == (
        "Slow exports",
        "growth",
        "NA",
        300.0,
    )
    both = recent_responses(con, ("detractor", "passive"), 2, as_of=now)
    assert [(r.response_id, r.nps_category, r.risk_tier) for r in both] == [
        ("p1", "passive", "medium"),
        ("d2", "detractor", None),
    ]

    con.execute("drop table marts.account_health")
    con.execute("drop table marts.comment_classifications")
    assert [(r.response_id, r.risk_tier, r.theme) for r in recent_responses(con, ("detractor",), 7, as_of=now)] == [
        ("d1", None, None),
        ("d2", None, None),
    ]


def test_the_asset_records_a_dry_run_per_recent_detractor_once(tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.defs.actions.assets import followup_cases
    from orchestration.defs.resources import WarehouseResource

    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        build_marts(connection, datetime.now(UTC).replace(tzinfo=None))
    monkeypatch.setenv("NPS_FOLLOWUP_CASES_CATEGORIES", "detractor,passive")
    resources = {"warehouse": WarehouseResource(database=str(warehouse))}

    assert dg.materialize([followup_cases], resources=resources).success
    assert dg.materialize([followup_cases], resources=resources).success
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select message_key, channel, status, attempts, payload->>'$.ticket.priority' from ops.outbound_messages "
            "order by message_key"
        ).fetchall()
    # d1 (6 days old), p1 and d2; not the 8-day-old detractor, the promoter or the CSAT answer. Seed rules: passives
    # get low priority, the default row normal.
    assert rows == [
        ("followup_case:d1", "zendesk_dry_run", "dry_run", 1, "normal"),
        ("followup_case:d2", "zendesk_dry_run", "dry_run", 1, "normal"),
        ("followup_case:p1", "zendesk_dry_run", "dry_run", 1, "low"),
    ]
