"""Marts computed in Python from the dbt marts (scikit-learn), written back to the warehouse.

The engine follows `NPS_DBT_TARGET` (scale_out/engine.py): on DuckDB the step computes in the warehouse; on Spark
it reads its input tables from Spark as Arrow into an in-memory DuckDB, computes the same way and writes its marts
back to Spark as Parquet tables."""

import dagster as dg

from analytics import (
    churn_backtest,
    churn_weights,
    experiment_results,
    followup_effect,
    nps_changes,
    nps_revenue,
    themes,
)
from analytics.tables import describe, documented, unchanged_inputs, write_with_inputs
from analytics.themes import churn as churn_themes
from analytics.themes import marts as theme_marts
from orchestration.defs.resources import WarehouseResource
from scale_out.engine import mart_connection
from settings import engine

ENGINE_NOTE = (
    " Engine: reads its inputs from and writes back to the engine of `NPS_DBT_TARGET` (the DuckDB warehouse, or "
    "Spark through Arrow; scale_out/engine.py)."
)


# What the churn backtest and the fitted rule weights read (copied from Spark in Spark mode).
CHURN_INPUTS = [
    "marts.account_health",
    "intermediate.int_account_billing_historized",
    "intermediate.int_account_signals_daily",
    "seeds.churn_risk_rules",
]
CHURN_DEPS = [dg.AssetKey(table.split(".")) for table in CHURN_INPUTS if not table.startswith("seeds.")]
ENGINE_METADATA = {"engine": "the run's engine: DuckDB, or Spark (inputs read as Parquet, marts written back)"}


def connection(warehouse: WarehouseResource, inputs: list[str], outputs: list[str]):
    """The step's DuckDB connection on the run's engine (see the module's docstring)."""
    return mart_connection(warehouse, inputs, outputs)


@dg.asset(
    key=dg.AssetKey(["marts", "churn_risk_backtest"]),
    deps=CHURN_DEPS,
    group_name="marts",
    kinds={"python", "scikit-learn"},
    owners=["team:data-platform"],
    tags={"layer": "marts"},
    metadata=ENGINE_METADATA,
    description=documented()["marts.churn_risk_backtest"][0] + ENGINE_NOTE,
    check_specs=[
        dg.AssetCheckSpec(
            "rules_predict_churn",
            asset=dg.AssetKey(["marts", "churn_risk_backtest"]),
            description="The rules rank churners above non-churners better than chance (AUC over all months > 0.5).",
        )
    ],
)
def churn_risk_backtest(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with connection(warehouse, CHURN_INPUTS, ["marts.churn_risk_backtest"]) as con:
        seed = churn_weights.rules(con)
        frame = churn_weights.add_shares(con, churn_backtest.scoring_frame(con), seed)
        inputs = churn_backtest.fingerprint(frame, seed)
        reused = unchanged_inputs(con, churn_backtest.TABLE, inputs)
        if reused:
            backtest = churn_backtest.Backtest.from_table(con)
            rows = len(backtest.rows)
        else:
            backtest = churn_backtest.run(frame, seed)
            rows = write_with_inputs(con, churn_backtest.TABLE, inputs, lambda: churn_backtest.write(con, backtest))
    if reused:
        context.log.info("churn backtest: inputs unchanged since the last run (same fingerprint), table kept")
    result = backtest.frame()
    overall = result[(result.evaluation == "all_months") & (result.metric == "auc")]
    rules_auc = float(overall.value.iloc[0]) if len(overall) else None
    context.log.info(
        f"churn backtest: {len(frame)} account-months; rules AUC {rules_auc}, on test months rules "
        f"{backtest.rules_test_auc} vs logistic regression {backtest.challenger_test_auc}; "
        f"default {backtest.default_model}"
    )
    metadata = {
        "rows": rows,
        "engine": engine(),
        "account_months": len(frame),
        "rules_auc": rules_auc,
        "rules_test_auc": backtest.rules_test_auc,
        "challenger_test_auc": backtest.challenger_test_auc,
        "default_model": backtest.default_model,
        "inputs_unchanged": reused,
    }
    yield dg.MaterializeResult(metadata={key: value for key, value in metadata.items() if value is not None})
    yield dg.AssetCheckResult(
        check_name="rules_predict_churn",
        passed=rules_auc is None or rules_auc > 0.5,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rules_auc": rules_auc if rules_auc is not None else "not enough history (90 days after a month start)"
        },
    )


