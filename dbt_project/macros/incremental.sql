{#- Pre-hook for date-partitioned incremental models: on an incremental run with
    var('min_date') / var('max_date') set, delete that (inclusive) window from the target so the
    window is replaced as a whole, like the raw loader replaces a partition. Renders nothing otherwise. -#}
{% macro delete_date_window(relation, date_column) -%}
    {%- if is_incremental() and var('min_date') and var('max_date') -%}
        delete from {{ relation }}
        where {{ date_column }} between cast('{{ var("min_date") }}' as date) and cast('{{ var("max_date") }}' as date)
    {%- endif -%}
{%- endmacro %}
