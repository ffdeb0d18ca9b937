"""The dbt project as Dagster sees it, built when the definitions load (once per process), never at import.
The target comes from `NPS_DBT_TARGET` (settings.py)."""

from __future__ import annotations

from functools import cache

from dagster_dbt import DbtProject

import settings


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(
        project_dir=settings.DBT_PROJECT_DIR,
        profiles_dir=settings.DBT_PROJECT_DIR,
        target=settings.dbt_target(),
    )
    # Under `dagster dev` the manifest is re-parsed at load; elsewhere `make` prepares it (never at import in prod).
    project.prepare_if_dev()
    return project
