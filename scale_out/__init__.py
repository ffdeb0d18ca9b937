"""Running the dbt project on other engines than the local DuckDB file (Apache Spark)."""
