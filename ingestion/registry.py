"""Every entity the platform loads, in one list."""

from ingestion import delighted, segment, simplesat, stripe, surveys, typeform, zendesk
from ingestion.entities import EntitySpec

# One package per source (ingestion/<source>/): its contract (`ENTITIES`), the modes it can be read in (`MODES`:
# landing files always, `api` with the connector in its `api.py`, `s3` for object storage) and its API client.
SOURCES = (typeform, surveys, simplesat, delighted, zendesk, stripe, segment)
ENTITIES: tuple[EntitySpec, ...] = tuple(spec for source in SOURCES for spec in source.ENTITIES)
SOURCE_MODES: dict[str, tuple[str, ...]] = {source.ENTITIES[0].source: source.MODES for source in SOURCES}


def get_entity(source: str, entity: str) -> EntitySpec:
    for spec in ENTITIES:
        if spec.source == source and spec.entity == entity:
            return spec
    raise KeyError(f"unknown entity {source}/{entity}")
