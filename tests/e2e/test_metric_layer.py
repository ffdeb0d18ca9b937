"""The semantic layer (dbt_project/models/marts/_semantic_layer.yml) queried as an analyst does, with MetricFlow's
CLI (`mf query`), on the demo warehouse: its metrics give the numbers of the marts, which are computed by other SQL
(nps_by_period, ces_by_period)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(full_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the dbt project (its own target/ is left alone: the Dagster definitions read it), parsed once as an
    analyst does before `mf query`. The semantic manifest names the tables by the warehouse's database name, which
    is the file's stem: every test queries a copy also called warehouse.duckdb."""
    project = tmp_path_factory.mktemp("metric_layer") / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    assert full_run.name == "warehouse.duckdb"
    env = {**os.environ, "NPS_DUCKDB_PATH": str(full_run), "DO_NOT_TRACK": "1"}
    parse = [str(Path(sys.executable).parent / "dbt"), "parse", "-q", "--profiles-dir", "."]
    subprocess.run(parse, cwd=project, env=env, check=True, timeout=300)
    return project


def mf_query(project: Path, warehouse: Path, out: Path, metrics: str, group_by: str) -> list[dict]:
    """`mf query` as an analyst runs it, in the parsed project, against `warehouse`."""
    env = {**os.environ, "NPS_DUCKDB_PATH": str(warehouse), "DO_NOT_TRACK": "1"}
    mf = str(Path(sys.executable).parent / "mf")
    command = [mf, "query", "--metrics", metrics, "--group-by", group_by, "--csv", str(out)]
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and out.exists(), result.stdout + result.stderr
    with out.open() as handle:
        return list(csv.DictReader(handle))


def copy_of(full_run: Path, tmp_path: Path) -> Path:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(full_run, warehouse)
    return warehouse


def month(value: str) -> date:
    return date.fromisoformat(value[:10])


def test_nps_by_month_and_plan_equals_nps_by_period(project: Path, full_run: Path, tmp_path: Path):
    warehouse = copy_of(full_run, tmp_path)
    rows = mf_query(project, warehouse, tmp_path / "nps.csv", "nps,nps_responses", "metric_time__month,response__plan")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mart = con.execute(
            "select period_start, segment_value, responses, nps from marts.nps_by_period "
            "where period_grain = 'month' and segment_type = 'plan' and responses > 0"
        ).fetchall()
    expected = {(period, plan): (responses, nps) for period, plan, responses, nps in mart}
    got = {
        (month(r["metric_time__month"]), r["response__plan"]): (int(float(r["nps_responses"])), float(r["nps"]))
        for r in rows
        if r["nps_responses"] and float(r["nps_responses"]) > 0
    }
    assert got.keys() == expected.keys()
    for key, (responses, nps) in expected.items():
        assert got[key][0] == responses, key
        assert got[key][1] == pytest.approx(nps, abs=1e-9), key


def test_ces_by_month_equals_ces_by_period(project: Path, full_run: Path, tmp_path: Path):
    warehouse = copy_of(full_run, tmp_path)
    rows = mf_query(project, warehouse, tmp_path / "ces.csv", "ces,ces_easy_share,ces_responses", "metric_time__month")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mart = con.execute(
            "select period_start, responses, ces_mean, ces_easy_share from marts.ces_by_period "
            "where period_grain = 'month' and segment_type = 'overall' and responses > 0"
        ).fetchall()
    got = {month(r["metric_time__month"]): r for r in rows if r["ces_responses"] and float(r["ces_responses"]) > 0}
    assert set(got) == {row[0] for row in mart}
    for period, responses, ces_mean, easy_share in mart:
        assert int(float(got[period]["ces_responses"])) == responses
        assert float(got[period]["ces"]) == pytest.approx(ces_mean, abs=1e-9)
        assert float(got[period]["ces_easy_share"]) == pytest.approx(easy_share, abs=1e-9)


