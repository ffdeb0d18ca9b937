"""What the contract rules read outside the code, at load time: the dbt vars of dbt_project.yml (the Typeform refs,
the Zendesk custom field) and the currencies that have an exchange rate in the fx_rates seed."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
FX_RATES_SEED = DBT_PROJECT_DIR / "seeds" / "fx_rates.csv"


@dataclass(frozen=True)
class ContractSettings:
    """What the rules read outside the code, at load time: dbt vars and the currencies with an exchange rate."""

    vars: Mapping[str, object]
    rated_currencies: frozenset[str]


class ConfigurationProblem(ValueError):
    """The rules cannot be built (a setting they read is missing or unreadable): the whole load refuses, once."""


def load_settings() -> ContractSettings:
    """dbt_project.yml's vars and the fx_rates seed's currencies, read now (both can change between runs)."""
    try:
        settings = ContractSettings(vars=dbt_vars(), rated_currencies=rated_currencies())
    except (OSError, yaml.YAMLError, KeyError, csv.Error) as error:
        raise ConfigurationProblem(
            f"the contract rules read dbt_project/dbt_project.yml and {FX_RATES_SEED}: {error}"
        ) from None
    missing = [
        name
        for name in ("typeform_nps_score_ref", "typeform_nps_reason_ref", "zendesk_nps_response_field_id")
        if name not in settings.vars
    ]
    if missing:
        raise ConfigurationProblem(
            f"dbt_project/dbt_project.yml has no var {', '.join(missing)} (the contracts read it)"
        )
    return settings


def dbt_vars() -> dict[str, object]:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(project.get("vars") or {})


def rated_currencies(seed: Path = FX_RATES_SEED) -> frozenset[str]:
    with seed.open(newline="", encoding="utf-8") as handle:
        return frozenset(row["currency"].strip().lower() for row in csv.DictReader(handle) if row.get("currency"))
