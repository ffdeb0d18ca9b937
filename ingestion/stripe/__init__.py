"""Stripe: customers, subscriptions, invoices and charges as the list endpoints return them."""

from ingestion.entities import EntitySpec

ENTITIES = (
    EntitySpec(
        source="stripe",
        entity="customers",
        layout="json_object",
        description="Stripe Customer objects; metadata.account_id is the account id.",
    ),
    EntitySpec(
        source="stripe",
        entity="subscriptions",
        layout="json_object",
        description="Stripe Subscription objects with items.data[].price; each day's version is kept (plan history).",
    ),
    EntitySpec(
        source="stripe",
        entity="invoices",
        layout="json_object",
        description="Stripe Invoice objects (amounts in minor units, lines with prices and periods).",
    ),
    EntitySpec(
        source="stripe",
        entity="charges",
        layout="json_object",
        description="Stripe Charge objects (status, failure_code, amount_refunded).",
    ),
)
