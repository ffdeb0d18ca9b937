"""How numbers and dates read on the page and in recommendations."""

from __future__ import annotations

import math
from datetime import date


def num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def signed(value: float) -> str:
    return f"{value:+.1f}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def usd(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.{digits}f}"


def month(value: date) -> str:
    return f"{value:%B %Y}"


def quarter(value: date) -> str:
    return f"Q{(value.month - 1) // 3 + 1} {value.year}"


def segment_name(segment_type: str) -> str:
    return {"plan": "Plan", "region": "Region", "mrr_band": "MRR band"}.get(segment_type, segment_type)


def account(row: dict) -> str:
    """'Name (id)', or the id alone when the account has no name."""
    return f"{row['account_name']} ({row['account_id']})" if row.get("account_name") else str(row["account_id"])
