{#- Continuous median; dbt ships no cross-database macro for it. -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'nps_platform')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro spark__median(expression) -%}
    percentile({{ expression }}, 0.5)
{%- endmacro %}
