"""Delighted: survey responses, unsubscribes and bounces as the Delighted API v1 lists them
(https://app.delighted.com/docs/api: `GET /v1/survey_responses.json`, `/v1/unsubscribes.json`, `/v1/bounces.json`).

Lists are bare JSON arrays of objects; times are Unix seconds. A survey response's `survey_type` says what its
`score` measures and on which scale; `person` is the person's id, or the person object with `expand[]=person`.
Teams put their own account id (and plan) in `person_properties`, under a property name they choose: the dbt vars
`delighted_account_id_property` and `delighted_plan_property` name it (read by the loader and by staging).
"""

from ingestion.contracts.fields import epoch_seconds, integer, lower, reference, text
from ingestion.entities import EntitySpec, RowRule, names

# The scale of each survey type's score (Delighted's survey types): NPS and eNPS 0-10, CSAT 1-5, CES 1-7
# (Delighted's CES question), 5-star and Smileys 1-5. Thumbs and PMF are whole numbers kept without a scale check.
SCORE_SCALES = {"nps": (0, 10), "enps": (0, 10), "csat": (1, 5), "ces": (1, 7), "5-star": (1, 5), "smileys": (1, 5)}
SURVEY_TYPES = (*SCORE_SCALES, "thumbs", "pmf")
# The survey types the NPS, CSAT and CES marts count (eNPS asks employees, not customers).
COUNTED_TYPES = ("nps", "csat", "ces")

_TYPE = "lower(trim(payload ->> '$.survey_type'))"
_SCORE = "try_cast(trim(payload ->> '$.score') as integer)"
_LOW = "case " + " ".join(f"when {_TYPE} = '{t}' then {lo}" for t, (lo, _) in SCORE_SCALES.items()) + " end"
_HIGH = "case " + " ".join(f"when {_TYPE} = '{t}' then {hi}" for t, (_, hi) in SCORE_SCALES.items()) + " end"
# The score's type is the contract's (a whole number); its scale depends on the survey type.
SCORE_ON_SCALE = RowRule(
    bad_when=f"coalesce({_SCORE} not between {_LOW} and {_HIGH}, false)",
    reason=f"'score ' || trim(payload ->> '$.score') || ' is outside ' || {_LOW} || '-' || {_HIGH} || ' for ' "
    f"|| {_TYPE}",
    description="`score` is on the scale of `survey_type`: NPS, eNPS 0-10, CSAT 1-5, CES 1-7, 5-star, Smileys 1-5",
)


# Top-level fields of each object (the API reference's examples); anything else is kept in `payload` and reported.
RESPONSE_FIELDS = names(
    """
    id person survey_type score comment permalink created_at updated_at person_properties notes tags
    additional_answers
    """
)
PERSON_LIST_FIELDS = names("person_id email name")


def _person_list(entity: str, time_field: str, what: str) -> EntitySpec:
    """A list of people with the time they joined it (`/v1/unsubscribes.json`, `/v1/bounces.json`)."""
    return EntitySpec(
        source="delighted",
        entity=entity,
        layout="json_object",
        known_fields=(*PERSON_LIST_FIELDS, time_field),
        primary_key_fields=("person_id",),
        fields=(lower("email"), text("name"), epoch_seconds(time_field, required=True, time_role="event")),
        key_name="person_id",
        record_time=time_field,
        description=f"{what} (person_id, email, {time_field}).",
    )


MODES = ("file", "api")
ENTITIES = (
    EntitySpec(
        source="delighted",
        entity="survey_responses",
        layout="json_object",
        known_fields=RESPONSE_FIELDS,
        fields=(
            lower("survey_type", SURVEY_TYPES, on_unknown="warn", required=True),
            integer("score", bits=32, required=True),
            text("comment"),
            text("permalink"),
            epoch_seconds("created_at", required=True, time_role="record"),
            # Null until the response is changed (a comment added, a score edited).
            epoch_seconds("updated_at", time_role="record"),
            # The person's id, or the person object (`expand[]=person`) with its email and name.
            reference("person", required=True),
            lower("person.email"),
            text("person.name"),
            # Our account id and the plan: the person properties named by dbt vars delighted_account_id_property
            # (default "Account ID") and delighted_plan_property (default "Plan").
            text("person_properties.account_id", path="person_properties.__VAR_delighted_account_id_property__"),
            text("person_properties.plan", path="person_properties.__VAR_delighted_plan_property__"),
        ),
        rules=(SCORE_ON_SCALE,),
        key_name="response_id",
        record_time="created_at",
        description=(
            "Delighted survey responses (survey_type, score, comment, person expanded or its id, person_properties, "
            "additional_answers[]), one per line, kept whole."
        ),
    ),
    _person_list("unsubscribes", "unsubscribed_at", "People unsubscribed from Delighted surveys"),
    _person_list("bounces", "bounced_at", "People whose Delighted survey email bounced"),
)
