"""The NPS report: rendered from a real run's marts, opened offline in headless Chromium, its recommendations
checked against plain SQL, and rendered from an empty or missing set of marts without failing."""

from __future__ import annotations

import os
import re
import shutil
import struct
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import report
from tests.report.screens import ink_share

pytestmark = pytest.mark.e2e

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chromium_executable() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium not found: `make test` installs it (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def warehouse_copy(full_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the full run's warehouse, so the read-only connection never meets another test's writer."""
    copy = tmp_path_factory.mktemp("report") / "warehouse.duckdb"
    shutil.copyfile(full_run, copy)
    return copy


@pytest.fixture(scope="module")
def rendered(warehouse_copy: Path) -> report.ReportResult:
    output = report.report_path(warehouse_copy.parent / "reports")
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        return report.render(con, output, run_id="test-run <&>")


@pytest.fixture(scope="module")
def browser_view(rendered: report.ReportResult) -> dict:
    """Open the report from disk in headless Chromium with every non-file request blocked and recorded."""
    from playwright.sync_api import sync_playwright

    console_errors, page_errors, failed, outside = [], [], [], []
    screenshot = rendered.path.with_suffix(".png")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.on("requestfailed", lambda request: failed.append(request.url))

            def only_files(route):
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_files)
            page.goto(rendered.path.as_uri(), wait_until="load")
            marks = page.evaluate(
                """() => Object.fromEntries(Array.from(document.querySelectorAll('[data-chart]')).map(chart => [
                    chart.dataset.chart,
                    {
                        svgs: chart.querySelectorAll('svg').length,
                        marks: Array.from(chart.querySelectorAll('svg .mark')).filter(mark => {
                            const box = mark.getBoundingClientRect();
                            return box.width > 0 && box.height > 0;
                        }).length,
                    },
                ]))"""
            )
            # One screenshot per section and per chart, measured in a blank page of the same browser.
            shots = {}
            for selector in [
                "section#" + name for name in page.eval_on_selector_all("section", "s => s.map(x => x.id)")
            ]:
                shots[selector] = page.locator(selector).screenshot()
            for chart in marks:
                shots[f"#{chart}"] = page.locator(f"#{chart}").screenshot()
            scratch = browser.new_page()
            ink = {selector: ink_share(scratch, png) for selector, png in shots.items()}
            scratch.set_content('<div id="blank" style="width: 300px; height: 120px"></div>')
            blank = ink_share(scratch, scratch.locator("#blank").screenshot())
            text = page.inner_text("body")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return {
        "console_errors": console_errors,
        "page_errors": page_errors,
        "failed": failed,
        "outside": outside,
        "marks": marks,
        "text": text,
        "screenshot": screenshot,
        "ink": ink,
        "blank": blank,
    }


def test_the_report_is_one_small_self_contained_file_written_with_latest(rendered):
    assert rendered.path.name == f"nps_report_{datetime.now(UTC).date().isoformat()}.html"
    content = rendered.path.read_text(encoding="utf-8")
    assert rendered.latest_path.read_bytes() == rendered.path.read_bytes()
    assert rendered.size_bytes == rendered.path.stat().st_size
    # Inline SVG charts: no script at all, nothing loaded from elsewhere, and well under 2 MB (4.9 MB with plotly.js).
    assert "<script" not in content
    assert re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", content) is None
    assert rendered.size_bytes < 2_000_000
    assert "test-run &lt;&amp;&gt;" in content and "test-run <&>" not in content
    assert not list(rendered.path.parent.glob(".*.tmp"))


def test_every_chart_draws_marks_in_chromium_offline(rendered, browser_view):
    # The small demo has data for every section but the revenue per point (3 months: no horizon observed).
    assert rendered.sections_without_data == ["revenue"]
    assert rendered.charts == [
        "chart-nps-monthly",
        "chart-nps-weekly",
        "chart-ces-monthly",
        "chart-ces-categories",
        "chart-nps-segments",
        "chart-themes",
        "chart-sla",
        "chart-risk-tiers",
    ]
    assert sorted(browser_view["marks"]) == sorted(rendered.charts)
    for chart, found in browser_view["marks"].items():
        assert found["svgs"] == 1 and found["marks"] > 0, (chart, found)
    assert browser_view["console_errors"] == []
    assert browser_view["page_errors"] == []
    assert browser_view["failed"] == []
    assert browser_view["outside"] == []
    assert "No data yet." in browser_view["text"]  # the revenue section


def test_the_screenshot_is_a_real_png(browser_view):
    data = browser_view["screenshot"].read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1280 and height > 2000
    assert len(data) > 50_000


def test_every_section_and_chart_shows_on_screen(rendered, browser_view):
    ink = browser_view["ink"]
    sections = [selector for selector in ink if selector.startswith("section#")]
    assert len(sections) == 11 and {f"#{chart}" for chart in rendered.charts} <= set(ink)
    for selector, found in ink.items():
        assert found["width"] > 500 and found["height"] > 40, (selector, found)
        # A heading and a paragraph ink about 1% of a section; a chart's axes, labels and marks several %.
        # Text inks 3-10% of a section; a chart's marks are its only saturated pixels (axes and text are grey, a
        # legend alone about 0.03%): a line chart of three months colours about 0.6%.
        assert found["ink"] > 0.01, (selector, found)
        if selector.startswith("#chart"):
            assert found["colour"] > 0.002, (selector, found)
    assert browser_view["blank"]["ink"] == 0 and browser_view["blank"]["colour"] == 0


def test_recommendations_match_plain_sql(rendered, browser_view, warehouse_copy):
    found = {item.kind: item for item in rendered.recommendations}
    for item in rendered.recommendations:
        assert item.text in browser_view["text"]
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        # The data's as-of date: the latest response; a period ending after it is partial and not read.
        as_of = con.execute("select max(response_date) from marts.fct_survey_responses").fetchall()[0][0]
        # The largest detractor theme of the latest complete month, counted from the classified comments.
        month, theme, comments, total, accounts = con.execute(
            """
            with detractor as (
                select date_trunc('month', r.responded_at)::date as month_start, c.theme, r.account_id
                from marts.fct_survey_responses as r
                join marts.comment_classifications as c using (response_id)
                where r.survey_type = 'nps' and r.nps_category = 'detractor'
            ),
            complete as (select * from detractor where month_start + interval 1 month <= ?::date + 1),
            latest as (select * from complete where month_start = (select max(month_start) from complete))
            select month_start, theme, count(*), (select count(*) from latest), count(distinct account_id)
            from latest
            where theme not in ('praise', 'other')
            group by month_start, theme
            order by count(*) desc, theme
            limit 1
            """,
            [as_of],
        ).fetchall()[0]
        theme_numbers = found["largest_detractor_theme"].numbers
        assert (theme_numbers["month_start"], theme_numbers["theme"]) == (month, theme)
        assert (theme_numbers["comments"], theme_numbers["category_comments"]) == (comments, total)
        assert theme_numbers["share_of_comments"] == pytest.approx(comments / total)
        assert theme_numbers["accounts"] == accounts
        assert f"{100 * comments / total:.1f}% of detractor comments" in found["largest_detractor_theme"].text

        # The segment that moved most between the latest two complete quarters, NPS recomputed from the counts.
        moves = con.execute(
            """
            with quarters as (
                select distinct period_start from marts.nps_by_period
                where period_grain = 'quarter' and segment_type = 'overall' and responses > 0
                    and period_start + interval 3 month <= ?::date + 1
                order by period_start desc limit 2
            ),
            scored as (
                select segment_type, segment_value, period_start, responses,
                    100.0 * (promoters - detractors) / responses as nps
                from marts.nps_by_period
                where period_grain = 'quarter' and segment_type in ('plan', 'region', 'mrr_band')
                    and segment_value != 'unknown' and responses >= 5
                    and period_start in (select period_start from quarters)
                    and (select count(*) from quarters) = 2
            )
            select a.segment_type, a.segment_value, a.nps, b.nps, b.nps - a.nps as change
            from scored as a join scored as b using (segment_type, segment_value)
            where a.period_start < b.period_start
            order by abs(b.nps - a.nps) desc, a.segment_type, a.segment_value
            """,
            [as_of],
        ).fetchall()
        if moves:
            segment_type, segment_value, nps_from, nps_to, change = moves[0]
            moved = found["segment_moved_most"].numbers
            assert (moved["segment_type"], moved["segment_value"]) == (segment_type, segment_value)
            assert (moved["nps_from"], moved["nps_to"], moved["change"]) == pytest.approx((nps_from, nps_to, change))
            assert f"NPS {nps_from:.1f} -> {nps_to:.1f} ({change:+.1f} points" in found["segment_moved_most"].text
        else:
            assert "segment_moved_most" not in found

        # Detractor follow-up over the latest four complete weeks with a deadline passed.
        met, due, fast_met, fast_due = con.execute(
            """
            with weeks as (
                select * from marts.closed_loop_sla_weekly
                where team = 'all' and nps_category = 'detractor' and target_due > 0
                    and week_start + 7 <= ?::date + 1
                order by week_start desc limit 4
            )
            select sum(met_target), sum(target_due), sum(met_fast_target), sum(fast_target_due) from weeks
            """,
            [as_of],
        ).fetchall()[0]
        followup = found["followup_attainment"].numbers
        assert (followup["met_target"], followup["target_due"]) == (met, due)
        assert (followup["met_fast_target"], followup["fast_target_due"]) == (fast_met, fast_due)
        assert followup["target_attainment"] == pytest.approx(met / due)
        assert f"{100 * met / due:.1f}% contacted within 24 h" in found["followup_attainment"].text

        # Revenue at risk of the ten accounts listed, and the overall NPS in the headline.
        at_risk = con.execute(
            """
            select sum(revenue_at_risk_usd) from (
                select revenue_at_risk_usd from marts.dim_accounts where revenue_at_risk_usd > 0
                order by revenue_at_risk_usd desc limit 10
            )
            """
        ).fetchall()[0][0]
        assert found["revenue_at_risk"].numbers["revenue_at_risk_usd"] == pytest.approx(at_risk)
        promoters, detractors, responses = con.execute(
            "select sum(is_promoter::int), sum(is_detractor::int), count(*) from marts.fct_survey_responses "
            "where survey_type = 'nps'"
        ).fetchall()[0]
        assert rendered.overall_nps == pytest.approx(100 * (promoters - detractors) / responses)
        assert f"NPS {rendered.overall_nps:.1f}" in browser_view["text"]


def test_the_report_and_the_marts_agree_on_which_periods_are_complete(warehouse_copy):
    """The report's partial periods are the marts' incomplete ones: for every week, month and quarter row of
    nps_by_period and ces_by_period, the report's rule over program_summary's as-of date gives the mart's flag, and
    both equal "the period's last day is on or before the latest response day" computed here from the responses."""
    from report import periods

    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        as_of = con.execute("select max(response_date) from marts.fct_survey_responses").fetchone()[0]
        assert con.execute("select last_response_date from marts.program_summary").fetchone()[0] == as_of
        rows = con.execute(
            """
            select period_grain, period_start, is_complete_period from marts.nps_by_period
            where period_grain in ('week', 'month', 'quarter')
            union all
            select period_grain, period_start, is_complete_period from marts.ces_by_period
            where period_grain in ('week', 'month', 'quarter')
            """
        ).fetchall()
    assert {grain for grain, _, _ in rows} == {"week", "month", "quarter"}
    assert {complete for _, _, complete in rows} == {True, False}
    months = {"week": 0, "month": 1, "quarter": 3}
    for grain, start, complete in rows:
        if grain == "week":
            last_day = start.toordinal() + 6
        else:
            month = start.month - 1 + months[grain]
            last_day = datetime(start.year + month // 12, month % 12 + 1, 1).date().toordinal() - 1
        assert complete == (last_day <= as_of.toordinal()), (grain, start)
        assert periods.is_partial(grain, start, as_of) == (not complete), (grain, start)


def test_the_run_rendered_the_report_beside_its_warehouse(full_run):
    if os.environ.get("NPS_REPORTS_DIR"):
        pytest.skip("NPS_REPORTS_DIR points elsewhere")
    latest = full_run.parent / "reports" / report.LATEST_NAME
    assert latest.exists()
    assert "Customer sentiment: NPS report" in latest.read_text(encoding="utf-8")


def test_missing_marts_render_no_data_yet(tmp_path):
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        result = report.render(con, tmp_path / "out" / "nps_report_2026-01-01.html")
    content = result.path.read_text(encoding="utf-8")
    assert result.charts == [] and result.recommendations == [] and result.overall_nps is None
    assert set(result.sections_without_data) == {
        "recommendations",
        "trend",
        "segments",
        "themes",
        "sla",
        "accounts",
        "revenue",
        "ces",
        "goals",
        "verbatims",
        "risk-tiers",
    }
    assert content.count("No data yet.") == 12  # every section and the headline
    assert (tmp_path / "out" / "latest.html").exists()


def test_empty_marts_render_no_data_yet_and_user_text_is_escaped(tmp_path, warehouse_copy):
    path = tmp_path / "empty_marts.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"attach '{warehouse_copy}' as source (read_only)")
        con.execute("create schema marts")
        for mart in report.MARTS:
            con.execute(f"create table marts.{mart} as select * from source.marts.{mart} limit 0")
        con.execute("detach source")
        empty = report.render(con, tmp_path / "empty" / "report.html")
        assert empty.charts == [] and "No data yet." in empty.path.read_text(encoding="utf-8")
        # One account at risk whose id and drivers carry markup: it must reach the page as text.
        con.execute(
            """
            insert into marts.dim_accounts (account_id, plan, region, mrr_usd, risk_score, risk_tier,
                revenue_at_risk_usd, risk_drivers)
            values ('<script>alert(1)</script>', 'Pro & Co', 'NA', 1000, 60, 'high', 600,
                '<img src=x onerror=alert(2)>')
            """
        )
        escaped = report.render(con, tmp_path / "escaped" / "report.html")
    content = escaped.path.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in content and "<img src=x" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content and "Pro &amp; Co" in content
    assert [item.kind for item in escaped.recommendations] == ["revenue_at_risk"]


def test_account_names_come_from_zendesk_else_stripe(small_landing, full_run):
    """dim_accounts.account_name, recomputed from the landing files: the Zendesk organization's name (latest
    updated), else the earliest live Stripe customer's name."""
    from tests.e2e import reference

    organizations: dict[str, tuple[str, str, str]] = {}
    for org in reference.latest(small_landing, "zendesk", "organizations").values():
        name, account = (org.get("name") or "").strip(), (org.get("external_id") or "").strip()
        if name and account:
            candidate = (org.get("updated_at") or "", str(org["id"]), name)
            organizations[account] = max(organizations.get(account, candidate), candidate)
    customers: dict[str, tuple[int, str, str]] = {}
    for customer in reference.latest(small_landing, "stripe", "customers").values():
        name = (customer.get("name") or "").strip()
        account = ((customer.get("metadata") or {}).get("account_id") or "").strip()
        if name and account and not customer.get("deleted"):
            candidate = (customer["created"], customer["id"], name)
            customers[account] = min(customers.get(account, candidate), candidate)
    with duckdb.connect(str(full_run), read_only=True) as con:
        names = dict(con.execute("select account_id, account_name from marts.dim_accounts").fetchall())
    expected = {
        account: organizations[account][2] if account in organizations else customers.get(account, (0, "", None))[2]
        for account in names
    }
    assert names == expected
    assert sum(name is not None for name in names.values()) > len(names) / 2
