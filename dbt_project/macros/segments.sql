{#-
    One row per input row and segment type: segment_type is the name of the column that segments
    (or 'overall', whose segment_value is 'all'); a missing value becomes 'unknown'.
    Used as a CTE body by nps_by_period and ces_by_period.
-#}
{% macro unpivot_segments(relation, segment_types) -%}
    {%- for segment_type in segment_types %}
    select
        {{ relation }}.*,
        '{{ segment_type }}' as segment_type,
        {%- if segment_type == 'overall' %}
        'all' as segment_value
        {%- else %}
        coalesce(cast({{ relation }}.{{ segment_type }} as {{ dbt.type_string() }}), 'unknown') as segment_value
        {%- endif %}
    from {{ relation }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
