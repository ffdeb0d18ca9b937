"""Zendesk: tickets from the incremental export, ticket metrics, users, organizations, satisfaction ratings
(legacy CSAT) and CSAT survey responses (the customizable CSAT that replaces it; Support API)."""

from ingestion.contracts.fields import (
    ElementWhere,
    Var,
    count,
    in_element,
    integer,
    iso_time,
    json_array,
    lower,
    text,
    text_list,
)
from ingestion.contracts.render import elements_where
from ingestion.entities import AccountRef, EntitySpec, RowRule, names

TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
# A satisfaction rating's state: asked and not answered (offered), not asked (unoffered), or the answer.
RATING_SCORES = ("offered", "unoffered", "good", "bad")
# The survey response a follow-up ticket answers: the value of the ticket's custom field whose id is the dbt var.
NPS_RESPONSE_FIELD = ElementWhere("custom_fields", "id", Var("zendesk_nps_response_field_id"), "custom field")
ORGANIZATION = AccountRef("organization_id", domain="zendesk_organization")

# Top-level fields of each Zendesk object (Support API); anything else is kept in `payload` and reported as drift.
TICKET_FIELDS = names(
    """
    id url external_id via created_at updated_at generated_timestamp type subject raw_subject description
    priority status recipient requester_id submitter_id assignee_id organization_id group_id
    collaborator_ids follower_ids email_cc_ids forum_topic_id problem_id has_incidents is_public due_at tags
    custom_fields custom_status_id satisfaction_rating sharing_agreement_ids fields followup_ids
    ticket_form_id brand_id allow_channelback allow_attachments from_messaging_channel encoded_id event_type
    """
)
TICKET_METRIC_FIELDS = names(
    """
    id url ticket_id created_at updated_at group_stations assignee_stations reopens replies
    assignee_updated_at requester_updated_at status_updated_at initially_assigned_at assigned_at solved_at
    latest_comment_added_at reply_time_in_minutes reply_time_in_seconds first_resolution_time_in_minutes
    full_resolution_time_in_minutes agent_wait_time_in_minutes requester_wait_time_in_minutes
    on_hold_time_in_minutes custom_status_updated_at
    """
)
USER_FIELDS = names(
    """
    id url name email created_at updated_at time_zone iana_time_zone phone shared_phone_number photo
    locale_id locale organization_id role verified external_id tags alias active shared shared_agent
    last_login_at two_factor_auth_enabled signature details notes role_type custom_role_id moderator
    ticket_restriction only_private_comments restricted_agent suspended default_group_id report_csv
    user_fields
    """
)
ORGANIZATION_FIELDS = names(
    """
    id url name shared_tickets shared_comments external_id created_at updated_at domain_names details notes
    group_id tags organization_fields
    """
)
SATISFACTION_RATING_FIELDS = names(
    """
    id url assignee_id group_id requester_id ticket_id score comment reason reason_id reason_code created_at
    updated_at
    """
)
# A CSAT survey response (List Survey Responses, `GET /api/v2/guide/survey_responses`): no time of its own; each
# answer has created_at / updated_at. `survey_id` / `survey_version` are the older documented shape of `survey`.
CSAT_SURVEY_RESPONSE_FIELDS = names(
    """
    id answers expires_at responder_id subject_zrns subjects survey survey_id survey_version
    """
)
# The answer to the CSAT rating question (a skipped question is an answer of type `skipped`), the answer to the
# open-ended comment question (its alias), and the subject that is a ticket (others: request, conversation).
RATING_ANSWER = ElementWhere("answers", "type", "rating_scale", "answer to the rating question")
COMMENT_ANSWER = ElementWhere("answers", "question.alias", "comment", "answer to the comment question")
TICKET_SUBJECT = ElementWhere("subjects", "type", "ticket", "ticket subject")
# Zendesk's CSAT rating scales have 2, 3 or 5 points, rated 1 (worst) to the number of points.
RATING_SCALE = (1, 5)
_RATINGS = elements_where("duckdb", RATING_ANSWER)
_OPTIONS = f"json_array_length({_RATINGS}[1], '$.question.options')"
_RATING = f"try_cast(trim({_RATINGS}[1] ->> '$.rating') as integer)"
RATING_ANSWERED = RowRule(
    bad_when=f"coalesce(len({_RATINGS}), 0) = 0",
    reason="'answers has no answer of type rating_scale (the rating question was skipped or is missing)'",
    description="a CSAT survey response has an answer of type `rating_scale` (the rating it counts by)",
)
# Where the answer carries its question's options (one per point of the scale), the rating is one of them. No
# options (absent, null or empty: json_array_length gives 0 for null) leave the rating to the scale check alone.
RATING_ON_SCALE = RowRule(
    bad_when=f"coalesce({_RATING} > nullif({_OPTIONS}, 0), false)",
    reason=(
        f"'answers[type=rating_scale].rating ' || {_RATING} || ' is outside 1-' || {_OPTIONS} || "
        "' (the question''s options)'"
    ),
    description="the rating is within its question's scale (the number of its `question.options`, where given)",
)

