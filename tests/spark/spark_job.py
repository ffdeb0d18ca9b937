"""The daily_pipeline job over one partition window, in a process of its own, with the environment's settings (the
Spark-mode test runs it with NPS_DBT_TARGET=spark): python -m tests.spark.spark_job FIRST LAST

A process per run, as the Dagster daemon starts one: the definitions (dbt target included) are built from the
environment once per process, and the process's Spark sessions end with it."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

from tests.conftest import PipelineRunner


def main(argv: list[str]) -> int:
    first, last = (date.fromisoformat(value) for value in argv)
    PipelineRunner().run(Path(os.environ["NPS_DUCKDB_PATH"]), Path(os.environ["NPS_LANDING_DIR"]), first, last)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
