"""requirements-spark.lock is exactly what the `spark` extra adds to the runtime lock (`make test-spark` installs
it; tests/test_packaging.py checks the other two locks in `make test`, where pyspark is not installed)."""

from __future__ import annotations

import importlib.metadata as metadata

import pytest

from tests.test_packaging import INSTALLER, PYPROJECT, closure, lock

pytestmark = pytest.mark.spark


def test_the_spark_lock_is_exactly_what_the_spark_extra_adds():
    project = PYPROJECT["project"]
    needed = closure(project["dependencies"] + project["optional-dependencies"]["spark"]) - INSTALLER
    added = needed - set(lock("runtime"))
    pinned = set(lock("spark"))
    assert {"missing": sorted(added - pinned), "not needed": sorted(pinned - added)} == {
        "missing": [],
        "not needed": [],
    }
    assert {name: metadata.version(name) for name in pinned} == lock("spark")
