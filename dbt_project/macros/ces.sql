{#- CES is asked on a 1-7 scale (7 = very easy); scores from var('ces_easy_min_score') up count as easy. -#}
{% macro ces_is_easy(score) -%}
    ({{ score }} between {{ var('ces_easy_min_score') }} and 7)
{%- endmacro %}
