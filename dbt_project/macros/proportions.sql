{#-
    A proportion's 95% interval and the interval of a difference of two proportions, in one place.

    Wilson score interval of successes / trials (z = 1.959964, the 97.5% normal quantile, as statsmodels):
        p = successes / trials
        centre = (p + z^2 / (2 n)) / (1 + z^2 / n)
        half   = z * sqrt(p (1 - p) / n + z^2 / (4 n^2)) / (1 + z^2 / n)
        bounds = centre -/+ half (within [0, 1] by construction); null when trials = 0.
    Difference p1 - p2 of two independent proportions: Newcombe's hybrid score interval (his method 10), from the
    Wilson bounds (l1, u1) and (l2, u2) of each:
        low  = (p1 - p2) - sqrt((p1 - l1)^2 + (u2 - p2)^2)
        high = (p1 - p2) + sqrt((u1 - p1)^2 + (p2 - l2)^2)
    Null when either group has no trials. (statsmodels: proportion_confint(method='wilson'); Newcombe 1998.)
-#}

{% macro wilson_bound(successes, trials, sign) -%}
    {%- set z = '1.959963984540054' -%}
    {%- set z2 = '3.841458820694124' -%}
    {%- set n = '(cast(' ~ trials ~ ' as double))' -%}
    {%- set p = '(cast(' ~ successes ~ ' as double) / ' ~ n ~ ')' -%}
    case
        when {{ trials }} > 0
            then cast(
                (
                    {{ p }} + {{ z2 }} / (2.0 * {{ n }})
                    {{ sign }} {{ z }} * sqrt({{ p }} * (1.0 - {{ p }}) / {{ n }} + {{ z2 }} / (4.0 * {{ n }} * {{ n }}))
                )
                / (1.0 + {{ z2 }} / {{ n }})
                as double
            )
    end
{%- endmacro %}

{% macro wilson_low(successes, trials) -%}
    {{ wilson_bound(successes, trials, '-') }}
{%- endmacro %}

{% macro wilson_high(successes, trials) -%}
    {{ wilson_bound(successes, trials, '+') }}
{%- endmacro %}

{#- Bounds of p1 - p2 (sign '-': low, '+': high) from columns holding each proportion and its Wilson bounds. -#}
{% macro newcombe_difference_bound(p1, low1, high1, p2, low2, high2, sign) -%}
    cast(
        {%- if sign == '-' %}
            ({{ p1 }} - {{ p2 }})
            - sqrt(({{ p1 }} - {{ low1 }}) * ({{ p1 }} - {{ low1 }}) + ({{ high2 }} - {{ p2 }}) * ({{ high2 }} - {{ p2 }}))
        {%- else %}
            ({{ p1 }} - {{ p2 }})
            + sqrt(({{ high1 }} - {{ p1 }}) * ({{ high1 }} - {{ p1 }}) + ({{ p2 }} - {{ low2 }}) * ({{ p2 }} - {{ low2 }}))
        {%- endif %}
        as double
    )
{%- endmacro %}

{#-
    One bound of the 95% Agresti-Caffo interval of a difference of two proportions, x1 of n1 against x0 of n0: add
    one success and one failure to each group, p1' = (x1 + 1) / (n1 + 2), p0' = (x0 + 1) / (n0 + 2), bounds
    p1' - p0' -/+ 1.959963984540054 * sqrt(p1' (1 - p1') / (n1 + 2) + p0' (1 - p0') / (n0 + 2)), clipped to [-1, 1];
    null unless n1 and n0 are above 0. Plain Wald would give an interval of width 0 when neither group answers;
    this one keeps its coverage with a few dozen sends a group (Agresti and Caffo, 2000), as the adjusted Wald NPS
    interval (macros/nps.sql) and the Agresti-Coull CSAT interval (macros/csat.sql) do. sign: -1 low, 1 high.
    survey_funnel.reminder_lift_ci_low/high.
-#}
{% macro proportion_difference_interval(x1, n1, x0, n0, sign) -%}
    {%- set p1 = '(cast(' ~ x1 ~ ' as double) + 1) / (' ~ n1 ~ ' + 2)' -%}
    {%- set p0 = '(cast(' ~ x0 ~ ' as double) + 1) / (' ~ n0 ~ ' + 2)' -%}
    case
        when ({{ n1 }}) > 0 and ({{ n0 }}) > 0
            then cast(
                {{ 'greatest(-1.0, ' if sign < 0 else 'least(1.0, ' }}
                    {{ p1 }} - {{ p0 }}
                    {{ '-' if sign < 0 else '+' }} 1.959963984540054 * sqrt(
                        {{ p1 }} * (1 - {{ p1 }}) / ({{ n1 }} + 2) + {{ p0 }} * (1 - {{ p0 }}) / ({{ n0 }} + 2)
                    )
                ) as double
            )
    end
{%- endmacro %}
