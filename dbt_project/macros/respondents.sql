{#-
    The respondent of an NPS answer, in one place: the first of var('respondent_key_fields') that is set, in order
    (default [email, account_id, response_id]: the lower-cased, trimmed email; else the account the answer was tied
    to; else the response itself, counted on its own). The key names its field ('email:ann@example.com',
    'account_id:acc_1', 'response_id:r9'), so that an account id never meets an email or a response id of the same
    text. The response id is always the last resort, listed or not. Arguments: the SQL expressions of the three
    fields (by default the columns of those names).
    fct_survey_responses.respondent_key holds it (null unless an NPS answer with a 0-10 score); nps_by_period and
    the semantic layer's `respondent` entity read that column.
-#}

{% macro respondent_key(email='email', account_id='account_id', response_id='response_id') -%}
    {%- set expressions = {'email': email, 'account_id': account_id, 'response_id': response_id} -%}
    {%- set allowed = ['email', 'account_id', 'response_id'] -%}
    {%- set fields = var('respondent_key_fields') | list -%}
    {%- for field in fields if field not in allowed -%}
        {{ exceptions.raise_compiler_error(
            "var respondent_key_fields (dbt_project.yml): unknown field '" ~ field ~ "'; allowed: "
            ~ allowed | join(', ')
        ) }}
    {%- endfor -%}
    {%- if 'response_id' not in fields %}{% set fields = fields + ['response_id'] %}{% endif -%}
    coalesce(
        {%- for field in fields %}
        {%- if field == 'email' %}
        {%- set value = 'nullif(lower(trim(' ~ email ~ ')), \'\')' %}
        {%- else %}
        {%- set value = 'nullif(trim(cast(' ~ expressions[field] ~ ' as ' ~ dbt.type_string() ~ ')), \'\')' %}
        {%- endif %}
        {{ dbt.concat(["'" ~ field ~ ":'", value]) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}