@dg.asset(
    key=dg.AssetKey(["marts", "churn_rule_weights"]),
    deps=CHURN_DEPS,
    group_name="marts",
    kinds={"python", "scikit-learn"},
    owners=["team:data-platform"],
    tags={"layer": "marts"},
    metadata=ENGINE_METADATA,
    description=documented()["marts.churn_rule_weights"][0] + ENGINE_NOTE,
)
def churn_rule_weights(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with connection(warehouse, CHURN_INPUTS, ["marts.churn_rule_weights"]) as con:
        seed = churn_weights.rules(con)
        frame = churn_weights.add_shares(con, churn_backtest.scoring_frame(con), seed)
        inputs = churn_backtest.fingerprint(frame, seed)
        reused = unchanged_inputs(con, churn_weights.TABLE, inputs)
        if not reused:
            weights = churn_weights.fit(frame, seed, churn_backtest.first_test_month(frame))
            write_with_inputs(con, churn_weights.TABLE, inputs, lambda: churn_weights.write(con, weights))
        table = con.execute(f"select rule, suggested_points, current_points from {churn_weights.TABLE}").df()
    changed = table[table.suggested_points.notna() & (table.suggested_points != table.current_points)].rule.tolist()
    kept = " (inputs unchanged since the last run: table kept)" if reused else ""
    context.log.info(f"churn rule weights: {len(table)} rules, suggested points differ for {changed}{kept}")
    metadata = {
        "rows": len(table),
        "rules_with_other_points": len(changed),
        "engine": engine(),
        "inputs_unchanged": reused,
    }
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=dg.AssetKey(["marts", "nps_revenue_per_point"]),
    deps=[dg.AssetKey(["intermediate", "int_account_revenue_cohorts"])],
    group_name="marts",
    kinds={"python"},
    owners=["team:data-platform"],
    tags={"layer": "marts"},
    metadata=ENGINE_METADATA,
    description=documented()["marts.nps_revenue_per_point"][0] + ENGINE_NOTE,
    check_specs=[
        dg.AssetCheckSpec(
            "revenue_follows_nps",
            asset=dg.AssetKey(["marts", "nps_revenue_per_point"]),
            description=(
                "Warns when the longest estimated horizon's MRR change per NPS point is not significantly positive "
                "(its 95% interval includes or lies below zero): sentiment is not tied to revenue in this data."
            ),
        )
    ],
)
def nps_revenue_per_point(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with connection(warehouse, ["intermediate.int_account_revenue_cohorts"], ["marts.nps_revenue_per_point"]) as con:
        estimates = nps_revenue.estimate_all(nps_revenue.panel(con))
        rows = nps_revenue.write(con, estimates)
    estimated = [e for e in estimates if e.outcome == "mrr_change_usd" and e.estimate is not None]
    headline = max(estimated, key=lambda e: e.horizon_months) if estimated else None
    if headline:
        context.log.info(
            f"MRR change per NPS point over {headline.horizon_months} months: {headline.estimate:.2f} USD "
            f"(95% CI {headline.ci_low:.2f} to {headline.ci_high:.2f}; {headline.observations} observations)"
        )
    metadata: dict = {"rows": rows, "engine": engine()}
    if headline:
        metadata |= {
            "horizon_months": headline.horizon_months,
            "mrr_change_usd_per_point": headline.estimate,
            "ci_low": headline.ci_low,
            "ci_high": headline.ci_high,
        }
    yield dg.MaterializeResult(metadata=metadata)
    yield dg.AssetCheckResult(
        check_name="revenue_follows_nps",
        passed=headline is None or headline.ci_low > 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"estimate": headline.estimate, "ci_low": headline.ci_low, "ci_high": headline.ci_high}
        if headline
        else {"note": "no horizon has enough observed history"},
    )


