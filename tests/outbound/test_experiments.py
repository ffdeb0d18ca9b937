"""Seed experiments and the deterministic split of follow-up cases (outbound/experiments.py): the hash worked out
here, the shares it gives, and a clear message for every bad row."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from outbound import experiments

HEADER = "experiment,applies_to,variant,is_control,share,description\n"


def write(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "experiments.csv"
    path.write_text(HEADER + rows)
    return path


def test_the_seed_of_the_project_loads_with_one_control_per_experiment():
    variants = experiments.load()
    names = {v.experiment for v in variants}
    assert {"survey_subject_line", "outreach_script", "followup_timing"} <= names
    for name in names:
        assert sum(v.is_control for v in variants if v.experiment == name) == 1


def test_the_bucket_is_the_first_8_bytes_of_sha256_over_2_to_the_64():
    digest = hashlib.sha256(b"outreach_script:rsp_0001").digest()
    assert experiments.bucket("outreach_script", "rsp_0001") == int.from_bytes(digest[:8], "big") / 2**64
    # The boundaries: a bucket is in [0, 1).
    assert 0 <= experiments.bucket("x", "") < 1


def test_assignment_is_deterministic_follows_the_shares_and_splits_experiments_independently(tmp_path):
    path = write(
        tmp_path,
        "script,followup_case,a,true,0.2,\n"
        "script,followup_case,b,false,0.3,\n"
        "script,followup_case,c,false,0.5,\n"
        "timing,followup_case,slow,true,0.5,\n"
        "timing,followup_case,fast,false,0.5,\n"
        "subject,send,plain,true,0.5,\n"
        "subject,send,question,false,0.5,\n",
    )
    variants = experiments.load(path)
    ids = [f"rsp_{n:05d}" for n in range(20000)]
    chosen = [experiments.assign(variants, unit) for unit in ids]
    assert chosen == [experiments.assign(variants, unit) for unit in ids]
    assert {tuple(v.experiment for v in pair) for pair in chosen} == {("script", "timing")}
    for name, share in (("a", 0.2), ("b", 0.3), ("c", 0.5), ("fast", 0.5)):
        observed = sum(any(v.variant == name for v in pair) for pair in chosen) / len(ids)
        assert observed == pytest.approx(share, abs=0.015)  # 4.5 standard errors at n = 20,000
    # Which variant, from the hash: b covers [0.2, 0.5).
    for unit in ids[:200]:
        point = experiments.bucket("script", unit)
        assert chosen[ids.index(unit)][0].variant == ("a" if point < 0.2 else "b" if point < 0.5 else "c")
    # Independent: the script does not predict the timing.
    fast_given_c = [pair[1].variant == "fast" for pair in chosen if pair[0].variant == "c"]
    assert sum(fast_given_c) / len(fast_given_c) == pytest.approx(0.5, abs=0.02)
    assert experiments.assign(variants, "snd_1", applies_to="send")[0].experiment == "subject"
    assert experiments.assign([], "rsp_1") == []
    assert experiments.variant_tag("script_listen_first") == "nps_variant_script_listen_first"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("e,followup_case,A b,true,1,\n", "line 2: column variant: a name of lower-case letters"),
        ("e,case,a,true,1,\n", "line 2: column applies_to: one of send, followup_case is needed, not 'case'"),
        ("e,send,a,yes,1,\n", "line 2: column is_control: true or false is needed, not 'yes'"),
        ("e,send,a,true,half,\n", "line 2: column share: a number between 0 and 1 is needed, not 'half'"),
        ("e,send,a,true,0,\n", "line 2: column share: a number above 0 and at most 1 is needed, not '0'"),
        ("e,send,a,true,0.5,\nf,send,a,true,0.5,\n", "line 3: column variant: 'a' is already on line 2"),
        ("e,send,a,true,1,\n", "line 2: experiment 'e' needs at least two variants"),
        ("e,send,a,true,0.5,\ne,send,b,true,0.5,\n", "line 3: column is_control: experiment 'e' needs one control"),
        ("e,send,a,true,0.5,\ne,send,b,false,0.4,\n", "line 3: column share: experiment 'e' sums to 0.9, not 1"),
        ("e,send,a,true,0.5,\ne,followup_case,b,false,0.5,\n", "line 3: column applies_to: experiment 'e' mixes"),
    ],
)
def test_a_bad_row_is_named_by_file_line_and_column(tmp_path, rows, message):
    path = write(tmp_path, rows)
    with pytest.raises(ValueError) as error:
        experiments.load(path)
    assert str(error.value).startswith(f"{path}: {message}")


def test_a_missing_column_is_named(tmp_path):
    path = tmp_path / "experiments.csv"
    path.write_text("experiment,applies_to,variant,share\n")
    with pytest.raises(ValueError, match=r"line 1: missing column\(s\) is_control, description"):
        experiments.load(path)
