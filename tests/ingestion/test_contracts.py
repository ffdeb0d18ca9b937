"""The contracts are the one place a raw field's type and rules live: the generated files are current, the staging
models read raw fields only through them, and the money table is Stripe's."""

from __future__ import annotations

import re

from ingestion.contracts.dbt import MACRO_PATH, render_macro
from ingestion.contracts.docs import DOCS_PATH, END, START, render_section
from ingestion.registry import ENTITIES
from ingestion.stripe.currencies import STRIPE_MINOR_UNITS
from settings import DBT_PROJECT_DIR

# Stripe's documented lists (https://docs.stripe.com/currencies#zero-decimal, #three-decimal, #special-cases).
STRIPE_ZERO_DECIMAL = [
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
]
STRIPE_THREE_DECIMAL = ["bhd", "jod", "kwd", "omr", "tnd"]
# Stripe charges these as two-decimal amounts (ISK: "an ISK amount of 100 represents 1 krona").
STRIPE_TWO_DECIMAL_SPECIAL = ["isk", "huf", "twd"]


def test_the_raw_field_macro_is_generated_from_the_current_contracts():
    assert MACRO_PATH.read_text(encoding="utf-8") == render_macro(list(ENTITIES)), (
        "dbt_project/macros/raw_field.sql is not current: run `python -m ingestion.contracts`"
    )


def test_the_contract_tables_in_the_docs_are_current():
    text = DOCS_PATH.read_text(encoding="utf-8")
    section = text[text.index(START) : text.index(END) + len(END)]
    assert section == render_section(list(ENTITIES)), "docs/data_quality.md: run `python -m ingestion.contracts`"


def test_staging_reads_raw_fields_only_through_the_contract():
    """No staging model extracts or casts a raw value itself: each typed value is `raw_field(...)`."""
    staging = sorted((DBT_PROJECT_DIR / "models" / "staging").rglob("*.sql"))
    assert staging
    for path in staging:
        sql = path.read_text(encoding="utf-8")
        for pattern in (r"->>", r"json_extract", r"get_json_object", r"\bcast\s*\(", r"try_cast", r"::"):
            assert not re.search(pattern, sql), f"{path.name} reads a raw value without the contract ({pattern})"
    called = {
        (entity, field)
        for path in staging
        for entity, field in re.findall(
            r"raw_field\((?:entity|'([a-z_.]+)'), '([^']+)'\)", path.read_text(encoding="utf-8")
        )
    }
    declared = {f.name for spec in ENTITIES for f in spec.fields}
    assert {field for _, field in called} <= declared


def test_every_stripe_currency_has_its_documented_minor_unit():
    for code in STRIPE_ZERO_DECIMAL:
        assert STRIPE_MINOR_UNITS[code] == 0, code
    for code in STRIPE_THREE_DECIMAL:
        assert STRIPE_MINOR_UNITS[code] == 3, code
    for code in STRIPE_TWO_DECIMAL_SPECIAL:
        assert STRIPE_MINOR_UNITS[code] == 2, code
    # Every other code a Stripe amount can be in is two-decimal, or four (ISO 4217's CLF, UYW).
    others = {
        code: exponent
        for code, exponent in STRIPE_MINOR_UNITS.items()
        if code not in STRIPE_ZERO_DECIMAL + STRIPE_THREE_DECIMAL
    }
    assert set(others.values()) <= {0, 2, 3, 4}
    assert {"usd", "eur", "gbp", "aud", "brl", "inr", "mxn"} <= {c for c, e in others.items() if e == 2}
    # No metal, fund without a minor unit, or test code.
    assert not {"xau", "xag", "xdr", "xts", "xxx"} & set(STRIPE_MINOR_UNITS)
