"""marts.experiment_results on small planted tables, against values worked out by hand, a published example and
scipy (docs/metrics.md "Experiments"), with the boundaries: a variant or control without units, no variance, one
unit."""

from __future__ import annotations

import math

import duckdb
import pandas as pd
import pytest
from scipy import stats

from analytics import experiment_results

VARIANTS = pd.DataFrame(
    [
        ("subject", "send", "plain", True),
        ("subject", "send", "question", False),
        ("subject", "send", "emoji", False),  # declared, never sent: no units
        ("script", "followup_case", "standard", True),
        ("script", "followup_case", "listen", False),
    ],
    columns=["experiment", "applies_to", "variant", "is_control"],
)


def sends(variant: str, answered: int, total: int) -> list[tuple]:
    return [("subject", variant, f"{variant}{n}", n < answered, None, None) for n in range(total)]


def cases(variant: str, scores: list[int | None]) -> list[tuple]:
    return [("script", variant, f"{variant}{n}", None, s, None if s is None else s >= 7) for n, s in enumerate(scores)]


def frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["experiment", "variant", "unit_id", "is_answered", "next_score", "is_recovered"])


def by_key(result: pd.DataFrame) -> dict[tuple[str, str], dict]:
    return {
        (r["variant"], r["metric"]): r for r in result.astype(object).where(result.notna(), None).to_dict("records")
    }


def test_a_rate_difference_its_pooled_z_and_p_value_worked_out_by_hand():
    result = by_key(experiment_results.results(VARIANTS, frame(sends("question", 45, 100) + sends("plain", 30, 100))))
    row = result[("question", "response_rate")]
    # pooled 75/200 = 0.375; se = sqrt(0.375 x 0.625 x (1/100 + 1/100)) = 0.0684653; z = 0.15 / se = 2.190890
    assert (row["units"], row["observed"], row["successes"], row["value"]) == (100, 100, 45, 0.45)
    assert row["control_value"] == 0.3 and row["difference"] == pytest.approx(0.15)
    assert row["statistic"] == pytest.approx(2.190890, abs=1e-6)
    assert row["p_value"] == pytest.approx(0.028459, abs=1e-6)
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(0.15 / math.sqrt(0.375 * 0.625 * 0.02)), abs=1e-9)
    assert row["is_significant"] and row["test"] == "two_proportion_z"
    control = result[("plain", "response_rate")]
    assert control["is_control"] and control["difference"] is None and control["p_value"] is None


def test_the_interval_is_newcombes_method_10_on_his_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873-890, table II example (a): 56/70 - 48/80 = 0.2000, method 10
    # (score interval, no continuity correction) 0.0524 to 0.3339.
    result = by_key(experiment_results.results(VARIANTS, frame(sends("question", 56, 70) + sends("plain", 48, 80))))
    row = result[("question", "response_rate")]
    assert row["difference"] == pytest.approx(0.2)
    assert (round(row["ci_low"], 4), round(row["ci_high"], 4)) == (0.0524, 0.3339)


def test_a_mean_difference_by_welch_t_against_scipy_and_by_hand():
    listen, standard = [7, 8, 9, 10, None], [3, 5, 6, 8]
    result = by_key(experiment_results.results(VARIANTS, frame(cases("listen", listen) + cases("standard", standard))))
    row = result[("listen", "mean_next_score")]
    # 8.5 - 5.5 = 3; se = sqrt(1.6667/4 + 4.3333/4) = sqrt(1.5); t = 2.449490; df = 2.25 / 0.449074 = 5.0103
    assert (row["units"], row["observed"], row["value"], row["difference"]) == (5, 4, 8.5, 3.0)
    assert row["std_dev"] == pytest.approx(math.sqrt(5 / 3))
    assert row["statistic"] == pytest.approx(3 / math.sqrt(1.5))
    scipy_test = stats.ttest_ind([7, 8, 9, 10], standard, equal_var=False)
    assert row["p_value"] == pytest.approx(scipy_test.pvalue, abs=1e-9)
    df = 2.25 / ((5 / 12) ** 2 / 3 + (13 / 12) ** 2 / 3)
    half = stats.t.ppf(0.975, df) * math.sqrt(1.5)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(3 - half), pytest.approx(3 + half))
    assert row["test"] == "welch_t" and row["is_significant"] is False  # p = 0.058
    recovery = result[("listen", "recovery_rate")]  # 4 of 4 recovered against 1 of 4 (8)
    assert (recovery["successes"], recovery["observed"], recovery["control_value"]) == (4, 4, 0.25)


def test_a_variant_without_units_has_its_row_and_no_test():
    result = by_key(experiment_results.results(VARIANTS, frame(sends("plain", 3, 10))))
    for variant in ("emoji", "question"):
        row = result[(variant, "response_rate")]
        assert (row["units"], row["observed"], row["value"], row["difference"], row["p_value"]) == (
            0,
            0,
            None,
            None,
            None,
        )
        assert row["note"] == "no units with this outcome in the variant or the control"
    # The follow-up experiment has no case at all: every variant still has its rows.
    assert result[("listen", "recovery_rate")]["units"] == 0 and result[("standard", "mean_next_score")]["units"] == 0
    assert len(result) == 3 + 2 * 2


def test_no_variance_gives_an_interval_but_no_p_value_and_one_unit_no_welch_test():
    result = by_key(
        experiment_results.results(
            VARIANTS,
            frame(sends("question", 0, 10) + sends("plain", 0, 12) + cases("listen", [9]) + cases("standard", [3, 4])),
        )
    )
    row = result[("question", "response_rate")]
    assert row["difference"] == 0 and row["p_value"] is None and row["is_significant"] is None
    # Wilson upper bounds of 0/10 and 0/12: z^2 / (n + z^2).
    z2 = stats.norm.ppf(0.975) ** 2
    assert row["ci_low"] == pytest.approx(-z2 / (12 + z2)) and row["ci_high"] == pytest.approx(z2 / (10 + z2))
    mean = result[("listen", "mean_next_score")]
    assert mean["difference"] == pytest.approx(5.5) and mean["p_value"] is None and mean["ci_low"] is None
    assert mean["note"].startswith("needs 2 or more units")


def test_build_writes_the_table_from_the_seed_and_the_units_and_a_rebuild_changes_nothing():
    con = duckdb.connect()
    con.execute("create schema seeds; create schema intermediate")
    con.register("variants", VARIANTS)
    con.execute("create table seeds.experiments as select *, 0.5 as share, '' as description from variants")
    con.register("units", frame(sends("question", 45, 100) + sends("plain", 30, 100) + cases("listen", [8, 9])))
    con.execute("create table intermediate.int_experiment_units as select * from units")
    assert experiment_results.build(con) == 7
    first = con.execute("select * from marts.experiment_results").fetchall()
    assert experiment_results.build(con) == 7
    assert con.execute("select * from marts.experiment_results").fetchall() == first
    assert [(r[0], r[2], r[4]) for r in first[:3]] == [
        ("script", "standard", "mean_next_score"),
        ("script", "listen", "mean_next_score"),
        ("script", "standard", "recovery_rate"),
    ]
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns where table_name = 'experiment_results'"
        ).fetchall()
    )
    assert types["p_value"] == "DOUBLE" and types["units"] == "BIGINT" and types["is_significant"] == "BOOLEAN"