def test_response_rate_by_month_equals_nps_by_period(project: Path, full_run: Path, tmp_path: Path):
    warehouse = copy_of(full_run, tmp_path)
    rows = mf_query(project, warehouse, tmp_path / "rate.csv", "response_rate,nps_sends", "metric_time__month")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mart = con.execute(
            "select period_start, sends, response_rate from marts.nps_by_period "
            "where period_grain = 'month' and segment_type = 'overall' and sends > 0"
        ).fetchall()
    got = {month(r["metric_time__month"]): r for r in rows if r["nps_sends"] and float(r["nps_sends"]) > 0}
    assert set(got) == {row[0] for row in mart} and mart
    for period, sends, rate in mart:
        assert int(float(got[period]["nps_sends"])) == sends
        assert float(got[period]["response_rate"]) == pytest.approx(rate, abs=1e-9)


def test_nps_by_the_accounts_plan_today_joins_dim_accounts(project: Path, full_run: Path, tmp_path: Path):
    """`account__plan` is the plan the account has today (dim_accounts), not the plan when it answered."""
    warehouse = copy_of(full_run, tmp_path)
    rows = mf_query(project, warehouse, tmp_path / "plan.csv", "nps,nps_responses", "metric_time__month,account__plan")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        answers = con.execute(
            "select cast(date_trunc('month', r.response_date) as date), a.plan, r.score from marts.fct_survey_responses r "
            "join marts.dim_accounts a using (account_id) where r.survey_type = 'nps' and r.score is not null"
        ).fetchall()
    expected: dict[tuple[date, str], list[int]] = {}
    for period, plan, score in answers:
        expected.setdefault((period, plan), []).append(score)
    got = {
        (month(r["metric_time__month"]), r["account__plan"]): r
        for r in rows
        if r["account__plan"] and r["nps_responses"] and float(r["nps_responses"]) > 0
    }
    assert got.keys() == expected.keys() and expected
    for key, scores in expected.items():
        nps = 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)
        assert int(float(got[key]["nps_responses"])) == len(scores), key
        assert float(got[key]["nps"]) == pytest.approx(nps, abs=1e-9), key


def test_mrr_and_net_revenue_retention_by_cohort_month(project: Path, full_run: Path, tmp_path: Path):
    """MRR and paying accounts equal nps_revenue; NRR is checked on a panel given MRR 3 and 12 months later (the
    demo's few months leave them empty), against the ratio computed here from the panel's rows."""
    warehouse = copy_of(full_run, tmp_path)
    with duckdb.connect(str(warehouse)) as con:
        mart = con.execute(
            "select month_start, nps_category, accounts, mrr_usd from marts.nps_revenue where segment_type = 'overall'"
        ).fetchall()
        # Later MRR for two thirds of the accounts: growing, shrinking or churned by account; a third not observed.
        con.execute(
            """
            update intermediate.int_account_revenue_cohorts set
                mrr_after_3m_usd = case hash(account_id) % 3 when 0 then starting_mrr_usd * 1.25
                    when 1 then starting_mrr_usd * 0.5 end,
                mrr_after_12m_usd = case when hash(account_id) % 4 = 0 then 0 when hash(account_id) % 4 = 1
                    then starting_mrr_usd * 2 end
            """
        )
        panel = con.execute(
            "select month_start, nps_category, starting_mrr_usd, mrr_after_3m_usd, mrr_after_12m_usd "
            "from intermediate.int_account_revenue_cohorts"
        ).fetchall()
    rows = mf_query(
        project,
        warehouse,
        tmp_path / "revenue.csv",
        "mrr,paying_accounts,nrr_3m,nrr_12m",
        "metric_time__month,revenue_cohort__nps_category",
    )
    got = {(month(r["metric_time__month"]), r["revenue_cohort__nps_category"]): r for r in rows}
    by_category = {(period, category): (accounts, mrr) for period, category, accounts, mrr in mart if category != "all"}
    assert got.keys() == by_category.keys() and by_category
    for key, (accounts, mrr) in by_category.items():
        assert int(float(got[key]["paying_accounts"])) == accounts, key
        assert float(got[key]["mrr"]) == pytest.approx(mrr, abs=0.005), key
    for key in by_category:
        cohort = [row for row in panel if (row[0], row[1]) == key]
        for column, index in (("nrr_3m", 3), ("nrr_12m", 4)):
            observed = [row for row in cohort if row[index] is not None]
            start = sum(row[2] for row in observed)
            expected = sum(row[index] for row in observed) / start if start else None
            value = got[key][column]
            if expected is None:
                assert value == "", (key, column)
            else:
                assert float(value) == pytest.approx(expected, rel=1e-9), (key, column)


