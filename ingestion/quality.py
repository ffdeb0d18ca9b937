"""Run an entity's GX Core suite (built from its contract in `ingestion.expectations`) over the partitions loaded.

DuckDB computes the typed projection and the account lookup in SQL; GX validates the resulting frame and
reports, per expectation, the unexpected count and where the first offending records are (file and line).
GX is imported on first use: it takes seconds to import and Dagster code locations should load fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import duckdb
import pandas as pd

from ingestion.contracts.parse_once import read_paths_once
from ingestion.contracts.settings import ContractSettings, load_settings
from ingestion.entities import EntitySpec
from ingestion.expectations import DOMAIN_TABLES, Expectation, QualitySuite, suite_for
from ingestion.loader import ensure_tables
from ingestion.registry import get_entity

SAMPLE_SIZE = 5
# Records validated per GX batch: bounds memory on long backfills of high-volume entities.
CHUNK_ROWS = 500_000


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one expectation over one partition window."""

    expectation: Expectation
    passed: bool
    element_count: int
    unexpected_count: int
    samples: list[dict[str, str]] = field(default_factory=list)
    # The expectation as GX ran it (type and arguments, large value sets shortened).
    gx_config: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def blocking(self) -> bool:
        return self.expectation.severity == "critical"


def projection_sql(spec: EntitySpec, suite: QualitySuite) -> str:
    """The frame GX validates: the partition window's records, typed by the contract, with their account."""
    window = f"(select * from {spec.table} where _partition_date between $first and $last)"
    # Each record's JSON parsed once for every path the columns and the projection read, as the loader does. On the
    # `make run` demo this frame took 6.7 s for 71,753 Zendesk tickets, 2.8 s with it (19,136 Stripe subscriptions:
    # 5.6 s, 3.1 s), the same checks passing with the same counts.
    expressions, parsed = read_paths_once([*suite.columns.values(), suite.over("_window_records")], window)
    *sqls, over = expressions
    columns = ", ".join(f'{sql} as "{name}"' for name, sql in zip(suite.columns, sqls, strict=True))
    typed_rows = f"""
        select _partition_date, _source_file, _line_number, {columns}
        from {over.replace("_window_records", parsed)}
    """
    if suite.account_domain is None:
        return typed_rows
    return f"""
        select r.*,
               case when r.account_ref is not null and accounts.account_id is null then r.account_ref end
                   as unknown_account_id,
               accounts.created_at as account_created_at
        from ({typed_rows}) as r
        left join ({suite.account_domain_sql}) as accounts on accounts.account_id = r.account_ref
    """


@lru_cache(maxsize=1)
def _gx_batch_definition():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("raw_layer").add_dataframe_asset("partition_window")
    return gx, asset.add_batch_definition_whole_dataframe("loaded_records")


def _shorten(config: dict[str, Any]) -> dict[str, Any]:
    kwargs = {key: value for key, value in config.get("kwargs", {}).items() if key != "batch_id"}
    if isinstance(kwargs.get("value_set"), list) and len(kwargs["value_set"]) > 12:
        values = kwargs["value_set"]
        kwargs["value_set"] = [*values[:10], f"... {len(values) - 10} more"]
    return {"type": config.get("type"), "kwargs": kwargs, "severity": config.get("severity")}


def _day_chunks(con: duckdb.DuckDBPyConnection, spec: EntitySpec, first: date, last: date) -> list[tuple[date, date]]:
    """Consecutive runs of days holding at most CHUNK_ROWS records (a bigger single day is its own chunk)."""
    counts = con.execute(
        f"select _partition_date, count(*) from {spec.table} where _partition_date between ? and ? "
        "group by 1 order by 1",
        [first, last],
    ).fetchall()
    chunks: list[tuple[date, date]] = []
    chunk_rows = 0
    for day, rows in counts:
        if chunks and chunk_rows + rows <= CHUNK_ROWS:
            chunks[-1] = (chunks[-1][0], day)
            chunk_rows += rows
        else:
            chunks.append((day, day))
            chunk_rows = rows
    return chunks or [(first, last)]


