"""Failure alerts: a Slack incoming webhook when `NPS_SLACK_WEBHOOK_URL` is set, one log line otherwise."""

import logging
import os
from collections.abc import Sequence

from slack_sdk.webhook import WebhookClient

WEBHOOK_URL_VARIABLE = "NPS_SLACK_WEBHOOK_URL"
SLACK_TIMEOUT_SECONDS = 10

logger = logging.getLogger("nps_platform.alerts")

# slack_sdk logs the full request URL (the webhook URL is a secret) at DEBUG, and at INFO when it retries;
# its own error line duplicates ours. Handing it a logger that only passes CRITICAL keeps the URL out of logs.
_slack_sdk_logger = logging.getLogger("nps_platform.alerts.slack_sdk")
_slack_sdk_logger.setLevel(logging.CRITICAL)


def run_failure_text(job_name: str, run_id: str, failed_steps: Sequence[str], error: str) -> str:
    """One line, so the log fallback stays one line too; the run link is a path of the Dagster UI."""
    steps = ", ".join(failed_steps) or "none (the run failed outside a step)"
    return f"Run failed: job {job_name}, run {run_id}, failed step(s): {steps}. Error: {error} (/runs/{run_id})"


def send_alert(text: str) -> None:
    """Post `text` to the Slack webhook if one is configured, else log it. Never raises on a delivery problem:
    an alert that cannot be delivered is logged with its text, so it is not lost."""
    # Read at call time: the variable can be set or rotated without reloading the code location.
    url = os.environ.get(WEBHOOK_URL_VARIABLE, "").strip()
    if not url:
        logger.error(text)
        return
    client = WebhookClient(url, timeout=SLACK_TIMEOUT_SECONDS, logger=_slack_sdk_logger)
    try:
        response = client.send(text=text)
    except Exception as error:  # a network error, a timeout, a malformed URL
        # Some exception messages quote the URL (e.g. "unknown url type: ..."): redact it.
        reason = str(error).replace(url, "<webhook url>")
        logger.error("Slack webhook not reached (%s: %s); alert: %s", type(error).__name__, reason, text)
        return
    if response.status_code != 200:
        logger.error("Slack webhook answered %s %r; alert: %s", response.status_code, response.body, text)
