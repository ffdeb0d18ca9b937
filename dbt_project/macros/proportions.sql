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
