{{
    config(
        materialized='incremental',
        incremental_strategy=date_window_strategy(),
        partition_by=date_window_partition_by('as_of_date'),
        unique_key=['as_of_date', 'account_id'],
        on_schema_change='append_new_columns',
        tags=['partitioned_mart'],
        pre_hook="{{ delete_from_date(this, 'as_of_date') }}",
    )
}}

-- Churn risk of every paying account on every day, from what was known on that day only: the daily signals
-- (int_account_signals_daily) scored by the rules of seed churn_risk_rules, the only place a rule is defined.
-- Each driver row compares one signal with its threshold (only for the accounts of its segment) and adds its
-- weight when it applies (a `scale` row: its weight times the share of the way from lower_threshold to
-- threshold); risk_score = min(100, sum of those points), rounded; the tier rows set the tiers. A new driver
-- row adds a driver (its is_<rule>_driver column, its points, its words from the seed's wording column:
-- macros/churn_driver_wording.sql) with no change here.
-- Incremental: a run for the partition window starting at min_date rebuilds every day from min_date on, as
-- the signals do.
{%- set drivers = churn_driver_rules() %}

with

signals as (

    select * from {{ ref('int_account_signals_daily') }}
    {% if window_min_date() -%}
        where as_of_date >= cast('{{ window_min_date() }}' as date)
    {%- endif %}

),

rules as (

    select * from {{ ref('churn_risk_rules') }}

),

-- The thresholds and weights as one row.
config as (

    select
        {%- for driver in drivers %}
            max(case when rule = '{{ driver.rule }}' then lower_threshold end) as {{ driver.rule }}_lower_threshold,
            max(case when rule = '{{ driver.rule }}' then threshold end) as {{ driver.rule }}_threshold,
            coalesce(max(case when rule = '{{ driver.rule }}' then weight end), 0) as {{ driver.rule }}_weight,
        {%- endfor %}
        max(case when rule = 'medium' then threshold end) as medium_threshold,
        max(case when rule = 'high' then threshold end) as high_threshold
    from rules

),

applied as (

    select
        signals.*,
        {%- for driver in drivers %}
            {{ churn_rule_applies(driver, 'signals') }} as is_{{ driver.rule }}_driver,
        {%- endfor %}
        config.medium_threshold,
        config.high_threshold
    from signals
    cross join config

),

scored as (

    select
        applied.*,
        least(
            100,
            0
            {%- for driver in drivers %}
                + case
                    when applied.is_{{ driver.rule }}_driver
                        then config.{{ driver.rule }}_weight
                        {%- if driver.operator == 'scale' %}
                            * {{ churn_rule_scale(driver, 'applied') }}
                        {%- endif %}
                    else 0
                end
            {%- endfor %}
        ) as risk_score
    from applied
    cross join config

),

final as (

    select
        as_of_date,
        account_id,
        plan,
        cast(mrr_usd as double) as mrr_usd,
        cast(round(risk_score) as integer) as risk_score,
        case
            when round(risk_score) >= high_threshold then 'high'
            when round(risk_score) >= medium_threshold then 'medium'
            else 'low'
        end as risk_tier,
        cast(mrr_usd * round(risk_score) / 100.0 as double) as revenue_at_risk_usd,
        {%- for driver in drivers %}
            is_{{ driver.rule }}_driver,
        {%- endfor %}
        concat_ws(
            '; ',
            {%- for driver in drivers %}
                case when is_{{ driver.rule }}_driver then {{ churn_driver_text(driver) }} end
                {{- ',' if not loop.last }}
            {%- else %}
                ''
            {%- endfor %}
        ) as risk_drivers,
        latest_nps_score,
        latest_nps_category,
        previous_nps_score,
        usage_change_30d,
        events_last_30d,
        tickets_last_30d,
        refund_tickets_last_90d,
        avg_first_reply_minutes_30d,
        failed_charges_last_30d,
        core_events_first_30d,
        cancellation_requested,
        days_from_trial_end,
        lifecycle_stage
    from scored

)

select * from final
