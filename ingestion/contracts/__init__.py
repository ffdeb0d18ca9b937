"""One typed contract per raw entity: the field vocabulary (`fields`), its SQL (`render`), the loader's rules
(`rules`) and the dbt macro staging reads it through (`dbt`; `python -m ingestion.contracts` writes it)."""
