{#- The run's partition window, inclusive, as 'YYYY-MM-DD' strings, or '' on a run without one (a full build).
    Dagster passes it in the environment (NPS_DBT_MIN_DATE / NPS_DBT_MAX_DATE): dbt re-parses only the files whose
    parse read a changed environment variable, where a change of --vars re-parses the whole project. By hand, both
    work: `--vars '{"min_date": "2026-03-02", "max_date": "2026-03-02"}'` (it wins; dbt unit tests override it) or
    the two variables. -#}
{% macro window_min_date() -%}
    {{ return(var('min_date') or env_var('NPS_DBT_MIN_DATE', '')) }}
{%- endmacro %}

{% macro window_max_date() -%}
    {{ return(var('max_date') or env_var('NPS_DBT_MAX_DATE', '')) }}
{%- endmacro %}

{#- Pre-hook for date-partitioned incremental models: on an incremental run with
    window_min_date() / window_max_date() set, delete that (inclusive) window from the target so the
    window is replaced as a whole, like the raw loader replaces a partition. Renders nothing otherwise. -#}
{% macro delete_date_window(relation, date_column) -%}
    {%- if is_incremental() and window_min_date() and window_max_date() and date_window_strategy() == 'delete+insert' -%}
        delete from {{ relation }}
        where {{ date_column }} between cast('{{ window_min_date() }}' as date) and cast('{{ window_max_date() }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook for daily snapshots whose later days read earlier days (trailing windows, latest answers): on an
    incremental run with window_min_date() set, delete every day from min_date on, and the model rebuilds them
    all. A daily run rebuilds one day; a backfill of an old range also refreshes the days after it. -#}
{% macro delete_from_date(relation, date_column) -%}
    {%- if is_incremental() and window_min_date() and date_window_strategy() == 'delete+insert' -%}
        delete from {{ relation }}
        where {{ date_column }} >= cast('{{ window_min_date() }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- The incremental strategy of the date-partitioned models: delete+insert after the delete pre-hooks above
    (DuckDB); on Spark, which cannot delete from a Parquet table, the table is partitioned by its date column
    (date_window_partition_by) and insert_overwrite replaces every date partition the run produces. -#}
{% macro date_window_strategy() -%}
    {{ return(adapter.dispatch('date_window_strategy', 'nps_platform')()) }}
{%- endmacro %}

{% macro default__date_window_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__date_window_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{% macro date_window_partition_by(date_column) -%}
    {{ return(none if date_window_strategy() == 'delete+insert' else [date_column]) }}
{%- endmacro %}

{#- `where <date_column> in the run's partition window`, or nothing on a run without one (a full build): the filter
    of the incremental models that read Segment events. -#}
{% macro where_in_date_window(date_column) -%}
    {%- if window_min_date() and window_max_date() -%}
        where {{ date_column }} between cast('{{ window_min_date() }}' as date) and cast('{{ window_max_date() }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- The filter of a model kept incremental by key (stg_zendesk__tickets explains the pattern): on an incremental
    run with a window, `where <key> in (the keys with a version loaded in the window)`, so the model rebuilds those
    objects from ALL their loaded versions; nothing otherwise (a full build reads every version). `key` is a SQL
    expression over `relation`'s columns. -#}
{% macro where_key_has_version_in_date_window(relation, key) -%}
    {%- if is_incremental() and window_min_date() and window_max_date() -%}
        where {{ key }} in (
            select {{ key }} from {{ relation }}
            {{ where_in_date_window('_partition_date') }}
        )
    {%- endif -%}
{%- endmacro %}

{#- The partition window widened to whole weeks (Monday to Sunday), as two SQL date expressions, or none when the
    run has no window (a full build). For weekly models whose measures cannot be summed from days. -#}
{% macro week_window_bounds() -%}
    {%- if window_min_date() and window_max_date() -%}
        {%- set first = "cast(" ~ dbt.date_trunc('week', "cast('" ~ window_min_date() ~ "' as date)") ~ " as date)" -%}
        {%- set last_start = dbt.date_trunc('week', "cast('" ~ window_max_date() ~ "' as date)") -%}
        {{ return([first, "cast(" ~ dbt.dateadd('day', 6, last_start) ~ " as date)"]) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- Pre-hook of a weekly model: on an incremental run, delete the weeks the widened window covers. -#}
{% macro delete_week_window(relation, week_column) -%}
    {%- set bounds = week_window_bounds() -%}
    {%- if is_incremental() and bounds and date_window_strategy() == 'delete+insert' -%}
        delete from {{ relation }}
        where {{ week_column }} between {{ bounds[0] }} and {{ bounds[1] }}
    {%- endif -%}
{%- endmacro %}


{#- The first week an incremental run of a weekly model measured "as of" the latest day rebuilds: the window's first
    week, or the table's latest week when that is earlier (that week was measured on the previous run's as-of date,
    which the new day moves). A SQL date expression, or none on a run without a window (a full build). Read before
    the pre-hook below deletes anything, so the model and its pre-hook agree. -#}
{% macro rebuild_from_week(relation, week_column) -%}
    {%- set bounds = week_window_bounds() -%}
    {#- A unit test renders the model without a relation (`this` is none): it builds as a full build. -#}
    {%- if relation is none or not (bounds and is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set latest = none -%}
    {%- if execute -%}
        {%- set query = "select cast(max(" ~ week_column ~ ") as " ~ dbt.type_string() ~ ") from " ~ relation -%}
        {%- set latest = run_query(query).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if latest -%}
        {{ return("least(" ~ bounds[0] ~ ", cast('" ~ latest ~ "' as date))") }}
    {%- endif -%}
    {{ return(bounds[0]) }}
{%- endmacro %}

{#- Pre-hook of such a weekly model: delete every week from rebuild_from_week on; the model rebuilds them all. -#}
{% macro delete_from_week(relation, week_column) -%}
    {%- set rebuild_from = rebuild_from_week(relation, week_column) -%}
    {%- if rebuild_from and date_window_strategy() == 'delete+insert' -%}
        delete from {{ relation }}
        where {{ week_column }} >= {{ rebuild_from }}
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of a model kept incremental by key (e.g. stg_zendesk__tickets): on an incremental run WITHOUT a window
    (a run outside a partition), empty the table, so the model rebuilds it whole, exactly as a full build. -#}
{% macro delete_all_without_date_window(relation) -%}
    {%- if is_incremental() and not (window_min_date() and window_max_date()) and date_window_strategy() == 'delete+insert' -%}
        delete from {{ relation }}
    {%- endif -%}
{%- endmacro %}
