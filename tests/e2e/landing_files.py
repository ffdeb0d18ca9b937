"""Writing vendor-shaped records into a landing folder, for tests that craft their own data."""

from __future__ import annotations

import json
from pathlib import Path


def write_jsonl(landing: Path, source: str, entity: str, day: str, objects: list[dict]) -> None:
    path = landing / source / entity / f"{day}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(obj) + "\n" for obj in objects), encoding="utf-8")
