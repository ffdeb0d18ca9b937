"""Each raw entity's Great Expectations suite, built from its typed contract.

The loader quarantines the records that break the contract before they load. The suite is the second line, run
by `ingestion.quality` with GX Core over everything a partition holds after the load (whatever path the records
came in by: a connector, a manual insert, a file loaded under older rules). Each expectation is one Dagster asset
check on the raw asset. Every expectation is about records, so every one is a warning: it is reported with its
count and samples and never stops the run (a record-level problem never stops the marts for everyone).

The suite of every entity: its key is present and unique within a day; every record satisfies the contract (the
same rules the loader applies, `ingestion.contracts.rules`); values of the contract's warn-only sets are known;
amounts are not absurd; the record's account is known and the record is not older than the account.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from ingestion.contracts.render import substitute_vars, typed
from ingestion.contracts.rules import contract_rules
from ingestion.contracts.settings import ContractSettings
from ingestion.entities import EntitySpec
from ingestion.loader.records import rule_sql

Severity = Literal["critical", "warning"]


@dataclass(frozen=True)
class Expectation:
    """One GX Core expectation (class name and arguments) and the Dagster check it becomes."""

    check_name: str
    gx_type: str
    kwargs: Mapping[str, Any]
    description: str
    severity: Severity = "warning"


@dataclass(frozen=True)
class QualitySuite:
    # Name -> SQL over the raw row (the frame GX validates).
    columns: Mapping[str, str]
    expectations: tuple[Expectation, ...]
    # The account domain (see `account_domains`) when the records belong to accounts, and its SQL.
    account_domain: str | None = None
    account_domain_sql: str = ""
    # Adds the contract's projection (each field's typed value) to the raw rows the columns read.
    over: Callable[[str], str] = lambda relation: relation
    # The columns that identify a record in the samples shown with a failed check.
    locator: tuple[str, ...] = ("_source_file", "_line_number")


def account_domains(settings: ContractSettings) -> dict[str, str]:
    """The account domains a record can point into: SQL listing each domain's ids with the earliest moment the
    account is known to have existed, from the raw tables (typed by their contracts), so a check sees what is
    loaded. Only the Stripe customer bounds when an account began: support agents create Zendesk organizations
    lazily, often after the first tickets and after trial usage."""
    from ingestion.registry import get_entity

    customers, organizations = get_entity("stripe", "customers"), get_entity("zendesk", "organizations")
    created = typed("duckdb", customers.contract_field("created"))
    account_id = typed("duckdb", customers.contract_field("metadata.account_id"))
    external_id = typed("duckdb", organizations.contract_field("external_id"))
    account_id = substitute_vars(account_id, settings.vars)  # the metadata key is a dbt var
    return {
        "account": f"""
            select account_id, min(created_at) as created_at from (
                select {account_id} as account_id, {created} as created_at from {customers.table}
                union all
                select {external_id}, null from {organizations.table}
            ) where account_id is not null group by 1
        """,
        "stripe_customer": (
            f"select record_id as account_id, min({created}) as created_at from {customers.table} group by 1"
        ),
        "zendesk_organization": (
            f"select record_id as account_id, null::timestamp as created_at from {organizations.table} group by 1"
        ),
    }


# The raw tables (source, entity) each account domain reads: an entity checked against a domain loads after them,
# or a first run would find every account unknown (orchestration/defs/ingestion/assets.py orders the steps).
DOMAIN_TABLES = {
    "account": (("stripe", "customers"), ("zendesk", "organizations")),
    "stripe_customer": (("stripe", "customers"),),
    "zendesk_organization": (("zendesk", "organizations"),),
}

# The domains whose created_at bounds the records that point at them.
DOMAINS_WITH_CREATION = ("account", "stripe_customer")


def _column_name(field_name: str) -> str:
    return field_name.replace("[].", "_").replace(".", "_")


def key_sql(spec: EntitySpec) -> str:
    if spec.layout == "json_object":
        return "record_id"
    if spec.layout == "csv":
        return f"nullif(trim(\"{spec.csv_columns[0]}\"), '')"
    return "nullif(message_id, '')"


def _warn_fields(spec: EntitySpec):
    """The top-level fields with a warn-only value set, and the amounts with an absurdity bound."""
    for f in spec.fields:
        if f.within or f.element:
            continue
        if f.values and f.on_unknown == "warn":
            yield "in_set", f
        if f.warn_above is not None:
            yield "not_absurd", f


def expectations_for(spec: EntitySpec) -> tuple[Expectation, ...]:
    """The entity's expectations (what the checks are; `suite_for` adds the SQL of the frame they read)."""
    expectations = [
        Expectation(
            f"gx_{spec.key_name}_not_null",
            "ExpectColumnValuesToNotBeNull",
            {"column": spec.key_name},
            f"`{spec.key_name}` is present.",
        ),
        Expectation(
            f"gx_{spec.key_name}_unique_per_day",
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": [spec.key_name, "_partition_date"]},
            f"`{spec.key_name}` is unique within each day's batch.",
        ),
        Expectation(
            "gx_contract",
            "ExpectColumnValuesToBeNull",
            {"column": "contract_violation"},
            "Every record satisfies the entity's typed contract (the loader's rules; the samples give the reason).",
        ),
    ]
    for check, f in _warn_fields(spec):
        name = _column_name(f.name)
        if check == "in_set":
            expectations.append(
                Expectation(
                    f"gx_{name}_in_set",
                    "ExpectColumnValuesToBeInSet",
                    {"column": name, "value_set": list(f.values)},
                    f"`{f.name}` is one of {', '.join(f.values)} (an unknown value loads and is reported).",
                )
            )
        else:
            expectations.append(
                Expectation(
                    f"gx_{name}_not_absurd",
                    "ExpectColumnValuesToBeBetween",
                    {"column": name, "max_value": f.warn_above},
                    f"`{f.name}` is at most {f.warn_above:,} minor units (larger is likely a unit error).",
                )
            )
    if spec.account is not None:
        expectations.append(
            Expectation(
                "gx_account_known",
                "ExpectColumnValuesToBeNull",
                {"column": "unknown_account_id"},
                "The record's account is known to the billing or support source (the record still loads and "
                "reaches the marts as unmatched).",
            )
        )
        if spec.account.domain in DOMAINS_WITH_CREATION and spec.record_time:
            time = spec.record_time
            expectations.append(
                Expectation(
                    f"gx_{time}_after_account_created",
                    "ExpectColumnPairValuesAToBeGreaterThanB",
                    {
                        "column_A": time,
                        "column_B": "account_created_at",
                        "or_equal": True,
                        "ignore_row_if": "either_value_is_missing",
                    },
                    f"`{time}` is not before the account was created.",
                )
            )
    return tuple(expectations)


def suite_for(spec: EntitySpec, settings: ContractSettings) -> QualitySuite:
    """The entity's suite: the typed projection GX validates and the expectations over it."""
    fields = {f.name: f for f in spec.fields}
    contract = contract_rules(spec, settings)
    reason, _ = rule_sql(spec, contract.rules, key=key_sql(spec))
    columns = {spec.key_name: key_sql(spec), "contract_violation": reason}
    for check, f in _warn_fields(spec):
        as_number = replace(f, kind="int64") if check == "not_absurd" else f
        columns[_column_name(f.name)] = typed("duckdb", as_number, fields)
    domain = spec.account.domain if spec.account is not None else None
    if spec.account is not None:
        columns["account_ref"] = typed("duckdb", spec.contract_field(spec.account.field), fields)
        if spec.record_time:
            columns[spec.record_time] = typed("duckdb", spec.contract_field(spec.record_time), fields)
    return QualitySuite(
        # A field's path may name a dbt var (the account id's key): the configured value goes in.
        columns={name: substitute_vars(sql, settings.vars) for name, sql in columns.items()},
        expectations=expectations_for(spec),
        account_domain=domain,
        account_domain_sql=account_domains(settings)[domain] if domain else "",
        over=contract.over,
    )
