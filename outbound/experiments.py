"""Experiments (A/B tests) of the NPS programme, declared in seed `dbt_project/seeds/experiments.csv`: which variant
a follow-up case gets, and the Zendesk tag that carries it.

A `followup_case` experiment splits new detractor cases by a hash of the response id (deterministic: the same
response always gets the same variant, on every run and machine). The variant travels on the ticket as tag
`nps_variant_<variant>`, so it comes back through the Zendesk tickets landing and marts.experiment_results reads it
from there. A `send` experiment's variant is set by the survey tool and lands in the sends file's `variant` column;
its shares here only document the split.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import settings

EXPERIMENTS_PATH = settings.DBT_PROJECT_DIR / "seeds" / "experiments.csv"
APPLIES_TO = ("send", "followup_case")
TAG_PREFIX = "nps_variant_"  # the Zendesk tag of a follow-up case's variant (int_experiment_units reads it)
COLUMNS = ("experiment", "applies_to", "variant", "is_control", "share", "description")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a Zendesk tag must not hold spaces or upper case
SHARE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Variant:
    experiment: str
    applies_to: str
    variant: str
    is_control: bool
    share: float
    description: str = ""

    @property
    def tag(self) -> str:
        return variant_tag(self.variant)


def variant_tag(variant: str) -> str:
    return f"{TAG_PREFIX}{variant}"


def bucket(experiment: str, unit_id: str) -> float:
    """A number in [0, 1) fixed by the experiment and the unit: the first 8 bytes of SHA-256("<experiment>:<id>")
    over 2^64. Per experiment, so two experiments on the same cases split them independently."""
    digest = hashlib.sha256(f"{experiment}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(variants: Sequence[Variant], unit_id: str, applies_to: str = "followup_case") -> list[Variant]:
    """The unit's variant in each experiment of `applies_to`: the variant (in seed order) whose cumulative share
    interval holds the unit's bucket. One per experiment, in the seed's order of experiments."""
    chosen = []
    for experiment in dict.fromkeys(v.experiment for v in variants if v.applies_to == applies_to):
        rows = [v for v in variants if v.experiment == experiment]
        point, cumulative = bucket(experiment, unit_id), 0.0
        for row in rows:
            cumulative += row.share
            if point < cumulative:
                chosen.append(row)
                break
        else:  # the shares sum to 1 up to rounding: the last variant takes the rounding
            chosen.append(rows[-1])
    return chosen


def load(path: Path = EXPERIMENTS_PATH) -> list[Variant]:
    """The seed's rows, checked: a bad value raises ValueError naming the file, line and column."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
        rows = [(reader.line_num, _variant(path, reader.line_num, row)) for row in reader]
    seen: dict[str, int] = {}
    for line, row in rows:
        if row.variant in seen:
            raise ValueError(
                f"{path}: line {line}: column variant: {row.variant!r} is already on line {seen[row.variant]} "
                "(a variant name is unique across experiments: its tag names it alone)"
            )
        seen[row.variant] = line
    for experiment in dict.fromkeys(row.experiment for _, row in rows):
        group = [(line, row) for line, row in rows if row.experiment == experiment]
        last = group[-1][0]
        if len({row.applies_to for _, row in group}) > 1:
            raise ValueError(f"{path}: line {last}: column applies_to: experiment {experiment!r} mixes send and case")
        if len(group) < 2:
            raise ValueError(f"{path}: line {last}: experiment {experiment!r} needs at least two variants")
        if sum(row.is_control for _, row in group) != 1:
            raise ValueError(f"{path}: line {last}: column is_control: experiment {experiment!r} needs one control")
        total = sum(row.share for _, row in group)
        if abs(total - 1) > SHARE_TOLERANCE:
            raise ValueError(f"{path}: line {last}: column share: experiment {experiment!r} sums to {total:g}, not 1")
    return [row for _, row in rows]


def _variant(path: Path, line: int, row: Mapping[str, str | None]) -> Variant:
    def text(column: str) -> str:
        return (row.get(column) or "").strip()

    def fail(column: str, message: str) -> ValueError:
        return ValueError(f"{path}: line {line}: column {column}: {message}, not {text(column)!r}")

    for column in ("experiment", "variant"):
        if not NAME.match(text(column)):
            raise fail(column, "a name of lower-case letters, digits and underscores is needed")
    if text("applies_to") not in APPLIES_TO:
        raise fail("applies_to", f"one of {', '.join(APPLIES_TO)} is needed")
    if text("is_control").lower() not in ("true", "false"):
        raise fail("is_control", "true or false is needed")
    try:
        share = float(text("share"))
    except ValueError:
        raise fail("share", "a number between 0 and 1 is needed") from None
    if not 0 < share <= 1:
        raise fail("share", "a number above 0 and at most 1 is needed")
    return Variant(
        experiment=text("experiment"),
        applies_to=text("applies_to"),
        variant=text("variant"),
        is_control=text("is_control").lower() == "true",
        share=share,
        description=text("description"),
    )
