-- One row per day: the time spine of MetricFlow, dbt's semantic layer (models/marts/_semantic_layer.yml).
with

days as (

    {{ period_starts('day', "cast('2015-01-01' as date)", "cast('2040-12-31' as date)") }}

),

final as (

    select period_start as date_day
    from days

)

select * from final
