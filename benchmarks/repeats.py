"""Measurements that are compared: repeated, in alternating order, and summed up as minimum and median.

Two things measured one after the other in a fixed order are not measured alike: the second reads files the first
left in the page cache. So each comparison runs several rounds and every other round swaps the order (`rounds`),
and reports the minimum (the run least disturbed by the rest of the machine) and the median of each side.

The daily run is also measured against a baseline commit (`BASELINE_COMMIT`) in the same `make bench` run: its
source tree is exported once into the work folder (`baseline_checkout`) and runs the same job in its own
warehouse, with the virtualenv of this checkout plus, ahead of it on the path, the packages its
requirements.lock pins at another version (`baseline_overlay`). Each variant's daily run starts from the history
its own full build left: a copy of its warehouse folder taken after the full build (`measure_daily_runs`).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from settings import REPO_ROOT

T = TypeVar("T")

# The commit of the last `make bench` on a quiet machine (docs/benchmarks.md), before issue 24's daily-run work.
BASELINE_COMMIT = "f51c35a"
INGEST_REPEATS = 4
DAILY_REPEATS = 2


def rounds(names: Sequence[T], repeats: int) -> Iterator[tuple[int, T]]:
    """(round, name) for `repeats` rounds over `names`, every other round in reverse order: A B, B A, A B, ..."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for number in range(repeats):
        for name in names if number % 2 == 0 else reversed(names):
            yield number, name


@dataclass
class Runs:
    """The seconds of every run of one measured thing, in the order they ran."""

    seconds: list[float] = field(default_factory=list)

    @property
    def min(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def ratio(numerator: Runs, denominator: Runs) -> tuple[float, float]:
    """(ratio of the minimums, ratio of the medians)."""
    return numerator.min / denominator.min, numerator.median / denominator.median


@dataclass
class Variant:
    """One version of the pipeline: its source tree (on PYTHONPATH, the child's working directory) and the folder
    of its warehouse (its serving file, Parquet and reports are written beside it)."""

    name: str
    source: Path
    folder: Path
    packages: Path | None = None  # searched after `source`, before the virtualenv (baseline_overlay)

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join(str(path) for path in (self.source, self.packages) if path)

    @property
    def warehouse(self) -> Path:
        return self.folder / "warehouse.duckdb"

    @property
    def history(self) -> Path:
        """The copy of the warehouse folder as the full build left it."""
        return self.folder.with_name(self.folder.name + ".history")


def copy_folder(source: Path, destination: Path) -> None:
    """`destination` becomes a copy of `source` (copy-on-write where the file system can)."""
    shutil.rmtree(destination, ignore_errors=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(source), str(destination)], check=True)


def measure_daily_runs(
    variants: Sequence[Variant],
    repeats: int,
    run: Callable[[Variant], tuple[float, float]],
    copy: Callable[[Path, Path], None] = copy_folder,
) -> dict[str, tuple[Runs, float]]:
    """{variant: (its daily runs' seconds, the largest peak GB)}: `run(variant)` (seconds, peak GB) `repeats` times
    per variant, alternating the order; every run but each variant's first starts from the copy of the history
    taken before that first run, so each run does the same work. The copies are removed at the end; each
    warehouse is left as its last daily run left it."""
    keep_history = repeats > 1
    if keep_history:
        for variant in variants:
            copy(variant.folder, variant.history)
    results: dict[str, tuple[Runs, float]] = {variant.name: (Runs(), 0.0) for variant in variants}
    ran: set[str] = set()
    try:
        for _, variant in rounds(list(variants), repeats):
            if variant.name in ran:
                copy(variant.history, variant.folder)
            ran.add(variant.name)
            seconds, peak = run(variant)
            runs, largest = results[variant.name]
            runs.seconds.append(seconds)
            results[variant.name] = (runs, max(largest, peak))
    finally:
        if keep_history:
            for variant in variants:
                shutil.rmtree(variant.history, ignore_errors=True)
    return results


def _git(*args: str, repo: Path) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def baseline_checkout(commit: str, work: Path, repo: Path = REPO_ROOT, parse: bool = True) -> Path:
    """The source tree of `commit` in `work/baseline-<sha>`, exported once with `git archive` (no worktree is
    registered in the repository and nothing of this checkout changes), with the dbt manifest its Dagster
    definitions load. A marker file names the commit once the tree is complete; a partial export is redone."""
    sha = _git("rev-parse", "--verify", f"{commit}^{{commit}}", repo=repo)
    folder = work / f"baseline-{sha[:12]}"
    marker = folder / ".bench_baseline"
    if marker.exists() and marker.read_text() == sha:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    archive = subprocess.Popen(["git", "archive", "--format=tar", sha], cwd=repo, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(folder)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {sha} failed in {repo}")
    if parse:
        subprocess.run(
            [str(Path(sys.executable).parent / "dbt"), "parse", "--quiet", "--profiles-dir", "."],
            cwd=folder / "dbt_project",
            check=True,
            env={**os.environ, "DO_NOT_TRACK": "1", "NPS_DUCKDB_PATH": str(work / "baseline-parse.duckdb")},
        )
    marker.write_text(sha)
    return folder


def lock_differences(lock: str, installed: Callable[[str], str | None]) -> list[str]:
    """The `name==version` pins of a requirements lock that `installed(name)` (the version here, None if absent)
    does not match; comments, options and environment markers are ignored."""
    pins = []
    for line in lock.splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line)
        if match and installed(match.group(1)) != match.group(2):
            pins.append(f"{match.group(1)}=={match.group(2)}")
    return pins


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def baseline_overlay(folder: Path) -> Path | None:
    """The packages the baseline's requirements.lock pins that this virtualenv lacks or has at another version,
    installed once (pip, without dependencies: the lock pins every one) into `folder/.bench-packages`; None when
    there are none. The baseline runs with that folder ahead of this virtualenv on its path."""
    packages = folder / ".bench-packages"
    marker = packages / ".installed"
    if marker.exists():
        return packages
    pins = lock_differences((folder / "requirements.lock").read_text(), _installed)
    if not pins:
        return None
    shutil.rmtree(packages, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
    subprocess.run([*pip, "--target", str(packages), *pins], check=True)
    marker.write_text("\n".join(pins))
    return packages
