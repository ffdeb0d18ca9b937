{#- Whether a list column holds any of `values` (a list of strings): DuckDB list_has_any, Spark arrays_overlap. -#}
{% macro list_has_any_of(list_expression, values) -%}
    {{ return(adapter.dispatch('list_has_any_of', 'nps_platform')(list_expression, values)) }}
{%- endmacro %}

{% macro default__list_has_any_of(list_expression, values) -%}
    list_has_any({{ list_expression }}, [{{ sql_string_list(values) }}])
{%- endmacro %}

{% macro spark__list_has_any_of(list_expression, values) -%}
    arrays_overlap({{ list_expression }}, array({{ sql_string_list(values) }}))
{%- endmacro %}
