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

{#- The text of an array element that is a JSON string (an id where an object may be expanded), else NULL. -#}
{% macro json_string_element(element) -%}
    {{ return(adapter.dispatch('json_string_element', 'nps_platform')(element)) }}
{%- endmacro %}

{% macro default__json_string_element(element) -%}
    case when json_type({{ element }}) = 'VARCHAR' then nullif(trim({{ element }} ->> '$'), '') end
{%- endmacro %}

{#- Spark's elements are strings already: an object or array element is its JSON text. -#}
{% macro spark__json_string_element(element) -%}
    case when substr(ltrim({{ element }}), 1, 1) not in ('{', '[') then nullif(trim({{ element }}), '') end
{%- endmacro %}
