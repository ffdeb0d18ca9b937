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

{#- Whether a list column holds the string `value_expression` (a column or expression): DuckDB list_contains,
    Spark array_contains. -#}
{% macro list_holds(list_expression, value_expression) -%}
    {{ return(adapter.dispatch('list_holds', 'nps_platform')(list_expression, value_expression)) }}
{%- endmacro %}

{% macro default__list_holds(list_expression, value_expression) -%}
    list_contains({{ list_expression }}, {{ value_expression }})
{%- endmacro %}

{% macro spark__list_holds(list_expression, value_expression) -%}
    array_contains({{ list_expression }}, {{ value_expression }})
{%- endmacro %}
