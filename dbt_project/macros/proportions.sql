{#-
    One bound of the 95% Wald interval of a difference of two proportions p1 - p0 (n1 and n0 trials):
    p1 - p0 + sign * 1.959963984540054 * sqrt(p1 (1 - p1) / n1 + p0 (1 - p0) / n0), clipped to [-1, 1]; null unless
    both n1 and n0 are above 0. survey_funnel.reminder_lift_ci_low/high; analytics/significance.py tests an NPS
    change the same way (normal approximation of the difference).
-#}
{% macro proportion_difference_interval(p1, n1, p0, n0, sign) -%}
    case
        when ({{ n1 }}) > 0 and ({{ n0 }}) > 0
            then cast(
                {{ 'greatest(-1.0, ' if sign < 0 else 'least(1.0, ' }}
                    ({{ p1 }}) - ({{ p0 }})
                    {{ '-' if sign < 0 else '+' }} 1.959963984540054 * sqrt(
                        ({{ p1 }}) * (1 - ({{ p1 }})) / ({{ n1 }}) + ({{ p0 }}) * (1 - ({{ p0 }})) / ({{ n0 }})
                    )
                ) as double
            )
    end
{%- endmacro %}
