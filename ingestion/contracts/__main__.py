"""`python -m ingestion.contracts`: write the `raw_field` dbt macro from the entity contracts."""

from ingestion.contracts.dbt import MACRO_PATH, write_macro
from ingestion.registry import ENTITIES

if __name__ == "__main__":
    changed = write_macro(list(ENTITIES))
    print(f"{MACRO_PATH}: {'written' if changed else 'already current'}")
