{#- Staging helpers for vendor text: blank -> null, enums lower-cased, ISO-8601 / epoch -> UTC timestamp. -#}

{% macro clean_text(expression) -%}
    nullif(trim({{ expression }}), '')
{%- endmacro %}

{% macro clean_enum(expression) -%}
    lower(nullif(trim({{ expression }}), ''))
{%- endmacro %}

{% macro clean_email(expression) -%}
    lower(nullif(trim({{ expression }}), ''))
{%- endmacro %}

{#- A `'a', 'b'` list of SQL string literals from a list var, for `in (...)` and list literals. -#}
{% macro sql_string_list(values) -%}
    {%- for value in values -%}
        '{{ value | replace("'", "''") }}'{% if not loop.last %}, {% endif %}
    {%- endfor -%}
{%- endmacro %}

{#- ISO-8601 text -> TIMESTAMP in UTC. A value with an offset (Z, +02:00) is converted to UTC;
    a value without one is taken as UTC already (independent of the session time zone). -#}
{% macro to_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'nps_platform')(expression)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(expression) -%}
    cast({{ expression }} as timestamp)
{%- endmacro %}

{% macro duckdb__to_utc_timestamp(expression) -%}
    case
        when regexp_matches(trim({{ expression }}), '([zZ]|[+-]\d{2}:?\d{2})$')
            then timezone('UTC', try_cast(trim({{ expression }}) as timestamptz))
        else try_cast(nullif(trim({{ expression }}), '') as timestamp)
    end
{%- endmacro %}

{#- Spark reads a trailing offset itself and takes a value without one in the session time zone (UTC, set by
    the profile); try_cast so that unreadable text is null, as on DuckDB, also with ANSI mode on. -#}
{% macro spark__to_utc_timestamp(expression) -%}
    try_cast(nullif(trim({{ expression }}), '') as timestamp)
{%- endmacro %}

{#- Unix epoch seconds -> TIMESTAMP in UTC. -#}
{% macro epoch_to_timestamp(expression) -%}
    {{ return(adapter.dispatch('epoch_to_timestamp', 'nps_platform')(expression)) }}
{%- endmacro %}

{% macro default__epoch_to_timestamp(expression) -%}
    to_timestamp(cast({{ expression }} as bigint))
{%- endmacro %}

{% macro duckdb__epoch_to_timestamp(expression) -%}
    make_timestamp(cast({{ expression }} as bigint) * 1000000)
{%- endmacro %}

{% macro spark__epoch_to_timestamp(expression) -%}
    timestamp_seconds(cast({{ expression }} as bigint))
{%- endmacro %}

{#- Stripe minor units -> amount in the currency's major unit (zero-decimal currencies such as JPY as-is). -#}
{#- A double on every engine (DuckDB's decimal division gives one; Spark's would stay a decimal). -#}
{% macro stripe_minor_to_major(amount, currency) -%}
    cast(
        case
            when lower({{ currency }}) in ({{ sql_string_list(var('stripe_zero_decimal_currencies')) }})
                then cast({{ amount }} as decimal(18, 4))
            else cast({{ amount }} as decimal(18, 4)) / 100
        end
        as double
    )
{%- endmacro %}
