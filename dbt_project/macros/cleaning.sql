{#- Helpers for literal lists in SQL. Typed values of raw fields come from the contracts (raw_field). -#}

{#- A `'a', 'b'` list of SQL string literals from a list var, for `in (...)` and list literals. -#}
{% macro sql_string_list(values) -%}
    {%- for value in values -%}
        '{{ value | replace("'", "''") }}'{% if not loop.last %}, {% endif %}
    {%- endfor -%}
{%- endmacro %}
