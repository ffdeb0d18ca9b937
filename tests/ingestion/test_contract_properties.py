"""Property tests of the typed contracts: for every contract field of every entity, generated values of the wrong
type or out of range (text in numbers, fractions in whole numbers, values past 32 and 64 bits, epochs in ms and µs,
negatives, NaN, blanks, objects and lists where a value belongs, keys given twice) and good ones, each placed in an
otherwise valid vendor record and loaded.

The expected outcome is computed here, in Python, from the vendors' documented types, independently of the SQL the
contracts generate: a bad value puts its record in the rejects table with a reason naming the field, nothing else
of the file is lost, and a good value loads with exactly the typed value staging selects (`raw_field`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.contracts.fields import Field
from ingestion.contracts.render import substitute_vars, typed
from ingestion.contracts.settings import load_settings
from ingestion.landing import landing_file
from ingestion.loader import load_files
from ingestion.registry import ENTITIES
from ingestion.simplesat import SCORE_SCALES
from ingestion.stripe.currencies import STRIPE_MINOR_UNITS
from ingestion.surveys import SEND_LIFECYCLE
from tests.ingestion import catalogue as vendor
from tests.ingestion import catalogue_delighted as delighted
from tests.ingestion import catalogue_zendesk_csat as zendesk_csat

DAY = date(2026, 3, 2)
SETTINGS = load_settings()
NOW = datetime.now(UTC).replace(tzinfo=None)
EARLIEST = datetime(2000, 1, 1)
SCHEDULED_BY = datetime(2100, 1, 1)
# Usage-event columns and the track-call fields they are read from.
SEGMENT_KEYS = {
    "event": "event",
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "account_id": "context.groupId",
    "event_timestamp": "timestamp",
    "properties": "properties",
    "context": "context",
}


class Twice:
    """A key given twice in its object: the first value, then the second."""

    def __init__(self, first, second):
        self.first, self.second = first, second


class NotJson:
    """A token JSON does not allow (NaN, Infinity), written as is."""

    def __init__(self, text: str):
        self.text = text


def dumps(value) -> str:
    """JSON text, with `Twice` keys written twice and `NotJson` tokens written raw."""
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            items = [item.first, item.second] if isinstance(item, Twice) else [item]
            parts += [f"{json.dumps(key)}: {dumps(one)}" for one in items]
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dumps(item) for item in value) + "]"
    if isinstance(value, NotJson):
        return value.text
    return json.dumps(value, ensure_ascii=False)


# --- what each value should become, computed in Python ---------------------------------------------------------

REJECT = "reject"
ABSENT = "absent"
ANY = "any"  # loads; its text is what DuckDB's JSON makes of a number (not checked)


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip(" ") == "")


def _digits(value, max_digits: int) -> int | None:
    """A whole number written as digits (a JSON integer, or a string of digits); None otherwise."""
    if isinstance(value, bool | float):
        return None
    if isinstance(value, int):
        return value if len(str(abs(value))) <= max_digits else None
    if isinstance(value, str) and re.fullmatch(rf"-?[0-9]{{1,{max_digits}}}", value.strip(" ")):
        return int(value.strip(" "))
    return None


ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?"
)


def _iso(value: str) -> datetime | None:
    match = ISO.fullmatch(value.strip(" "))
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day))
    except ValueError:
        return None
    if hour is not None:
        if int(hour) > 24 or int(minute) > 59 or int(second or 0) > 59:
            return None
        moment += timedelta(hours=int(hour), minutes=int(minute), seconds=int(second or 0))
        moment += timedelta(microseconds=int((fraction or "0").ljust(9, "0")[:6]))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return moment


def simple_lower(text: str) -> str:
    """Unicode's simple (one code point to one) lower-case mapping, which DuckDB's `lower` applies: Python's
    `str.lower` applies the full mapping, under which U+0130 (İ) becomes two code points ("i" and a combining dot)."""
    return "".join(lowered if len(lowered := char.lower()) == 1 else lowered[0] for char in text)


def simple_upper(text: str) -> str:
    """Unicode's simple upper-case mapping, as DuckDB's `upper`: a character whose full mapping is several code
    points (ŉ to an apostrophe and N) keeps its one-code-point title case (Greek with ypogegrammeni), or stays as it is. Checked
    against DuckDB for every code point below U+30000."""

    def one(char: str) -> str:
        if char == "ß":
            return "ẞ"  # utf8proc (DuckDB) maps it to the capital sharp s, U+1E9E
        if len(upper := char.upper()) == 1:
            return upper
        return title if len(title := char.title()) == 1 else char

    return "".join(one(char) for char in text)


def expected(f: Field, value, currency_exponent: int = 2, key: bool = False, lenient: bool = False):
    """REJECT, ABSENT, ANY or the typed value staging must read. `key`: the field is the record's primary key;
    `lenient`: read by DuckDB's JSON reader, which takes NaN and Infinity (usage events)."""
    if isinstance(value, NotJson):
        if lenient and f.kind in ("text", "lower", "upper"):
            return ANY
        return REJECT
    if isinstance(value, Twice):
        return REJECT
    if f.kind == "text_list" and value is None:
        return []  # a missing list reads as an empty one
    structural = f.kind in ("object", "array", "text_list")
    if value is None or (_blank(value) and not structural):
        return REJECT if f.required or key else ABSENT
    if structural:
        if f.kind == "object":
            return value if isinstance(value, dict) else REJECT
        if f.kind == "text_list":
            if not isinstance(value, list) or any(isinstance(item, dict | list) for item in value):
                return REJECT
            if any(isinstance(item, float) for item in value):
                return ANY
            return [json.dumps(item) if isinstance(item, bool | int) or item is None else item for item in value]
        return value if isinstance(value, list) else REJECT
    if f.kind == "reference":
        if isinstance(value, dict):
            return value["id"].strip(" ") if isinstance(value.get("id"), str) and value["id"].strip(" ") else REJECT
        return value.strip(" ") if isinstance(value, str) else REJECT
    if isinstance(value, dict | list):
        return REJECT
    kind = f.kind
    if kind in ("text", "lower", "upper", "currency"):
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int):
            value = str(value)
        elif isinstance(value, float):
            return ANY if kind != "currency" else REJECT
        text = value.strip(" ")
        text = {"lower": simple_lower(text), "currency": simple_lower(text), "upper": simple_upper(text)}.get(
            kind, text
        )
        if f.values and f.on_unknown == "reject" and text not in f.values:
            return REJECT
        if kind == "currency" and (
            text not in STRIPE_MINOR_UNITS or (f.needs_rate and text not in SETTINGS.rated_currencies)
        ):
            return REJECT
        return text
    if kind in ("int32", "int64"):
        bits = 32 if kind == "int32" else 64
        number = _digits(value, 10 if bits == 32 else 19)
        if number is None or not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
            return REJECT
        if (f.minimum is not None and number < f.minimum) or (f.maximum is not None and number > f.maximum):
            return REJECT
        return number
    if kind == "minor_units":
        number = _digits(value, 19)
        low = 0 if f.minimum is None else f.minimum
        if number is None or not low <= number < 10**14:
            return REJECT
        return number / 10**currency_exponent
    if kind == "decimal":
        if isinstance(value, bool):
            return REJECT
        text = repr(value) if isinstance(value, float) else str(value).strip(" ")
        if not re.fullmatch(r"-?[0-9]{1,24}(\.[0-9]{1,12})?", text):
            return REJECT
        number = Decimal(text)
        if (f.minimum is not None and number < f.minimum) or (f.maximum is not None and number > f.maximum):
            return REJECT
        return number
    if kind == "decimal_minor_units":
        if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,24}(\.[0-9]{1,12})?", value.strip(" ")):
            return REJECT
        number = Decimal(value.strip(" "))
        return REJECT if number < 0 else float(number) / 10**currency_exponent
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip(" ").lower() in ("true", "false"):
            return value.strip(" ").lower() == "true"
        return REJECT
    if kind in ("iso_time", "epoch_seconds"):
        if kind == "iso_time":
            moment = _iso(value) if isinstance(value, str) else None
        else:
            seconds = _digits(value, 11)
            try:
                moment = datetime(1970, 1, 1) + timedelta(seconds=seconds) if seconds is not None else None
            except OverflowError:
                moment = None
        if moment is None:
            return REJECT
        latest = SCHEDULED_BY if f.time_role == "schedule" else NOW + timedelta(days=1)
        return moment if EARLIEST <= moment <= latest else REJECT
    raise AssertionError(f"no oracle for {kind}")


