"""The escalated Jira issues read back through a local server playing Jira Cloud REST API v3 (GET issue), into
ops.jira_issue_states, and the feedback_to_feature marts built from them, checked against values computed here
from the rows inserted."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime

import duckdb
import pytest

from analytics import feedback_to_feature as f2f
from outbound import jira_readback, ledger
from tests.outbound import Answer, RecordingServer
from tests.outbound.test_jira import EMAIL, JIRA_ENV, TOKEN

FIELDS = "status,resolution,resolutiondate,created,updated,summary,labels"


def issue(key: str, status: str, category: str, resolution: str | None, created: str, resolved: str | None) -> dict:
    """An issue in the shape of GET /rest/api/3/issue/{key} (the fields asked for)."""
    return {
        "id": str(10000 + int(key.split("-")[1])),
        "key": key,
        "fields": {
            "summary": f"NPS escalation {key}",
            "labels": ["nps"],
            "status": {"name": status, "statusCategory": {"id": 3, "key": category, "name": status}},
            "resolution": {"id": "10000", "name": resolution} if resolution else None,
            "resolutiondate": resolved,
            "created": created,
            "updated": resolved or created,
        },
    }


ISSUES = {
    # fixed in 19 days 4 hours (the resolution date given in +0200: 16:15 there is 14:15 UTC)
    "NPS-1": issue("NPS-1", "Done", "done", "Done", "2026-03-01T10:15:30.000+0000", "2026-03-20T16:15:30.000+0200"),
    "NPS-2": issue("NPS-2", "In Progress", "indeterminate", None, "2026-03-02T08:00:00.000+0000", None),
    # fixed late: 38.5 days
    "NPS-4": issue("NPS-4", "Done", "done", "Fixed", "2026-04-02T00:00:00.000+0000", "2026-05-10T12:00:00.000+0000"),
}
ESCALATIONS = {
    "jira_escalation:performance:2026-03": "NPS-1",
    "jira_escalation:billing:2026-03": "NPS-2",
    "jira_escalation:onboarding:2026-04": "NPS-3",  # deleted in Jira: 404
    "jira_escalation:reporting:2026-04": "NPS-4",
}
DRY_RUN_KEY = "jira_escalation:pricing:2026-04"


def jira_answer(server: RecordingServer):
    def answer(number: int) -> Answer:
        path = server.requests[number - 1].path
        key = path.split("?")[0].rsplit("/", 1)[1]
        if key in ISSUES:
            return Answer(200, ISSUES[key])
        return Answer(404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]})

    return answer


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    for key, issue_key in ESCALATIONS.items():
        ledger.record(connection, key, channel=ledger.JIRA, payload={}, status=ledger.SENT, external_id=issue_key)
    ledger.record(connection, DRY_RUN_KEY, channel=ledger.JIRA_DRY_RUN, payload={}, status=ledger.DRY_RUN)
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def no_jira_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*JIRA_ENV, "NPS_FIX_TARGET_DAYS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def jira(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    server = RecordingServer()
    server.default = jira_answer(server)
    monkeypatch.setenv("NPS_JIRA_URL", server.base_url)
    monkeypatch.setenv("NPS_JIRA_EMAIL", EMAIL)
    monkeypatch.setenv("NPS_JIRA_API_TOKEN", TOKEN)
    monkeypatch.setenv("NPS_JIRA_PROJECT_KEY", "NPS")
    yield server
    server.close()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


EXPECTED_STATES = [
    (
        "NPS-1",
        "jira_escalation:performance:2026-03",
        True,
        200,
        "NPS escalation NPS-1",
        "Done",
        "done",
        "Done",
        utc("2026-03-01 10:15:30"),
        utc("2026-03-20 14:15:30"),
        utc("2026-03-20 14:15:30"),
    ),
    (
        "NPS-2",
        "jira_escalation:billing:2026-03",
        True,
        200,
        "NPS escalation NPS-2",
        "In Progress",
        "indeterminate",
        None,
        utc("2026-03-02 08:00:00"),
        None,
        utc("2026-03-02 08:00:00"),
    ),
    ("NPS-3", "jira_escalation:onboarding:2026-04", False, 404, None, None, None, None, None, None, None),
    (
        "NPS-4",
        "jira_escalation:reporting:2026-04",
        True,
        200,
        "NPS escalation NPS-4",
        "Done",
        "done",
        "Fixed",
        utc("2026-04-02 00:00:00"),
        utc("2026-05-10 12:00:00"),
        utc("2026-05-10 12:00:00"),
    ),
]


def test_without_jira_nothing_is_read_and_the_table_stays_empty(con):
    summary = jira_readback.read_issue_states(con)

    assert summary.dry_run and summary.read == [] and summary.not_read == []
    assert jira_readback.states(con) == []


def test_each_issue_is_read_once_with_retry_after_a_404_recorded_and_a_reread_changes_nothing(con, jira):
    jira.answer(Answer(429, {"errorMessages": ["Rate limited"]}, headers={"Retry-After": "0"}))

    summary = jira_readback.read_issue_states(con)

    assert summary.read == ["NPS-1", "NPS-2", "NPS-4"]
    assert summary.not_found == ["NPS-3"]
    assert summary.not_read == [] and summary.error is None
    # the 429 on NPS-1 was retried, then one GET per issue, in key order, with the fields asked for
    assert [(r.method, r.path) for r in jira.requests] == [
        ("GET", f"/rest/api/3/issue/{key}?fields={FIELDS}") for key in ("NPS-1", "NPS-1", "NPS-2", "NPS-3", "NPS-4")
    ]
    scheme, credentials = jira.requests[0].headers["Authorization"].split(" ")
    assert scheme == "Basic" and base64.b64decode(credentials).decode() == f"{EMAIL}:{TOKEN}"
    assert jira_readback.states(con) == EXPECTED_STATES

    again = jira_readback.read_issue_states(con)

    assert again.read == ["NPS-1", "NPS-2", "NPS-4"] and again.not_found == ["NPS-3"]
    assert len(jira.requests) == 9
    assert jira_readback.states(con) == EXPECTED_STATES


def test_a_refusal_stops_the_run_and_the_unread_issues_keep_their_last_state(con, jira):
    jira_readback.read_issue_states(con)
    jira.answer(Answer(200, ISSUES["NPS-1"]), Answer(401, {"errorMessages": ["Unauthorized"]}))

    summary = jira_readback.read_issue_states(con)

    assert summary.read == ["NPS-1"]
    assert summary.not_read == ["NPS-2", "NPS-3", "NPS-4"]
    assert summary.error == "HTTP 401 on NPS-2: Unauthorized"
    assert len(jira.requests) == 4 + 2  # nothing asked after the refusal
    assert jira_readback.states(con) == EXPECTED_STATES


def test_a_change_in_jira_replaces_the_row_and_an_issue_gone_from_the_ledger_is_dropped(con, jira):
    jira_readback.read_issue_states(con)
    done = issue("NPS-2", "Done", "done", "Won't Do", "2026-03-02T08:00:00.000+0000", "2026-03-05T08:00:00.000+0000")
    jira.answer(Answer(200, ISSUES["NPS-1"]), Answer(200, done))
    con.execute(f"delete from {ledger.TABLE} where message_key = 'jira_escalation:reporting:2026-04'")

    summary = jira_readback.read_issue_states(con)

    assert summary.read == ["NPS-1", "NPS-2"] and summary.not_found == ["NPS-3"]
    nps_2 = (*EXPECTED_STATES[1][:5], "Done", "done", "Won't Do", utc("2026-03-02 08:00:00"),
             utc("2026-03-05 08:00:00"), utc("2026-03-05 08:00:00"))  # fmt: skip
    assert jira_readback.states(con) == [EXPECTED_STATES[0], nps_2, EXPECTED_STATES[2]]


def test_jira_timestamps_become_naive_utc():
    assert jira_readback.parse_jira_time("2026-03-01T10:15:30.000+0000") == datetime(2026, 3, 1, 10, 15, 30)
    assert jira_readback.parse_jira_time("2026-03-01T01:15:30.000-0530") == datetime(2026, 3, 1, 6, 45, 30)
    assert jira_readback.parse_jira_time(None) is None


# ---------------------------------------------------------------------------------------------------------------
# The marts

# response_id, account_id, email, survey_type, nps_category, responded_at, theme
RESPONSES = [
    ("r1", "acc_1", "Ann@Acme.com ", "nps", "detractor", "2026-03-03 09:00:00", "performance"),
    ("r2", "acc_1", "ann@acme.com", "nps", "passive", "2026-03-28 09:00:00", "performance"),
    ("r3", "acc_2", "bob@beta.io", "nps", "detractor", "2026-03-10 09:00:00", "performance"),
    ("r4", "acc_3", None, "nps", "detractor", "2026-03-31 23:59:00", "performance"),
    ("r5", "acc_4", "cy@corp.com", "nps", "detractor", "2026-04-01 00:00:00", "performance"),  # next month
    ("r6", "acc_5", "di@dot.com", "ces", None, "2026-03-05 09:00:00", "performance"),  # not NPS
    ("r7", "acc_6", "ed@e.com", "nps", "detractor", "2026-03-12 09:00:00", "billing"),
    ("r8", "acc_7", "fi@f.com", "nps", "detractor", "2026-04-12 09:00:00", "reporting"),
    ("r9", "acc_7", "fi@f.com", "nps", "detractor", "2026-04-13 09:00:00", "reporting"),
]


def load_marts_inputs(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists marts")
    con.execute(
        "create table marts.fct_survey_responses (response_id varchar, account_id varchar, email varchar, "
        "survey_type varchar, nps_category varchar, responded_at timestamp)"
    )
    con.execute("create table marts.comment_classifications (response_id varchar, theme varchar)")
    con.executemany("insert into marts.fct_survey_responses values (?, ?, ?, ?, ?, ?)", [r[:6] for r in RESPONSES])
    con.executemany("insert into marts.comment_classifications values (?, ?)", [(r[0], r[6]) for r in RESPONSES])


MART_COLUMNS = (
    "theme, month_start, issue_key, issue_found, status, resolution, opened_at, resolved_at, is_fixed, days_to_fix, "
    "target_days, is_within_target, accounts_raised, responses_raised, customers_to_notify, ledger_status"
)


def test_the_mart_has_one_row_per_escalation_with_days_to_fix_and_the_customers(con, jira, monkeypatch):
    jira_readback.read_issue_states(con)
    load_marts_inputs(con)

    counts = f2f.build(con)

    performance_days = round((utc("2026-03-20 14:15:30") - utc("2026-03-01 10:15:30")).total_seconds() / 86400, 2)
    reporting_days = round((utc("2026-05-10 12:00:00") - utc("2026-04-02 00:00:00")).total_seconds() / 86400, 2)
    assert (performance_days, reporting_days) == (19.17, 38.5)
    deleted_opened = ledger.get(con, "jira_escalation:onboarding:2026-04").sent_at
    dry_run_opened = ledger.get(con, DRY_RUN_KEY).sent_at
    march, april = utc("2026-03-01").date(), utc("2026-04-01").date()
    rows = con.execute(f"select {MART_COLUMNS} from {f2f.FEEDBACK_TO_FEATURE} order by month_start, theme").fetchall()
    assert rows == [
        ("billing", march, "NPS-2", True, "In Progress", None, utc("2026-03-02 08:00:00"), None, False, None, 30, None,
         1, 1, None, "sent"),
        ("performance", march, "NPS-1", True, "Done", "Done", utc("2026-03-01 10:15:30"), utc("2026-03-20 14:15:30"),
         True, performance_days, 30, True, 3, 4, 3, "sent"),  # customers: ann (2 answers), bob, account acc_3
        ("onboarding", april, "NPS-3", False, None, None, deleted_opened, None, False, None, 30, None, 0, 0, None,
         "sent"),
        ("pricing", april, None, None, None, None, dry_run_opened, None, False, None, 30, None, 0, 0, None, "dry_run"),
        ("reporting", april, "NPS-4", True, "Done", "Fixed", utc("2026-04-02 00:00:00"), utc("2026-05-10 12:00:00"),
         True, reporting_days, 30, False, 1, 2, 1, "sent"),
    ]  # fmt: skip
    notify = con.execute(
        f"select issue_key, customer_key, account_id, email, response_id from {f2f.NOTIFY} "
        "order by issue_key, response_id"
    ).fetchall()
    assert notify == [
        ("NPS-1", "email:ann@acme.com", "acc_1", "ann@acme.com", "r1"),
        ("NPS-1", "email:ann@acme.com", "acc_1", "ann@acme.com", "r2"),
        ("NPS-1", "email:bob@beta.io", "acc_2", "bob@beta.io", "r3"),
        ("NPS-1", "account:acc_3", "acc_3", None, "r4"),
        ("NPS-4", "email:fi@f.com", "acc_7", "fi@f.com", "r8"),
        ("NPS-4", "email:fi@f.com", "acc_7", "fi@f.com", "r9"),
    ]
    assert counts == {f2f.FEEDBACK_TO_FEATURE: 5, f2f.NOTIFY: 6}

    monkeypatch.setenv("NPS_FIX_TARGET_DAYS", "40")
    f2f.build(con)
    assert con.execute(
        f"select target_days, is_within_target from {f2f.FEEDBACK_TO_FEATURE} where issue_key = 'NPS-4'"
    ).fetchall() == [(40, True)]


def test_the_dagster_assets_read_back_then_build_the_mart(jira, tmp_path):
    import dagster as dg

    from orchestration.defs.actions.assets import feedback_to_feature, jira_issue_states
    from orchestration.defs.resources import WarehouseResource

    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        ledger.record(connection, "jira_escalation:performance:2026-03", channel=ledger.JIRA, payload={},
                      status=ledger.SENT, external_id="NPS-1")  # fmt: skip
        load_marts_inputs(connection)

    result = dg.materialize(
        [jira_issue_states, feedback_to_feature],
        resources={"warehouse": WarehouseResource(database=str(warehouse))},
    )

    assert result.success
    assert [(r.method, r.path.split("?")[0]) for r in jira.requests] == [("GET", "/rest/api/3/issue/NPS-1")]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.execute(
            f"select issue_key, days_to_fix, is_within_target, customers_to_notify from {f2f.FEEDBACK_TO_FEATURE}"
        ).fetchall() == [("NPS-1", 19.17, True, 3)]
        assert connection.execute(f"select count(*) from {f2f.NOTIFY}").fetchone() == (4,)


def test_the_customers_of_a_fixed_theme_are_listed_once_and_the_mart_records_it(jira, tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.defs.actions.assets import feedback_to_feature, fix_notice_list, jira_issue_states
    from orchestration.defs.resources import WarehouseResource
    from outbound import outbox

    monkeypatch.setenv("NPS_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("NPS_SLACK_WEBHOOK_URL", raising=False)
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        ledger.record(connection, "jira_escalation:performance:2026-03", channel=ledger.JIRA, payload={},
                      status=ledger.SENT, external_id="NPS-1")  # fmt: skip
        load_marts_inputs(connection)
    resources = {"warehouse": WarehouseResource(database=str(warehouse))}

    assert dg.materialize([jira_issue_states, feedback_to_feature, fix_notice_list], resources=resources).success

    # NPS-1 (performance, March) was resolved on 2026-03-20: the March NPS answers with the theme, one row per
    # customer (e-mail lower-cased and trimmed, else the account), their responses space-separated.
    expected = [
        ("performance:2026-03:account:acc_3", "account:acc_3", "acc_3", "", "r4"),
        ("performance:2026-03:email:ann@acme.com", "email:ann@acme.com", "acc_1", "ann@acme.com", "r1 r2"),
        ("performance:2026-03:email:bob@beta.io", "email:bob@beta.io", "acc_2", "bob@beta.io", "r3"),
    ]
    file = tmp_path / "outbox" / "fixed_themes" / "2026-03-20.csv"
    listed = outbox.read_list(file)
    assert [(r["notice_id"], r["customer_key"], r["account_id"], r["email"], r["response_ids"]) for r in listed] == (
        expected
    )
    assert {(r["theme"], r["month_start"], r["issue_key"], r["resolved_date"]) for r in listed} == {
        ("performance", "2026-03-01", "NPS-1", "2026-03-20")
    }
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        # Built before the action ran: nobody listed yet.
        assert connection.execute(f"select count(notice_listed_at) from {f2f.NOTIFY}").fetchone() == (0,)

    # The next run lists nobody again and the mart records when each customer was listed (all four responses).
    before = file.read_bytes()
    assert dg.materialize([feedback_to_feature, fix_notice_list], resources=resources).success
    assert file.read_bytes() == before
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        keys = [key for (key,) in connection.execute(
            "select message_key from ops.outbound_messages where message_key like 'fix_notice:%' order by 1"
        ).fetchall()]  # fmt: skip
        assert keys == [f"fix_notice:{notice_id}" for notice_id, *_ in expected]
        assert connection.execute(f"select count(*), count(notice_listed_at) from {f2f.NOTIFY}").fetchone() == (4, 4)
