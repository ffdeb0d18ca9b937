"""The minor unit of every currency Stripe amounts can be in: ISO 4217's table, with Stripe's documented exceptions.

Stripe sends amounts as whole numbers in the currency's minor unit (https://docs.stripe.com/currencies#minor-units).
The exponent of each code comes from ISO 4217's list (the `iso4217` package, which tracks the maintenance agency's
amendments); Stripe departs from it for two currencies:
- MGA is zero-decimal in Stripe's API (https://docs.stripe.com/currencies#zero-decimal), two-decimal in ISO 4217;
- ISK is two-decimal in Stripe's API "for backwards compatibility" (an amount of 100 is 1 krona;
  https://docs.stripe.com/currencies#special-cases), zero-decimal in ISO 4217.
Codes without a minor unit (gold, SDRs, test codes) are not currencies an amount can be in.
"""

from iso4217 import Currency

ISO_4217_MINOR_UNITS = {c.code.lower(): c.exponent for c in Currency if c.exponent is not None}
STRIPE_EXCEPTIONS = {"mga": 0, "isk": 2}
STRIPE_MINOR_UNITS = {**ISO_4217_MINOR_UNITS, **STRIPE_EXCEPTIONS}
