"""The report's content on a small warehouse of hand-written mart rows (tests/report/small_warehouse.py): partial
periods drawn apart and never read by a recommendation, no support data said as such, the segment chart's order,
and the significance of a change checked against a worked example."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import duckdb
import pytest

import report
from analytics.significance import nps_change
from report import figures, periods, queries
from tests.report import small_warehouse


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_warehouse.build(tmp_path_factory.mktemp("small") / "warehouse.duckdb")


@pytest.fixture(scope="module")
def rendered(small: Path) -> report.ReportResult:
    with duckdb.connect(str(small), read_only=True) as con:
        return report.render(con, small.parent / "reports" / "report.html")


def by_kind(result: report.ReportResult) -> dict[str, report.Recommendation]:
    return {item.kind: item for item in result.recommendations}


def test_the_largest_detractor_theme_is_of_the_last_complete_month(rendered):
    theme = by_kind(rendered)["largest_detractor_theme"]
    # May (1 of 1 comments, Onboarding) is partial; April's largest theme but 'other' is Bugs, 5 of 10.
    assert theme.numbers["month_start"] == date(2026, 4, 1)
    assert (theme.numbers["theme"], theme.numbers["comments"], theme.numbers["category_comments"]) == ("bugs", 5, 10)
    assert theme.numbers["skipped_partial_month"] is True
    assert "April 2026 (the last complete month" in theme.text and "50.0% of detractor comments" in theme.text


def test_the_segment_that_moved_most_compares_complete_quarters_with_a_z_test(rendered):
    moved = by_kind(rendered)["segment_moved_most"]
    # Basic's jump to 100 is in Q2 2026, partial; Pro moved 25.0 -> 62.5 from Q4 2025 to Q1 2026.
    assert (moved.numbers["segment_type"], moved.numbers["segment_value"]) == ("plan", "Pro")
    assert (moved.numbers["previous_quarter"], moved.numbers["latest_quarter"]) == (date(2025, 10, 1), date(2026, 1, 1))
    assert moved.numbers["change"] == pytest.approx(37.5)
    # Worked by hand: var = (0.5 + 0.25 - 0.25^2) / 40 = 0.0171875 and (0.75 + 0.125 - 0.625^2) / 40 = 0.012109375,
    # se = 100 * sqrt(0.029296875) = 17.1163, z = 37.5 / 17.1163 = 2.19089, p = 2 * (1 - Phi(2.19089)) = 0.02846.
    assert moved.numbers["z"] == pytest.approx(2.19089, abs=1e-5)
    assert moved.numbers["p_value"] == pytest.approx(0.028460, abs=1e-6)
    assert moved.numbers["change_ci"] == pytest.approx((3.9526, 71.0474), abs=1e-4)
    assert moved.numbers["significant"] is True
    assert "p = 0.028: a real move" in moved.text and "Q4 2025 to Q1 2026, the last complete quarters" in moved.text
    assert "intervals overlap" not in moved.text


def test_nps_change_matches_an_independent_two_proportion_computation():
    from scipy.stats import norm

    # 50 promoters, 30 passives, 20 detractors against 30 / 30 / 40: scores as +1 / 0 / -1, a difference of means.
    before = [1] * 50 + [0] * 30 + [-1] * 20
    after = [1] * 30 + [0] * 30 + [-1] * 40
    var = [sum((x - sum(s) / len(s)) ** 2 for x in s) / len(s) / len(s) for s in (before, after)]
    se = 100 * (var[0] + var[1]) ** 0.5
    result = nps_change((50, 20, 100), (30, 40, 100))
    assert result.change == pytest.approx(-40.0)
    assert result.std_error == pytest.approx(se)
    assert result.p_value == pytest.approx(2 * norm.sf(40 / se))
    assert nps_change((5, 0, 5), (5, 0, 5)).p_value is None  # no variance: nothing to test


def test_followup_uses_complete_weeks_only(rendered):
    followup = by_kind(rendered)["followup_attainment"]
    # The latest 4 complete weeks with something due: 20 Apr to 11 May (18 May is partial).
    assert (followup.numbers["first_week"], followup.numbers["last_week"]) == (date(2026, 4, 20), date(2026, 5, 11))
    assert (followup.numbers["met_target"], followup.numbers["target_due"]) == (2 + 4 + 1 + 2, 3 + 4 + 3 + 2)
    assert (followup.numbers["met_fast_target"], followup.numbers["fast_target_due"]) == (1 + 2 + 0 + 2, 12)
    assert "75.0% contacted within 24 h" in followup.text and "against 90.0%" in followup.text


def test_without_support_data_the_report_says_so(tmp_path):
    warehouse = small_warehouse.build(tmp_path / "warehouse.duckdb", support_data=False)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        result = report.render(con, tmp_path / "report.html")
    followup = by_kind(result)["followup_attainment"]
    assert followup.text.startswith("No support data")
    assert "staff the queue" not in followup.text and "0.0%" not in followup.text
    assert "sla" in result.sections_without_data
    content = result.path.read_text(encoding="utf-8")
    assert "No support data: no response has a follow-up Zendesk ticket." in content
    assert "No support data: no CES response is linked to a Zendesk ticket in Q1 2026" in content
    assert "chart-ces-monthly" in result.charts and "chart-ces-categories" not in result.charts


def test_with_tickets_but_no_follow_up_the_zero_is_real(tmp_path):
    warehouse = small_warehouse.build(tmp_path / "warehouse.duckdb", support_data=False)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update marts.dim_accounts set open_tickets = 1 where account_id = 'acc_2'")
        followup = by_kind(report.render(con, tmp_path / "report.html"))["followup_attainment"]
    # Zendesk has tickets, yet no detractor got a follow-up: 0 of 12 due in the 4 complete weeks is real news.
    assert followup.text.startswith("Detractor follow-up is below target: 0.0% contacted within 24 h")
    assert (followup.numbers["met_target"], followup.numbers["target_due"]) == (0, 12)


def test_ces_by_ticket_category_splits_refunds_in_the_last_complete_quarter(rendered):
    content = rendered.path.read_text(encoding="utf-8")
    assert "chart-ces-monthly" in rendered.charts and "chart-ces-categories" in rendered.charts
    # Q1 2026 (Q2 is partial): refund-related 3.50 (25.0% easy, 6) against other 5.25 (80.0% easy, 10).
    assert (
        "Refund-related tickets: CES 3.50 (25.0% easy, 6 responses) against 5.25 (80.0% easy, 10) for other "
        "tickets in Q1 2026: -1.75 points." in content
    )
    assert '<td>refund_related</td><td class="num">6</td><td class="num">3.50</td>' in content
    assert "4.0 h" in content and "24.0 h" in content and "30 min" in content


def test_periods_end_after_the_as_of_date_are_partial():
    assert periods.period_end("week", date(2026, 5, 18)) == date(2026, 5, 25)
    assert periods.period_end("month", date(2026, 12, 1)) == date(2027, 1, 1)
    assert periods.period_end("quarter", date(2026, 10, 1)) == date(2027, 1, 1)
    assert periods.is_partial("month", date(2026, 5, 1), date(2026, 5, 30))
    assert not periods.is_partial("month", date(2026, 5, 1), date(2026, 5, 31))  # its last day is in the data
    assert not periods.is_partial("week", date(2026, 5, 11), date(2026, 5, 17))


def test_charts_draw_partial_periods_apart_and_order_mrr_bands(small):
    with duckdb.connect(str(small), read_only=True) as con:
        as_of = queries.as_of(con)
        monthly = periods.mark(queries.trend(con, "month"), "month", as_of)
        segments = periods.mark(queries.segment_quarters(con), "quarter", as_of)
        themes = periods.mark(queries.themes(con), "month", as_of, key="month_start")
    svg = "{http://www.w3.org/2000/svg}"
    trend = ElementTree.fromstring(figures.trend_figure(monthly, "month"))
    lines = trend.findall(f"{svg}polyline")
    solid, dashed = (
        (line for line in lines if line.get("stroke-dasharray") is None),
        (line for line in lines if line.get("stroke-dasharray")),
    )
    assert len(next(solid).get("points").split()) == 4  # January to April
    assert len(next(dashed).get("points").split()) == 2  # April to May, the partial month
    markers = trend.findall(f"{svg}circle")
    assert [marker.get("fill") == "white" for marker in markers] == [False] * 4 + [True]  # May hollow
    assert markers[-1].find(f"{svg}title").text.startswith("May 2026: NPS -100.0") and "(partial)" in (
        markers[-1].find(f"{svg}title").text
    )
    assert "partial" in [text.text for text in trend.findall(f"{svg}text")]

    chart = ElementTree.fromstring(figures.segment_figure(segments, 5))
    labels = [text.text for text in chart.findall(f"{svg}text")]
    band_bars = [bar.find(f"{svg}title").text.split(":")[0] for bar in chart.findall(f"{svg}rect[@class='mark']")]
    assert band_bars[-5:] == small_warehouse.MRR_BAND_ORDER  # the MRR band panel is the last
    assert "n=2 few" in labels
    bars = {bar.find(f"{svg}title").text.split(":")[0]: bar for bar in chart.findall(f"{svg}rect[@class='mark']")}
    assert bars["0"].get("fill") == figures.COLORS["few"] and bars["<100"].get("fill") == figures.COLORS["nps"]
    assert float(bars["0"].get("width")) < float(bars["<100"].get("width")) / 2

    # Every bar of a month has that month's colour in both panels (the legend's), the partial month hatched.
    themes_svg = ElementTree.fromstring(figures.themes_figure(themes))
    colours: dict[str, set[tuple[str, str]]] = {}
    for bar in themes_svg.findall(f"{svg}rect[@class='mark']"):
        month = bar.find(f"{svg}title").text.split(": ")[0].split(", ")[1]
        colours.setdefault(month, set()).add((bar.get("stroke"), bar.get("fill")))
    assert sorted(colours) == ["April 2026", "March 2026", "May 2026 (partial)"]
    assert all(len(found) == 1 for found in colours.values())
    assert len({stroke for found in colours.values() for stroke, _ in found}) == 3
    assert next(iter(colours["May 2026 (partial)"]))[1] == "url(#hatch)"
    legend = [text.text for text in themes_svg.findall(f"{svg}text")][-3:]
    assert legend == ["March 2026", "April 2026", "May 2026 (partial)"]


def test_accounts_show_their_name_beside_the_id(rendered):
    content = rendered.path.read_text(encoding="utf-8")
    assert "<td>Acme &amp; Sons (acc_1)</td>" in content and "<td>Globex (acc_2)</td>" in content
    assert "<td>acc_3</td>" in content  # no name: the id alone
    risk = by_kind(rendered)["revenue_at_risk"]
    assert "the largest is Acme & Sons (acc_1) ($1,600 of $2,000 MRR" in risk.text
    assert risk.numbers["revenue_at_risk_usd"] == pytest.approx(1600 + 250 + 9)


def test_the_overall_change_of_the_last_complete_month_and_quarter_is_tested(rendered):
    found = {item["grain"]: item for item in rendered.changes}
    # Months: March 15/3/2 (NPS 65.0) -> April 9/6/5 (NPS 20.0); May is partial.
    # var = (0.75 + 0.1 - 0.65^2) / 20 = 0.021375 and (0.45 + 0.25 - 0.2^2) / 20 = 0.033; se = 100 * sqrt(0.054375)
    month = found["month"]
    assert (month["before"]["period_start"], month["after"]["period_start"]) == (date(2026, 3, 1), date(2026, 4, 1))
    se = 100 * 0.054375**0.5
    assert month["test"].change == pytest.approx(-45.0)
    assert month["test"].std_error == pytest.approx(se)
    assert month["test"].p_value == pytest.approx(0.05363, abs=1e-5)  # z = -45 / 23.318 = -1.9298: not below 0.05
    assert not month["test"].significant
    # Quarters: Q4 2025 32/23/17 (NPS 20.8) -> Q1 2026 44/13/13 (NPS 44.3); Q2 is partial.
    quarter = found["quarter"]
    assert quarter["after"]["period_start"] == date(2026, 1, 1)
    assert quarter["test"].change == pytest.approx(100 * 31 / 70 - 100 * 15 / 72)
    content = rendered.path.read_text(encoding="utf-8")
    assert "March 2026 -&gt; April 2026" in content and "Q4 2025 -&gt; Q1 2026" in content
    assert '<td class="num">0.054</td>' in content


def test_risk_tiers_goals_and_verbatims(rendered):
    content = rendered.path.read_text(encoding="utf-8")
    # Tiers: high acc_1 (2000 MRR, 1600 at risk), medium acc_2 (500, 250), low acc_3 + acc_4 (90 + 0, 9 + 0).
    assert (
        '<tr><td>high</td><td class="num">1</td><td class="num">25.0%</td><td class="num">$2,000</td>'
        '<td class="num">$1,600</td><td class="num">86.1%</td></tr>'
    ) in content
    assert '<tr><td>low</td><td class="num">2</td><td class="num">50.0%</td><td class="num">$90</td>' in content
    assert '<tr><td>all</td><td class="num">4</td><td class="num">100.0%</td><td class="num">$2,590</td>' in content
    assert "chart-risk-tiers" in rendered.charts

    assert "Goal progress, Q2 2026 (partial, so far)" in content
    assert '<td>Every detractor contacted within 24 hours</td><td class="num">80.0%</td>' in content
    assert '<td class="num">100.0 (70.0 to 100.0)</td>' in content

    # Verbatims: the top 3 detractor themes of March-April (bugs 4, pricing 3, performance 2; not onboarding 1,
    # not 'other'), the 3 newest comments each; nothing from partial May; comments escaped.
    section = content[content.index('<section id="verbatims">') :]
    section = section[: section.index("</section>")]
    assert section.index("Bugs and errors (4 comments)") < section.index("Pricing (3 comments)")
    assert "Performance (2 comments)" in section and "Onboarding" not in section and "Just bad" not in section
    assert "Crashes on export" in section and "Sync loses rows" in section and "The oldest bug report" not in section
    assert "May comment, partial month" not in section
    assert "Too expensive &lt;for us&gt;" in section and "Great &lt;b&gt;support&lt;/b&gt; team" in section
    assert "Acme &amp; Sons (acc_1)" in section and "no account" in section


def test_without_support_data_the_followup_goal_is_not_judged(tmp_path):
    warehouse = small_warehouse.build(tmp_path / "warehouse.duckdb", support_data=False)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        content = report.render(con, tmp_path / "report.html").path.read_text(encoding="utf-8")
    goals = content[content.index('<section id="goals">') :]
    goals = goals[: goals.index("</section>")]
    assert "no support data" in goals and "not measurable" in goals and "75.0%" not in goals
