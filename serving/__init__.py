"""Publishing the marts to the serving file BI tools open and to Parquet (docs/serving.md)."""

from serving.publication import PublishedMart, PublishError, PublishResult, publish

__all__ = ["PublishError", "PublishResult", "PublishedMart", "publish"]
