"""The NPS report: a self-contained HTML file rendered from the marts after every run that built them."""

import dagster as dg

import report
from orchestration.defs.resources import WarehouseResource


@dg.asset(
    key=dg.AssetKey(["report", "nps_report"]),
    # The marts it reads: in a run where one of them fails, Dagster skips the report and the previous one stays.
    deps=[dg.AssetKey(["marts", name]) for name in report.MARTS],
    group_name="report",
    kinds={"html", "svg"},
    owners=["team:data-platform"],
    tags={"layer": "report"},
    metadata={"engine": "DuckDB; in Spark mode the marts it reads are copied from Spark first"},
    description=(
        "The NPS report: one self-contained HTML file (inline SVG charts, no script, no network needed to view it) "
        "with the monthly and weekly NPS trend and its 95% interval (partial periods drawn apart), the change "
        "against the previous month and quarter with its significance, goal progress, CES by month and ticket "
        "category, NPS by plan, region and MRR band, promoter and detractor themes with verbatims, closed-loop "
        "follow-up attainment (24 h and 4 h), the churn-risk tier mix, the top 10 accounts by revenue at risk, the "
        "revenue per NPS point, and recommendations from complete periods. Written atomically to "
        "`reports/nps_report_<YYYY-MM-DD>.html` and `reports/latest.html` beside the warehouse "
        "(`$NPS_REPORTS_DIR` overrides the folder). Formulas: docs/metrics.md. Engine: renders in DuckDB; in Spark "
        "mode the marts it reads are copied from Spark into the warehouse first."
    ),
)
def nps_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    output = report.report_path(report.reports_dir(warehouse.path))
    # Only reads, but through the writer lock like every other asset: DuckDB allows one process with the file open
    # for writing, and the lock keeps dbt and the loaders out while the marts are read.
    with warehouse.with_marts(context) as con:
        result = report.render(con, output, run_id=context.run.run_id)
    context.log.info(
        f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB, {len(result.charts)} charts, "
        f"{len(result.recommendations)} recommendations) in {result.duration_seconds:.1f} s"
    )
    low, high = result.overall_nps_ci
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "latest_path": dg.MetadataValue.path(str(result.latest_path)),
            "size_bytes": result.size_bytes,
            "charts": len(result.charts),
            "sections_without_data": dg.MetadataValue.json(result.sections_without_data),
            "recommendations": dg.MetadataValue.md(result.recommendations_markdown()),
            "overall_nps": dg.MetadataValue.float(result.overall_nps)
            if result.overall_nps is not None
            else dg.MetadataValue.null(),
            "overall_nps_ci": f"{low:.1f} to {high:.1f}" if low is not None and high is not None else "n/a",
            "duration_seconds": result.duration_seconds,
        }
    )
