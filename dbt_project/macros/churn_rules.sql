{#- The threshold of one churn-risk rule, from the seed churn_risk_rules (the only place a rule is defined), as a
    scalar subquery: models that flag the same condition outside account_health use the same number. -#}
{% macro churn_rule_threshold(rule) -%}
    (select max(rules.threshold) from {{ ref('churn_risk_rules') }} as rules where rules.rule = '{{ rule }}')
{%- endmacro %}
