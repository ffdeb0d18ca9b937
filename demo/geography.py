"""Countries the demo's customers sit in: currency, time zone, locale and a few real cities."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimeZone:
    zendesk: str  # Zendesk's (Rails) name
    iana: str
    utc_offset_hours: float  # standard time; only used to place activity in local working hours


@dataclass(frozen=True)
class City:
    name: str
    state: str | None
    postal_pattern: str  # '#' = digit, '@' = capital letter


@dataclass(frozen=True)
class Country:
    code: str
    weight: float
    currencies: tuple[tuple[str, float], ...]
    time_zones: tuple[TimeZone, ...]
    locale: str  # Zendesk / Segment locale
    zendesk_locale_id: int
    language: str  # Stripe preferred_locales
    tld: str
    legal_suffixes: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[City, ...]
    phone_prefix: str


_EASTERN = TimeZone("Eastern Time (US & Canada)", "America/New_York", -5)
_CENTRAL = TimeZone("Central Time (US & Canada)", "America/Chicago", -6)
_MOUNTAIN = TimeZone("Mountain Time (US & Canada)", "America/Denver", -7)
_PACIFIC = TimeZone("Pacific Time (US & Canada)", "America/Los_Angeles", -8)

# Positional fields, in order: code, weight, currencies, time zones, locale, Zendesk locale id, language,
# top-level domain, legal suffixes, streets, cities, phone prefix.
COUNTRIES: tuple[Country, ...] = (
    Country(
        "US",
        0.42,
        (("usd", 1.0),),
        (_EASTERN, _EASTERN, _CENTRAL, _MOUNTAIN, _PACIFIC, _PACIFIC),
        "en-US",
        1,
        "en",
        "com",
        ("Inc.", "LLC", "Corp."),
        ("Market Street", "Main Street", "Broadway", "Congress Avenue", "Pine Street", "Elm Street"),
        (
            City("San Francisco", "CA", "941##"),
            City("New York", "NY", "100##"),
            City("Austin", "TX", "787##"),
            City("Chicago", "IL", "606##"),
            City("Seattle", "WA", "981##"),
            City("Boston", "MA", "021##"),
            City("Denver", "CO", "802##"),
            City("Atlanta", "GA", "303##"),
        ),
        "+1",
    ),
    Country(
        "CA",
        0.06,
        (("usd", 1.0),),
        (_EASTERN, _PACIFIC),
        "en-US",
        1,
        "en",
        "ca",
        ("Inc.", "Ltd."),
        ("King Street West", "Rue Sainte-Catherine", "Granville Street"),
        (City("Toronto", "ON", "M5V @#@"), City("Montreal", "QC", "H2X @#@"), City("Vancouver", "BC", "V6B @#@")),
        "+1",
    ),
    Country(
        "GB",
        0.10,
        (("gbp", 0.85), ("usd", 0.15)),
        (TimeZone("London", "Europe/London", 0),),
        "en-GB",
        1176,
        "en",
        "co.uk",
        ("Ltd", "Limited", "plc"),
        ("High Street", "Old Street", "Deansgate", "Shoreditch High Street"),
        (City("London", None, "EC1V #@@"), City("Manchester", None, "M1 #@@"), City("Bristol", None, "BS1 #@@")),
        "+44",
    ),
    Country(
        "DE",
        0.08,
        (("eur", 0.9), ("usd", 0.1)),
        (TimeZone("Berlin", "Europe/Berlin", 1),),
        "de",
        8,
        "de",
        "de",
        ("GmbH", "AG", "GmbH & Co. KG"),
        ("Friedrichstrasse", "Torstrasse", "Maximilianstrasse", "Koenigsallee"),
        (City("Berlin", None, "10###"), City("Munich", None, "80###"), City("Hamburg", None, "20###")),
        "+49",
    ),
    Country(
        "FR",
        0.06,
        (("eur", 0.95), ("usd", 0.05)),
        (TimeZone("Paris", "Europe/Paris", 1),),
        "fr",
        16,
        "fr",
        "fr",
        ("SAS", "SARL", "SA"),
        ("Rue de Rivoli", "Boulevard Haussmann", "Rue du Faubourg Saint-Antoine"),
        (City("Paris", None, "750##"), City("Lyon", None, "6900#"), City("Bordeaux", None, "3300#")),
        "+33",
    ),
    Country(
        "NL",
        0.04,
        (("eur", 0.9), ("usd", 0.1)),
        (TimeZone("Amsterdam", "Europe/Amsterdam", 1),),
        "nl",
        9,
        "nl",
        "nl",
        ("B.V.", "N.V."),
        ("Herengracht", "Keizersgracht", "Coolsingel"),
        (City("Amsterdam", None, "10## @@"), City("Rotterdam", None, "30## @@"), City("Utrecht", None, "35## @@")),
        "+31",
    ),
    Country(
        "ES",
        0.03,
        (("eur", 1.0),),
        (TimeZone("Madrid", "Europe/Madrid", 1),),
        "es",
        2,
        "es",
        "es",
        ("S.L.", "S.A."),
        ("Calle de Alcala", "Passeig de Gracia", "Gran Via"),
        (City("Madrid", None, "280##"), City("Barcelona", None, "080##"), City("Valencia", None, "460##")),
        "+34",
    ),
    Country(
        "AU",
        0.05,
        (("usd", 1.0),),
        (TimeZone("Sydney", "Australia/Sydney", 10),),
        "en-AU",
        1387,
        "en",
        "com.au",
        ("Pty Ltd",),
        ("George Street", "Collins Street", "Queen Street"),
        (City("Sydney", "NSW", "2000"), City("Melbourne", "VIC", "3000"), City("Brisbane", "QLD", "4000")),
        "+61",
    ),
    Country(
        "JP",
        0.03,
        (("usd", 1.0),),
        (TimeZone("Tokyo", "Asia/Tokyo", 9),),
        "ja",
        67,
        "ja",
        "co.jp",
        ("K.K.", "G.K."),
        ("Marunouchi", "Shibuya", "Roppongi"),
        (City("Tokyo", None, "100-####"), City("Osaka", None, "530-####")),
        "+81",
    ),
    Country(
        "SG",
        0.02,
        (("usd", 1.0),),
        (TimeZone("Singapore", "Asia/Singapore", 8),),
        "en-US",
        1,
        "en",
        "com.sg",
        ("Pte. Ltd.",),
        ("Robinson Road", "Cecil Street", "Raffles Place"),
        (City("Singapore", None, "0####"),),
        "+65",
    ),
    Country(
        "BR",
        0.04,
        (("usd", 1.0),),
        (TimeZone("Brasilia", "America/Sao_Paulo", -3),),
        "pt-BR",
        19,
        "pt",
        "com.br",
        ("Ltda.", "S.A."),
        ("Avenida Paulista", "Rua Oscar Freire", "Avenida Atlantica"),
        (City("Sao Paulo", "SP", "01###-###"), City("Rio de Janeiro", "RJ", "20###-###")),
        "+55",
    ),
    Country(
        "MX",
        0.02,
        (("usd", 1.0),),
        (TimeZone("Mexico City", "America/Mexico_City", -6),),
        "es-419",
        1256,
        "es",
        "com.mx",
        ("S.A. de C.V.",),
        ("Paseo de la Reforma", "Avenida Insurgentes Sur"),
        (City("Mexico City", "CDMX", "06###"), City("Guadalajara", "JAL", "44###")),
        "+52",
    ),
    Country(
        "IN",
        0.05,
        (("usd", 1.0),),
        (TimeZone("Chennai", "Asia/Kolkata", 5.5),),
        "en-US",
        1,
        "en",
        "in",
        ("Pvt. Ltd.", "Technologies Pvt. Ltd."),
        ("MG Road", "Residency Road", "Outer Ring Road"),
        (City("Bengaluru", "KA", "560###"), City("Mumbai", "MH", "400###"), City("Pune", "MH", "411###")),
        "+91",
    ),
)