# --- generated values --------------------------------------------------------------------------------------------

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"], include_characters=" "),
    max_size=12,
)
ascii_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ _-0123456789", max_size=10)
nested = st.one_of(
    st.dictionaries(st.sampled_from(["a", "id", "value"]), st.integers(0, 9), min_size=1),
    st.lists(st.integers(0, 9), min_size=1, max_size=2),
)
not_json = st.sampled_from([NotJson("NaN"), NotJson("Infinity"), NotJson("-Infinity")])
big_ints = st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, 2**64, 10**20, 10**14, 10**14 - 1])
epochs = st.one_of(
    st.integers(946_684_800, int(NOW.timestamp())),
    st.integers(946_684_800, int(NOW.timestamp())).map(lambda s: s * 1000),
    st.integers(946_684_800, int(NOW.timestamp())).map(lambda s: s * 1_000_000),
    st.integers(-(10**10), 10**12),
)
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 12, 31))


@st.composite
def iso_texts(draw) -> str:
    moment = draw(moments)
    style = draw(st.sampled_from(["Z", "ms", "offset", "offset_nocolon", "space", "date", "nanos", "naive", "minutes"]))
    if style == "date":
        return moment.strftime("%Y-%m-%d")
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    offset = draw(st.sampled_from(["+05:30", "-08:00", "+00:00", "+14:00"]))
    return {
        "Z": base + "Z",
        "ms": base + f".{moment.microsecond // 1000:03d}Z",
        "offset": base + offset,
        "offset_nocolon": base + offset.replace(":", ""),
        "space": base.replace("T", " "),
        "nanos": base + f".{moment.microsecond:06d}789Z",
        "naive": base,
        "minutes": moment.strftime("%Y-%m-%dT%H:%M"),
    }[style]


