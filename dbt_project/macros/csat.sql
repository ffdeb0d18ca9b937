{#-
    The CSAT metric definition, in one place.

    Satisfied: a Zendesk rating 'good', or a survey answer of 4 or 5 on the 1-5 CSAT scale (the usual "top-2-box"
    convention: 4 satisfied, 5 very satisfied); 'bad' and 1-3 are not.
    CSAT = 100 * satisfied / answered, from 0 to 100; null when nothing was answered.

    95% interval: adjusted Wald (Agresti-Coull) for one proportion, the single-proportion form of the adjusted Wald
    interval NPS uses (nps.sql): add 4 pseudo-answers, 2 satisfied and 2 not,
        n' = answered + 4
        p' = (satisfied + 2) / n'
        se = sqrt(p' * (1 - p') / n')
        bounds = 100 * (p' -/+ 1.96 * se), clipped to [0, 100]
    Null when nothing was answered.
-#}

{% macro csat_is_satisfied(score) -%}
    ({{ score }} between 4 and 5)
{%- endmacro %}

{#-
    Zendesk CSAT survey responses (customizable CSAT): satisfied as Zendesk maps the rating back to good / bad (the
    ticket's satisfaction_rating and Explore): Zendesk's own `rating_category` where the answer carries it; else the
    top of the scale it was answered on: 2 points: 2; 3 points: 3; 5 points: 4-5 (1-3 not). A scale not given in
    the response is read as 5 points (the 1-5 rule of csat_is_satisfied).
-#}
{% macro zendesk_csat_is_satisfied(rating, scale_points, rating_category) -%}
    case
        when {{ rating_category }} in ('good', 'bad') then {{ rating_category }} = 'good'
        when {{ scale_points }} = 2 then {{ rating }} = 2
        when {{ scale_points }} = 3 then {{ rating }} = 3
        else {{ csat_is_satisfied(rating) }}
    end
{%- endmacro %}

{% macro csat(satisfied, answered) -%}
    case
        when {{ answered }} > 0 then cast(100 * cast({{ satisfied }} as double) / {{ answered }} as double)
    end
{%- endmacro %}

{% macro csat_ci_low(satisfied, answered) -%}
    {{ _csat_ci_bound(satisfied, answered, '-') }}
{%- endmacro %}

{% macro csat_ci_high(satisfied, answered) -%}
    {{ _csat_ci_bound(satisfied, answered, '+') }}
{%- endmacro %}

{% macro _csat_ci_bound(satisfied, answered, sign) -%}
    {#- In doubles from the start: a decimal literal would make Spark compute in decimals of limited scale. -#}
    {%- set n_adj = '(cast(' ~ answered ~ ' as double) + 4.0)' -%}
    {%- set p_adj = '((cast(' ~ satisfied ~ ' as double) + 2.0) / ' ~ n_adj ~ ')' -%}
    case
        when {{ answered }} > 0
            then cast(
                greatest(0.0, least(100.0,
                    100.0 * ({{ p_adj }} {{ sign }} 1.96 * sqrt({{ p_adj }} * (1.0 - {{ p_adj }}) / {{ n_adj }}))
                ))
                as double
            )
    end
{%- endmacro %}
