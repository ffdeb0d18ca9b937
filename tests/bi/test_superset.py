"""Apache Superset, the real one, on the serving file: a user registers the database, adds `nps_by_period` as a
dataset and runs a chart query, through Superset's REST API on a running Superset server (`make test-superset`).

Superset 6.1 needs SQLAlchemy 1.4 (this project pins 2.0), so it runs from its own environment (.venv-superset,
from tests/bi/superset.lock); this test drives it over HTTP as the browser does. Expected values come from the
serving file read with DuckDB here, and the chart's NPS from the responses' scores, never from Superset.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from settings import REPO_ROOT

pytestmark = pytest.mark.superset

VENV = Path(os.environ.get("NPS_SUPERSET_VENV", REPO_ROOT / ".venv-superset"))
ADMIN = ("admin", "superset-test-only-password")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Superset:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.token: str | None = None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, {"error": error.read().decode("utf-8", "replace")[:3000]}


@pytest.fixture(scope="module")
def superset(tmp_path_factory: pytest.TempPathFactory):
    """A Superset server with its own metadata database, an admin user and its roles, as its docs set one up:
    `superset db upgrade`, `superset fab create-admin`, `superset init`, `superset run`."""
    assert (VENV / "bin" / "superset").exists(), f"no Superset environment at {VENV}: run `make test-superset`"
    home = tmp_path_factory.mktemp("superset")
    config = home / "superset_config.py"
    config.write_text(
        f"SECRET_KEY = {os.urandom(24).hex()!r}\n"
        f"SQLALCHEMY_DATABASE_URI = 'sqlite:///{home / 'superset.db'}'\n"
        "WTF_CSRF_ENABLED = False\nTALISMAN_ENABLED = False\n"
    )
    env = {
        **os.environ,
        "SUPERSET_CONFIG_PATH": str(config),
        "SUPERSET_HOME": str(home),
        "FLASK_APP": "superset",
        "PYTHONPATH": "",
    }
    superset_bin = str(VENV / "bin" / "superset")
    admin = ["--username", ADMIN[0], "--firstname", "BI", "--lastname", "Test", "--email", "bi@example.com"]
    setup = [["db", "upgrade"], ["fab", "create-admin", *admin, "--password", ADMIN[1]], ["init"]]
    log = home / "superset.log"
    with log.open("ab") as output:
        for args in setup:
            started = time.monotonic()
            subprocess.run(
                [superset_bin, *args], env=env, stdout=output, stderr=subprocess.STDOUT, check=True, timeout=600
            )
            print(f"superset {args[0]} {args[1] if len(args) > 1 else ''}: {time.monotonic() - started:.0f} s")
        port = free_port()
        server = subprocess.Popen(
            [superset_bin, "run", "-h", "127.0.0.1", "-p", str(port), "--with-threads"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    client = Superset(port)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(client.base + "/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(1)
        else:
            raise AssertionError(f"Superset did not start:\n{log.read_text()[-3000:]}")
        status, login = client.call(
            "POST", "/api/v1/security/login", {"username": ADMIN[0], "password": ADMIN[1], "provider": "db"}
        )
        assert status == 200, login
        client.token = login["access_token"]
        yield client
    finally:
        # `superset run` (Flask's server with threads) may keep serving after SIGTERM while a request thread lives:
        # then it is killed, so that no server outlives the test.
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


def test_a_superset_user_adds_nps_by_period_and_charts_it(superset: Superset, full_run: Path):
    serving = full_run.parent / "serving.duckdb"
    uri = f"duckdb:///{serving}?access_mode=read_only"
    with duckdb.connect(str(serving), read_only=True) as con:
        tables = {row[0] for row in con.execute("select table_name from meta.published_marts").fetchall()}
        columns = con.execute(
            "select column_name, comment from duckdb_columns() "
            "where schema_name = 'marts' and table_name = 'nps_by_period' order by column_index"
        ).fetchall()
        scores = con.execute(
            "select response_date, score from marts.fct_survey_responses "
            "where survey_type = 'nps' and score is not null"
        ).fetchall()

    # Settings > Database Connections > + Database: "Test connection", then "Connect".
    status, tested = superset.call("POST", "/api/v1/database/test_connection/", {"sqlalchemy_uri": uri})
    assert status == 200, tested
    status, database = superset.call(
        "POST", "/api/v1/database/", {"database_name": "NPS marts", "sqlalchemy_uri": uri, "expose_in_sqllab": True}
    )
    assert status == 201, database
    database_id = database["id"]
    status, schemas = superset.call("GET", f"/api/v1/database/{database_id}/schemas/")
    assert status == 200 and "serving.marts" in schemas["result"], schemas
    status, listed = superset.call("GET", f"/api/v1/database/{database_id}/tables/?q=(schema_name:marts)")
    assert status == 200, listed
    assert {table["value"] for table in listed["result"]} == tables

    # Datasets > + Dataset: Superset reflects the columns (the SQLAlchemy inspector, through duckdb-engine).
    status, dataset = superset.call(
        "POST", "/api/v1/dataset/", {"database": database_id, "schema": "marts", "table_name": "nps_by_period"}
    )
    assert status == 201, dataset
    status, described = superset.call("GET", f"/api/v1/dataset/{dataset['id']}")
    assert status == 200, described
    reflected = {column["column_name"]: column["description"] for column in described["result"]["columns"]}
    assert reflected == dict(columns)  # every column, each with its dbt description (the serving file's comment)
    assert all(comment for _, comment in columns)

    # A line chart of the monthly NPS: the query Superset's explore view sends.
    query = {
        "datasource": {"id": dataset["id"], "type": "table"},
        "force": True,
        "result_format": "json",
        "result_type": "full",
        "queries": [
            {
                "columns": ["period_start"],
                "metrics": [
                    {"expressionType": "SQL", "sqlExpression": "SUM(responses)", "label": "responses"},
                    {"expressionType": "SQL", "sqlExpression": "MAX(nps)", "label": "nps"},
                ],
                "filters": [
                    {"col": "segment_type", "op": "==", "val": "overall"},
                    {"col": "period_grain", "op": "==", "val": "month"},
                    {"col": "responses", "op": ">", "val": 0},
                ],
                "orderby": [["period_start", True]],
                "row_limit": 1000,
            }
        ],
    }
    status, chart = superset.call("POST", "/api/v1/chart/data", query)
    assert status == 200, chart
    (result,) = chart["result"]
    assert result["status"] == "success" and result["error"] is None
    got = {
        datetime.fromtimestamp(row["period_start"] / 1000, UTC).date(): (row["responses"], row["nps"])
        for row in result["data"]
    }
    by_month: dict[date, Counter] = {}
    for day, score in scores:
        category = "promoter" if score >= 9 else "detractor" if score <= 6 else "passive"
        by_month.setdefault(day.replace(day=1), Counter())[category] += 1
    expected = {
        month: (sum(c.values()), 100 * (c["promoter"] - c["detractor"]) / sum(c.values()))
        for month, c in by_month.items()
    }
    assert got.keys() == expected.keys() and expected
    for month, (responses, nps) in expected.items():
        assert got[month][0] == responses, month
        assert got[month][1] == pytest.approx(nps, abs=1e-9), month
