"""Marts computed in Python (scikit-learn), reading and writing the warehouse through DuckDB."""
