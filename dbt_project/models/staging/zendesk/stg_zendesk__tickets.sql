-- Incremental on the run's partition window (vars min_date / max_date, which the dbt step of a Dagster run gets:
-- orchestration/defs/dbt/assets.py run_window): the tickets with a version loaded in the window are rebuilt from ALL
-- their loaded versions, by exactly the full build's logic below, and replace their rows (delete+insert on
-- ticket_id); the other tickets are not read. So the latest version and satisfaction_rating_seen_at are those of a
-- full build whatever the order of the windows (an older window's version never replaces a newer one: the newer
-- one is read too), and re-running a window changes nothing. The latest-version ranking parses the JSON of those
-- tickets' versions only, instead of every version ever loaded.
-- Without a window (a full build, --full-refresh, the first run, a run outside a partition) the pre-hook empties the
-- table and every ticket is rebuilt: today's full build. On Spark (insert_overwrite of Parquet, no delete or merge)
-- the model stays a table rebuilt whole (date_window_strategy).
-- Limitation: a ticket is refreshed only when one of its versions is in the window, so a raw day re-loaded WITHOUT
-- a ticket version it held before (the vendor withdrew it) leaves that ticket as it was until the ticket changes
-- again or a --full-refresh.
-- A table, not a view: its JSON is parsed once, instead of again for each of its tests and every model that reads it.
-- Not tagged `partitioned`: two relationships tests tie it to models of the second dbt step, and dbt's eager test
-- selection would run them in the first step, before those models exist.
{{
    config(
        materialized=('incremental' if date_window_strategy() == 'delete+insert' else 'table'),
        incremental_strategy='delete+insert',
        unique_key='ticket_id',
        on_schema_change='fail',
        pre_hook="{{ delete_all_without_date_window(this) }}",
    )
}}
{%- set entity = 'zendesk.tickets' %}

with

source as (

    select * from {{ source('zendesk', 'tickets') }}
    -- Every loaded version of the tickets that have one in the window (on an incremental run with one).
    {{ where_key_has_version_in_date_window(source('zendesk', 'tickets'), 'record_id') }}

),

-- When the ticket's current satisfaction rating was first seen: the earliest version carrying its id (a rating
-- has no time of its own on the ticket; the satisfaction_ratings objects have theirs).
versions_with_rating_seen as (

    select
        *,
        min({{ raw_field(entity, 'updated_at') }}) over (
            partition by record_id, {{ raw_field(entity, 'satisfaction_rating.id') }}
        ) as rating_first_seen_at
    from source

),

latest_versions as (

    {{ latest_versions('versions_with_rating_seen', updated_at=raw_field(entity, 'updated_at')) }}

),

renamed as (

    select
        {{ raw_field(entity, 'id') }} as ticket_id,
        {{ raw_field(entity, 'status') }} as status,
        {{ raw_field(entity, 'type') }} as ticket_type,
        {{ raw_field(entity, 'priority') }} as priority,
        {{ raw_field(entity, 'subject') }} as subject,
        {{ raw_field(entity, 'organization_id') }} as organization_id,
        {{ raw_field(entity, 'requester_id') }} as requester_id,
        {{ raw_field(entity, 'group_id') }} as group_id,
        {{ raw_field(entity, 'assignee_id') }} as assignee_id,
        -- The survey response a follow-up ticket answers: the value of custom field var zendesk_nps_response_field_id.
        {{ raw_field(entity, 'nps_response_field.value') }} as nps_response_id,
        {{ raw_field(entity, 'via.channel') }} as channel,
        -- Zendesk stores tags lower-cased; a missing or null array becomes an empty list.
        {{ raw_field(entity, 'tags') }} as tags,
        -- The ticket's satisfaction rating: 'offered', 'unoffered', 'good' or 'bad' (null where CSAT is off).
        {{ raw_field(entity, 'satisfaction_rating.id') }} as satisfaction_rating_id,
        {{ raw_field(entity, 'satisfaction_rating.score') }} as satisfaction_score,
        {{ raw_field(entity, 'satisfaction_rating.comment') }} as satisfaction_comment,
        {{ raw_field(entity, 'satisfaction_rating.reason') }} as satisfaction_reason,
        case
            when {{ raw_field(entity, 'satisfaction_rating.id') }} is not null then rating_first_seen_at
        end as satisfaction_rating_seen_at,
        {{ raw_field(entity, 'created_at') }} as created_at,
        {{ raw_field(entity, 'updated_at') }} as updated_at
    from latest_versions

),

final as (

    select
        ticket_id,
        status,
        ticket_type,
        priority,
        subject,
        organization_id,
        requester_id,
        channel,
        tags,
        {{ list_has_any_of('tags', var('refund_tags')) }} as is_refund_related,
        group_id,
        assignee_id,
        nps_response_id,
        satisfaction_rating_id,
        satisfaction_score,
        satisfaction_comment,
        satisfaction_reason,
        satisfaction_rating_seen_at,
        (
            {{ list_has_any_of('tags', var('nps_followup_tags')) }}
            or nps_response_id is not null
        ) as is_nps_followup,
        created_at,
        updated_at
    from renamed

)

select * from final
