"""Deterministic demo data: a year of a B2B SaaS company's vendor data, with planted effects to find.

    from demo import DemoConfig, generate
    counts = generate(Path("landing"), DemoConfig(accounts=2000, months=12, seed=42))

Writes Stripe, Zendesk, Typeform, survey-tool and Segment landing files in the vendors' own shapes.
The same config always produces byte-identical files.
"""

from demo.config import DemoConfig
from demo.generator import generate

__all__ = ["DemoConfig", "generate"]
