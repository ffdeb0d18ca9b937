{#-
    Spark implementations of dbt's cross-database macros where dbt-spark's differ from DuckDB's results; the
    project's own macros take precedence over the adapter's for dbt's namespace.
    dateadd and datediff (dbt-spark's go through dates, drop fractions of a second and raise on nulls):
      dateadd: a timestamp, `interval` (an expression) days/weeks/months... later, null in -> null out;
      datediff: the number of `datepart` boundaries between the two values (DuckDB date_diff), so
        2024-01-31 -> 2024-02-01 is 1 month and 1 day, and 10:00:00.9 -> 10:00:01.1 is 1 second.
-#}

{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'day' -%}
        datediff(cast({{ second_date }} as date), cast({{ first_date }} as date))
    {%- elif datepart == 'month' -%}
        (
            (year({{ second_date }}) * 12 + month({{ second_date }}))
            - (year({{ first_date }}) * 12 + month({{ first_date }}))
        )
    {%- elif datepart == 'second' -%}
        (unix_seconds(cast({{ second_date }} as timestamp)) - unix_seconds(cast({{ first_date }} as timestamp)))
    {%- else -%}
        {{ exceptions.raise_compiler_error("spark__datediff: datepart '" ~ datepart ~ "' is not implemented") }}
    {%- endif -%}
{%- endmacro %}

{#- listagg: dbt-spark ignores the order; here the values are sorted when ordered by the measure itself. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if order_by_clause and order_by_clause | trim | lower != 'order by ' ~ measure | trim | lower -%}
        {{ exceptions.raise_compiler_error("spark__listagg orders only by the measure, not: " ~ order_by_clause) }}
    {%- endif -%}
    {%- set collected = 'collect_list(' ~ measure ~ ')' -%}
    {%- if order_by_clause %}{% set collected = 'array_sort(' ~ collected ~ ')' %}{% endif -%}
    {%- if limit_num %}{% set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' %}{% endif -%}
    array_join({{ collected }}, {{ delimiter_text }})
{%- endmacro %}
