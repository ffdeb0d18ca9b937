{#- The churn-risk rules of seed churn_risk_rules, the only place a rule is defined. -#}

{#- The threshold of one churn-risk rule, as a scalar subquery: models that flag the same condition outside
    account_health use the same number. -#}
{% macro churn_rule_threshold(rule) -%}
    (select max(rules.threshold) from {{ ref('churn_risk_rules') }} as rules where rules.rule = '{{ rule }}')
{%- endmacro %}


{#- The driver rows of the seed as it is built in the warehouse, read when a model compiles (their shape:
    rule, feature, operator, when_missing, segment, wording; thresholds and weights are read by the model's SQL
    at run time). Each is checked, and a bad one stops the build with a message naming the seed, the rule and
    the field. Ordered as their words are listed: by weight, heaviest first, then by name. Empty while dbt
    only parses. -#}
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
    {%- set operators = ['<', '<=', '>', '>=', '=', 'between', 'scale'] -%}
    {%- set query -%}
        select rule, feature, operator, when_missing, weight, lower_threshold, threshold, segment, wording
        from {{ relation }} where kind = 'driver'
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
        {%- if row['operator'] in ['between', 'scale'] and (row['lower_threshold'] is none or row['threshold'] is none) -%}
            {{ exceptions.raise_compiler_error(where ~ "operator '" ~ row['operator'] ~ "' needs lower_threshold") }}
        {%- endif -%}
        {%- if row['operator'] == 'scale' and row['lower_threshold'] == row['threshold'] -%}
            {{ exceptions.raise_compiler_error(where ~ "operator 'scale' needs threshold <> lower_threshold") }}
        {%- endif -%}
        {#- dbt-spark loads an empty text cell as the text 'None'. -#}
        {%- set segment = none if row['segment'] in [none, '', 'None'] else row['segment'] | trim -%}
        {%- set wording = none if row['wording'] in [none, '', 'None'] else row['wording'] -%}
        {%- set conditions = [] -%}
        {%- for condition in (segment or '').split('&') if segment -%}
            {%- set matched = modules.re.match('^ *([a-z][a-z0-9_]*) *= *([^=]*?) *$', condition) -%}
            {%- if not matched -%}
                {{ exceptions.raise_compiler_error(
                    where ~ "segment '" ~ segment ~ "' is not <column>=<value>[&<column>=<value>...]") }}
            {%- endif -%}
            {%- do conditions.append({'column': matched.group(1), 'value': matched.group(2)}) -%}
        {%- endfor -%}
        {%- set named = conditions | map(attribute='column') | list + churn_wording_columns(wording) -%}
        {%- for column in named if features is not none and column not in features -%}
            {{ exceptions.raise_compiler_error(
                where ~ "segment or wording names '" ~ column ~ "', not a column of int_account_signals_daily") }}
        {%- endfor -%}
        {%- do rules.append({
            'rule': row['rule'],
            'feature': row['feature'],
            'operator': row['operator'],
            'when_missing': row['when_missing'] in [true, 'true', 'True'],
            'weight': row['weight'] or 0,
            'segment': conditions,
            'wording': wording,
        }) -%}
    {%- endfor -%}
    {{ return(rules | sort(attribute='rule') | sort(attribute='weight', reverse=true) | list) }}
{% endmacro %}


{#- The seed's segment of a driver (conditions <column>=<value> on the signals, all of them), as a boolean SQL
    expression; true when the rule has no segment (it applies to every account). -#}
{% macro churn_rule_segment(rule, relation='features') -%}
    {%- for condition in rule.segment -%}
        coalesce(cast({{ relation }}.{{ condition.column }} as string) = '{{ condition.value | replace("'", "''") }}', false)
        {{- ' and ' if not loop.last }}
    {%- else -%}
        true
    {%- endfor -%}
{%- endmacro %}


{#- The share of its weight a `scale` driver adds: 0 at lower_threshold, 1 at threshold and beyond (either
    direction), linear between; when the feature is missing, 1 or 0 as when_missing says. -#}
{% macro churn_rule_scale(rule, relation='features', config='config') -%}
    {%- set lower = config ~ '.' ~ rule.rule ~ '_lower_threshold' -%}
    {%- set upper = config ~ '.' ~ rule.rule ~ '_threshold' -%}
    coalesce(
        least(1.0, greatest(0.0, ({{ relation }}.{{ rule.feature }} - {{ lower }}) / ({{ upper }} - {{ lower }}))),
        {{ '1.0' if rule.when_missing else '0.0' }}
    )
{%- endmacro %}


{#- Whether a driver applies, as a boolean SQL expression over its feature and the pivoted thresholds of the
    seed (columns <rule>_threshold and <rule>_lower_threshold of the relation named `config`): inside its
    segment, the comparison holds (a `scale` driver: its share is above 0). -#}
{% macro churn_rule_applies(rule, relation='features', config='config') -%}
    {%- set value = relation ~ '.' ~ rule.feature -%}
    {%- if rule.operator == 'scale' -%}
        {%- set comparison = churn_rule_scale(rule, relation, config) ~ ' > 0' -%}
    {%- elif rule.operator == 'between' -%}
        {%- set comparison = value ~ ' between ' ~ config ~ '.' ~ rule.rule ~ '_lower_threshold and '
            ~ config ~ '.' ~ rule.rule ~ '_threshold' -%}
    {%- else -%}
        {%- set comparison = value ~ ' ' ~ rule.operator ~ ' ' ~ config ~ '.' ~ rule.rule ~ '_threshold' -%}
    {%- endif -%}
    ({{ churn_rule_segment(rule, relation) }}) and coalesce({{ comparison }}, {{ 'true' if rule.when_missing else 'false' }})
{%- endmacro %}
