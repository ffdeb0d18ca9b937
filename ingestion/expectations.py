"""What each raw entity must satisfy once loaded: a Great Expectations suite, declared as plain data.

The row rules in `ingestion.entities` quarantine bad records before they load. The suite declared here is
the second line, run by `ingestion.quality` with GX Core over everything a partition holds after the load
(whatever path the records came in by). Each expectation is one Dagster asset check on the raw asset:
`critical` ones block the dbt models downstream, `warning` ones are reported and do not block.

Each entity declares a typed projection of its raw table (`columns`, SQL over the raw row `r`), the account
its records belong to (`AccountRef`), and the expectations over that projection. Dates bounding a plausible
timestamp are resolved when the suite runs (`EARLIEST_PLAUSIBLE`, now + 1 day).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["critical", "warning"]

# Nothing our users measure happened before 2000: an earlier date is a zeroed or defaulted clock.
EARLIEST_PLAUSIBLE = "2000-01-01"
# A timestamp more than this far ahead of the check is a broken clock (the row rules use the same bound).
FUTURE_TOLERANCE_DAYS = 1
# Marker in an expectation's arguments, replaced by now + FUTURE_TOLERANCE_DAYS when the suite runs.
LATEST_PLAUSIBLE = "<now + 1 day>"
# A single invoice or charge above this many minor units (10 million in a two-decimal currency) is almost
# certainly a unit mistake; it loads, and the warning makes someone look.
ABSURD_AMOUNT_MINOR_UNITS = 1_000_000_000

# The account domains a record can point into, and the SQL listing each domain's ids with the earliest
# moment the account is known to have existed. They read the raw tables, so a check sees what is loaded.
ACCOUNT_DOMAINS: Mapping[str, str] = {
    # Our account id: Stripe customer metadata.account_id or Zendesk organization external_id. Only the
    # Stripe customer bounds when the account began: support agents create Zendesk organizations lazily,
    # often after the first tickets and after trial usage.
    "account": """
        select account_id, min(created_at) as created_at from (
            select payload ->> '$.metadata.account_id' as account_id,
                   to_timestamp(try_cast(payload ->> '$.created' as bigint)) as created_at
            from raw_stripe.customers
            union all
            select payload ->> '$.external_id', null
            from raw_zendesk.organizations
        ) where account_id is not null group by 1
    """,
    "stripe_customer": """
        select record_id as account_id, min(to_timestamp(try_cast(payload ->> '$.created' as bigint))) as created_at
        from raw_stripe.customers group by 1
    """,
    "zendesk_organization": """
        select record_id as account_id, null::timestamptz as created_at
        from raw_zendesk.organizations group by 1
    """,
}
# The domains whose created_at bounds the records that point at them.
DOMAINS_WITH_CREATION = ("account", "stripe_customer")


@dataclass(frozen=True)
class AccountRef:
    """The account a record belongs to: `id_sql` over the raw row, looked up in one of ACCOUNT_DOMAINS."""

    id_sql: str
    domain: str = "account"


@dataclass(frozen=True)
class Expectation:
    """One GX Core expectation (class name and arguments) and the Dagster check it becomes."""

    check_name: str
    gx_type: str
    kwargs: Mapping[str, Any]
    description: str
    severity: Severity = "critical"


@dataclass(frozen=True)
class QualitySuite:
    # Name -> SQL over the raw row `r` (and `accounts`, the row's account, when `account` is set).
    columns: Mapping[str, str]
    expectations: tuple[Expectation, ...]
    account: AccountRef | None = None
    # The columns that identify a record in the samples shown with a failed check.
    locator: tuple[str, ...] = ("_source_file", "_line_number")


# --- the building blocks every suite uses ----------------------------------------------------------------------


def not_null(column: str) -> Expectation:
    return Expectation(
        f"gx_{column}_not_null", "ExpectColumnValuesToNotBeNull", {"column": column}, f"`{column}` is present."
    )


def unique_per_day(column: str) -> Expectation:
    return Expectation(
        f"gx_{column}_unique_per_day",
        "ExpectCompoundColumnsToBeUnique",
        {"column_list": [column, "_partition_date"]},
        f"`{column}` is unique within each day's batch.",
    )


def plausible_time(column: str) -> Expectation:
    return Expectation(
        f"gx_{column}_plausible",
        "ExpectColumnValuesToBeBetween",
        {"column": column, "min_value": EARLIEST_PLAUSIBLE, "max_value": LATEST_PLAUSIBLE},
        f"`{column}` is a timestamp from {EARLIEST_PLAUSIBLE} to one day after the check.",
    )


def in_set(column: str, values: list, *, severity: Severity = "critical", what: str = "") -> Expectation:
    return Expectation(
        f"gx_{column}_in_set",
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": values},
        what or f"`{column}` is one of {', '.join(map(str, values))}.",
        severity,
    )


def whole_number_between(column: str, low: int, high: int) -> Expectation:
    return Expectation(
        f"gx_{column}_{low}_to_{high}",
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": list(range(low, high + 1))},
        f"`{column}`, where given, is a whole number from {low} to {high}.",
    )


def non_negative(column: str) -> Expectation:
    return Expectation(
        f"gx_{column}_non_negative",
        "ExpectColumnValuesToBeBetween",
        {"column": column, "min_value": 0},
        f"`{column}` is not negative.",
    )


def not_absurd(column: str) -> Expectation:
    return Expectation(
        f"gx_{column}_not_absurd",
        "ExpectColumnValuesToBeBetween",
        {"column": column, "max_value": ABSURD_AMOUNT_MINOR_UNITS},
        f"`{column}` is at most {ABSURD_AMOUNT_MINOR_UNITS:,} minor units (a warning: larger is likely a unit error).",
        "warning",
    )


def account_known() -> Expectation:
    return Expectation(
        "gx_account_known",
        "ExpectColumnValuesToBeNull",
        {"column": "unknown_account_id"},
        "The record's account is known to the billing or support source (a warning: the record still loads "
        "and reaches the marts as unmatched).",
        "warning",
    )


def after_account_created(column: str) -> Expectation:
    return Expectation(
        f"gx_{column}_after_account_created",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        {
            "column_A": column,
            "column_B": "account_created_at",
            "or_equal": True,
            "ignore_row_if": "either_value_is_missing",
        },
        f"`{column}` is not before the account was created (a warning).",
        "warning",
    )


def epoch_seconds(sql: str) -> str:
    """A Stripe-style Unix time in seconds, as a UTC timestamp (NULL when it is not a whole number)."""
    return f"timezone('UTC', to_timestamp(try_cast({sql} as bigint)))"


def iso_time(sql: str) -> str:
    """An ISO-8601 text timestamp as a UTC timestamp (a missing zone is read as UTC; NULL when unreadable)."""
    return f"timezone('UTC', try_cast({sql} as timestamptz))"


def record_suite(
    key: str,
    time_column: str,
    time_sql: str,
    *,
    key_sql: str = "r.record_id",
    columns: Mapping[str, str] | None = None,
    expectations: tuple[Expectation, ...] = (),
    account: AccountRef | None = None,
) -> QualitySuite:
    """The checks every entity gets (key present and unique per day, a plausible timestamp, a known account
    created before the record) plus its own."""
    account_checks: tuple[Expectation, ...] = ()
    if account is not None:
        account_checks = (account_known(),)
        if account.domain in DOMAINS_WITH_CREATION:
            account_checks += (after_account_created(time_column),)
    return QualitySuite(
        columns={key: key_sql, time_column: time_sql, **(columns or {})},
        expectations=(
            not_null(key),
            unique_per_day(key),
            not_null(time_column),
            plausible_time(time_column),
            *expectations,
            *account_checks,
        ),
        account=account,
    )
