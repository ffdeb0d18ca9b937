"""Webhook receivers that append vendor pushes to the landing zone, so the file loader ingests them unchanged.

`typeform.py` holds the pure parts (signature, validation, conversion, the durable landing writer and its event
ledger); `server.py` the HTTP service (`python -m ingestion.webhooks`). Operations: docs/webhooks.md.
"""
