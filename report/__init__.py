"""The people-facing read-outs of the marts: the daily HTML report (`page`: charts from `figures`, sentences from
`recommendations`, rows from `queries`) and the summary `make run` prints (`summary`)."""

from report.page import LATEST_NAME, ReportResult, build_html, render, report_path, reports_dir
from report.queries import MARTS
from report.recommendations import Recommendation

__all__ = [
    "LATEST_NAME",
    "MARTS",
    "Recommendation",
    "ReportResult",
    "build_html",
    "render",
    "report_path",
    "reports_dir",
]
