"""Every asset of the Dagster graph says which engine it runs on (issue 24: nothing is DuckDB-only without saying
so), and the one setting picks the engine."""

from __future__ import annotations

import pytest

import settings


def test_every_asset_names_its_engine(dbt_manifest):
    from orchestration.definitions import defs

    graph = defs().resolve_asset_graph()
    keys = list(graph.get_all_asset_keys())
    assert len(keys) > 50
    silent = [key.to_user_string() for key in keys if not (graph.get(key).metadata or {}).get("engine")]
    assert silent == []
    # The assets that stay on DuckDB say so in words.
    actions = [key for key in keys if key.path[0] == "actions"]
    assert actions
    assert all("DuckDB only" in str(graph.get(key).metadata["engine"]) for key in actions)


@pytest.mark.parametrize(
    ("target", "engine"),
    [(None, "duckdb"), ("duckdb", "duckdb"), ("motherduck", "duckdb"), ("spark", "spark"), ("spark_thrift", "spark")],
)
def test_the_dbt_target_picks_the_engine(monkeypatch, target, engine):
    if target is None:
        monkeypatch.delenv("NPS_DBT_TARGET", raising=False)
    else:
        monkeypatch.setenv("NPS_DBT_TARGET", target)
    assert settings.engine() == engine


def test_the_lake_is_in_the_spark_folder_unless_set(monkeypatch, tmp_path):
    monkeypatch.setenv("NPS_SPARK_DIR", str(tmp_path / "spark"))
    monkeypatch.delenv("NPS_LAKE_DIR", raising=False)
    assert settings.lake_dir() == tmp_path / "spark" / "lake"
    monkeypatch.setenv("NPS_LAKE_DIR", str(tmp_path / "elsewhere"))
    assert settings.lake_dir() == tmp_path / "elsewhere"
