"""Dagster code: assets, checks, schedules and resources that run the platform."""