def test_respondent_nps_keeps_each_respondents_latest_answer_in_the_month(
    project: Path, full_run: Path, tmp_path: Path
):
    """A respondent (lower-cased email, else account, else the response) answering twice in a month counts once,
    by the later answer. Second answers are planted, some with the email in capitals; the expectation is computed
    here from the responses."""
    warehouse = copy_of(full_run, tmp_path)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            """
            insert into marts.fct_survey_responses by name
            select * replace (
                response_id || '_again' as response_id,
                upper(email) as email,
                responded_at + interval 1 hour as responded_at,
                (score + 5) % 11 as score,
                case when (score + 5) % 11 >= 9 then 'promoter' when (score + 5) % 11 >= 7 then 'passive'
                    else 'detractor' end as nps_category
            )
            from marts.fct_survey_responses
            where survey_type = 'nps' and score is not null and day(responded_at) < 28
                and hash(response_id) % 4 = 0
            """
        )
        answers = con.execute(
            "select response_id, email, account_id, responded_at, score from marts.fct_survey_responses "
            "where survey_type = 'nps' and score is not null"
        ).fetchall()
    rows = mf_query(
        project,
        warehouse,
        tmp_path / "respondents.csv",
        "respondent_nps,respondents,nps_responses",
        "metric_time__month",
    )
    latest: dict[tuple[date, str], tuple] = {}
    for response_id, email, account_id, responded_at, score in answers:
        key = (email or "").strip().lower() or account_id or response_id
        period = responded_at.date().replace(day=1)
        if (period, key) not in latest or responded_at > latest[(period, key)][0]:
            latest[(period, key)] = (responded_at, score)
    expected: dict[date, list[int]] = {}
    for (period, _), (_, score) in latest.items():
        expected.setdefault(period, []).append(score)
    got = {month(r["metric_time__month"]): r for r in rows}
    assert got.keys() == expected.keys()
    assert sum(int(float(r["nps_responses"])) for r in rows) > sum(len(s) for s in expected.values())  # planted
    for period, scores in expected.items():
        nps = 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)
        assert int(float(got[period]["respondents"])) == len(scores), period
        assert float(got[period]["respondent_nps"]) == pytest.approx(nps, abs=1e-9), period


def test_respondent_nps_by_month_equals_nps_by_period(project: Path, full_run: Path, tmp_path: Path):
    """One respondent definition: the semantic layer's respondent entity is fct_survey_responses.respondent_key, so
    its monthly respondent NPS is nps_by_period's (no two answers of one respondent share a second in the demo)."""
    warehouse = copy_of(full_run, tmp_path)
    rows = mf_query(project, warehouse, tmp_path / "by_month.csv", "respondent_nps,respondents", "metric_time__month")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mart = con.execute(
            "select period_start, respondents, respondent_nps from marts.nps_by_period "
            "where period_grain = 'month' and segment_type = 'overall' and respondents > 0"
        ).fetchall()
    got = {month(r["metric_time__month"]): r for r in rows if r["respondents"]}
    assert got.keys() == {period for period, _, _ in mart}
    for period, respondents, nps in mart:
        assert int(float(got[period]["respondents"])) == respondents, period
        assert float(got[period]["respondent_nps"]) == pytest.approx(nps, abs=1e-9), period
