"""The promoter thank-you list and the at-risk call list: CSV files in an outbox built from a small hand-made
warehouse, each person or account listed once (ledger `ops.outbound_messages`), the Slack summary only with a
webhook, and the Dagster assets run twice. The expected lists are computed here from the inserted rows."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outbound import ledger, outbox
from outbound import slack as slack_module
from outbound.action_lists import ENTERED_HIGH, USAGE_DECLINE, Promoter, at_risk_accounts, promoters
from tests.outbound import RecordingServer

AS_OF = date(2026, 3, 10)  # a Tuesday: the 7-day window 4-10 March spans the weeks of 2 and 9 March
TRICKY = 'Love it, "really"\nThanks, team'

# response_id, survey_type, responded_at, score, comment, account_id, email
RESPONSES = [
    ("p10", "nps", datetime(2026, 3, 9, 9, 30), 10, TRICKY, "acc_1", "ann@one.com"),
    ("p9", "nps", datetime(2026, 3, 5, 14, 0), 9, "Good", "acc_2", "bob@two.com"),
    ("p10_high", "nps", datetime(2026, 3, 6, 8, 0), 10, None, "acc_3", "cy@three.com"),
    ("p10_no_account", "nps", datetime(2026, 3, 10, 23, 59), 10, "=1+1", None, "dee@four.com"),
    ("s8", "nps", datetime(2026, 3, 8, 10, 0), 8, "Almost", "acc_1", "ed@one.com"),
    ("d3", "nps", datetime(2026, 3, 8, 11, 0), 3, "Bad", "acc_2", "flo@two.com"),
    ("too_old", "nps", datetime(2026, 3, 3, 23, 0), 10, "Before the window", "acc_1", "gus@one.com"),
    ("ces9", "ces", datetime(2026, 3, 9, 10, 0), 9, "Not NPS", "acc_1", "hal@one.com"),
]
NAMES = {"acc_1": "One Corp", "acc_2": "Two, Inc.", "acc_3": "Three Ltd"}
PLANS = {"acc_1": "growth", "acc_2": "business", "acc_3": "enterprise"}
MRR = {"acc_1": 300.0, "acc_2": 1200.0, "acc_3": 5000.0}

# as_of_date, account_id, risk_tier, risk_score, is_usage_decline_driver, risk_drivers; 7 March is not in the mart,
# so 8 March (its first day) lists no one.
D8, D9, D10 = date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 10)
HEALTH = [
    (D8, "acc_1", "low", 10, False, "no recent NPS answer"),
    (D9, "acc_1", "low", 10, False, "no recent NPS answer"),
    (D10, "acc_1", "low", 10, False, "no recent NPS answer"),
    (D8, "acc_2", "high", 70, False, "detractor; failed payments"),  # high on the first day: not entering
    (D9, "acc_2", "high", 70, False, "detractor; failed payments"),  # already high the day before
    (D10, "acc_2", "high", 80, True, "detractor; failed payments; usage decline"),
    (D8, "acc_3", "medium", 40, False, "detractor"),
    (D9, "acc_3", "high", 65, False, "detractor; rising tickets"),  # enters the high tier on 9 March
    (D10, "acc_3", "high", 65, False, "detractor; rising tickets"),
    (D8, "acc_5", "low", 0, False, ""),
    (D9, "acc_5", "medium", 30, True, "usage decline"),  # the decline starts on 9 March
    (D10, "acc_5", "medium", 30, True, "usage decline"),  # still declining: not listed again
    (D9, "acc_4", "low", 0, False, ""),
    (D10, "acc_4", "medium", 35, True, "usage decline; passive"),  # starts on 10 March
    (D10, "acc_6", "high", 60, False, "failed payments; refund tickets"),  # new paying account, high at once
]


def build_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema marts")
    con.execute(
        """
        create table marts.fct_survey_responses (
            response_id varchar, survey_type varchar, responded_at timestamp, score integer, nps_category varchar,
            comment varchar, account_id varchar, plan varchar, mrr_usd double, email varchar
        )
        """
    )
    for response_id, survey, at, score, comment, account, email in RESPONSES:
        category = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        con.execute(
            "insert into marts.fct_survey_responses values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [response_id, survey, at, score, category, comment, account, PLANS.get(account), MRR.get(account), email],
        )
    con.execute(
        """
        create table marts.account_health (
            as_of_date date, account_id varchar, plan varchar, mrr_usd double, risk_score double, risk_tier varchar,
            revenue_at_risk_usd double, is_usage_decline_driver boolean, risk_drivers varchar,
            usage_change_30d double
        )
        """
    )
    for day, account, tier, score, usage, drivers in HEALTH:
        mrr = MRR.get(account, 100.0)
        con.execute(
            "insert into marts.account_health values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [day, account, PLANS.get(account, "starter"), mrr, score, tier, mrr * score / 100, usage, drivers,
             -0.3 if usage else 0.05],
        )  # fmt: skip
    con.execute("create table marts.dim_accounts (account_id varchar, account_name varchar)")
    con.executemany("insert into marts.dim_accounts values (?, ?)", list(NAMES.items()))


def expected_promoters(referral: bool) -> dict[str, list[dict[str, str]]]:
    """By file: the NPS answers of 9 or 10 in the 7 days to AS_OF, the referral ask for a 10 from a not-high account."""
    latest_tier = {account: tier for _, account, tier, *_ in sorted(HEALTH)}
    files: dict[str, list[dict[str, str]]] = {}
    for response_id, survey, at, score, comment, account, email in sorted(RESPONSES, key=lambda r: r[2]):
        if survey != "nps" or score < 9 or not AS_OF - timedelta(days=7) < at.date() <= AS_OF:
            continue
        monday = at.date() - timedelta(days=at.weekday())
        ask = "" if not referral else "true" if score == 10 and latest_tier.get(account) != "high" else "false"
        files.setdefault(f"promoters/{monday}.csv", []).append(
            {
                "week_start": str(monday),
                "response_id": response_id,
                "responded_at": at.isoformat(),
                "score": str(score),
                "email": email,
                "account_id": account or "",
                "account_name": NAMES.get(account, ""),
                "plan": PLANS.get(account, ""),
                "mrr_usd": f"{MRR[account]:.2f}" if account else "",
                "risk_tier": latest_tier.get(account, ""),
                "ask_referral": ask,
                # A comment a spreadsheet would run ("=1+1") is written as text, behind an apostrophe.
                "comment": "'" + comment if comment and comment[0] in "=+-@" else comment or "",
            }
        )
    return files


def expected_at_risk() -> dict[str, list[tuple[str, str, str]]]:
    """By file: (account, reason, previous tier) of the accounts entering high or starting a usage decline."""
    rows = {(day, account): (tier, usage) for day, account, tier, _, usage, _ in HEALTH}
    days = {day for day, *_ in HEALTH}
    files: dict[str, list[tuple[float, str, str, str]]] = {}
    for day, account, tier, score, usage, _ in HEALTH:
        before_day = day - timedelta(days=1)
        if before_day not in days:
            continue
        before_tier, before_usage = rows.get((before_day, account), (None, False))
        if tier == "high" and before_tier != "high":
            reason = ENTERED_HIGH
        elif tier != "high" and usage and not before_usage:
            reason = USAGE_DECLINE
        else:
            continue
        at_risk = MRR.get(account, 100.0) * score / 100
        files.setdefault(f"at_risk/{day}.csv", []).append((-at_risk, account, reason, before_tier or ""))
    return {file: [row[1:] for row in sorted(found)] for file, found in files.items()}


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    build_warehouse(connection)
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "NPS_SLACK_WEBHOOK_URL",
        "NPS_OUTBOX_DIR",
        "NPS_PROMOTER_LIST_REFERRAL",
        "NPS_ACTION_LISTS_LOOKBACK_DAYS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(slack_module, "SECONDS_BETWEEN_POSTS", 0.0)


def test_the_promoter_list_holds_the_weeks_promoters_once_with_the_referral_ask(con, tmp_path):
    expected = expected_promoters(referral=True)
    assert sorted(expected) == ["promoters/2026-03-02.csv", "promoters/2026-03-09.csv"]  # the test's own check
    found = promoters(con, lookback_days=7, as_of=AS_OF, referral=True)
    result = outbox.write_promoter_list(con, found, outbox=tmp_path)

    assert result.files == sorted(expected)
    assert sorted(p.name for p in (tmp_path / "promoters").iterdir()) == [Path(f).name for f in expected]
    for file, rows in expected.items():
        with (tmp_path / file).open(newline="", encoding="utf-8") as handle:
            assert next(csv.reader(handle)) == list(outbox.PROMOTER_COLUMNS)
        assert read(tmp_path / file) == rows
    listed = [row["response_id"] for rows in expected.values() for row in rows]
    assert "s8" not in listed and "too_old" not in listed and "ces9" not in listed  # 8 is not a promoter
    assert read(tmp_path / "promoters/2026-03-09.csv")[0]["comment"] == TRICKY  # comma, quote, newline
    assert sorted(row.message_key for row in ledger.rows(con, outbox.PROMOTER_PREFIX)) == sorted(
        f"promoter_thanks:{response_id}" for response_id in listed
    )
    assert {(row.channel, row.status) for row in ledger.rows(con, outbox.PROMOTER_PREFIX)} == {("outbox_csv", "logged")}

    before = {file: (tmp_path / file).read_bytes() for file in expected}
    again = outbox.write_promoter_list(con, promoters(con, as_of=AS_OF, referral=True), outbox=tmp_path)
    assert (again.rows.delivered, again.files, len(again.rows.skipped)) == ([], [], len(listed))
    assert {file: (tmp_path / file).read_bytes() for file in expected} == before
    assert ledger.rows(con, outbox.PROMOTER_SUMMARY_PREFIX) == []  # no Slack webhook, no summary


def test_without_the_referral_setting_the_column_is_empty_and_a_late_promoter_is_appended(con, tmp_path):
    outbox.write_promoter_list(con, promoters(con, as_of=AS_OF), outbox=tmp_path)
    week = tmp_path / "promoters/2026-03-09.csv"
    assert read(week) == expected_promoters(referral=False)["promoters/2026-03-09.csv"]
    first = week.read_bytes()

    con.execute(
        "insert into marts.fct_survey_responses values "
        "('late', 'nps', '2026-03-11 08:00', 9, 'promoter', 'Late, but happy', 'acc_2', 'business', 1200, 'i@two.com')"
    )
    result = outbox.write_promoter_list(con, promoters(con, as_of=date(2026, 3, 11)), outbox=tmp_path)
    assert result.rows.delivered == ["promoter_thanks:late"]
    assert week.read_bytes().startswith(first)  # earlier rows untouched
    assert [row["response_id"] for row in read(week)] == ["p10", "p10_no_account", "late"]


def test_a_row_appended_before_a_crash_is_not_appended_again(con, tmp_path):
    outbox.write_promoter_list(con, promoters(con, as_of=AS_OF), outbox=tmp_path)
    con.execute(f"delete from {ledger.TABLE} where message_key = 'promoter_thanks:p9'")  # the ledger write was lost
    result = outbox.write_promoter_list(con, promoters(con, as_of=AS_OF), outbox=tmp_path)
    assert result.rows.delivered == ["promoter_thanks:p9"]
    assert [row["response_id"] for row in read(tmp_path / "promoters/2026-03-02.csv")] == ["p9", "p10_high"]


def test_a_cell_a_spreadsheet_would_run_is_written_as_text(con, tmp_path):
    # OWASP "CSV Injection": a comment or name starting with = + - @ (or a tab / carriage return) is a formula in
    # Excel and Google Sheets. Each such cell is written with a leading apostrophe; numbers are left alone.
    at = datetime(2026, 3, 4, 10, 0)
    rows = [
        Promoter("-r1", at, 10, comment='=HYPERLINK("http://x.example","click")', account_name="@acme", plan="+Plus"),
        Promoter("r2", at, 9, comment="-2+3", email="\tme@x.example", mrr_usd=-12.5),
    ]
    outbox.write_promoter_list(con, rows, outbox=tmp_path)
    written = read(tmp_path / "promoters/2026-03-02.csv")
    assert [(r["response_id"], r["comment"], r["account_name"], r["plan"]) for r in written] == [
        ("'-r1", '\'=HYPERLINK("http://x.example","click")', "'@acme", "'+Plus"),
        ("r2", "'-2+3", "", ""),
    ]
    assert (written[1]["email"], written[1]["mrr_usd"]) == ("'\tme@x.example", "-12.50")
    # The key column as written is how a re-run (or the crash recovery) finds the row: nothing is appended again.
    con.execute(f"delete from {ledger.TABLE} where message_key = 'promoter_thanks:-r1'")
    again = outbox.write_promoter_list(con, rows, outbox=tmp_path)
    assert again.rows.delivered == ["promoter_thanks:-r1"] and len(read(tmp_path / "promoters/2026-03-02.csv")) == 2


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_spreadsheet_safe_never_leaves_a_formula_and_loses_nothing(text):
    cell = outbox.spreadsheet_safe(text)
    if cell.startswith(outbox.FORMULA_STARTS):
        float(cell)  # only a number may start like a formula
        assert cell == text
    else:
        assert cell in (text, "'" + text)
        assert cell == text or text.startswith(outbox.FORMULA_STARTS)


def test_the_at_risk_list_holds_the_accounts_entering_high_or_starting_a_usage_decline(con, tmp_path):
    expected = expected_at_risk()
    assert expected == {  # the test's own reading of HEALTH, spelled out
        "at_risk/2026-03-09.csv": [("acc_3", ENTERED_HIGH, "medium"), ("acc_5", USAGE_DECLINE, "low")],
        "at_risk/2026-03-10.csv": [("acc_6", ENTERED_HIGH, ""), ("acc_4", USAGE_DECLINE, "low")],
    }
    found = at_risk_accounts(con, lookback_days=7, as_of=AS_OF)
    result = outbox.write_at_risk_list(con, found, outbox=tmp_path)
    assert result.files == sorted(expected)
    for file, rows in expected.items():
        listed = read(tmp_path / file)
        assert list(listed[0]) == list(outbox.AT_RISK_COLUMNS)
        assert [(r["account_id"], r["reason"], r["previous_risk_tier"]) for r in listed] == rows
    acc_3 = read(tmp_path / "at_risk/2026-03-09.csv")[0]
    assert (acc_3["account_name"], acc_3["owner"], acc_3["risk_drivers"]) == (
        "Three Ltd",
        "",
        "detractor; rising tickets",
    )
    assert (acc_3["revenue_at_risk_usd"], acc_3["mrr_usd"], acc_3["risk_tier"]) == ("3250.00", "5000.00", "high")
    assert sorted(row.message_key for row in ledger.rows(con, outbox.AT_RISK_PREFIX)) == [
        "at_risk_call:acc_3:2026-03-09",
        "at_risk_call:acc_4:2026-03-10",
        "at_risk_call:acc_5:2026-03-09",
        "at_risk_call:acc_6:2026-03-10",
    ]

    again = outbox.write_at_risk_list(con, at_risk_accounts(con, as_of=AS_OF), outbox=tmp_path)
    assert (again.rows.delivered, len(again.rows.skipped)) == ([], 4)
    assert sum(len(read(tmp_path / file)) for file in expected) == 4


def test_the_slack_summary_is_posted_once_per_file_and_only_with_a_webhook(con, tmp_path, monkeypatch):
    server = RecordingServer()
    try:
        monkeypatch.setenv("NPS_SLACK_WEBHOOK_URL", server.base_url + "/services/T1/B1/secret")
        outbox.write_at_risk_list(con, at_risk_accounts(con, as_of=AS_OF), outbox=tmp_path)
        outbox.write_at_risk_list(con, at_risk_accounts(con, as_of=AS_OF), outbox=tmp_path)
        outbox.write_promoter_list(con, promoters(con, as_of=AS_OF, referral=True), outbox=tmp_path)
        texts = [request.json["text"] for request in server.requests]
    finally:
        server.close()
    assert texts == [
        "At-risk call list for 2026-03-09: 2 new account(s), 2 on the day (1 entered the high risk tier, 1 early "
        "usage decline), $3,280.00 of MRR at risk. File: at_risk/2026-03-09.csv in the outbox.",
        "At-risk call list for 2026-03-10: 2 new account(s), 2 on the day (1 entered the high risk tier, 1 early "
        "usage decline), $95.00 of MRR at risk. File: at_risk/2026-03-10.csv in the outbox.",
        "Promoter thank-you list, week of 2026-03-02: 2 new promoter(s), 2 in the week; 0 to ask for a referral or "
        "review. File: promoters/2026-03-02.csv in the outbox.",
        "Promoter thank-you list, week of 2026-03-09: 2 new promoter(s), 2 in the week; 2 to ask for a referral or "
        "review. File: promoters/2026-03-09.csv in the outbox.",
    ]
    assert not any("@" in text for text in texts)  # no e-mail address leaves for Slack
    assert [row.message_key for row in ledger.rows(con, "at_risk_list_summary:")] == [
        "at_risk_list_summary:2026-03-09:2",
        "at_risk_list_summary:2026-03-10:2",
    ]


def test_the_assets_run_twice_in_a_row_and_list_each_once(tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.defs.actions.assets import at_risk_call_list, promoter_thanks_list
    from orchestration.defs.resources import WarehouseResource

    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        build_warehouse(connection)
    monkeypatch.setenv("NPS_PROMOTER_LIST_REFERRAL", "true")
    resources = {"warehouse": WarehouseResource(database=str(warehouse))}

    for _ in range(2):
        assert dg.materialize([promoter_thanks_list, at_risk_call_list], resources=resources).success
    # The latest response is on 10 March, the latest health day too: the windows end on AS_OF; the outbox sits
    # beside the warehouse.
    for file, rows in expected_promoters(referral=True).items():
        assert read(tmp_path / "outbox" / file) == rows
    for file, rows in expected_at_risk().items():
        assert [r["account_id"] for r in read(tmp_path / "outbox" / file)] == [row[0] for row in rows]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        counts = connection.execute(
            "select split_part(message_key, ':', 1), count(*), max(attempts) from ops.outbound_messages group by 1 "
            "order by 1"
        ).fetchall()
    assert counts == [("at_risk_call", 4, 1), ("promoter_thanks", 4, 1)]
