"""The account id's key is configurable where the vendor leaves its name to the team: the Typeform hidden field
(dbt var `typeform_account_id_hidden_field`) and the Stripe customer metadata key (`stripe_account_id_metadata_key`).
The loader checks the configured key (and only it), and the `raw_field` macro that staging reads types the same
key: both checked here by their effect on records, not by reading the SQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.contracts.settings import ContractSettings, load_settings
from ingestion.landing import landing_file
from ingestion.loader import load_files
from ingestion.registry import get_entity
from settings import DBT_PROJECT_DIR
from tests.ingestion.catalogue import typeform

DAY = date(2026, 3, 2)


def with_vars(**values: str) -> ContractSettings:
    settings = load_settings()
    return ContractSettings({**settings.vars, **values}, settings.rated_currencies)


def load_typeform(tmp_path: Path, records: list[dict], settings: ContractSettings):
    path = tmp_path / "landing" / "typeform" / "responses" / f"{DAY}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    spec = get_entity("typeform", "responses")
    load = load_files(con, [landing_file(tmp_path / "landing", spec, DAY)], "b1", settings=settings).loads[0]
    rejects = con.execute(
        "select raw_record::json ->> '$.response_id', reason from raw_typeform.responses_rejects order by 1"
    ).fetchall()
    con.close()
    return load, rejects


def test_the_loader_checks_the_configured_hidden_field_only(tmp_path):
    """With the account id in hidden field `company_id`: an object there is quarantined naming the field; an
    object in `account_id` (no longer read) loads."""
    records = [
        typeform("tf_ok", hidden={"company_id": "acc_7", "account_id": {"not": "read"}, "email": "a@b.example"}),
        typeform("tf_bad", hidden={"company_id": {"id": "acc_7"}, "email": "c@d.example"}),
    ]
    load, rejects = load_typeform(tmp_path, records, with_vars(typeform_account_id_hidden_field="company_id"))
    assert (load.records_loaded, load.records_rejected) == (1, 1)
    [(record_id, reason)] = rejects
    assert record_id == "tf_bad" and "hidden.account_id" in reason and "not a single value" in reason


def test_the_default_hidden_field_is_account_id(tmp_path):
    records = [typeform("tf_bad", hidden={"account_id": ["acc_1", "acc_2"]})]
    load, rejects = load_typeform(tmp_path, records, load_settings())
    assert (load.records_loaded, load.records_rejected) == (0, 1)
    assert "not a single value" in rejects[0][1]


def compiled(tmp_path: Path, expression: str, dbt_vars: dict[str, str]) -> str:
    """`expression` as dbt compiles it with `dbt_vars` (the real macro, the real project)."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    env = {**os.environ, "NPS_DUCKDB_PATH": str(tmp_path / "compile.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt = str(Path(sys.executable).with_name("dbt"))
    result = subprocess.run(
        [dbt, "compile", "--quiet", "--profiles-dir", ".", "--vars", json.dumps(dbt_vars), "--inline", expression],
        cwd=project, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@pytest.mark.e2e
def test_staging_reads_the_configured_keys(tmp_path):
    """The macro staging reads, compiled by dbt with both vars set, types the configured keys of real objects."""
    sql = compiled(
        tmp_path,
        "select {{ raw_field('typeform.responses', 'hidden.account_id') }} as typeform_account, "
        "{{ raw_field('stripe.customers', 'metadata.account_id') }} as stripe_account from objects",
        {"typeform_account_id_hidden_field": "company_id", "stripe_account_id_metadata_key": "workspace id"},
    )
    con = duckdb.connect()
    con.execute("create table objects (payload json)")
    payload = {
        "hidden": {"company_id": " acc_42 ", "account_id": "acc_wrong"},
        "metadata": {"workspace id": "acc_43", "account_id": "acc_wrong"},
    }
    con.execute("insert into objects values (?)", [json.dumps(payload)])
    assert con.execute(sql).fetchall() == [("acc_42", "acc_43")]
