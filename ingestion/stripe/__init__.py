"""Stripe: customers, products, coupons, subscriptions, invoices and charges as the list endpoints return them (API
reference)."""

from functools import partial

from ingestion.contracts import fields as f
from ingestion.contracts.rules import MAX_AMOUNT_MINOR_UNITS
from ingestion.entities import AccountRef, EntitySpec, names
from ingestion.stripe.currencies import STRIPE_MINOR_UNITS

SUBSCRIPTION_STATUSES = (
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
)
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
CHARGE_STATUSES = ("succeeded", "pending", "failed")
BILLING_INTERVALS = ("day", "week", "month", "year")
COUPON_DURATIONS = ("once", "repeating", "forever")
# Subscription `cancellation_details` (API reference, "The Subscription object"): who or what ended it.
CANCELLATION_REASONS = ("cancellation_requested", "payment_disputed", "payment_failed")
CANCELLATION_FEEDBACK = (
    "customer_service",
    "low_quality",
    "missing_features",
    "other",
    "switched_service",
    "too_complex",
    "too_expensive",
    "unused",
)
CUSTOMER = AccountRef("customer", domain="stripe_customer")
# A single invoice or charge above this many minor units (10 million in a two-decimal currency) is almost
# certainly a unit mistake: it loads, and a GX warning makes someone look.
ABSURD_AMOUNT_MINOR_UNITS = 1_000_000_000

# Money: amounts in the minor unit of the record's `currency` (ingestion/stripe/currencies.py). A currency that is
# converted to USD downstream needs an exchange rate in dbt_project/seeds/fx_rates.csv.
_currency = partial(f.currency, table=STRIPE_MINOR_UNITS)
_amount = partial(f.amount, currency_field="currency", table=STRIPE_MINOR_UNITS, warn_above=ABSURD_AMOUNT_MINOR_UNITS)
_created = f.epoch_seconds("created", required=True, time_role="record")


def _coupon(prefix: str) -> tuple[f.Field, ...]:
    """The Coupon object's fields that price a discount, at `prefix` (`coupon.`, or `source.coupon.` since
    2025-09-30.clover); the coupon may also be an id only (an unexpanded `source.coupon`): then it cannot be priced."""
    return (
        f.reference(f"{prefix}coupon"),
        f.decimal(f"{prefix}coupon.percent_off", minimum=0, maximum=100),
        f.amount(f"{prefix}coupon.amount_off", currency_field=f"{prefix}coupon.currency", table=STRIPE_MINOR_UNITS),
        _currency(f"{prefix}coupon.currency"),
        f.lower(f"{prefix}coupon.duration", COUPON_DURATIONS),
        f.integer(f"{prefix}coupon.duration_in_months", bits=32, minimum=1),
    )


def discount_fields() -> tuple[f.Field, ...]:
    """The Discount object (https://docs.stripe.com/api/discounts/object) relative to itself: its coupon (embedded
    before 2025-09-30.clover, under `source` (`source.type = 'coupon'`) from it), `start`, `end` (set for a
    repeating coupon) and the `subscription_item` it is limited to."""
    return (
        f.text("id"),
        *_coupon(""),
        *_coupon("source."),
        f.epoch_seconds("start", time_role="record"),
        f.epoch_seconds("end", time_role="schedule"),
        f.reference("subscription_item"),
    )


