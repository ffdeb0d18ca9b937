"""Everything Dagster loads, one folder per concern (loaded by orchestration/definitions.py)."""