def _validate_chunk(con, spec: EntitySpec, suite: QualitySuite, first: date, last: date) -> dict[str, CheckOutcome]:
    frame = con.execute(projection_sql(spec, suite), {"first": first, "last": last}).df()
    gx, batch_definition = _gx_batch_definition()
    expectations = {expectation.check_name: expectation for expectation in suite.expectations}
    gx_suite = gx.ExpectationSuite(
        name=spec.table,
        expectations=[
            getattr(gx.expectations, e.gx_type)(
                **dict(e.kwargs), severity=e.severity, meta={"check_name": e.check_name}
            )
            for e in suite.expectations
        ],
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    # BASIC: counts and a few unexpected values. (Asking GX for the index columns of every unexpected row
    # costs seconds per 100,000 bad rows; the samples are located in the frame below instead.)
    validation = batch.validate(gx_suite, result_format={"result_format": "BASIC", "partial_unexpected_count": 5})
    outcomes = {}
    for result in validation.results:
        config = result.expectation_config.to_json_dict()
        expectation = expectations[config["meta"]["check_name"]]
        details = result.result or {}
        raised = result.exception_info.get("raised_exception") if result.exception_info else False
        samples = _locate(frame, suite.locator, config["kwargs"], details.get("partial_unexpected_list") or [])
        outcomes[expectation.check_name] = CheckOutcome(
            expectation=expectation,
            passed=bool(result.success),
            element_count=int(details.get("element_count") or len(frame)),
            unexpected_count=int(details.get("unexpected_count") or 0),
            samples=samples,
            gx_config=_shorten(config),
            error=result.exception_info.get("exception_message") if raised else None,
        )
    return outcomes


def _locate(frame, locator: tuple[str, ...], kwargs: dict, values: list) -> list[dict[str, str]]:
    """Where the first unexpected values are: file, line and value(s) of up to SAMPLE_SIZE records."""
    values = values[:SAMPLE_SIZE]
    if not values:
        return []
    if "column" in kwargs:
        columns = [kwargs["column"]]
        mask = frame[columns[0]].isin(values)
        rows = frame.loc[mask, [*locator, *columns]].head(SAMPLE_SIZE)
    elif "column_A" in kwargs:
        columns = [kwargs["column_A"], kwargs["column_B"]]
        pairs = pd.DataFrame([tuple(value) for value in values], columns=columns).drop_duplicates()
        for column in columns:
            pairs[column] = pairs[column].astype(frame[column].dtype)
        rows = frame[[*locator, *columns]].merge(pairs, on=columns).head(SAMPLE_SIZE)
    else:
        return [{"value": str(value)} for value in values]
    return [{key: str(value) for key, value in row.items()} for row in rows.to_dict("records")]


def _merge(a: CheckOutcome, b: CheckOutcome) -> CheckOutcome:
    return CheckOutcome(
        expectation=a.expectation,
        passed=a.passed and b.passed,
        element_count=a.element_count + b.element_count,
        unexpected_count=a.unexpected_count + b.unexpected_count,
        samples=(a.samples + b.samples)[:SAMPLE_SIZE],
        gx_config=a.gx_config,
        error=a.error or b.error,
    )


def validate_partitions(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    first: date,
    last: date,
    *,
    settings: ContractSettings | None = None,
) -> list[CheckOutcome]:
    """Validate every record of `spec` in partitions first..last (inclusive) against its suite.

    The window is validated in chunks of whole days (at most CHUNK_ROWS records each, so a year of events
    never has to fit in memory at once); counts add up and the first samples are kept.
    """
    suite = suite_for(spec, settings or load_settings())
    if suite.account_domain is not None:
        # The account lists read these tables; they exist (empty) even before their sources first load.
        for source, entity in DOMAIN_TABLES[suite.account_domain]:
            ensure_tables(con, get_entity(source, entity))
    con.execute("set enable_progress_bar = false")  # the frames are fetched in a worker, not a terminal
    merged: dict[str, CheckOutcome] = {}
    for chunk_first, chunk_last in _day_chunks(con, spec, first, last):
        for name, outcome in _validate_chunk(con, spec, suite, chunk_first, chunk_last).items():
            merged[name] = _merge(merged[name], outcome) if name in merged else outcome
    return [merged[expectation.check_name] for expectation in suite.expectations]
