{#- The words of each churn-risk driver in account_health.risk_drivers: wording only (what a rule is and
    when it applies is the seed churn_risk_rules). The drivers are listed in this order, then any rule
    without words here, by name, as "<rule> (<feature value>)". -#}

{% macro churn_driver_order() %}
    {{ return([
        'detractor', 'passive', 'nps_drop', 'usage_decline', 'rising_tickets', 'slow_first_reply',
        'refund_tickets', 'failed_payments', 'no_recent_nps', 'low_activation',
    ]) }}
{% endmacro %}


{#- The words of one driver (a row of churn_driver_rules), as a SQL expression over the columns of
    int_account_signals_daily. -#}
{% macro churn_driver_text(rule) -%}
    {%- set name = rule.rule -%}
    {%- if name == 'detractor' -%}
        'detractor (' || cast(latest_nps_score as string) || ')'
        || case when previous_nps_category = 'promoter' then ' after promoter' else '' end
    {%- elif name == 'passive' -%}
        'passive (' || cast(latest_nps_score as string) || ')'
    {%- elif name == 'nps_drop' -%}
        'NPS ' || cast(previous_nps_score as string) || ' -> ' || cast(latest_nps_score as string)
    {%- elif name == 'usage_decline' -%}
        'usage ' || cast(cast(round(usage_change_30d * 100) as integer) as string) || '% in 30 days'
    {%- elif name == 'rising_tickets' -%}
        cast(tickets_last_30d as string) || ' tickets in 30 days (before: ' || cast(tickets_prior_30d as string) || ')'
    {%- elif name == 'slow_first_reply' -%}
        'first reply ' || cast(cast(round(avg_first_reply_minutes_30d / 60) as integer) as string) || 'h on average'
    {%- elif name == 'refund_tickets' -%}
        cast(refund_tickets_last_90d as string) || ' refund ticket'
        || case when refund_tickets_last_90d > 1 then 's' else '' end
    {%- elif name == 'failed_payments' -%}
        cast(failed_charges_last_30d as string) || ' failed payment'
        || case when failed_charges_last_30d > 1 then 's' else '' end
    {%- elif name == 'no_recent_nps' -%}
        'no NPS answer in a year'
    {%- elif name == 'low_activation' -%}
        'low activation (' || cast(core_events_first_30d as string) || ' core events in 30 days)'
    {%- else -%}
        '{{ name }} (' || coalesce(cast({{ rule.feature }} as string), 'none') || ')'
    {%- endif -%}
{%- endmacro %}
