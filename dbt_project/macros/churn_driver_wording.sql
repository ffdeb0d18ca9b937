{#- The words of each churn-risk driver in account_health.risk_drivers: the `wording` column of seed
    churn_risk_rules, text with placeholders over the columns of int_account_signals_daily:
      {column}                the value ('none' when missing)
      {column:percent}        the value x 100, rounded to an integer
      {column:hours}          the value / 60 (minutes to hours), rounded to an integer
      {column:plural}         's' unless the value is 1
      {column=value?text}     text when the value is `value`, else nothing
    A rule without words reads "<rule> (<feature value>)". -#}


{#- The columns a wording names, for churn_driver_rules to check against the signals. -#}
{% macro churn_wording_columns(wording) -%}
    {%- set pattern = '\\{([a-z][a-z0-9_]*)(?::(percent|hours|plural)|=([^?}]*)\\?([^}]*))?\\}' -%}
    {{ return(modules.re.findall(pattern, wording or '') | map(attribute=0) | list) }}
{%- endmacro %}


{#- The words of one driver (a row of churn_driver_rules), as a SQL expression over the columns of
    int_account_signals_daily. -#}
{% macro churn_driver_text(rule) -%}
    {%- set pattern = '\\{([a-z][a-z0-9_]*)(?::(percent|hours|plural)|=([^?}]*)\\?([^}]*))?\\}' -%}
    {%- set wording = rule.wording or (rule.rule ~ ' ({' ~ rule.feature ~ '})') -%}
    {%- set parts = [] -%}
    {%- set position = namespace(at=0) -%}
    {%- for match in modules.re.finditer(pattern, wording) -%}
        {%- do parts.append(churn_sql_literal(wording[position.at:match.start()])) -%}
        {%- set column, format, value, text = match.group(1), match.group(2), match.group(3), match.group(4) -%}
        {%- if value is not none -%}
            {%- do parts.append(
                "case when cast(" ~ column ~ " as string) = " ~ churn_sql_literal(value) ~ " then "
                ~ churn_sql_literal(text) ~ " else '' end") -%}
        {%- elif format == 'percent' -%}
            {%- do parts.append("coalesce(cast(cast(round(" ~ column ~ " * 100) as integer) as string), 'none')") -%}
        {%- elif format == 'hours' -%}
            {%- do parts.append("coalesce(cast(cast(round(" ~ column ~ " / 60) as integer) as string), 'none')") -%}
        {%- elif format == 'plural' -%}
            {%- do parts.append("case when " ~ column ~ " = 1 then '' else 's' end") -%}
        {%- else -%}
            {%- do parts.append("coalesce(cast(" ~ column ~ " as string), 'none')") -%}
        {%- endif -%}
        {%- set position.at = match.end() -%}
    {%- endfor -%}
    {%- do parts.append(churn_sql_literal(wording[position.at:])) -%}
    {{ parts | reject('equalto', "''") | join(' || ') or "''" }}
{%- endmacro %}


{% macro churn_sql_literal(text) -%}
    {{ return("'" ~ (text | replace("'", "''")) ~ "'") }}
{%- endmacro %}
