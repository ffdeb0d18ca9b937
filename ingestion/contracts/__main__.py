"""`python -m ingestion.contracts`: write the `raw_field` dbt macro and the contract tables of docs/data_quality.md
from the entity contracts."""

from ingestion.contracts.dbt import MACRO_PATH, write_macro
from ingestion.contracts.docs import DOCS_PATH, write_docs
from ingestion.registry import ENTITIES

if __name__ == "__main__":
    for path, changed in ((MACRO_PATH, write_macro(list(ENTITIES))), (DOCS_PATH, write_docs(list(ENTITIES)))):
        print(f"{path}: {'written' if changed else 'already current'}")
