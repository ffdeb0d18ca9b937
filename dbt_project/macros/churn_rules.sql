{#- The churn-risk rules of seed churn_risk_rules, the only place a rule is defined. -#}

{#- The threshold of one churn-risk rule, as a scalar subquery: models that flag the same condition outside
    account_health use the same number. -#}
{% macro churn_rule_threshold(rule) -%}
    (select max(rules.threshold) from {{ ref('churn_risk_rules') }} as rules where rules.rule = '{{ rule }}')
{%- endmacro %}


{#- The driver rows of the seed as it is built in the warehouse, read when a model compiles (their shape:
    rule, feature, operator, when_missing; thresholds and weights are read by the model's SQL at run time).
    Each is checked, and a bad one stops the build with a message naming the seed, the rule and the field.
    Ordered as their words are (churn_driver_order). Empty while dbt only parses. -#}
{% macro churn_driver_rules() %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {#- The graph is empty while a unit test compiles: the seed and the signals are then looked up in their
        schemas. -#}
    {%- set nodes = graph.get('nodes', {}) -%}
    {%- set seed = nodes.get('seed.' ~ project_name ~ '.churn_risk_rules') -%}
    {%- if seed -%}
        {%- set relation = adapter.get_relation(database=seed.database, schema=seed.schema, identifier=seed.alias) -%}
    {%- else -%}
        {%- set relation = adapter.get_relation(
            database=target.database, schema=generate_schema_name('seeds', none), identifier='churn_risk_rules') -%}
    {%- endif -%}
    {%- if relation is none -%}
        {%- set message = "seeds/churn_risk_rules.csv is not in the warehouse yet: build it first (dbt seed)" -%}
        {%- if flags.WHICH in ['build', 'run', 'test', 'retry', 'clone'] -%}
            {{ exceptions.raise_compiler_error(message) }}
        {%- endif -%}
        {#- Compiling only (dbt compile, docs, a linter): the model shows no driver until the seed is built. -#}
        {{ exceptions.warn(message ~ "; compiling account_health without its drivers") }}
        {{ return([]) }}
    {%- endif -%}
    {%- set signals = nodes.get('model.' ~ project_name ~ '.int_account_signals_daily') -%}
    {%- if signals -%}
        {%- set features = signals.columns.keys() | list -%}
    {%- else -%}
        {%- set built = adapter.get_relation(
            database=target.database, schema=generate_schema_name('intermediate', none),
            identifier='int_account_signals_daily') -%}
        {%- set features = adapter.get_columns_in_relation(built) | map(attribute='name') | list if built else none -%}
    {%- endif -%}
    {%- set operators = ['<', '<=', '>', '>=', '=', 'between'] -%}
    {%- set query -%}
        select rule, feature, operator, when_missing from {{ relation }} where kind = 'driver'
    {%- endset -%}
    {%- set rules = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- set where = "seeds/churn_risk_rules.csv, rule '" ~ row['rule'] ~ "': " -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*$', row['rule'] or '') -%}
            {{ exceptions.raise_compiler_error(where ~ "rule must be lower case letters, digits and underscores") }}
        {%- endif -%}
        {%- if features is not none and row['feature'] not in features -%}
            {{ exceptions.raise_compiler_error(
                where ~ "feature '" ~ row['feature'] ~ "' is not a column of int_account_signals_daily ("
                ~ features | join(', ') ~ ")") }}
        {%- endif -%}
        {%- if row['operator'] not in operators -%}
            {{ exceptions.raise_compiler_error(
                where ~ "operator '" ~ row['operator'] ~ "' is not one of " ~ operators | join(' ')) }}
        {%- endif -%}
        {%- do rules.append({
            'rule': row['rule'],
            'feature': row['feature'],
            'operator': row['operator'],
            'when_missing': row['when_missing'] in [true, 'true', 'True'],
        }) -%}
    {%- endfor -%}
    {%- set order = churn_driver_order() -%}
    {%- set known = [] -%}
    {%- for name in order -%}
        {%- for rule in rules if rule.rule == name -%}
            {%- do known.append(rule) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set others = rules | rejectattr('rule', 'in', order) | sort(attribute='rule') | list -%}
    {{ return(known + others) }}
{% endmacro %}


{#- Whether a driver applies, as a boolean SQL expression over its feature and the pivoted thresholds of the
    seed (columns <rule>_threshold and <rule>_lower_threshold of the relation named `config`). -#}
{% macro churn_rule_applies(rule, relation='features', config='config') -%}
    {%- set value = relation ~ '.' ~ rule.feature -%}
    {%- if rule.operator == 'between' -%}
        {%- set comparison = value ~ ' between ' ~ config ~ '.' ~ rule.rule ~ '_lower_threshold and '
            ~ config ~ '.' ~ rule.rule ~ '_threshold' -%}
    {%- else -%}
        {%- set comparison = value ~ ' ' ~ rule.operator ~ ' ' ~ config ~ '.' ~ rule.rule ~ '_threshold' -%}
    {%- endif -%}
    coalesce({{ comparison }}, {{ 'true' if rule.when_missing else 'false' }})
{%- endmacro %}
