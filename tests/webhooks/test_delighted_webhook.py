"""The Delighted webhook receiver, run as users run it (`python -m ingestion.webhooks --delighted`), over real HTTP.

Events as Delighted documents them: `{event_type, event_id, event_data}`, the survey response with its person
expanded, signed `X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256(body, API key)>`. Signatures, expected
files and rows are computed here from the payloads sent, never with the code under test.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.landing import landing_file
from ingestion.loader import load_files
from ingestion.registry import get_entity
from settings import REPO_ROOT
from tests.webhooks.machine import measure
from tests.webhooks.test_typeform_webhook import Receiver, start

API_KEY = "test-only-delighted-api-key-7d1e"
PATH = "/webhooks/delighted"
CREATED = 1_772_373_802  # 2026-03-01T14:03:22Z
UPDATED = 1_772_460_000  # 2026-03-02T14:00:00Z


def signature(body: bytes, key: str = API_KEY) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def response_event(
    event_id: str, response_id: str, score: int = 3, updated_at: int | None = None, event_type: str | None = None
) -> dict:
    """A `survey_response.*` webhook: the survey response object of the API reference, person expanded."""
    return {
        "event_type": event_type or ("survey_response.updated" if updated_at else "survey_response.created"),
        "event_id": event_id,
        "event_data": {
            "id": response_id,
            "person": {
                "id": "4945",
                "email": "Jony@appleseed.example",
                "name": "Jony Appleseed",
                "created_at": 1_772_300_000,
                "last_sent_at": 1_772_373_000,
            },
            "survey_type": "nps",
            "score": score,
            "comment": "Exports keep failing & support is slow.",
            "permalink": f"https://delighted.com/r/{response_id}",
            "created_at": CREATED,
            "updated_at": updated_at,
            "person_properties": {"Account ID": "acc_00042", "Plan": "Growth"},
            "notes": [],
            "tags": [],
            "additional_answers": [
                {
                    "id": "72",
                    "value": {"free_response": None, "scale": None, "select_one": {"id": "1", "text": "Support"},
                              "select_many": None},
                    "question": {"id": "enum_12", "type": "select_one", "text": "What should we improve?"},
                }
            ],
        },
    }  # fmt: skip


def unsubscribe_event(event_id: str, person_id: str = "4946") -> dict:
    return {
        "event_type": "unsubscribe.created",
        "event_id": event_id,
        "event_data": {
            "person_id": person_id,
            "email": "leave@me.example",
            "name": "Lee Ave",
            "unsubscribed_at": UPDATED,
        },
    }


def post(receiver: Receiver, event: dict | bytes, sign: str | None = "valid", path: str = PATH) -> tuple[int, dict]:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    headers = {"Content-Type": "application/json"}
    if sign is not None:
        headers["X-Delighted-Webhook-Signature"] = signature(body) if sign == "valid" else sign
    conn = receiver.connection()
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


@pytest.fixture
def receiver(landing: Path, tmp_path: Path):
    running = start(landing, tmp_path / "receiver.log", "--delighted", NPS_DELIGHTED_API_KEY=API_KEY)
    yield running
    running.stop()


def test_a_signed_response_lands_as_the_api_object_on_its_day_and_once(receiver: Receiver, landing: Path):
    created = response_event("evt_1", "r_101")
    assert post(receiver, created) == (200, {"status": "accepted", "event_id": "evt_1"})
    assert post(receiver, created) == (200, {"status": "duplicate", "event_id": "evt_1"})
    # Edited the next day: lands again on the day of updated_at, where the later version wins.
    edited = response_event("evt_2", "r_101", score=8, updated_at=UPDATED)
    assert post(receiver, edited)[0] == 200
    folder = landing / "delighted" / "survey_responses"
    assert lines(folder / "2026-03-01.jsonl") == [created["event_data"]]
    assert lines(folder / "2026-03-02.jsonl") == [edited["event_data"]]
    ledger = (landing / "_webhooks" / "delighted_event_ids.txt").read_text().splitlines()
    assert [entry.split("\t")[:3] for entry in ledger] == [
        ["evt_1", "survey_response.created", "r_101"],
        ["evt_2", "survey_response.updated", "r_101"],
    ]
    # Typeform's endpoint is served beside it, with its own signature scheme.
    assert post(receiver, created, path="/webhooks/typeform")[0] == 401


def test_an_unsubscribe_lands_in_the_unsubscribes_list_shape(receiver: Receiver, landing: Path):
    assert post(receiver, unsubscribe_event("evt_u1"))[0] == 200
    # Some of Delighted's pages name the event survey_response.unsubscribed, with the person as event_data.
    person = {"id": "4947", "email": "b@c.example", "name": "Bea", "created_at": CREATED}
    other = {"event_type": "survey_response.unsubscribed", "event_id": "evt_u2", "event_data": person}
    assert post(receiver, other)[0] == 200
    landed = lines(landing / "delighted" / "unsubscribes" / "2026-03-02.jsonl")
    assert landed == [{"person_id": "4946", "email": "leave@me.example", "name": "Lee Ave", "unsubscribed_at": UPDATED}]
    today = lines(landing / "delighted" / "unsubscribes" / f"{datetime.now(UTC).date()}.jsonl")
    assert [(item["person_id"], item["email"]) for item in today] == [("4947", "b@c.example")]
    assert abs(today[0]["unsubscribed_at"] - time.time()) < 60  # the time of receipt: the event carried none


@pytest.mark.parametrize(
    "sign",
    [None, "sha256=" + "0" * 64, "sha256=" + hmac.new(b"another key", b"{}", hashlib.sha256).hexdigest()],
)
def test_a_missing_or_wrong_signature_is_401_and_writes_nothing(receiver: Receiver, landing: Path, sign):
    status, answer = post(receiver, response_event("evt_9", "r_9"), sign=sign)
    assert status == 401 and "X-Delighted-Webhook-Signature" in answer["error"]
    assert not (landing / "delighted").exists()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"score": 11}, "event_data.score", "outside 0-10"),
        ({"score": "ten"}, "event_data.score", "score"),
        ({"created_at": "yesterday"}, "event_data.created_at", "created_at"),
        ({"person": None}, "event_data.person", "person"),
    ],
)
def test_a_response_the_loader_would_quarantine_is_422_naming_the_field_and_kept(
    receiver: Receiver, landing: Path, change: dict, field: str, words: str
):
    event = response_event("evt_bad", "r_bad")
    event["event_data"].update(change)
    status, answer = post(receiver, event)
    assert status == 422 and answer["field"] == field and words in answer["error"], answer
    assert not (landing / "delighted" / "survey_responses").exists()
    refused = lines(landing / "_webhooks" / "delighted_refused.jsonl")
    assert len(refused) == 1 and json.loads(refused[0]["body"]) == event


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"event_type": "survey_response.created", "event_data": {}}, "event_id"),
        ({"event_type": "person.created", "event_id": "e1", "event_data": {}}, "event_type"),
        ({"event_type": "survey_response.created", "event_id": "e1", "event_data": []}, "event_data"),
        ({"event_type": "unsubscribe.created", "event_id": "e1", "event_data": {"email": "x@y.example"}},
         "event_data.id"),
    ],
)  # fmt: skip
def test_events_that_are_not_usable_are_422(receiver: Receiver, event: dict, field: str):
    status, answer = post(receiver, event)
    assert status == 422 and answer["field"] == field, answer


def test_landed_files_load_through_the_real_loader(receiver: Receiver, landing: Path, tmp_path: Path):
    for number, (score, updated) in enumerate([(0, None), (6, None), (9, UPDATED), (10, None)]):
        assert post(receiver, response_event(f"evt_l{number}", f"r_l{number}", score, updated))[0] == 200
    assert post(receiver, unsubscribe_event("evt_lu"))[0] == 200
    responses, unsubscribes = get_entity("delighted", "survey_responses"), get_entity("delighted", "unsubscribes")
    files = [landing_file(landing, responses, day) for day in (date(2026, 3, 1), date(2026, 3, 2))]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        loaded = load_files(con, files, "webhook")
        assert loaded.errors == [] and all(load.records_rejected == 0 for load in loaded.loads)
        rows = con.execute(
            f"select record_id, _partition_date, (payload ->> '$.score')::int from {responses.table} order by 1"
        ).fetchall()
        assert rows == [
            ("r_l0", date(2026, 3, 1), 0),
            ("r_l1", date(2026, 3, 1), 6),
            ("r_l2", date(2026, 3, 2), 9),
            ("r_l3", date(2026, 3, 1), 10),
        ]
        unsubscribed = load_files(con, [landing_file(landing, unsubscribes, date(2026, 3, 2))], "webhook")
        assert unsubscribed.loads[0].records_loaded == 1 and unsubscribed.loads[0].records_rejected == 0


def test_delighted_without_its_key_refuses_to_start(landing: Path, tmp_path: Path):
    env = {"PATH": "/usr/bin:/bin", "NPS_LANDING_DIR": str(landing), "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "ingestion.webhooks", "--port", "0", "--delighted"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "NPS_DELIGHTED_API_KEY" in result.stderr


LOAD_SECONDS = 15
LOAD_CLIENTS = 6


@dataclass
class DelightedLoad:
    rate: float
    slowest_window: float  # requests a second in the slowest 5-second window
    statuses: Counter
    sent_ids: set[str]

    def __str__(self) -> str:
        return f"{self.rate:,.0f}/s, slowest 5 s window {self.slowest_window:,.0f}/s"


def delighted_load(port: int, attempt: int) -> DelightedLoad:
    """Six keep-alive senders for LOAD_SECONDS, one event in 20 a replay."""
    began = time.monotonic()
    deadline = began + LOAD_SECONDS
    statuses: Counter = Counter()
    finished: list[float] = []
    sent_ids: set[str] = set()
    lock = threading.Lock()

    def client(number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        bodies: list[bytes] = []
        count = 0
        while time.monotonic() < deadline:
            count += 1
            if count % 20 == 0:
                body = bodies[count * 7 % len(bodies)]
            else:
                updated = UPDATED + count if count % 3 == 0 else None
                sender = f"{attempt}c{number}x{count}"
                body = json.dumps(response_event(f"evt{sender}", f"r{sender}", count % 11, updated)).encode()
                bodies.append(body)
                with lock:
                    sent_ids.add(f"r{sender}")
            conn.request("POST", PATH, body=body, headers={"X-Delighted-Webhook-Signature": signature(body)})
            response = conn.getresponse()
            response.read()
            with lock:
                statuses[response.status] += 1
                finished.append(time.monotonic())
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(LOAD_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=LOAD_SECONDS + 30)
    elapsed = time.monotonic() - began
    windows = Counter(int((t - began) // 5) for t in finished if t < began + LOAD_SECONDS)
    slowest = min(windows.get(n, 0) for n in range(LOAD_SECONDS // 5)) / 5
    return DelightedLoad(sum(statuses.values()) / elapsed, slowest, statuses, sent_ids)


@pytest.mark.serial
def test_delighted_load_sustains_200_requests_per_second(receiver: Receiver, landing: Path, capsys):
    """At least 200 requests a second in every 5-second window (on a quiet machine: tests/webhooks/machine.py),
    every request 200, every new response landed exactly once."""
    with capsys.disabled():
        runs = measure(
            lambda attempt: delighted_load(receiver.port, attempt),
            [receiver.process.pid],
            200,
            "delighted webhook load",
        )
    assert runs[-1].rate >= 200 and runs[-1].slowest_window >= 200
    statuses = sum((run.statuses for run in runs), Counter())
    assert statuses == Counter({200: sum(statuses.values())})
    sent_ids = set().union(*(run.sent_ids for run in runs))
    landed = [
        item["id"] for path in (landing / "delighted" / "survey_responses").glob("*.jsonl") for item in lines(path)
    ]
    assert len(landed) == len(set(landed)) == len(sent_ids) and set(landed) == sent_ids
