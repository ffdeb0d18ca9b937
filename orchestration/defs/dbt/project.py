"""The dbt project as Dagster sees it. The target comes from `NPS_DBT_TARGET` (default `duckdb`)."""

from __future__ import annotations

import os

from dagster_dbt import DbtProject

from orchestration.paths import DBT_PROJECT_DIR

dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target=os.environ.get("NPS_DBT_TARGET", "duckdb"),
)
# Under `dagster dev` the manifest is re-parsed at load; elsewhere `make` prepares it (never at import in prod).
dbt_project.prepare_if_dev()
