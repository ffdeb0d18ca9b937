{#- Date helpers built on dbt's cross-database macros, so they carry over to other adapters. -#}

{#- Start (a date) of the UTC calendar period of `ts` for a grain column holding
    'day', 'week' (weeks start on Monday: ISO date_trunc on DuckDB and Spark), 'month' or 'quarter'. -#}
{% macro period_start(grain, ts) -%}
    case {{ grain }}
        when 'day' then cast({{ dbt.date_trunc('day', ts) }} as date)
        when 'week' then cast({{ dbt.date_trunc('week', ts) }} as date)
        when 'month' then cast({{ dbt.date_trunc('month', ts) }} as date)
        when 'quarter' then cast({{ dbt.date_trunc('quarter', ts) }} as date)
    end
{%- endmacro %}

{#- Whole calendar months elapsed from `start_ts` to `end_ts` (2024-01-15 -> 2024-04-14 is 2). -#}
{% macro full_months_between(start_ts, end_ts) -%}
    (
        {{ dbt.datediff('cast(' ~ start_ts ~ ' as date)', 'cast(' ~ end_ts ~ ' as date)', 'month') }}
        - case
            when extract(day from {{ end_ts }}) < extract(day from {{ start_ts }}) then 1
            else 0
        end
    )
{%- endmacro %}

{#- Months since January 2000 of a date: an integer that range windows can order by ("11 preceding"). -#}
{% macro month_number(date_expression) -%}
    {{ dbt.datediff("cast('2000-01-01' as date)", date_expression, 'month') }}
{%- endmacro %}

{#- One row per grain of var('period_grains'), as a CTE body. -#}
{% macro period_grains_rows() -%}
    {%- for grain in var('period_grains') %}
    select '{{ grain }}' as period_grain
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- One row per start of `datepart` ('week' from Monday, 'month') from the period of start_date to the period
    of end_date, as a query with one date column `period_start`. -#}
{% macro period_starts(datepart, start_date, end_date) -%}
    {{ return(adapter.dispatch('period_starts')(datepart, start_date, end_date)) }}
{%- endmacro %}

{% macro default__period_starts(datepart, start_date, end_date) -%}
    select cast(period_start as date) as period_start
    from (
        select unnest(generate_series(
            cast({{ dbt.date_trunc(datepart, start_date) }} as date),
            cast({{ dbt.date_trunc(datepart, end_date) }} as date),
            interval 1 {{ datepart }}
        )) as period_start
    ) as series
{%- endmacro %}

{% macro spark__period_starts(datepart, start_date, end_date) -%}
    select explode(sequence(
        cast({{ dbt.date_trunc(datepart, start_date) }} as date),
        cast({{ dbt.date_trunc(datepart, end_date) }} as date),
        interval 1 {{ datepart }}
    )) as period_start
{%- endmacro %}

{#- Last day (a date, inclusive) of the period of grain `grain` ('day', 'week', 'month', 'quarter') that starts on
    the date `start`. -#}
{% macro period_end(grain, start) -%}
    case {{ grain }}
        when 'day' then cast({{ start }} as date)
        when 'week' then cast({{ dbt.dateadd('day', 6, start) }} as date)
        when 'month' then cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, start)) }} as date)
        when 'quarter' then cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 3, start)) }} as date)
    end
{%- endmacro %}

{#- The data's as-of date, the one definition: the UTC day of the latest survey response of any type
    (max(response_date) of `survey_responses`, a relation or CTE of fct_survey_responses rows), as a scalar
    subquery. program_summary.last_response_date is this date, and the report draws a period whose last day is after
    it as partial (report/queries.py as_of, report/periods.py). -#}
{% macro data_as_of_date(survey_responses) -%}
    (select max(response_date) from {{ survey_responses }})
{%- endmacro %}

{#- True when the period (grain, start) is over by the data's as-of date: its last day is on or before it. Null
    without an as-of date (no response at all). -#}
{% macro is_complete_period(grain, start, survey_responses) -%}
    ({{ period_end(grain, start) }} <= {{ data_as_of_date(survey_responses) }})
{%- endmacro %}
