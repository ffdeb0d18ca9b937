"""A BI tool's first steps on the serving file, through SQLAlchemy and duckdb-engine as Apache Superset takes them:
list the schemas and tables, then (adding a dataset) every table's columns, primary key, foreign keys, indexes and
comment (superset/databases/utils.py get_table_metadata), and a chart query. Every call must answer, and the
descriptions of the dbt marts (from the dbt manifest, written by other hands than the publish step) must be the
comments of their tables and columns."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import sqlalchemy
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

pytestmark = pytest.mark.e2e


def described_marts(manifest: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """table -> (description, {column: description}) of every mart of the dbt manifest: the dbt models published in
    schema marts, and the marts computed in Python (declared there as source python_marts)."""
    parsed = json.loads(manifest.read_text())
    models = [n for n in parsed["nodes"].values() if n["resource_type"] == "model" and n["schema"] == "marts"]
    python = [s for s in parsed["sources"].values() if s["source_name"] == "python_marts"]
    return {
        node["name"]: (node["description"], {c["name"]: c["description"] for c in node["columns"].values()})
        for node in models + python
    }


@pytest.fixture(scope="module")
def serving_engine(full_run: Path) -> sqlalchemy.Engine:
    serving = full_run.parent / "serving.duckdb"
    assert serving.exists()
    return create_engine(f"duckdb:///{serving}", connect_args={"read_only": True}, poolclass=NullPool)


def test_sqlalchemy_is_a_version_whose_reflection_works_on_duckdb():
    # 2.0.55+ and 2.1 reflect keys with PostgreSQL catalog queries DuckDB cannot run: see pyproject.toml.
    assert sqlalchemy.__version__ == "2.0.54"


def test_every_inspector_call_superset_makes_answers(serving_engine, full_run: Path):
    with duckdb.connect(str(full_run.parent / "serving.duckdb"), read_only=True) as con:
        published = {row[0] for row in con.execute("select table_name from meta.published_marts").fetchall()}
        types = con.execute(
            "select table_name, column_name, data_type from information_schema.columns where table_schema = 'marts'"
        ).fetchall()
    # Superset opens one connection per request and inspects through it.
    with serving_engine.connect() as connection:
        inspector = inspect(connection)
        assert "serving.marts" in inspector.get_schema_names()
        assert set(inspector.get_table_names(schema="marts")) == published
        assert inspector.get_view_names(schema="marts") == []
    expected_columns: dict[str, list[str]] = {}
    for table, column, _ in types:
        expected_columns.setdefault(table, []).append(column)
    for table in sorted(published):
        with serving_engine.connect() as connection:
            inspector = inspect(connection)
            columns = inspector.get_columns(table, schema="marts")
            assert sorted(c["name"] for c in columns) == sorted(expected_columns[table])
            assert all(c["type"] is not None for c in columns)
            assert inspector.get_pk_constraint(table, schema="marts")["constrained_columns"] == []
            assert inspector.get_foreign_keys(table, schema="marts") == []
            assert inspector.get_indexes(table, schema="marts") == []
            assert inspector.get_unique_constraints(table, schema="marts") == []
            assert "text" in inspector.get_table_comment(table, schema="marts")
    # The chart query Superset runs for a dataset (a grouped aggregate).
    with serving_engine.connect() as connection:
        rows = connection.execute(
            text(
                "select period_start, sum(responses) as responses from marts.nps_by_period "
                "where period_grain = 'month' and segment_type = 'overall' group by 1 order by 1"
            )
        ).fetchall()
    assert rows and all(r.responses > 0 for r in rows)


def test_every_mart_and_column_carries_its_description(serving_engine, dbt_manifest: Path, full_run: Path):
    marts = described_marts(dbt_manifest)
    with duckdb.connect(str(full_run.parent / "serving.duckdb"), read_only=True) as con:
        published = {row[0] for row in con.execute("select table_name from meta.published_marts").fetchall()}
    assert set(marts) == published  # every published mart is documented, the Python ones included
    described = 0
    with serving_engine.connect() as connection:
        inspector = inspect(connection)
        for table, (description, column_docs) in marts.items():
            # Compared without the line ending a folded YAML scalar may carry: a BI tool shows the text.
            assert inspector.get_table_comment(table, schema="marts")["text"].strip() == description.strip(), table
            comments = {c["name"]: c["comment"] for c in inspector.get_columns(table, schema="marts")}
            for column, doc in column_docs.items():
                assert (comments[column] or "").strip() == doc.strip(), (table, column)
                described += 1
            # Every column of every dbt mart is documented in the YAML, so every one carries a comment.
            assert [name for name, comment in comments.items() if not comment] == [], table
    assert described >= 250


def guide_queries() -> list[str]:
    """The SQL blocks of docs/serving.md's section on long tables, in order."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "serving.md").read_text()
    section = guide.split("## Long tables", 1)[1].split("\n## ", 1)[0]
    return [block.split("```", 1)[0] for block in section.split("```sql\n")[1:]]


def test_the_long_table_guide_queries_say_what_they_return(full_run: Path):
    monthly, by_plan, quarterly = guide_queries()
    with duckdb.connect(str(full_run.parent / "serving.duckdb"), read_only=True) as con:
        # Responses per month counted from the response-level fact, not from nps_by_period.
        counted = dict(
            con.execute(
                "select date_trunc('month', response_date)::date, count(*) from marts.fct_survey_responses "
                "where survey_type = 'nps' and score is not null group by 1"
            ).fetchall()
        )
        rows = con.execute(monthly).fetchall()
        assert {row[0]: row[1] for row in rows if row[1]} == counted  # months with sends only: 0
        plans: dict = {}
        for period_start, _plan, responses, _nps in con.execute(by_plan).fetchall():
            plans[period_start] = plans.get(period_start, 0) + responses
        assert {month: n for month, n in plans.items() if n} == counted
        quarters = con.execute(quarterly).fetchall()
        stored = dict(
            con.execute(
                "select period_start, responses from marts.nps_by_period "
                "where period_grain = 'quarter' and segment_type = 'overall'"
            ).fetchall()
        )
        assert {q[0].date() if hasattr(q[0], "date") else q[0]: q[1] for q in quarters} == stored
        assert sum(stored.values()) == sum(counted.values())
        # The trap the guide warns of: an unfiltered sum counts each response once per grain and segment type.
        [(unfiltered, grains, segment_types)] = con.execute(
            "select sum(responses), count(distinct period_grain), count(distinct segment_type) from marts.nps_by_period"
        ).fetchall()
    assert unfiltered == sum(counted.values()) * grains * segment_types
