"""Source readers: landing-zone files (and later vendor APIs) into DuckDB raw schemas, plus the demo data generator."""
