"""Ingestion: everything that puts vendor-shaped files into the landing folder."""
