{#- Pre-hook for date-partitioned incremental models: on an incremental run with
    var('min_date') / var('max_date') set, delete that (inclusive) window from the target so the
    window is replaced as a whole, like the raw loader replaces a partition. Renders nothing otherwise. -#}
{% macro delete_date_window(relation, date_column) -%}
    {%- if is_incremental() and var('min_date') and var('max_date') -%}
        delete from {{ relation }}
        where {{ date_column }} between cast('{{ var("min_date") }}' as date) and cast('{{ var("max_date") }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook for daily snapshots whose later days read earlier days (trailing windows, latest answers): on an
    incremental run with var('min_date') set, delete every day from min_date on, and the model rebuilds them
    all. A daily run rebuilds one day; a backfill of an old range also refreshes the days after it. -#}
{% macro delete_from_date(relation, date_column) -%}
    {%- if is_incremental() and var('min_date') -%}
        delete from {{ relation }}
        where {{ date_column }} >= cast('{{ var("min_date") }}' as date)
    {%- endif -%}
{%- endmacro %}