@dg.asset(
    key=dg.AssetKey(["marts", "nps_changes"]),
    deps=[dg.AssetKey(["marts", "nps_by_period"])],
    group_name="marts",
    kinds={"python"},
    owners=["team:data-platform"],
    tags={"layer": "marts"},
    metadata=ENGINE_METADATA,
    description=documented()["marts.nps_changes"][0] + ENGINE_NOTE,
)
def nps_changes_mart(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with connection(warehouse, ["marts.nps_by_period"], ["marts.nps_changes"]) as con:
        result = nps_changes.changes(nps_changes.periods(con))
        rows = nps_changes.write(con, result)
    significant = int(result.is_significant.sum()) if rows else 0
    context.log.info(f"NPS changes: {rows} comparisons, {significant} significant at p < 0.05")
    return dg.MaterializeResult(metadata={"rows": rows, "significant": significant, "engine": engine()})


@dg.asset(
    key=dg.AssetKey(["marts", "followup_effect"]),
    deps=[
        dg.AssetKey(["marts", "closed_loop"]),
        dg.AssetKey(["marts", "fct_survey_responses"]),
        dg.AssetKey(["intermediate", "int_account_billing_historized"]),
    ],
    group_name="marts",
    kinds={"python"},
    owners=["team:data-platform"],
    tags={"layer": "marts"},
    metadata=ENGINE_METADATA,
    description=documented()["marts.followup_effect"][0] + ENGINE_NOTE,
)
def followup_effect_mart(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    inputs = ["marts.closed_loop", "marts.fct_survey_responses", "intermediate.int_account_billing_historized"]
    with connection(warehouse, inputs, ["marts.followup_effect"]) as con:
        result = followup_effect.effects(followup_effect.units(con))
        rows = followup_effect.write(con, result)
    headline = result[(result.outcome == "next_nps") & (result.contact_group == "within_24h")]
    difference = headline.difference.iloc[0] if len(headline) else None
    context.log.info(f"follow-up effect: {rows} rows; next NPS within 24 h vs later or never: {difference}")
    return dg.MaterializeResult(metadata={"rows": rows, "engine": engine()})


@dg.asset(
    key=dg.AssetKey(["marts", "experiment_results"]),
    deps=[dg.AssetKey(["intermediate", "int_experiment_units"])],
    group_name="marts",
    kinds={"python"},
    owners=["team:data-platform"],
    tags={"layer": "marts"},
    metadata=ENGINE_METADATA,
    description=documented()["marts.experiment_results"][0] + ENGINE_NOTE,
)
def experiment_results_mart(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    inputs = ["intermediate.int_experiment_units", "seeds.experiments"]
    with connection(warehouse, inputs, [experiment_results.TABLE]) as con:
        rows = experiment_results.build(con)
        significant = con.execute(f"select count(*) from {experiment_results.TABLE} where is_significant").fetchone()[0]
    context.log.info(f"experiment results: {rows} rows, {significant} differences significant at p < 0.05")
    return dg.MaterializeResult(metadata={"rows": rows, "significant": significant, "engine": engine()})


# Each theme mart and the dbt mart it reads: one step, so survey and churn comments share one trained classifier.
THEME_MARTS = {
    "comment_classifications": "fct_survey_responses",
    "comment_theme_evaluation": "fct_survey_responses",
    "comment_themes": "fct_survey_responses",
    "theme_escalations": "fct_survey_responses",
    "churn_reason_themes": "subscription_churn_reasons",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=dg.AssetKey(["marts", name]),
            deps=[dg.AssetKey(["marts", source])],
            group_name="marts",
            kinds={"python", "scikit-learn"},
            owners=["team:data-platform"],
            tags={"layer": "marts"},
            metadata=ENGINE_METADATA,
            description=documented()[f"marts.{name}"][0] + ENGINE_NOTE,
        )
        for name, source in THEME_MARTS.items()
    ],
    name="comment_themes",
)
def comment_themes(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    classifier = themes.default_classifier()
    inputs = sorted({f"marts.{source}" for source in THEME_MARTS.values()})
    with connection(warehouse, inputs, [f"marts.{name}" for name in THEME_MARTS]) as con:
        classified = themes.classify_table(
            con,
            "select response_id, comment from marts.fct_survey_responses",
            "response_id",
            "comment",
            "marts.comment_classifications",
            classifier,
        )
        describe(con, "marts.comment_classifications")
        evaluated = themes.write_evaluation(con, classifier.evaluation, "marts.comment_theme_evaluation")
        built = theme_marts.build(con)
        churn_themed = churn_themes.build(con, classifier)
    scores = {row.method: row.value for row in _macro_f1(classifier.evaluation)}
    context.log.info(f"comment themes: {classified} comments by {classifier.method}; held-out macro-F1 {scores}")
    counts = {
        "comment_classifications": classified,
        "comment_theme_evaluation": evaluated,
        "comment_themes": built[theme_marts.COMMENT_THEMES],
        "theme_escalations": built[theme_marts.THEME_ESCALATIONS],
        "churn_reason_themes": churn_themed,
    }
    for name, rows in counts.items():
        metadata: dict = {"rows": rows, "engine": engine()}
        if name == "comment_theme_evaluation":
            metadata |= {"chosen_method": classifier.method} | {f"macro_f1_{m}": v for m, v in scores.items()}
        yield dg.MaterializeResult(asset_key=dg.AssetKey(["marts", name]), metadata=metadata)


def _macro_f1(evaluation: themes.Evaluation):
    frame = evaluation.frame()
    return frame[(frame.metric == "macro_f1")].itertuples()
