-- Incremental on the run's partition window, as stg_zendesk__tickets (which explains the pattern): the sends with a
-- version loaded in the window are rebuilt from ALL their loaded versions by the full build's logic below and replace
-- their rows (delete+insert on send_id); the other sends are not read. Without a window the pre-hook empties the
-- table and every send is rebuilt. On Spark it stays a view, as before. A send's versions are grouped by the raw
-- `send_id`, in the window filter and in latest_versions alike.
-- A table, not a view: four intermediate models read it, and its CSV text is cleaned once per run, not once each.
{{
    config(
        materialized=('incremental' if date_window_strategy() == 'delete+insert' else 'view'),
        incremental_strategy='delete+insert',
        unique_key='send_id',
        on_schema_change='fail',
        pre_hook="{{ delete_all_without_date_window(this) }}",
    )
}}
{%- set entity = 'surveys.sends' %}
with

source as (

    select * from {{ source('surveys', 'sends') }}
    -- Every loaded version of the sends that have one in the window (on an incremental run with one).
    {{ where_key_has_version_in_date_window(source('surveys', 'sends'), 'send_id') }}

),

latest_versions as (

    {{ latest_versions('source', key="send_id") }}

),

final as (

    select
        {{ raw_field(entity, 'send_id') }} as send_id,
        {{ raw_field(entity, 'survey_type') }} as survey_type,
        {{ raw_field(entity, 'survey_kind') }} as survey_kind,
        {{ raw_field(entity, 'channel') }} as channel,
        {{ raw_field(entity, 'touchpoint') }} as touchpoint,
        {{ raw_field(entity, 'account_id') }} as account_id,
        {{ raw_field(entity, 'email') }} as email,
        {{ raw_field(entity, 'sent_at') }} as sent_at,
        {{ raw_field(entity, 'delivered_at') }} as delivered_at,
        {{ raw_field(entity, 'opened_at') }} as opened_at,
        {{ raw_field(entity, 'reminded_at') }} as reminded_at,
        {{ raw_field(entity, 'bounced_at') }} as bounced_at,
        {{ raw_field(entity, 'unsubscribed_at') }} as unsubscribed_at,
        -- The experiment variant of the send (seed experiments); null when the file has no variant column.
        {{ raw_field(entity, 'variant') }} as variant
    from latest_versions

)

select * from final
