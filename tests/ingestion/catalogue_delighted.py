"""Delighted's objects as the API v1 lists return them (https://app.delighted.com/docs/api: listing survey
responses, unsubscribes and bounces), and the bad-input catalogue's Delighted cases (added to `catalogue.CASES`)."""

from __future__ import annotations

from datetime import datetime

# 2026-03-02T10:00:00Z, as tests/ingestion/catalogue.py's CREATED (this module is imported by it, not the reverse,
# so that either can be imported first).
CREATED = 1_772_445_600


def _typed(field_name: str) -> str:
    return "{typed:" + field_name + "}"


def delighted_person(person_id: str = "10", email: str = "ana@acme.com", **changes) -> dict:
    """The person object of a survey response listed with `expand[]=person`."""
    return {"id": person_id, "email": email, "name": "Ana Pereira", "created_at": CREATED - 86_400, **changes}


def delighted_response(
    response_id: str = "1", survey_type: str = "nps", score: object = 9, person: object = None, **changes
) -> dict:
    """A survey response as `GET /v1/survey_responses.json` lists it (the reference's example, person expanded)."""
    return {
        "id": response_id,
        "person": delighted_person() if person is None else person,
        "survey_type": survey_type,
        "score": score,
        "comment": "Great support",
        "permalink": f"https://app.delighted.com/r/{response_id}abcdefghijklmnop",
        "created_at": CREATED,
        "updated_at": None,
        "person_properties": {"Account ID": "acc_1", "Plan": "Pro", "Delighted Source": "Email"},
        "notes": [],
        "tags": [],
        "additional_answers": [
            {
                "id": "4",
                "value": {"free_response": None, "scale": None, "select_one": {"id": "tp0Q4K", "text": "Yes"}},
                "question": {"id": "enum_caUUdY", "type": "select_one", "text": "Have you purchased from us before?"},
            }
        ],
        **changes,
    }


def delighted_unsubscribe(person_id: str = "10", email: str = "ana@acme.com", **changes) -> dict:
    """An entry of `GET /v1/unsubscribes.json`."""
    return {"person_id": person_id, "email": email, "name": "Ana Pereira", "unsubscribed_at": CREATED, **changes}


def delighted_bounce(person_id: str = "10", email: str = "ana@acme.com", **changes) -> dict:
    """An entry of `GET /v1/bounces.json`."""
    return {"person_id": person_id, "email": email, "name": "Ana Pereira", "bounced_at": CREATED, **changes}


def delighted_cases() -> list:
    """The catalogue's Delighted cases (`catalogue.CASES` adds them)."""
    from tests.ingestion.catalogue import Case, jsonl

    return [
        Case(
            # Each survey type on its own scale; a person given by id only (no `expand[]=person`) loads without email.
            "delighted_scores_on_each_type_scale",
            "delighted",
            "survey_responses",
            jsonl(
                delighted_response("1", "nps", 0),
                delighted_response("2", "ces", 7, person="11"),
                delighted_response("3", "csat", 1),
                delighted_response("4", "5-star", 5),
                delighted_response("5", "thumbs", 1),
            ),
            "loaded",
            loaded=5,
            value=(
                f"select record_id, {_typed('survey_type')}, {_typed('score')}, {_typed('person')}, "
                f"{_typed('person.email')} from raw_delighted.survey_responses order by record_id",
                [
                    ("1", "nps", 0, "10", "ana@acme.com"),
                    ("2", "ces", 7, "11", None),
                    ("3", "csat", 1, "10", "ana@acme.com"),
                    ("4", "5-star", 5, "10", "ana@acme.com"),
                    ("5", "thumbs", 1, "10", "ana@acme.com"),
                ],
            ),
        ),
        Case(
            "delighted_nps_score_above_10",
            "delighted",
            "survey_responses",
            jsonl(delighted_response("1", "nps", 11), delighted_response("2", "nps", 10)),
            "records",
            [(1, "score 11 is outside 0-10 for nps")],
            loaded=1,
        ),
        Case(
            # Delighted's CES is 1-7: a 0 is an NPS-style score sent to a CES survey.
            "delighted_ces_score_zero",
            "delighted",
            "survey_responses",
            jsonl(delighted_response("1", "ces", 0), delighted_response("2", "ces", 1)),
            "records",
            [(1, "score 0 is outside 1-7 for ces")],
            loaded=1,
        ),
        Case(
            "delighted_csat_score_6",
            "delighted",
            "survey_responses",
            jsonl(delighted_response("1", "csat", 5), delighted_response("2", "csat", 6)),
            "records",
            [(2, "score 6 is outside 1-5 for csat")],
            loaded=1,
        ),
        Case(
            "delighted_created_at_in_milliseconds",
            "delighted",
            "survey_responses",
            jsonl(delighted_response("1", created_at=CREATED * 1000), delighted_response("2")),
            "records",
            [(1, f'created_at "{CREATED * 1000}" is not a Unix time in whole seconds (it looks like milliseconds')],
            loaded=1,
        ),
        Case(
            "delighted_score_missing",
            "delighted",
            "survey_responses",
            jsonl(delighted_response("1", score=None), delighted_response("2")),
            "records",
            [(1, "missing required field score")],
            loaded=1,
        ),
        Case(
            # The account property must be one value: a list of accounts cannot say which one the response is about.
            "delighted_account_property_a_list",
            "delighted",
            "survey_responses",
            jsonl(
                delighted_response("1", person_properties={"Account ID": ["acc_1", "acc_2"]}),
                delighted_response("2", person_properties={"Account ID": 42, "Plan": "Pro"}),
            ),
            "records",
            [(1, "person_properties.account_id is a list, not a single value")],
            loaded=1,
            # Read under the key the dbt var names; a number is read as text.
            value=(
                f"select {_typed('person_properties.account_id')}, {_typed('person_properties.plan')} "
                "from raw_delighted.survey_responses",
                [("42", "Pro")],
            ),
            family=5,
        ),
        Case(
            # Edited later: updated_at is set and the person properties may be null.
            "delighted_updated_response_without_properties",
            "delighted",
            "survey_responses",
            jsonl(delighted_response("1", updated_at=CREATED + 3600, person_properties=None)),
            "loaded",
            loaded=1,
            value=(
                f"select {_typed('updated_at')}, {_typed('person_properties.account_id')} "
                "from raw_delighted.survey_responses",
                [(datetime(2026, 3, 2, 11, 0), None)],
            ),
        ),
        Case(
            # The API's last page (an empty array) written as a day file must not empty the day.
            "delighted_empty_page_over_a_loaded_day",
            "delighted",
            "survey_responses",
            b"",
            "file",
            "holds no records (empty, a header only, or blank lines), but the day holds 1 loaded record(s)",
            before=jsonl(delighted_response("1")),
            family=2,
        ),
        Case(
            "delighted_unsubscribe_without_time",
            "delighted",
            "unsubscribes",
            jsonl(delighted_unsubscribe("10", unsubscribed_at=None), delighted_unsubscribe("11", "Bo@Acme.com")),
            "records",
            [(1, "missing required field unsubscribed_at")],
            loaded=1,
            value=(f"select record_id, {_typed('email')} from raw_delighted.unsubscribes", [("11", "bo@acme.com")]),
        ),
        Case(
            "delighted_bounce_in_the_future",
            "delighted",
            "bounces",
            jsonl(delighted_bounce("10", bounced_at=4_102_444_800), delighted_bounce("11")),
            "records",
            [(1, "bounced_at 4102444800 is more than a day in the future")],
            loaded=1,
        ),
    ]
