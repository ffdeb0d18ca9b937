"""Typeform: survey responses as the Responses API returns them (https://www.typeform.com/developers/responses/)."""

from ingestion.contracts.fields import ElementWhere, Var, in_element, integer, iso_time, lower, text
from ingestion.contracts.render import elements_where
from ingestion.entities import AccountRef, EntitySpec, RowRule, names

# The NPS question and its reason are the answers whose form field `ref` is the configured one (dbt vars in
# dbt_project/dbt_project.yml, read by the loader and by staging from that file).
NPS_ANSWER = ElementWhere("answers", "field.ref", Var("typeform_nps_score_ref"), "answer to the NPS question")
REASON_ANSWER = ElementWhere("answers", "field.ref", Var("typeform_nps_reason_ref"), "answer to the reason question")

_NPS_TYPED_ANSWERS = (
    "list_filter(json_extract(payload, '$.answers[*]'), lambda answer: answer ->> '$.field.type' = 'nps')"
)
# A form whose NPS question carries another ref than the configured one would load every response without a score.
NPS_REF_CONFIGURED = RowRule(
    bad_when=f"len({_NPS_TYPED_ANSWERS}) > 0 and len({elements_where('duckdb', NPS_ANSWER)}) = 0",
    reason=(
        f"""'the answer to the NPS question has field ref "' || ({_NPS_TYPED_ANSWERS}[1] ->> '$.field.ref') """
        """|| '", not the configured "' || __VAR_typeform_nps_score_ref__ || '" (dbt var typeform_nps_score_ref in """
        """dbt_project/dbt_project.yml)'"""
    ),
    description="an answer to a Typeform NPS question (`field.type` nps) is under the configured ref",
)

# Top-level fields of a Responses API item; anything else is kept in `payload` and reported as drift.
RESPONSE_FIELDS = names(
    """
    landing_id token response_id response_type landed_at submitted_at metadata hidden calculated variables
    answers definition tags thankyou_screen_ref
    """
)

# Read from landing files, or from the vendor API by the connector in api.py (NPS_SOURCE_MODE_TYPEFORM=api).
MODES = ("file", "api")
ENTITIES = (
    EntitySpec(
        source="typeform",
        entity="responses",
        layout="json_object",
        known_fields=RESPONSE_FIELDS,
        primary_key_fields=("response_id", "token"),
        fields=(
            iso_time("submitted_at", required=True, time_role="record"),
            iso_time("landed_at", time_role="record"),
            # Hidden fields are the survey link's query parameters: always text. The account id's hidden field is
            # named by dbt var typeform_account_id_hidden_field (default account_id).
            text("hidden.account_id", path="hidden.__VAR_typeform_account_id_hidden_field__"),
            lower("hidden.email"),
            lower("hidden.survey_kind"),
            lower("hidden.touchpoint"),
            lower("hidden.channel"),
            integer("hidden.ticket_id"),
            *in_element(NPS_ANSWER, "nps_answer", integer("number", bits=32, minimum=0, maximum=10, required=True)),
            *in_element(REASON_ANSWER, "reason_answer", text("text")),
        ),
        rules=(NPS_REF_CONFIGURED,),
        key_name="response_id",
        record_time="submitted_at",
        account=AccountRef("hidden.account_id"),
        description=(
            "Typeform Responses API items (answers[], hidden fields account_id, email, touchpoint, "
            "survey_kind), one per line, kept whole."
        ),
    ),
)
