"""Stripe: customers, subscriptions, invoices and charges as the list endpoints return them."""

from ingestion.entities import EntitySpec, RowRule, booleans, names, plausible_time, required, whole_numbers
from ingestion.expectations import (
    AccountRef,
    epoch_seconds,
    in_set,
    non_negative,
    not_absurd,
    record_suite,
)
from ingestion.stripe.currencies import ISO_4217_CODES

# Stripe amounts are integers in minor units with an ISO 4217 currency code (lower case).
_CURRENCY = "upper(payload ->> '$.currency')"
ISO_CURRENCY = RowRule(
    bad_when=f"coalesce({_CURRENCY}, '') not in ({', '.join(repr(code) for code in sorted(ISO_4217_CODES))})",
    reason=(
        "'currency ' || coalesce('\"' || (payload ->> '$.currency') || '\"', 'is missing') "
        "|| ' is not an ISO 4217 code'"
    ),
)
CREATED = plausible_time("payload ->> '$.created'", "created", epoch_seconds=True)
# The subscription items' quantity and billing interval count must be whole numbers (staging casts them).
ITEM_NUMBERS = RowRule(
    bad_when=(
        "coalesce(len(list_filter(json_extract(payload, '$.items.data[*]'), lambda item: "
        "coalesce(json_type(item, '$.quantity'), 'NULL') not in ('NULL', 'UBIGINT', 'BIGINT') "
        "or coalesce(json_type(item, '$.price.recurring.interval_count'), 'NULL') not in ('NULL', 'UBIGINT', 'BIGINT') "
        "or (coalesce(item ->> '$.price.unit_amount_decimal', item ->> '$.price.unit_amount') is not null and "
        "try_cast(coalesce(item ->> '$.price.unit_amount_decimal', item ->> '$.price.unit_amount') as decimal(18, 4)) "
        "is null)"
        ")), 0) > 0"
    ),
    reason=(
        "'an item of items.data has a quantity, price.recurring.interval_count or price.unit_amount that is not "
        "a number'"
    ),
)
SUBSCRIPTION_STATUSES = [
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
]
CUSTOMER = AccountRef("r.payload ->> '$.customer'", domain="stripe_customer")
STRIPE_CURRENCIES = sorted(code.lower() for code in ISO_4217_CODES)

# Top-level fields of each Stripe object (API reference); anything else is kept in `payload` and reported as drift.
_COMMON = ("id", "object", "created", "livemode", "metadata", "currency", "customer", "description")
CUSTOMER_FIELDS = (
    *_COMMON,
    *names(
        """
    address balance cash_balance default_source delinquent discount email invoice_credit_balance
    invoice_prefix invoice_settings name next_invoice_sequence phone preferred_locales shipping sources
    subscriptions tax tax_exempt tax_ids test_clock
    """
    ),
)
SUBSCRIPTION_FIELDS = (
    *_COMMON,
    *names(
        """
    application application_fee_percent automatic_tax billing_cycle_anchor billing_cycle_anchor_config
    billing_thresholds cancel_at cancel_at_period_end canceled_at cancellation_details collection_method
    current_period_end current_period_start days_until_due default_payment_method default_source
    default_tax_rates discount discounts ended_at invoice_settings items latest_invoice
    next_pending_invoice_item_invoice on_behalf_of pause_collection payment_settings
    pending_invoice_item_interval pending_setup_intent pending_update plan quantity schedule start_date
    status test_clock transfer_data trial_end trial_settings trial_start
    """
    ),
)
INVOICE_FIELDS = (
    *_COMMON,
    *names(
        """
    account_country account_name account_tax_ids amount_due amount_overpaid amount_paid amount_remaining
    amount_shipping application attempt_count attempted auto_advance automatic_tax billing_reason charge
    collection_method custom_fields customer_address customer_email customer_name customer_phone
    customer_shipping customer_tax_exempt customer_tax_ids default_payment_method default_source
    default_tax_rates discount discounts due_date effective_at ending_balance footer from_invoice
    hosted_invoice_url invoice_pdf issuer last_finalization_error latest_revision lines next_payment_attempt
    number on_behalf_of paid paid_out_of_band payment_intent payment_settings period_end period_start
    post_payment_credit_notes_amount pre_payment_credit_notes_amount receipt_number rendering shipping_cost
    shipping_details starting_balance statement_descriptor status status_transitions subscription
    subscription_details subtotal subtotal_excluding_tax tax test_clock total total_discount_amounts
    total_excluding_tax total_tax_amounts webhooks_delivered_at
    """
    ),
)
CHARGE_FIELDS = (
    *_COMMON,
    *names(
        """
    amount amount_captured amount_refunded application application_fee application_fee_amount
    balance_transaction billing_details calculated_statement_descriptor captured disputed
    failure_balance_transaction failure_code failure_message fraud_details invoice on_behalf_of outcome paid
    payment_intent payment_method payment_method_details radar_options receipt_email receipt_number
    receipt_url refunded refunds review shipping source source_transfer statement_descriptor
    statement_descriptor_suffix status transfer_data transfer_group
    """
    ),
)


