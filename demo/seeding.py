"""Independent, reproducible random streams derived from the config seed.

Every concern (accounts, billing, support, surveys, usage) draws from its own stream, keyed by
the seed, a stream name and an index, so changing one part of the generator never shifts the
numbers another part sees. No global random state is touched.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np


def _key(seed: int, stream: str, *parts: int | str) -> str:
    return ":".join(str(p) for p in (seed, stream, *parts))


def py_rng(seed: int, stream: str, *parts: int | str) -> random.Random:
    """A `random.Random` for one stream (string seeds hash with SHA-512: stable across runs)."""
    return random.Random(_key(seed, stream, *parts))


def np_rng(seed: int, stream: str, *parts: int | str) -> np.random.Generator:
    """A numpy Generator for one stream."""
    digest = hashlib.sha256(_key(seed, stream, *parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))
