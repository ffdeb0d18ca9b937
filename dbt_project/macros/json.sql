{#-
    JSON text columns (the raw `payload` of API objects), read the same way on every engine: DuckDB's `->>` and
    list functions, Spark's get_json_object / from_json. Paths are JSONPath literals ('$.customer.id').
-#}

{#- The value at `path` as text (null when missing or JSON null; an object or array as its JSON text). -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'nps_platform')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    {{ column }} ->> '{{ path }}'
{%- endmacro %}

{% macro spark__json_text(column, path) -%}
    get_json_object({{ column }}, '{{ path }}')
{%- endmacro %}

{#- The array at `array_path` as a list of text values (strings unquoted); missing or null -> empty list. -#}
{% macro json_text_list(column, array_path) -%}
    {{ return(adapter.dispatch('json_text_list', 'nps_platform')(column, array_path)) }}
{%- endmacro %}

{% macro default__json_text_list(column, array_path) -%}
    json_extract_string({{ column }}, '{{ array_path }}[*]')
{%- endmacro %}

{% macro spark__json_text_list(column, array_path) -%}
    coalesce(from_json(get_json_object({{ column }}, '{{ array_path }}'), 'array<string>'), array())
{%- endmacro %}

{#- The first element (as JSON) of the array at `array_path` whose `key_path` holds the text `value`. -#}
{% macro json_first_element_where(column, array_path, key_path, value) -%}
    {{ return(adapter.dispatch('json_first_element_where', 'nps_platform')(column, array_path, key_path, value)) }}
{%- endmacro %}

{% macro default__json_first_element_where(column, array_path, key_path, value) -%}
    list_filter(
        json_extract({{ column }}, '{{ array_path }}[*]'),
        lambda json_element: json_element ->> '{{ key_path }}' = '{{ value }}'
    )[1]
{%- endmacro %}

{% macro spark__json_first_element_where(column, array_path, key_path, value) -%}
    element_at(
        filter(
            from_json(get_json_object({{ column }}, '{{ array_path }}'), 'array<string>'),
            json_element -> get_json_object(json_element, '{{ key_path }}') = '{{ value }}'
        ),
        1
    )
{%- endmacro %}

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

{#- 1-based position of the first element of the array at `array_path` whose `key_path` holds the text `value`
    (null when none does). -#}
{% macro json_position_where(column, array_path, key_path, value) -%}
    {{ return(adapter.dispatch('json_position_where', 'nps_platform')(column, array_path, key_path, value)) }}
{%- endmacro %}

{% macro default__json_position_where(column, array_path, key_path, value) -%}
    list_position(json_extract_string({{ column }}, '{{ array_path }}[*]{{ key_path[1:] }}'), '{{ value }}')
{%- endmacro %}

{% macro spark__json_position_where(column, array_path, key_path, value) -%}
    nullif(
        array_position(
            transform(
                from_json(get_json_object({{ column }}, '{{ array_path }}'), 'array<string>'),
                json_element -> get_json_object(json_element, '{{ key_path }}')
            ),
            '{{ value }}'
        ),
        0
    )
{%- endmacro %}

{#- The element (as JSON) at the 1-based `position` (an expression) of the array at `array_path`. -#}
{% macro json_element_at(column, array_path, position) -%}
    {{ return(adapter.dispatch('json_element_at', 'nps_platform')(column, array_path, position)) }}
{%- endmacro %}

{% macro default__json_element_at(column, array_path, position) -%}
    json_extract({{ column }}, '{{ array_path }}[' || ({{ position }} - 1) || ']')
{%- endmacro %}

{% macro spark__json_element_at(column, array_path, position) -%}
    element_at(
        from_json(get_json_object({{ column }}, '{{ array_path }}'), 'array<string>'),
        cast({{ position }} as int)
    )
{%- endmacro %}
