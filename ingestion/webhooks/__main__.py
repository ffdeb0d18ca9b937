"""`python -m ingestion.webhooks`: run the Typeform webhook receiver (see docs/webhooks.md)."""

import sys

from ingestion.webhooks.server import main

sys.exit(main())
