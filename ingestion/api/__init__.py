"""Connectors that pull Typeform, Zendesk and Stripe from their APIs into the landing folder, built on dlt.

Per source, `NPS_SOURCE_MODE_<SOURCE>=api` switches from landing files to the API; the loader then reads what the
connector landed exactly as it reads exports. Design and settings: docs/api_sources.md.
"""