bad_times = st.sampled_from(
    [
        "2026-02-30T10:00:00Z",
        "2026-W10-1",
        "20260302T100000Z",
        "yesterday",
        "2026-03-02T10:00:00 EST",
        "2026/03/02",
        "2026-03-02T25:00:00Z",
        "2026-03-02t10:00:00z",
        "0000-01-01",
    ]
)


def values_for(f: Field) -> st.SearchStrategy:
    if (
        f.column is not None
        and f.kind not in ("object",)
        and f.name
        in (
            "response_id",
            "survey_type",
            "survey_kind",
            "score",
            "comment",
            "email",
            "account_id",
            "ticket_id",
            "channel",
            "touchpoint",
            "responded_at",
            "send_id",
            "sent_at",
            "delivered_at",
            "opened_at",
            "reminded_at",
            "bounced_at",
            "unsubscribed_at",
            "variant",
        )
    ):
        # CSV columns hold text only.
        return st.one_of(
            st.integers(-(10**12), 10**12).map(str),
            texts,
            iso_texts(),
            st.sampled_from(["9.0", "1e3", " 7 ", "", "NaN", "-0"]),
        )
    kind = f.kind
    common = st.one_of(st.none(), st.just(""), nested, not_json)
    if kind in ("int32", "int64", "minor_units"):
        return st.one_of(
            common,
            st.integers(-20, 20),
            big_ints,
            st.integers().map(str),
            st.floats(allow_nan=False, allow_infinity=False),
            st.booleans(),
            texts,
            st.just("4.0"),
        )
    if kind == "decimal":
        # Quarters print exactly in JSON, so the text DuckDB reads is known.
        return st.one_of(
            common,
            st.integers(-20, 200),
            st.integers(-80, 800).map(lambda n: n / 4),
            st.decimals(min_value=-10, max_value=200, allow_nan=False, places=3).map(str),
            st.booleans(),
            texts,
        )
    if kind == "decimal_minor_units":
        return st.one_of(
            common,
            st.decimals(min_value=-1000, max_value=10**9, allow_nan=False, places=4).map(str),
            st.just("0.0000001234567891"),
            texts,
        )
    if kind == "boolean":
        return st.one_of(
            common, st.booleans(), st.sampled_from(["true", "FALSE", " True ", "yes", "1", "t"]), st.integers(0, 1)
        )
    if kind == "iso_time":
        return st.one_of(common, iso_texts(), bad_times, epochs)
    if kind == "epoch_seconds":
        return st.one_of(common, epochs, epochs.map(str), st.floats(1e9, 2e9), iso_texts())
    if kind == "currency":
        return st.one_of(
            common,
            st.sampled_from(sorted(STRIPE_MINOR_UNITS)),
            st.sampled_from(["USD", " eur ", "xyz", "xau", "us", "kwd"]),
            ascii_words,
        )
    if kind in ("lower", "upper"):
        return st.one_of(common, ascii_words, st.sampled_from(list(f.values) or ["x"]), st.integers(0, 9))
    if kind == "reference":
        return st.one_of(
            common,
            ascii_words,
            st.fixed_dictionaries({"id": ascii_words}),
            st.fixed_dictionaries({"object": st.just("customer")}),
        )
    if kind == "text_list":
        return st.one_of(
            common, st.lists(ascii_words, max_size=3), st.lists(nested, min_size=1, max_size=2), ascii_words
        )
    if kind == "object":
        return st.one_of(
            st.none(),
            st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3)),
            ascii_words,
            st.lists(st.integers(), max_size=2),
        )
    return st.one_of(common, ascii_words)