# Top-level fields of each Stripe object (API reference); anything else is kept in `payload` and reported as drift.
_COMMON = ("id", "object", "created", "livemode", "metadata", "currency", "customer", "description")
CUSTOMER_FIELDS = (
    *_COMMON,
    *names(
        """
    address balance cash_balance default_source delinquent discount email invoice_credit_balance
    invoice_prefix invoice_settings name next_invoice_sequence phone preferred_locales shipping sources
    subscriptions tax tax_exempt tax_ids test_clock deleted
    """
    ),
)
# The Product object (https://docs.stripe.com/api/products/object): `name` is the plan name people know.
PRODUCT_FIELDS = (
    *names(
        """
    id object active created default_price deleted description features images livemode marketing_features
    metadata name package_dimensions shippable statement_descriptor tax_code type unit_label updated url
    """
    ),
)
# The Coupon object (https://docs.stripe.com/api/coupons/object): the terms a Discount applies. From
# 2025-09-30.clover a Discount holds only its coupon's id (`source.coupon`), in lists and events alike.
COUPON_FIELDS = (
    *names(
        """
    id object amount_off applies_to created currency currency_options deleted duration duration_in_months livemode
    max_redemptions metadata name percent_off redeem_by times_redeemed valid
    """
    ),
)
SUBSCRIPTION_FIELDS = (
    *_COMMON,
    *names(
        """
    application application_fee_percent automatic_tax billing_cycle_anchor billing_cycle_anchor_config billing_mode
    billing_schedules billing_thresholds cancel_at cancel_at_period_end canceled_at cancellation_details
    collection_method current_period_end current_period_start customer_account days_until_due default_payment_method
    default_source default_tax_rates discount discounts ended_at invoice_settings items latest_invoice
    managed_payments next_pending_invoice_item_invoice on_behalf_of pause_collection payment_settings
    pending_invoice_item_interval pending_setup_intent pending_update plan presentment_details quantity schedule
    start_date status test_clock transfer_data trial_end trial_settings trial_start
    """
    ),
)
INVOICE_FIELDS = (
    *_COMMON,
    *names(
        """
    account_country account_name account_tax_ids amount_due amount_overpaid amount_paid amount_paid_off_stripe
    amount_remaining amount_shipping application attempt_count attempted auto_advance automatic_tax
    automatically_finalizes_at billing_reason charge collection_method confirmation_secret custom_fields
    customer_account customer_address customer_email customer_name customer_phone
    customer_shipping customer_tax_exempt customer_tax_ids default_payment_method default_source
    default_tax_rates discount discounts due_date effective_at ending_balance footer from_invoice
    hosted_invoice_url invoice_pdf issuer last_finalization_error latest_revision lines next_payment_attempt
    number on_behalf_of paid paid_out_of_band parent payment_intent payment_settings payments period_end period_start
    post_payment_credit_notes_amount pre_payment_credit_notes_amount receipt_number rendering shipping_cost
    shipping_details starting_balance statement_descriptor status status_transitions subscription
    subscription_details subtotal subtotal_excluding_tax tax test_clock threshold_reason total
    total_discount_amounts total_excluding_tax total_pretax_credit_amounts total_tax_amounts total_taxes
    webhooks_delivered_at
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

# Read from landing files, or from the vendor API by the connector in api.py (NPS_SOURCE_MODE_STRIPE=api).
MODES = ("file", "api")
ENTITIES = (
    EntitySpec(
        source="stripe",
        entity="customers",
        layout="json_object",
        known_fields=CUSTOMER_FIELDS,
        fields=(
            # The key that holds our account id: dbt var stripe_account_id_metadata_key (default account_id).
            f.text("metadata.account_id", path="metadata.__VAR_stripe_account_id_metadata_key__"),
            f.text("name"),
            f.lower("email"),
            f.upper("address.country"),
            # Where a customer has no address: the metadata key named by dbt var stripe_region_metadata_key (default
            # region), holding a region of the country_regions seed (NA, EMEA, ...) or a country code.
            f.upper("metadata.region", path="metadata.__VAR_stripe_region_metadata_key__"),
            # Who referred this customer: the metadata key named by dbt var stripe_referred_by_metadata_key (default
            # referred_by), holding the referring account id (or its Stripe customer id, cus_...); referral_revenue.
            f.text("metadata.referred_by", path="metadata.__VAR_stripe_referred_by_metadata_key__"),
            _currency("currency"),
            f.boolean("deleted"),
            _created,
        ),
        key_name="customer_id",
        record_time="created",
        description="Stripe Customer objects; metadata.account_id is the account id.",
    ),
    EntitySpec(
        source="stripe",
        entity="products",
        layout="json_object",
        known_fields=PRODUCT_FIELDS,
        fields=(
            # Stripe requires a name on every product; a deleted product (`{id, object, deleted: true}`) has none.
            f.text("name"),
            f.boolean("active"),
            f.boolean("deleted"),
            f.reference("default_price"),
            f.epoch_seconds("created", time_role="record"),
            f.epoch_seconds("updated", time_role="record"),
        ),
        key_name="product_id",
        record_time="updated",
        description="Stripe Product objects; `name` is the plan name, each renamed or archived version is kept.",
    ),
    EntitySpec(
        source="stripe",
        entity="coupons",
        layout="json_object",
        known_fields=COUPON_FIELDS,
        fields=(
            f.text("name"),
            f.decimal("percent_off", minimum=0, maximum=100),
            f.amount("amount_off", currency_field="currency", table=STRIPE_MINOR_UNITS),
            _currency("currency"),
            f.lower("duration", COUPON_DURATIONS),
            f.integer("duration_in_months", bits=32, minimum=1),
            f.boolean("valid"),
            f.boolean("deleted"),
            _created,
        ),
        key_name="coupon_id",
        record_time="created",
        description="Stripe Coupon objects: the terms a Discount applies (from 2025-09-30.clover, named by id).",
    ),
    EntitySpec(
        source="stripe",
        entity="subscriptions",
        layout="json_object",
        known_fields=SUBSCRIPTION_FIELDS,
        fields=(
            f.reference("customer", required=True),
            f.lower("status", SUBSCRIPTION_STATUSES, required=True),
            _currency("currency"),
            _created,
            f.epoch_seconds("start_date", time_role="record"),
            f.epoch_seconds("trial_end", time_role="schedule"),
            f.epoch_seconds("canceled_at", time_role="record"),
            f.epoch_seconds("ended_at", time_role="record"),
            # Before 2025-03-31.basil: the billing period of the whole subscription (from it: on each item).
            f.epoch_seconds("current_period_start", time_role="schedule"),
            f.epoch_seconds("current_period_end", time_role="schedule"),
            f.lower("cancellation_details.reason", CANCELLATION_REASONS),
            f.lower("cancellation_details.feedback", CANCELLATION_FEEDBACK),
            f.text("cancellation_details.comment"),
            # Before 2025-03-31.basil: the subscription's one discount (coupon embedded). Staging reads it with the
            # fields of `discounts[]` (the same Discount object); one field here keeps the load light.
            f.json_object("discount"),
            # The discounts (ids, or Discount objects where expanded; `expand[]=data.discounts`).
            *f.within("discounts", *discount_fields()),
            *f.within(
                "items.data",
                f.text("id"),
                f.epoch_seconds("current_period_start", time_role="schedule"),
                f.epoch_seconds("current_period_end", time_role="schedule"),
                # The item's own discounts (ids or Discount objects), applied before the subscription's.
                f.json_array("discounts"),
                f.text("price.id"),
                f.text("price.nickname"),
                f.text("price.lookup_key"),
                f.reference("price.product"),
                f.text("price.product.name"),
                f.count("quantity"),
                f.amount("price.unit_amount", currency_field="price.currency", table=STRIPE_MINOR_UNITS),
                f.decimal_amount(
                    "price.unit_amount_decimal", currency_field="price.currency", table=STRIPE_MINOR_UNITS
                ),
                _currency("price.currency", needs_rate=True),
                f.lower("price.recurring.interval", BILLING_INTERVALS, on_unknown="reject"),
                f.integer("price.recurring.interval_count", bits=32, minimum=1),
            ),
        ),
        key_name="subscription_id",
        record_time="created",
        account=CUSTOMER,
        description="Stripe Subscription objects with items.data[].price; each day's version is kept (plan history).",
    ),
    EntitySpec(
        source="stripe",
        entity="invoices",
        layout="json_object",
        known_fields=INVOICE_FIELDS,
        fields=(
            f.reference("customer", required=True),
            f.reference("subscription"),
            # From 2025-03-31.basil the subscription is under `parent` (`subscription` is gone).
            f.reference("parent.subscription_details.subscription"),
            f.lower("status", INVOICE_STATUSES),
            _currency("currency", required=True, needs_rate=True),
            _amount("amount_due"),
            _amount("amount_paid"),
            # A total can be negative (credits larger than the lines).
            _amount("total", minimum=-(MAX_AMOUNT_MINOR_UNITS - 1), warn_above=None),
            _created,
            f.epoch_seconds("period_start", time_role="schedule"),
            f.epoch_seconds("period_end", time_role="schedule"),
            f.epoch_seconds("status_transitions.paid_at", time_role="record"),
        ),
        key_name="invoice_id",
        record_time="created",
        account=CUSTOMER,
        description="Stripe Invoice objects (amounts in minor units, lines with prices and periods).",
    ),
    EntitySpec(
        source="stripe",
        entity="charges",
        layout="json_object",
        known_fields=CHARGE_FIELDS,
        fields=(
            f.reference("customer"),
            f.reference("invoice"),
            f.lower("status", CHARGE_STATUSES),
            _currency("currency", required=True, needs_rate=True),
            _amount("amount", required=True),
            _amount("amount_refunded"),
            f.boolean("paid"),
            f.boolean("refunded"),
            f.text("failure_code"),
            _created,
        ),
        key_name="charge_id",
        record_time="created",
        account=CUSTOMER,
        description="Stripe Charge objects (status, failure_code, amount_refunded).",
    ),
)
