"""Alert on every failed run of this code location (freshness checks included: they fail their run)."""

import re
from typing import TYPE_CHECKING

import dagster as dg

# Dagster 1.13 has no public name for the tag its run retries set (`dagster/will_retry`): importing Dagster's own
# constant keeps this check in step with Dagster rather than with a copy of the string.
from dagster._core.storage.tags import WILL_RETRY_TAG

import settings
from outbound.slack import run_failure_text, send_alert

# No public name for the error data Dagster records either; only the annotation needs it.
if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo


def error_line(error: "SerializableErrorInfo") -> str:
    """The first line of an error, as `ClassName: message`."""
    # Dagster wraps what user code raised; the cause is the error a reader can act on.
    if error.cls_name == dg.DagsterExecutionStepExecutionError.__name__ and error.cause:
        error = error.cause
    lines = [line.strip() for line in error.message.splitlines() if line.strip()] or [error.cls_name]
    # "N landing file(s) ... could not be loaded:" and "N blocking asset checks failed ...:" only announce
    # the details: keep the first detail too.
    line = f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    return re.sub(r"^(?:\w+\.)+(?=\w+: )", "", line)  # "dagster._core....Failure: x" -> "Failure: x"


@dg.run_failure_sensor(
    name="run_failure_alert",
    description="Sends each failed run to Slack (NPS_SLACK_WEBHOOK_URL) or to the `nps_platform.alerts` log.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    # dagster.yaml retries a failed run once: alert on the last attempt, not on one about to be retried.
    if run.tags.get(WILL_RETRY_TAG) == "true":
        context.log.info(f"Run {run.run_id} will be retried; no alert.")
        return
    step_failures = context.get_step_failure_events()
    if step_failures:
        error_info = step_failures[0].step_failure_data.error
    else:  # the run failed outside any step (run worker lost, resource or plan error)
        error_info = getattr(context.failure_event.event_specific_data, "error", None)
    error = error_line(error_info) if error_info else context.failure_event.message or "no error recorded"
    steps = [event.step_key for event in step_failures if event.step_key]
    send_alert(run_failure_text(run.job_name, run.run_id, steps, error, settings.value("NPS_DAGSTER_URL") or ""))