# --- placing a value in a vendor record ---------------------------------------------------------------------------


def stripe_discount() -> dict:
    """A Discount with its coupon both where it was before 2025-09-30.clover and where it is from it (`source`), so
    that each coupon field is placed in an object that has its id."""
    coupon = {"id": "SPRING", "object": "coupon", "percent_off": 10, "duration": "forever"}
    return {
        "id": "di_1",
        "object": "discount",
        "coupon": coupon,
        "source": {"type": "coupon", "coupon": dict(coupon)},
        "start": 1772323200,
        "end": None,
        "subscription_item": None,
    }


def base_record(spec) -> dict:
    return {
        "typeform.responses": lambda: vendor.typeform("tf_1", comment="Great reports."),
        "simplesat.responses": lambda: vendor.simplesat(
            9001,
            answers=[
                vendor.simplesat_answer(metric, str(low), 500 + n)
                for n, (metric, (low, _)) in enumerate(SCORE_SCALES.items())
            ],
        ),
        "delighted.survey_responses": lambda: delighted.delighted_response("1", "nps", 9),
        "delighted.unsubscribes": lambda: delighted.delighted_unsubscribe("10"),
        "delighted.bounces": lambda: delighted.delighted_bounce("10"),
        "zendesk.tickets": lambda: vendor.ticket(1, custom_fields=[{"id": 360001234568, "value": "r1"}]),
        "zendesk.ticket_metrics": lambda: vendor.metric(1),
        "zendesk.users": lambda: vendor.user(1),
        "zendesk.organizations": lambda: vendor.organization(1),
        "zendesk.satisfaction_ratings": lambda: vendor.satisfaction_rating(1),
        "zendesk.csat_survey_responses": lambda: zendesk_csat.csat_survey_response(
            answers=[
                zendesk_csat.rating_answer(4, points=5, rating_category="good"),
                zendesk_csat.comment_answer("Thanks"),
            ]
        ),
        "stripe.customers": lambda: vendor.customer("cus_1"),
        "stripe.products": lambda: vendor.product("prod_1"),
        "stripe.coupons": lambda: vendor.coupon("SPRING"),
        "stripe.subscriptions": lambda: {
            **vendor.subscription(
                "sub_1", item=vendor.price_item(product={"id": "prod_1", "object": "product", "name": "Pro"})
            ),
            "discount": stripe_discount(),
            "discounts": [stripe_discount()],
        },
        "stripe.invoices": lambda: vendor.invoice("in_1"),
        "stripe.charges": lambda: vendor.charge("ch_1"),
        "segment.tracks": lambda: vendor.track("m1"),
    }[spec.key]()


