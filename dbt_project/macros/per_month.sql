{#-
    How many months one billing period of `interval` x `interval_count` is, inverted: the factor that turns an
    amount per period into an amount per month (year / 12, week * 52 / 12, day * 365 / 12, / interval_count).
-#}
{% macro per_month(interval, interval_count) -%}
    case {{ interval }}
        when 'month' then cast(1 as double)
        when 'year' then cast(1 as double) / 12
        when 'week' then cast(52 as double) / 12
        when 'day' then cast(365 as double) / 12
    end
    / {{ interval_count }}
{%- endmacro %}
