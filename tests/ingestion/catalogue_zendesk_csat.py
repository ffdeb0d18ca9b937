"""Zendesk CSAT survey responses (customizable CSAT) as List Survey Responses returns them
(developer.zendesk.com/api-reference/ticketing/ticket-management/csat_survey_responses), and the bad-input
catalogue's cases of them (added to `catalogue.CASES`)."""

from __future__ import annotations

from datetime import datetime

# 2026-03-02T10:00:00Z, as tests/ingestion/catalogue.py's AT (this module is imported by it, not the reverse).
AT = "2026-03-02T10:00:00.000Z"
LABELS = {2: ("Unsatisfied", "Satisfied"), 3: ("Unsatisfied", "Neutral", "Satisfied")}


def _typed(field_name: str) -> str:
    return "{typed:" + field_name + "}"


def rating_options(points: int) -> list[dict]:
    """The options of a rating question (csat_surveys: one per point, rated 1 to `points`)."""
    labels = LABELS.get(points) or tuple(f"Rating {n}" for n in range(1, points + 1))
    return [{"label": {"type": "static", "value": label}, "rating": n + 1} for n, label in enumerate(labels)]


def rating_answer(rating: object = 5, at: str = AT, updated: str | None = None, points: int | None = None, **changes):
    """The answer to the CSAT rating question: `rating` on the survey's scale, Zendesk's `rating_category`."""
    question = {
        "id": "01GFYBENPDGN1R6NAA4WRDNVFR",
        "type": "rating_scale_numeric",
        "sub_type": "customer_satisfaction",
        "alias": "rating",
        "headline": {"type": "static", "value": "How would you rate the support you received?"},
    }
    if points is not None:
        question["options"] = rating_options(points)
    return {
        "type": "rating_scale",
        "rating": rating,
        "question": question,
        "created_at": at,
        "updated_at": updated or at,
        **changes,
    }


def comment_answer(value: str | None, at: str = AT) -> dict:
    """The answer to the open-ended comment question; `None` is the documented example's skipped answer."""
    question = {
        "alias": "comment",
        "headline": {"type": "static", "value": "Anything else you would like to share about your experience?"},
        "id": "01GFYBENPDGN1R6NAA4WRDNVFR",
        "type": "open_ended",
    }
    if value is None:
        return {"created_at": at, "question": question, "type": "skipped", "updated_at": at}
    return {"created_at": at, "question": question, "type": "open_ended", "value": value, "updated_at": at}


def csat_survey_response(
    response_id: str = "01J1WB51MG6HXTYWE6Q0C93RNW",
    ticket_id: int | None = 99,
    answers: list | None = None,
    **changes,
) -> dict:
    """The reference's example survey response, its answers a rating of 5 and the skipped comment by default."""
    subjects = [] if ticket_id is None else [{"id": str(ticket_id), "type": "ticket", "zrn": f"zen:ticket:{ticket_id}"}]
    return {
        "answers": [rating_answer(), comment_answer(None)] if answers is None else answers,
        "expires_at": "2026-03-09T10:00:00.000Z",
        "id": response_id,
        "responder_id": 4398080151295,
        "subject_zrns": [s["zrn"] for s in subjects],
        "subjects": subjects,
        "survey": {"id": "01J58KJ9RAE0D2EK7HRVM7Z8F2", "state": "enabled", "version": 3},
        **changes,
    }


def zendesk_csat_cases() -> list:
    """The catalogue's CSAT survey response cases (`catalogue.CASES` adds them)."""
    from tests.ingestion.catalogue import Case, jsonl

    entity = "csat_survey_responses"
    table = "raw_zendesk.csat_survey_responses"
    return [
        Case(
            # The rating on a 3-point scale with Zendesk's category, a comment; a conversation (no ticket) loads.
            "zendesk_csat_response_rating_scale_and_comment",
            "zendesk",
            entity,
            jsonl(
                csat_survey_response(
                    "01A",
                    answers=[rating_answer(3, points=3, rating_category="good"), comment_answer("Quick and kind")],
                ),
                csat_survey_response(
                    "01B",
                    ticket_id=None,
                    subject_zrns=["zen:conversation:4295a81b-ccdd-4998-88d9-0eff5e76dc44"],
                    answers=[rating_answer(1)],
                ),
            ),
            "loaded",
            loaded=2,
            value=(
                f"select record_id, {_typed('ticket_subject.id')}, {_typed('rating_answer.rating')}, "
                f"{_typed('rating_answer.rating_category')}, {_typed('comment_answer.value')}, "
                f"{_typed('rating_answer.created_at')} from {table} order by record_id",
                [
                    ("01A", 99, 3, "good", "Quick and kind", datetime(2026, 3, 2, 10, 0)),
                    ("01B", None, 1, None, None, datetime(2026, 3, 2, 10, 0)),
                ],
            ),
        ),
        Case(
            # The reference's example response: its only answer is the skipped comment, so it has no rating.
            "zendesk_csat_response_without_a_rating",
            "zendesk",
            entity,
            jsonl(csat_survey_response("01A", answers=[comment_answer(None)]), csat_survey_response("01B")),
            "records",
            [(1, "answers has no answer of type rating_scale (the rating question was skipped or is missing)")],
            loaded=1,
        ),
        Case(
            "zendesk_csat_response_rating_6",
            "zendesk",
            entity,
            jsonl(csat_survey_response("01A", answers=[rating_answer(6)]), csat_survey_response("01B")),
            "records",
            [(1, "answers[type=rating_scale].rating 6 is above 5")],
            loaded=1,
        ),
        Case(
            # A 4 to a question of 3 options: outside the scale it was answered on.
            "zendesk_csat_response_rating_above_its_scale",
            "zendesk",
            entity,
            jsonl(
                csat_survey_response("01A", answers=[rating_answer(4, points=3)]),
                csat_survey_response("01B", answers=[rating_answer(2, points=2)]),
            ),
            "records",
            [(1, "answers[type=rating_scale].rating 4 is outside 1-3 (the question's options)")],
            loaded=1,
        ),
        Case(
            "zendesk_csat_response_rating_not_a_number",
            "zendesk",
            entity,
            jsonl(csat_survey_response("01A", answers=[rating_answer("great")]), csat_survey_response("01B")),
            "records",
            [(1, 'answers[type=rating_scale].rating "great" is not a whole number')],
            loaded=1,
        ),
        Case(
            "zendesk_csat_response_two_rating_answers",
            "zendesk",
            entity,
            jsonl(
                csat_survey_response("01A", answers=[rating_answer(5), rating_answer(1)]),
                csat_survey_response("01B"),
            ),
            "records",
            [(1, "answer to the rating question")],
            loaded=1,
        ),
        Case(
            "zendesk_csat_response_without_answers",
            "zendesk",
            entity,
            jsonl(
                {k: v for k, v in csat_survey_response("01A").items() if k != "answers"}, csat_survey_response("01B")
            ),
            "records",
            [(1, "missing required field answers")],
            loaded=1,
        ),
        Case(
            "empty_csat_survey_responses_over_a_loaded_day",
            "zendesk",
            entity,
            b"",
            "file",
            "holds no records",
            before=jsonl(csat_survey_response("01A")),
            family=2,
        ),
    ]
