"""SimpleSAT: survey responses as `POST /api/v1/responses/search` returns them (SimpleSAT API v1 reference).

A response belongs to one survey whose `metric` (nps, csat, ces) says what its score is; only the survey's primary
question carries that metric (`answers[].question.metric`), and its `choice` (a string) is the score. The other
answers (follow-ups, custom questions) have no metric and are kept in `payload`.
"""

from ingestion.contracts.fields import ElementWhere, in_element, integer, iso_time, lower, text
from ingestion.entities import EntitySpec, RowRule, names

# The scale of each metric's primary question: NPS 0-10, CSAT 1-5, CES 1-7 (7 = very easy).
SCORE_SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
METRICS = tuple(SCORE_SCALES)


def primary_answer(metric: str) -> ElementWhere:
    """The answer to the survey's primary question for `metric` (the one question carrying that metric)."""
    return ElementWhere("answers", "question.metric", metric, f"answer to the {metric.upper()} question")


PRIMARY_TEAM_MEMBER = ElementWhere("team_members", "is_primary", "true", "primary team member")

_METRIC = "lower(trim(payload ->> '$.survey.metric'))"
_PRIMARY = "list_filter(json_extract(payload, '$.answers[*]'), lambda a: a ->> '$.question.metric' = {metric})"
# A survey of a known metric whose answers carry no question of that metric has no score: the response is unusable.
SCORE_PRESENT = RowRule(
    bad_when=f"{_METRIC} in ({', '.join(repr(m) for m in METRICS)}) and len({_PRIMARY.format(metric=_METRIC)}) = 0",
    reason=f"'answers has no answer to the survey''s primary question (question.metric ' || {_METRIC} || ')'",
    description="a response to an NPS, CSAT or CES survey has an answer whose `question.metric` is the survey's",
)

# Top-level fields of a response object; anything else is kept in `payload` and reported as drift.
RESPONSE_FIELDS = names(
    """
    id survey created modified tags ticket team_members customer answers ip_address source
    """
)

MODES = ("file", "api")
ENTITIES = (
    EntitySpec(
        source="simplesat",
        entity="responses",
        layout="json_object",
        known_fields=RESPONSE_FIELDS,
        fields=(
            lower("survey.metric", METRICS, on_unknown="warn", required=True),
            text("survey.name"),
            iso_time("created", required=True, time_role="record"),
            iso_time("modified", time_role="record"),
            *(
                field
                for metric, (low, high) in SCORE_SCALES.items()
                for field in in_element(
                    primary_answer(metric),
                    f"{metric}_answer",
                    integer("choice", bits=32, minimum=low, maximum=high, required=True),
                    text("comment"),
                    lower("sentiment"),
                )
            ),
            # How the survey was answered (email, embed, web link, ...).
            lower("source"),
            lower("customer.email"),
            text("customer.external_id"),
            text("customer.company"),
            text("ticket.external_id"),
            text("ticket.subject"),
            *in_element(PRIMARY_TEAM_MEMBER, "primary_team_member", text("external_id"), text("name"), lower("email")),
        ),
        rules=(SCORE_PRESENT,),
        key_name="response_id",
        record_time="created",
        description=(
            "SimpleSAT response objects (survey with its metric, answers[], customer, ticket, team_members), "
            "one per line, kept whole; the score is the `choice` of the survey's primary question."
        ),
    ),
)
