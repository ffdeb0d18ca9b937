{#-
    Band labels derived from the edges in dbt_project.yml, so the edges live in one place.
    mrr_band: null -> 'unknown', <= 0 -> '0', then '<100', '100-499', '500-1999', '2000+'
    (labels show whole dollars; a band covers [lower edge, next edge)).
    tenure_band: null -> 'unknown', then '0-3m', '3-12m', '12-24m', '24m+' (full months, [lower, upper)).
-#}

{% macro mrr_band(mrr_usd) -%}
    {%- set edges = var('mrr_band_edges') -%}
    case
        when {{ mrr_usd }} is null then 'unknown'
        when {{ mrr_usd }} <= 0 then '0'
        when {{ mrr_usd }} < {{ edges[0] }} then '<{{ edges[0] }}'
        {%- for i in range(edges | length - 1) %}
        when {{ mrr_usd }} < {{ edges[i + 1] }} then '{{ edges[i] }}-{{ edges[i + 1] - 1 }}'
        {%- endfor %}
        else '{{ edges[-1] }}+'
    end
{%- endmacro %}

{% macro tenure_band(tenure_months) -%}
    {%- set edges = var('tenure_band_edges') -%}
    case
        when {{ tenure_months }} is null then 'unknown'
        when {{ tenure_months }} < {{ edges[0] }} then '0-{{ edges[0] }}m'
        {%- for i in range(edges | length - 1) %}
        when {{ tenure_months }} < {{ edges[i + 1] }} then '{{ edges[i] }}-{{ edges[i + 1] }}m'
        {%- endfor %}
        else '{{ edges[-1] }}m+'
    end
{%- endmacro %}
