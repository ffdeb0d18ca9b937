"""Every entity the platform loads, in one list."""

from ingestion import segment, stripe, surveys, typeform, zendesk
from ingestion.entities import EntitySpec

ENTITIES: tuple[EntitySpec, ...] = (
    *typeform.ENTITIES,
    *surveys.ENTITIES,
    *zendesk.ENTITIES,
    *stripe.ENTITIES,
    *segment.ENTITIES,
)


def get_entity(source: str, entity: str) -> EntitySpec:
    for spec in ENTITIES:
        if spec.source == source and spec.entity == entity:
            return spec
    raise KeyError(f"unknown entity {source}/{entity}")
