"""Connector settings: per-source mode, clear errors naming the variable, credentials that never print."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingestion.api.connector import fetch
from ingestion.api.settings import ConfigurationError, Secret, api_sources, source_mode, vendor_settings
from tests.api.conftest import FAST
from tests.api.fake_vendors import FakeVendorServer, Zendesk


def test_mode_is_file_unless_a_source_is_switched_to_api():
    assert source_mode("stripe", {}.get) == "file"
    assert source_mode("stripe", {"NPS_SOURCE_MODE_STRIPE": "API"}.get) == "api"
    assert source_mode("zendesk", {"NPS_SOURCE_MODE": "api", "NPS_SOURCE_MODE_ZENDESK": "file"}.get) == "file"
    assert api_sources({"NPS_SOURCE_MODE": "api", "NPS_SOURCE_MODE_TYPEFORM": "file"}.get) == [
        "simplesat",
        "delighted",
        "zendesk",
        "stripe",
    ]
    with pytest.raises(ConfigurationError, match="NPS_SOURCE_MODE_STRIPE must be 'file' or 'api'"):
        source_mode("stripe", {"NPS_SOURCE_MODE_STRIPE": "http"}.get)
    with pytest.raises(ConfigurationError, match="segment has no API connector"):
        source_mode("segment", {"NPS_SOURCE_MODE_SEGMENT": "api"}.get)


def test_missing_settings_name_the_variable(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="NPS_STRIPE_API_KEY is not set"):
        vendor_settings("stripe", tmp_path, {}.get)
    with pytest.raises(ConfigurationError, match="NPS_TYPEFORM_FORM_IDS is not set"):
        vendor_settings("typeform", tmp_path, {"NPS_TYPEFORM_TOKEN": "t"}.get)
    with pytest.raises(ConfigurationError, match="NPS_ZENDESK_SUBDOMAIN is not set"):
        vendor_settings("zendesk", tmp_path, {"NPS_ZENDESK_EMAIL": "a@b.c", "NPS_ZENDESK_API_TOKEN": "t"}.get)
    with pytest.raises(ConfigurationError, match="NPS_STRIPE_PAGE_SIZE must be at most 100"):
        vendor_settings("stripe", tmp_path, {"NPS_STRIPE_API_KEY": "k", "NPS_STRIPE_PAGE_SIZE": "500"}.get)


def test_defaults_follow_the_vendors(tmp_path: Path):
    zendesk = vendor_settings(
        "zendesk",
        tmp_path,
        {"NPS_ZENDESK_SUBDOMAIN": "acme", "NPS_ZENDESK_EMAIL": "a@b.c", "NPS_ZENDESK_API_TOKEN": "t"}.get,
    )
    assert zendesk.base_url == "https://acme.zendesk.com" and zendesk.requests_per_minute < 10
    assert zendesk.state_dir == tmp_path / "_api"
    typeform = vendor_settings("typeform", tmp_path, {"NPS_TYPEFORM_TOKEN": "t", "NPS_TYPEFORM_FORM_IDS": "a1, b2"}.get)
    assert typeform.base_url == "https://api.typeform.com" and typeform.form_ids == ("a1", "b2")
    assert typeform.page_size == 1000 and typeform.requests_per_minute <= 120
    stripe = vendor_settings("stripe", tmp_path, {"NPS_STRIPE_API_KEY": "sk_x", "NPS_STRIPE_START": "2025-01-01"}.get)
    assert stripe.base_url == "https://api.stripe.com" and stripe.page_size == 100
    assert stripe.start == datetime(2025, 1, 1, tzinfo=UTC)


def test_a_secret_never_prints():
    secret = Secret("sk_live_abc")
    assert "sk_live_abc" not in repr(secret) and "sk_live_abc" not in str(secret) and "sk_live_abc" not in f"{secret}"
    settings_repr = repr(vendor_settings("stripe", Path("/tmp"), {"NPS_STRIPE_API_KEY": "sk_live_abc"}.get))
    assert "sk_live_abc" not in settings_repr


def test_no_credential_in_dlt_debug_logs(tmp_path: Path, monkeypatch):
    vendor = Zendesk()
    org = vendor.add_organization(datetime.now(UTC) - timedelta(days=2), "acc_00001")
    vendor.add_ticket(
        datetime.now(UTC) - timedelta(days=1), vendor.add_user(datetime.now(UTC), org["id"])["id"], org["id"]
    )
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    # dlt sets its logger up from RUNTIME__LOG_LEVEL when the first pipeline of the process starts.
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "DEBUG")
    handler, dlt_logger = Keep(level=logging.DEBUG), logging.getLogger("dlt")
    level = dlt_logger.level
    dlt_logger.addHandler(handler)
    dlt_logger.setLevel(logging.DEBUG)
    try:
        with FakeVendorServer(vendor) as server:
            env = {
                **FAST,
                "NPS_ZENDESK_API_URL": server.url,
                "NPS_ZENDESK_EMAIL": vendor.email,
                "NPS_ZENDESK_API_TOKEN": vendor.token,
            }
            fetch("zendesk", tmp_path / "landing", env.get)
    finally:
        dlt_logger.removeHandler(handler)
        dlt_logger.setLevel(level)
    text = "\n".join(records)
    assert "Making GET request" in text  # the client did log every request, with its parameters
    assert vendor.token not in text and "Authorization" not in text


def test_fetch_command_lands_the_api_sources(tmp_path: Path, monkeypatch, capsys):
    from ingestion.api.__main__ import main
    from tests.api.fake_vendors import Stripe
    from tests.api.test_stripe import populate

    vendor = Stripe()
    populate(vendor, 3, first_day_ago=3)
    with FakeVendorServer(vendor) as server:
        for name, value in {**FAST, "NPS_STRIPE_API_URL": server.url, "NPS_STRIPE_API_KEY": vendor.key}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("NPS_LANDING_DIR", str(tmp_path / "landing"))
        monkeypatch.setenv("NPS_SOURCE_MODE_STRIPE", "api")
        assert main(["fetch"]) == 0
        # 3 customers, subscriptions, invoices and charges, the 5 products and the 2 coupons of the catalog.
        assert "stripe: 19 object version(s)" in capsys.readouterr().out
        monkeypatch.setenv("NPS_STRIPE_API_KEY", "sk_test_wrong_000")
        assert main(["fetch", "--source", "stripe"]) == 1
        err = capsys.readouterr().err
        assert "Stripe API refused the credentials" in err and "sk_test_wrong_000" not in err
    assert len(list((tmp_path / "landing" / "stripe").rglob("*.jsonl"))) >= 4
