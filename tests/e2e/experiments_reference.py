"""marts.experiment_results computed again in plain Python from the landing files and the seed's CSV (docs/metrics.md
"Experiments"), and the tests by their textbook formulas: the pooled two-proportion z, Newcombe's hybrid score
interval (from two Wilson intervals), Welch's t with Welch-Satterthwaite degrees of freedom."""

from __future__ import annotations

import csv
import math
import statistics
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from scipy import stats

from settings import DBT_PROJECT_DIR
from tests.e2e import reference

Z_95 = statistics.NormalDist().inv_cdf(0.975)
ANSWER_WINDOW_DAYS = 30  # dbt var nonresponse_window_days
RESPONSE_FIELD = 360001234568  # dbt var zendesk_nps_response_field_id


def seed_rows() -> list[dict]:
    with (DBT_PROJECT_DIR / "seeds" / "experiments.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def wilson(successes: int, n: int) -> tuple[float, float]:
    p, z2 = successes / n, Z_95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half


def rate_test(x1: int, n1: int, x0: int, n0: int) -> dict:
    p1, p0 = x1 / n1, x0 / n0
    (l1, u1), (l0, u0) = wilson(x1, n1), wilson(x0, n0)
    d = p1 - p0
    row = {
        "difference": d,
        "ci_low": d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
        "ci_high": d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2),
        "statistic": None,
        "p_value": None,
    }
    pooled = (x1 + x0) / (n1 + n0)
    if 0 < pooled < 1:
        z = d / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        row |= {"statistic": z, "p_value": math.erfc(abs(z) / math.sqrt(2))}
    return row


def welch_test(a: list[float], b: list[float]) -> dict:
    d = statistics.fmean(a) - statistics.fmean(b)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = d / se
    half = stats.t.ppf(0.975, df) * se
    return {
        "difference": d,
        "statistic": t,
        "p_value": 2 * stats.t.sf(abs(t), df),
        "ci_low": d - half,
        "ci_high": d + half,
    }


def units(landing: Path) -> list[dict]:
    """(experiment, variant, unit_id, is_answered, next_score) of every unit, from the landing files."""
    ref = reference.build(landing)
    variants = {row["variant"]: row for row in seed_rows()}
    answers = sorted(
        ((ref.respondent(r), r.responded_at, r.response_id, r) for r in ref.responses if r.survey_type == "nps"),
        key=lambda item: (item[0], item[1], item[2]),
    )
    by_respondent: dict[tuple, list] = defaultdict(list)
    for key, _, _, response in answers:
        by_respondent[key].append(response)
    result = []

    # Sends: answered when the respondent answers NPS in [sent, sent + 30 days) and before their next NPS send.
    sends = defaultdict(list)
    for send in ref.nps_sends:
        email = (send["email"] or "").strip().lower()
        account = (send["account_id"] or "").strip()
        key = ("email", email) if email else ("account", account) if account else ("response", send["send_id"])
        sends[key].append((reference.parse_time(send["sent_at"]), send["send_id"], send))
    for key, items in sends.items():
        items.sort(key=lambda item: (item[0], item[1]))
        for index, (sent, send_id, send) in enumerate(items):
            variant = variants.get((send.get("variant") or "").strip().lower())
            if variant is None or variant["applies_to"] != "send":
                continue
            until = sent + timedelta(days=ANSWER_WINDOW_DAYS)
            next_sent = items[index + 1][0] if index + 1 < len(items) else None
            answered = any(
                sent <= r.responded_at < until and (next_sent is None or r.responded_at < next_sent)
                for r in by_respondent.get(key, [])
            )
            result.append({**_names(variant), "unit_id": send_id, "is_answered": answered, "next_score": None})

    # Follow-up cases: a detractor answer, the Zendesk ticket tagged nps_followup whose response field names it (the
    # earliest), the variant tags on it, the respondent's own next NPS answer.
    tickets: dict[str, list[dict]] = defaultdict(list)
    for ticket in reference.latest(landing, "zendesk", "tickets").values():
        if "nps_followup" not in (ticket.get("tags") or []):
            continue
        field = next((f for f in ticket.get("custom_fields") or [] if f.get("id") == RESPONSE_FIELD), None)
        assert field and field.get("value"), f"follow-up ticket {ticket['id']} without a response id"
        tickets[field["value"]].append(ticket)
    for responses in by_respondent.values():
        for index, response in enumerate(responses):
            if response.score > 6 or response.response_id not in tickets:
                continue
            first = min(tickets[response.response_id], key=lambda t: (t["created_at"], t["id"]))
            following = responses[index + 1] if index + 1 < len(responses) else None
            for tag in first.get("tags") or []:
                variant = variants.get(tag.removeprefix("nps_variant_")) if tag.startswith("nps_variant_") else None
                if variant is None or variant["applies_to"] != "followup_case":
                    continue
                next_score = following.score if following else None
                result.append(
                    {**_names(variant), "unit_id": response.response_id, "is_answered": None, "next_score": next_score}
                )
    return result


def _names(variant: dict) -> dict:
    return {"experiment": variant["experiment"], "variant": variant["variant"], "applies_to": variant["applies_to"]}


def results(unit_rows: list[dict]) -> dict[tuple[str, str, str], dict]:
    """(experiment, variant, metric) -> the mart's row, from the units."""
    rows = {}
    seed = seed_rows()
    for experiment in {row["experiment"] for row in seed}:
        declared = [row for row in seed if row["experiment"] == experiment]
        control = next(row["variant"] for row in declared if row["is_control"] == "true")
        applies_to = declared[0]["applies_to"]
        metrics = ("response_rate",) if applies_to == "send" else ("recovery_rate", "mean_next_score")

        def outcomes(variant: str, metric: str, experiment: str = experiment) -> list[float]:
            mine = [u for u in unit_rows if u["experiment"] == experiment and u["variant"] == variant]
            if metric == "response_rate":
                return [float(u["is_answered"]) for u in mine]
            scores = [u["next_score"] for u in mine if u["next_score"] is not None]
            return [float(s >= 7) for s in scores] if metric == "recovery_rate" else [float(s) for s in scores]

        for metric in metrics:
            base = outcomes(control, metric)
            for row in declared:
                values = outcomes(row["variant"], metric)
                units_count = sum(
                    1 for u in unit_rows if u["experiment"] == experiment and u["variant"] == row["variant"]
                )
                out = {
                    "units": units_count,
                    "observed": len(values),
                    "value": statistics.fmean(values) if values else None,
                }
                if row["variant"] != control and values and base:
                    if metric == "mean_next_score":
                        out |= welch_test(values, base)
                    else:
                        out |= rate_test(int(sum(values)), len(values), int(sum(base)), len(base))
                rows[(experiment, row["variant"], metric)] = out
    return rows