def set_path(record: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for name in parents:
        child = record.get(name)
        if not isinstance(child, dict):
            child = record[name] = {}
        record = child
    if value is None:
        record.pop(last, None)
    else:
        record[last] = value


def place(spec, f: Field, value) -> dict:
    record = base_record(spec)
    if spec.layout == "segment_tracks":
        set_path(record, SEGMENT_KEYS[f.name], value)
    elif f.within is not None:
        # The first element of the field's array (a Stripe subscription's `items.data`, or its `discounts`).
        if not _get(record, f.within):
            set_path(record, f.within, [{}])
        set_path(_get(record, f.within)[0], f.path, value)
    elif f.element is not None:
        ref = f.element.key
        answers = record[f.element.array]
        picked = f.element.value
        wanted = picked if isinstance(picked, str) else str(SETTINGS.vars[picked.name])
        (element,) = [a for a in answers if str(_get(a, ref)).lower() == wanted]
        set_path(element, f.path, value)
    else:
        # Its path, with the key a dbt var names put in (Delighted's person property, Stripe's metadata key).
        path = re.sub(r"__VAR_([a-z0-9_]+)__", lambda m: str(SETTINGS.vars[m.group(1)]), f.path or f.name)
        set_path(record, path, value)
    return record


def _get(record: dict, path: str):
    for name in path.split("."):
        record = record.get(name) if isinstance(record, dict) else None
    return record


JSON_FIELDS = [(spec, f) for spec in ENTITIES if spec.layout != "csv" for f in spec.fields]
CSV_FIELDS = [(spec, f) for spec in ENTITIES if spec.layout == "csv" for f in spec.fields]


@dataclass
class Warehouse:
    con: duckdb.DuckDBPyConnection
    landing: Path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Warehouse:
    folder = tmp_path_factory.mktemp("properties")
    with duckdb.connect(str(folder / "warehouse.duckdb")) as con:
        yield Warehouse(con, folder / "landing")


def load_one_day(warehouse: Warehouse, spec, content: bytes):
    path = warehouse.landing / spec.landing_subdir / f"{DAY.isoformat()}.{spec.extension}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    # Every example replaces the same day: a re-run replaces it whole.
    result = load_files(
        warehouse.con, [landing_file(warehouse.landing, spec, DAY)], "property", force=True, settings=SETTINGS
    )
    assert result.errors == [], result.errors
    return result.loads[0]


def typed_value(con, spec, f: Field, where: str):
    fields = {x.name: x for x in spec.fields}
    if f.within is not None:
        source = (
            f"(select unnest(json_extract(payload, '$.{f.within}[*]')) as element, _line_number, _partition_date "
            f"from {spec.table}) as elements"
        )
    else:
        source = spec.table
    sql = substitute_vars(f"select {typed('duckdb', f, fields)} from {source} where {where}", SETTINGS.vars)
    return con.execute(sql).fetchall()


def same(actual, wanted) -> bool:
    if isinstance(wanted, float) and isinstance(actual, float):
        return math.isclose(actual, wanted, rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(wanted, dict | list):
        return json.loads(actual) == wanted if isinstance(actual, str) else actual == wanted
    return actual == wanted


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_every_json_field_quarantines_what_staging_cannot_type(warehouse, data):
    spec, f = JSON_FIELDS[data.draw(st.sampled_from(range(len(JSON_FIELDS))).map(int), label="field index")]
    data.draw(st.just(f"{spec.key}: {f.name}"), label="contract field")
    value = data.draw(values_for(f), label="value")
    if (
        data.draw(st.booleans(), label="key twice")
        and spec.layout == "json_object"
        and f.within is None
        and f.element is None
    ):
        value = Twice(data.draw(values_for(f)), value if value is not None else 1)
    record = place(spec, f, value)
    good = base_record(spec)
    good_key = {"segment.tracks": "messageId"}.get(spec.key, spec.primary_key_fields[0])
    good[good_key] = 999_999 if spec.source == "zendesk" else "good_2"
    content = (dumps(record) + "\n" + dumps(good) + "\n").encode()
    load = load_one_day(warehouse, spec, content)
    is_key = spec.layout == "json_object" and f.name in spec.primary_key_fields
    wanted = expected(f, value, key=is_key, lenient=spec.layout == "segment_tracks")
    score = spec.key == "delighted.survey_responses" and f.name == "score"
    if score and wanted not in (REJECT, ABSENT, ANY) and not 0 <= wanted <= 10:
        wanted = REJECT  # the NPS scale of the base record (a cross-field rule: the scale follows survey_type)
    # The other side of that rule: the base record's score 9 is off the scale of Delighted's CSAT (1-5), CES (1-7),
    # 5-star and Smileys (1-5) survey types, so those types make the record's score the quarantined value.
    survey_type = spec.key == "delighted.survey_responses" and f.name == "survey_type"
    if survey_type and wanted in ("csat", "ces", "5-star", "smileys"):
        wanted = REJECT
    # A Zendesk CSAT survey response must carry a rating_scale answer: any value put in place of the whole
    # `answers` list (absent, a scalar, a list of non-answers) leaves none, and the record is quarantined.
    if spec.key == "zendesk.csat_survey_responses" and f.name == "answers":
        wanted = REJECT
    # Its rating (4 in the base record) must be one of the question's options where any are given: a list of fewer
    # than 4 options puts the rating off the scale (a cross-field rule), and the record is quarantined.
    options = spec.key == "zendesk.csat_survey_responses" and f.name == "rating_answer.question.options"
    if options and isinstance(value, list) and 0 < len(value) < 4:
        wanted = REJECT
    rejects = warehouse.con.execute(
        f"select _line_number, reason from {spec.rejects_table} where _partition_date = ?", [DAY]
    ).fetchall()
    # Nothing else of the file is lost: the good record always loads.
    assert load.records_read == 2 and load.reconciles
    if wanted == REJECT:
        assert [line for line, _ in rejects] == [1], (value, rejects)
        (_, reason) = rejects[0]
        named = {
            f.name,
            f.name.split(".")[-1],
            f.path or "",
            SEGMENT_KEYS.get(f.name, ""),
            "key",
            "NaN",
            f.within or "",
            f.element.array if f.element else "",
            "score" if survey_type else "",
        }
        assert any(name and name in reason for name in named), (f.name, reason)
        return
    assert rejects == [], (f.name, value, rejects)
    rows = typed_value(warehouse.con, spec, f, f"_partition_date = '{DAY}' and _line_number = 1")
    actual = rows[0][0] if rows else None
    if wanted != ANY:
        assert same(actual, None if wanted == ABSENT else wanted), (f.name, value, actual, wanted)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_csv_field_quarantines_what_staging_cannot_type(warehouse, data):
    spec, f = CSV_FIELDS[data.draw(st.sampled_from(range(len(CSV_FIELDS))), label="field index")]
    data.draw(st.just(f"{spec.key}: {f.name}"), label="contract field")
    value = data.draw(values_for(f), label="value")
    row = {name: "" for name in spec.csv_columns}
    good = {
        "response_id": "r1",
        "send_id": "s1",
        "survey_type": "nps",
        "survey_kind": "relational",
        "score": "9",
        "email": "ana@acme.com",
        "account_id": "acc_1",
        "channel": "email",
        "touchpoint": "relationship",
        "responded_at": vendor.AT,
        "sent_at": vendor.AT,
    }
    row.update({name: v for name, v in good.items() if name in row})
    row[f.name] = value
    if f.name == spec.csv_columns[0] and _blank(value):
        return  # a record without its key: the key rule, covered by the catalogue
    other = dict(row)
    other[f.name] = good.get(f.name, "")
    other[spec.csv_columns[0]] = "other"

    def quoted(v: str) -> str:
        return '"' + v.replace('"', '""') + '"'

    content = (
        "\n".join(
            [
                ",".join(spec.csv_columns),
                ",".join(quoted(row[c]) for c in spec.csv_columns),
                ",".join(quoted(other[c]) for c in spec.csv_columns),
            ]
        )
        + "\n"
    )
    load = load_one_day(warehouse, spec, content.encode())
    wanted = expected(f, value)
    if f.name == "score" and wanted not in (REJECT, ABSENT) and not 0 <= wanted <= 10:
        wanted = REJECT  # the NPS scale (a cross-field rule: the scale follows survey_type)
    if f.name in SEND_LIFECYCLE and wanted not in (REJECT, ABSENT, ANY):
        sent = expected(next(g for g in spec.fields if g.name == "sent_at"), vendor.AT)
        if wanted < sent:
            wanted = REJECT  # a lifecycle time before sent_at (a cross-field rule of the sends)
    rejects = warehouse.con.execute(
        f"select _line_number, reason from {spec.rejects_table} where _partition_date = ?", [DAY]
    ).fetchall()
    assert load.records_read == 2 and load.reconciles
    if wanted == REJECT:
        assert [line for line, _ in rejects] == [2], (value, rejects)
        assert f.name in rejects[0][1]
        return
    assert rejects == [], (f.name, value, rejects)
    rows = typed_value(warehouse.con, spec, f, f"_partition_date = '{DAY}' and _line_number = 2")
    assert same(rows[0][0], None if wanted == ABSENT else wanted), (f.name, value, rows, wanted)
