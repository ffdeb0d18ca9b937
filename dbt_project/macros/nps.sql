{#-
    The NPS metric definition, in one place.

    Category of a 0-10 answer: promoter 9-10, passive 7-8, detractor 0-6 (null outside 0-10).
    NPS = 100 * (promoters - detractors) / responses, from -100 to +100.

    95% interval: adjusted Wald for the difference of two multinomial proportions
    (add 3 pseudo-responses: 0.75 promoter, 0.75 detractor, 1.5 passive):
        n' = n + 3
        p' = (promoters + 0.75) / n'
        d' = (detractors + 0.75) / n'
        centre = p' - d'
        se = sqrt((p' + d' - (p' - d')^2) / n')
        bounds = 100 * (centre -/+ 1.96 * se), clipped to [-100, 100]
    Null when there are no responses.
-#}

{% macro nps_category(score) -%}
    case
        when {{ score }} between 9 and 10 then 'promoter'
        when {{ score }} between 7 and 8 then 'passive'
        when {{ score }} between 0 and 6 then 'detractor'
    end
{%- endmacro %}

{% macro nps(promoters, detractors, responses) -%}
    case
        when {{ responses }} > 0
            then cast(100 * cast({{ promoters }} - {{ detractors }} as double) / {{ responses }} as double)
    end
{%- endmacro %}

{% macro nps_ci_low(promoters, detractors, responses) -%}
    {{ _nps_ci_bound(promoters, detractors, responses, '-') }}
{%- endmacro %}

{% macro nps_ci_high(promoters, detractors, responses) -%}
    {{ _nps_ci_bound(promoters, detractors, responses, '+') }}
{%- endmacro %}

{% macro _nps_ci_bound(promoters, detractors, responses, sign) -%}
    {#- In doubles from the start: a decimal literal would make Spark compute in decimals of limited scale. -#}
    {%- set n_adj = '(cast(' ~ responses ~ ' as double) + 3.0)' -%}
    {%- set p_adj = '((cast(' ~ promoters ~ ' as double) + 0.75) / ' ~ n_adj ~ ')' -%}
    {%- set d_adj = '((cast(' ~ detractors ~ ' as double) + 0.75) / ' ~ n_adj ~ ')' -%}
    case
        when {{ responses }} > 0
            then cast(
                greatest(-100.0, least(100.0,
                    100.0 * (
                        ({{ p_adj }} - {{ d_adj }})
                        {{ sign }} 1.96 * sqrt(
                            ({{ p_adj }} + {{ d_adj }} - ({{ p_adj }} - {{ d_adj }}) * ({{ p_adj }} - {{ d_adj }}))
                            / {{ n_adj }}
                        )
                    )
                ))
                as double
            )
    end
{%- endmacro %}
