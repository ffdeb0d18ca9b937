{#-
    The latest version of each object in a raw table (docs/raw_layer.md): a mutable object lands again on each day
    it changes, so staging keeps the version with the latest vendor `updated_at` (where the object has one), then
    the latest landing day, then the later line of the file. Portable SQL (no QUALIFY), for DuckDB and Spark.
    `relation` is the import CTE or relation to read; `updated_at` a typed timestamp expression over it (the
    contract's, `raw_field`); the result keeps a `version_rank` column (always 1).
-#}
{% macro latest_versions(relation, key='record_id', updated_at=none) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key }}
                order by
                    {%- if updated_at %}
                    {{ updated_at }} desc nulls last,
                    {%- endif %}
                    _partition_date desc,
                    _line_number desc
            ) as version_rank
        from {{ relation }}
    ) as versions_ranked
    where version_rank = 1
{%- endmacro %}