# Beyond this many minor units no real amount exists (and it would not fit the staging decimals).
MAX_AMOUNT_MINOR_UNITS = 10**14


def non_negative_amount(field: str) -> RowRule:
    value = f"payload ->> '$.{field}'"
    return RowRule(
        bad_when=(
            f"{value} is not null "
            f"and coalesce(try_cast({value} as hugeint) not between 0 and {MAX_AMOUNT_MINOR_UNITS - 1}, true)"
        ),
        reason=f"'{field} ' || ({value}) || ' is not a non-negative whole amount in minor units (below 10^14)'",
    )


def money_suite(key: str, amounts: tuple[str, ...]):
    """Invoices and charges: a known currency, and amounts that are neither negative nor absurd."""
    return record_suite(
        key,
        "created",
        epoch_seconds("r.payload ->> '$.created'"),
        columns={
            "currency": "r.payload ->> '$.currency'",
            **{amount: f"try_cast(r.payload ->> '$.{amount}' as double)" for amount in amounts},
        },
        expectations=(
            in_set("currency", STRIPE_CURRENCIES, what="`currency` is an ISO 4217 code in lower case."),
            *(non_negative(amount) for amount in amounts),
            *(not_absurd(amount) for amount in amounts),
        ),
        account=CUSTOMER,
    )


ENTITIES = (
    EntitySpec(
        source="stripe",
        entity="customers",
        layout="json_object",
        known_fields=CUSTOMER_FIELDS,
        rules=(*required("created"), CREATED, *booleans("deleted")),
        quality=record_suite("customer_id", "created", epoch_seconds("r.payload ->> '$.created'")),
        description="Stripe Customer objects; metadata.account_id is the account id.",
    ),
    EntitySpec(
        source="stripe",
        entity="subscriptions",
        layout="json_object",
        known_fields=SUBSCRIPTION_FIELDS,
        rules=(
            *required("customer", "status", "created"),
            CREATED,
            ITEM_NUMBERS,
            *whole_numbers("start_date", "trial_end", "canceled_at", "ended_at"),
        ),
        quality=record_suite(
            "subscription_id",
            "created",
            epoch_seconds("r.payload ->> '$.created'"),
            columns={"status": "r.payload ->> '$.status'"},
            expectations=(
                in_set(
                    "status",
                    SUBSCRIPTION_STATUSES,
                    severity="warning",
                    what="`status` is a Stripe subscription status.",
                ),
            ),
            account=CUSTOMER,
        ),
        description="Stripe Subscription objects with items.data[].price; each day's version is kept (plan history).",
    ),
    EntitySpec(
        source="stripe",
        entity="invoices",
        layout="json_object",
        known_fields=INVOICE_FIELDS,
        rules=(
            *required("customer", "created"),
            CREATED,
            ISO_CURRENCY,
            non_negative_amount("amount_due"),
            non_negative_amount("amount_paid"),
            *whole_numbers("total", "period_start", "period_end", "status_transitions.paid_at"),
        ),
        quality=money_suite("invoice_id", ("amount_due", "amount_paid")),
        description="Stripe Invoice objects (amounts in minor units, lines with prices and periods).",
    ),
    EntitySpec(
        source="stripe",
        entity="charges",
        layout="json_object",
        known_fields=CHARGE_FIELDS,
        rules=(
            *required("created", "amount"),
            CREATED,
            ISO_CURRENCY,
            non_negative_amount("amount"),
            non_negative_amount("amount_refunded"),
            *booleans("paid", "refunded"),
        ),
        quality=money_suite("charge_id", ("amount", "amount_refunded")),
        description="Stripe Charge objects (status, failure_code, amount_refunded).",
    ),
)