# Every object carries these; `updated_at` orders the versions of an object in staging.
_TIMES = (iso_time("created_at", required=True, time_role="record"), iso_time("updated_at", time_role="record"))

# Read from landing files, or from the vendor API by the connector in api.py (NPS_SOURCE_MODE_ZENDESK=api).
MODES = ("file", "api")
ENTITIES = (
    EntitySpec(
        source="zendesk",
        entity="tickets",
        layout="json_object",
        known_fields=TICKET_FIELDS,
        fields=(
            integer("id"),
            lower("status", TICKET_STATUSES),
            lower("type"),
            lower("priority"),
            text("subject"),
            integer("organization_id"),
            integer("requester_id"),
            integer("group_id"),
            integer("assignee_id"),
            lower("via.channel"),
            text_list("tags"),
            *in_element(NPS_RESPONSE_FIELD, "nps_response_field", text("value")),
            # The ticket's current satisfaction rating (null where CSAT is off; only a score when not answered).
            integer("satisfaction_rating.id"),
            lower("satisfaction_rating.score", RATING_SCORES),
            text("satisfaction_rating.comment"),
            text("satisfaction_rating.reason"),
            iso_time("created_at", required=True, time_role="record"),
            iso_time("updated_at", required=True, time_role="record"),
        ),
        key_name="ticket_id",
        record_time="created_at",
        account=ORGANIZATION,
        description="Zendesk tickets from the incremental export; a ticket recurs on each day it changed.",
    ),
    EntitySpec(
        source="zendesk",
        entity="ticket_metrics",
        layout="json_object",
        known_fields=TICKET_METRIC_FIELDS,
        fields=(
            integer("id"),
            integer("ticket_id", required=True),
            count("reopens"),
            count("replies"),
            count("reply_time_in_minutes.calendar"),
            count("reply_time_in_minutes.business"),
            count("full_resolution_time_in_minutes.calendar"),
            count("full_resolution_time_in_minutes.business"),
            iso_time("solved_at", time_role="record"),
            *_TIMES,
        ),
        key_name="ticket_metric_id",
        record_time="created_at",
        description="Zendesk Ticket Metrics objects (first reply, resolution times, reopens).",
    ),
    EntitySpec(
        source="zendesk",
        entity="users",
        layout="json_object",
        known_fields=USER_FIELDS,
        fields=(integer("id"), lower("email"), integer("organization_id"), lower("role"), *_TIMES),
        key_name="user_id",
        record_time="created_at",
        account=ORGANIZATION,
        description="Zendesk users (end users with email and organization_id).",
    ),
    EntitySpec(
        source="zendesk",
        entity="organizations",
        layout="json_object",
        known_fields=ORGANIZATION_FIELDS,
        fields=(integer("id"), text("name"), text("external_id"), *_TIMES),
        key_name="organization_id",
        record_time="created_at",
        description="Zendesk organizations; external_id is the account id.",
    ),
    EntitySpec(
        source="zendesk",
        entity="satisfaction_ratings",
        layout="json_object",
        known_fields=SATISFACTION_RATING_FIELDS,
        fields=(
            integer("id"),
            integer("ticket_id", required=True),
            lower("score", RATING_SCORES, required=True),
            # The ticket's group and assignee when it was rated (the ticket's may have changed since).
            integer("group_id"),
            integer("assignee_id"),
            integer("requester_id"),
            text("comment"),
            text("reason"),
            integer("reason_code"),
            *_TIMES,
        ),
        key_name="satisfaction_rating_id",
        record_time="created_at",
        description="Zendesk satisfaction ratings (legacy CSAT): offered, or answered good / bad, per ticket.",
    ),
    EntitySpec(
        source="zendesk",
        entity="csat_survey_responses",
        layout="json_object",
        known_fields=CSAT_SURVEY_RESPONSE_FIELDS,
        fields=(
            integer("responder_id"),
            iso_time("expires_at", time_role="schedule"),
            text_list("subject_zrns"),
            *in_element(TICKET_SUBJECT, "ticket_subject", integer("id")),
            text("survey.id"),
            integer("survey.version", bits=32),
            lower("survey.state", ("enabled", "disabled")),
            text("survey_id"),
            integer("survey_version", bits=32),
            json_array("answers", required=True),
            *in_element(
                RATING_ANSWER,
                "rating_answer",
                integer("rating", bits=32, minimum=RATING_SCALE[0], maximum=RATING_SCALE[1], required=True),
                # Zendesk's own reading of the rating (good / bad), where the answer carries it.
                lower("rating_category", ("good", "bad")),
                lower("question.type"),
                json_array("question.options"),
                iso_time("created_at", required=True, time_role="record"),
                iso_time("updated_at", time_role="record"),
            ),
            *in_element(COMMENT_ANSWER, "comment_answer", text("value")),
        ),
        rules=(RATING_ANSWERED, RATING_ON_SCALE),
        key_name="survey_response_id",
        record_time="rating_answer.created_at",
        description=(
            "Zendesk CSAT survey responses (customizable CSAT): the ticket subject, the rating on the survey's "
            "scale (1 to 2, 3 or 5) and the comment; a response recurs on each day it changed."
        ),
    ),
)
