"""Stripe: customers, subscriptions, invoices and charges as the list endpoints return them."""

from ingestion.entities import EntitySpec, RowRule, required

# Stripe amounts are integers in minor units with an ISO 4217 currency code.
ISO_CURRENCY = RowRule(
    bad_when="not regexp_full_match(coalesce(payload ->> '$.currency', ''), '[A-Za-z]{3}')",
    reason=(
        "'currency ' || coalesce('\"' || (payload ->> '$.currency') || '\"', 'is missing') "
        "|| ' is not an ISO 4217 code'"
    ),
)


def non_negative(field: str) -> RowRule:
    value = f"payload ->> '$.{field}'"
    return RowRule(
        bad_when=f"{value} is not null and coalesce(try_cast({value} as hugeint) < 0, true)",
        reason=f"'{field} ' || ({value}) || ' is not a non-negative whole amount in minor units'",
    )


ENTITIES = (
    EntitySpec(
        source="stripe",
        entity="customers",
        layout="json_object",
        rules=required("created"),
        description="Stripe Customer objects; metadata.account_id is the account id.",
    ),
    EntitySpec(
        source="stripe",
        entity="subscriptions",
        layout="json_object",
        rules=required("customer", "status", "created"),
        description="Stripe Subscription objects with items.data[].price; each day's version is kept (plan history).",
    ),
    EntitySpec(
        source="stripe",
        entity="invoices",
        layout="json_object",
        rules=(*required("customer", "created"), ISO_CURRENCY, non_negative("amount_due"), non_negative("amount_paid")),
        description="Stripe Invoice objects (amounts in minor units, lines with prices and periods).",
    ),
    EntitySpec(
        source="stripe",
        entity="charges",
        layout="json_object",
        rules=(*required("created", "amount"), ISO_CURRENCY, non_negative("amount"), non_negative("amount_refunded")),
        description="Stripe Charge objects (status, failure_code, amount_refunded).",
    ),
)
