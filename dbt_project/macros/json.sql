{#-
    JSON text columns (the raw `payload` of API objects), read the same way on every engine. Typed values of
    single fields come from the contracts (raw_field); this unnests the arrays whose elements staging reads.
-#}

{#- Set-returning, in a select list: one row per element (as JSON) of the array at `array_path`. -#}
{% macro json_array_elements(column, array_path) -%}
    {{ return(adapter.dispatch('json_array_elements', 'nps_platform')(column, array_path)) }}
{%- endmacro %}

{% macro default__json_array_elements(column, array_path) -%}
    unnest(json_extract({{ column }}, '{{ array_path }}[*]'))
{%- endmacro %}

{% macro spark__json_array_elements(column, array_path) -%}
    explode(from_json(get_json_object({{ column }}, '{{ array_path }}'), 'array<string>'))
{%- endmacro %}
