-- One row per person in Delighted's unsubscribes list, the latest unsubscribed_at (then day, then line). Typed
-- values come from the contract (macro raw_field, generated from ingestion/delighted/__init__.py).
{%- set entity = 'delighted.unsubscribes' %}
with

source as (

    select * from {{ source('delighted', 'unsubscribes') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at=raw_field(entity, 'unsubscribed_at')) }}

),

final as (

    select
        record_id as person_id,
        {{ raw_field(entity, 'email') }} as email,
        {{ raw_field(entity, 'name') }} as person_name,
        {{ raw_field(entity, 'unsubscribed_at') }} as unsubscribed_at
    from latest_versions

)

select * from final
