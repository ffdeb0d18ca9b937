"""Every setting the platform reads from the environment, in one place: one default each, read when used.

Nothing here (or anywhere in the platform) reads the environment at import time: each function reads its variable
when it is called, so a variable can be set or changed without reloading the code. `SETTINGS` is the table of
every variable with its default and meaning; docs/configuration.md is generated from it
(`python -m settings docs`), and a test fails when any module reads an `NPS_*` variable that is not in it.

The vendor API settings (`NPS_<SOURCE>_*`) are read by `ingestion/api/settings.py` through the same table: their
per-vendor defaults and the credentials each vendor needs are documented in docs/api_sources.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    meaning: str
    secret: bool = False


def _settings(*rows: tuple) -> dict[str, Setting]:
    return {row[0]: Setting(*row) for row in rows}


# name, default (None: unset unless given), meaning, secret. Relative paths are taken from the repository root.
SETTINGS: dict[str, Setting] = _settings(
    # Where things are
    ("NPS_DUCKDB_PATH", "data/warehouse.duckdb", "the DuckDB warehouse file (Dagster and dbt open the same one)"),
    ("NPS_LANDING_DIR", "data/landing", "the landing folder (`<source>/<entity>/<YYYY-MM-DD>.<ext>`)"),
    ("NPS_SERVING_PATH", None, "the serving file BI tools open; default `serving.duckdb` beside the warehouse"),
    ("NPS_PARQUET_DIR", None, "the Parquet copy of the marts; default `parquet/` beside the warehouse"),
    ("NPS_REPORTS_DIR", None, "the HTML reports; default `reports/` beside the warehouse"),
    ("NPS_ALERTS_LOG", None, "where alerts go when no Slack URL is set; default `alerts.log` beside the warehouse"),
    # The run
    ("NPS_DBT_TARGET", "duckdb", "the dbt target: `duckdb`, `motherduck`, `spark` or `spark_thrift`"),
    (
        "NPS_DBT_MIN_DATE",
        None,
        "first day (ISO date) of the partition window a dbt command builds; Dagster sets it for the dbt step of a "
        "partitioned run, unset is a full build; `--vars '{\"min_date\": ...}'` by hand does the same and wins "
        "(orchestration/defs/dbt/parse.py says why Dagster uses the variable)",
    ),
    ("NPS_DBT_MAX_DATE", None, "last day (ISO date) of that window, with NPS_DBT_MIN_DATE"),
    (
        "NPS_PARTITIONS_START",
        None,
        "first daily partition (ISO date); default the earliest landing file (none yet: 1 January two years back)",
    ),
    ("NPS_THEME_ESCALATION_MIN_DETRACTORS", "10", "detractors a theme needs in a month to become a Jira issue"),
    ("NPS_FIX_TARGET_DAYS", "30", "days to fix an escalated theme's Jira issue (`feedback_to_feature` target)"),
    (
        "NPS_CHANGE_MIN_RESPONSES",
        "30",
        "NPS responses each period needs before `nps_changes` calls a change significant (the normal approximation)",
    ),
    # People and tools
    ("NPS_DAGSTER_URL", "http://127.0.0.1:3000", "the Dagster UI's base URL, for the run links of failure alerts"),
    ("NPS_SLACK_WEBHOOK_URL", None, "Slack incoming webhook for alerts, the digest and run failures", True),
    ("NPS_JIRA_URL", None, "Jira base URL (`https://acme.atlassian.net`); unset: escalations are a dry run"),
    ("NPS_JIRA_EMAIL", None, "the Jira user who owns the API token"),
    ("NPS_JIRA_API_TOKEN", None, "a Jira API token", True),
    ("NPS_JIRA_PROJECT_KEY", None, "the Jira project escalations are filed in"),
    ("NPS_JIRA_ISSUE_TYPE", "Task", "the Jira issue type of an escalation"),
    # Follow-up cases in Zendesk (docs/alerts.md): the Zendesk site, e-mail and token are the connector's, below
    (
        "NPS_FOLLOWUP_CASES_LIVE",
        "false",
        "`true`: create the Zendesk follow-up cases (NPS_ZENDESK_SUBDOMAIN or _API_URL, _EMAIL, _API_TOKEN); "
        "`false`: record each ticket body as a dry run",
    ),
    (
        "NPS_FOLLOWUP_CASES_CATEGORIES",
        "detractor",
        "who gets a follow-up case: `detractor`, `passive`, comma-separated",
    ),
    (
        "NPS_FOLLOWUP_CASES_LOOKBACK_DAYS",
        "7",
        "only responses of the last N days before now get a case (going live opens none for older history)",
    ),
    ("NPS_FOLLOWUP_CASES_MAX_PER_RUN", "50", "follow-up cases created per run at most; the rest go on the next run"),
    (
        "NPS_FOLLOWUP_CASES_RESPONSE_FIELD_ID",
        None,
        "the Zendesk ticket field that gets the response id (dbt var zendesk_nps_response_field_id); unset: none",
    ),
    # Action lists in the outbox (docs/alerts.md#action-lists-in-the-outbox)
    ("NPS_OUTBOX_DIR", None, "the action lists' CSV files; default `outbox/` beside the warehouse"),
    (
        "NPS_ACTION_LISTS_LOOKBACK_DAYS",
        "7",
        "the promoter and at-risk lists cover the last N days of data (going live lists none of the history)",
    ),
    (
        "NPS_PROMOTER_LIST_REFERRAL",
        "false",
        "`true`: flag promoters to ask for a referral or review (score 10, account not in the high risk tier)",
    ),
    # Survey send lists in the outbox (docs/alerts.md#survey-send-lists)
    (
        "NPS_SEND_LISTS_LIVE",
        "false",
        "`true`: write the survey tools' import files to `send_lists/<tool>/`; `false`: a dry run in "
        "`send_lists/dry_run/<tool>/` that never blocks a later live list",
    ),
    (
        "NPS_SEND_LISTS_TOOLS",
        "delighted,simplesat,typeform",
        "the survey tools whose send lists are written (comma-separated; seed survey_send_rules says which tool "
        "sends each survey)",
    ),
    (
        "NPS_SEND_LISTS_TYPEFORM_URL",
        None,
        "the Typeform form URL (`https://acme.typeform.com/to/abc123`) the Typeform list links to, with hidden "
        "fields; unset: the link column is empty",
    ),
    # The webhook receiver (docs/webhooks.md)
    ("NPS_TYPEFORM_WEBHOOK_SECRET", None, "the Typeform webhook's signing secret (required by the receiver)", True),
    ("NPS_WEBHOOK_HOST", "127.0.0.1", "the address the receiver listens on"),
    ("NPS_WEBHOOK_PORT", "8787", "the receiver's port (0: any free one)"),
    ("NPS_WEBHOOK_MAX_BODY_BYTES", "1048576", "larger webhook bodies are refused with 413"),
    ("NPS_WEBHOOK_STATE_DIR", None, "the receiver's event ledger and refused events; default `<landing>/_webhooks`"),
    ("NPS_WEBHOOK_DELIGHTED", "false", "also receive Delighted webhooks (signed with NPS_DELIGHTED_API_KEY)"),
    # Vendor APIs and object storage (docs/api_sources.md)
    (
        "NPS_SOURCE_MODE",
        "file",
        "every source's mode: `file`, `api` (Typeform, SimpleSAT, Delighted, Zendesk, Stripe) or `s3` (Segment)",
    ),
    ("NPS_SOURCE_MODE_<SOURCE>", None, "one source's mode; overrides NPS_SOURCE_MODE"),
    ("NPS_API_STATE_DIR", None, "API cursors, mirrors and locks; default `<landing>/_api`"),
    ("NPS_API_MAX_ATTEMPTS", "5", "attempts per API request (429, 5xx, connection errors)"),
    ("NPS_API_BACKOFF_SECONDS", "1", "exponential back-off factor between attempts"),
    ("NPS_API_MAX_RETRY_DELAY_SECONDS", "300", "the longest wait between attempts, `Retry-After` included"),
    ("NPS_API_TIMEOUT_SECONDS", "60", "per API request"),
    ("NPS_API_LOOKBACK_SECONDS", "0", "re-read this many seconds before each cursor"),
    ("NPS_<SOURCE>_REQUESTS_PER_MINUTE", None, "client-side request spacing; default per vendor"),
    ("NPS_<SOURCE>_PAGE_SIZE", None, "page size; default the vendor's maximum"),
    ("NPS_<SOURCE>_START", None, "ISO date or time a first fetch starts from; default everything"),
    ("NPS_TYPEFORM_TOKEN", None, "Typeform personal access token (Responses: Read)", True),
    ("NPS_TYPEFORM_FORM_IDS", None, "the Typeform forms to pull, comma-separated"),
    ("NPS_TYPEFORM_API_URL", "https://api.typeform.com", "Typeform API base URL"),
    ("NPS_ZENDESK_SUBDOMAIN", None, "`acme` for acme.zendesk.com"),
    ("NPS_ZENDESK_API_URL", None, "Zendesk API base URL instead of the subdomain"),
    ("NPS_ZENDESK_EMAIL", None, "the Zendesk agent who owns the API token"),
    ("NPS_ZENDESK_API_TOKEN", None, "a Zendesk API token", True),
    ("NPS_STRIPE_API_KEY", None, "a Stripe restricted (read) or secret key", True),
    ("NPS_STRIPE_API_URL", "https://api.stripe.com", "Stripe API base URL"),
    ("NPS_STRIPE_EVENTS", "true", "read Stripe changes from the Events API"),
    (
        "NPS_STRIPE_API_VERSION",
        "2025-09-30.clover",
        "Stripe-Version header of every request; `account`: none (the account default)",
    ),
    ("NPS_SIMPLESAT_API_KEY", None, "the SimpleSAT API key (header X-Simplesat-Token)", True),
    ("NPS_SIMPLESAT_API_URL", "https://api.simplesat.io", "SimpleSAT API base URL"),
    ("NPS_SIMPLESAT_WINDOW_DAYS", "30", "days per date window of a SimpleSAT search (first sync, backfill)"),
    ("NPS_SIMPLESAT_POLL_SECONDS", "120", "seconds between two polls of SimpleSAT for changed responses (API mode)"),
    ("NPS_DELIGHTED_API_KEY", None, "the Delighted API key (HTTP Basic user, empty password)", True),
    ("NPS_DELIGHTED_API_URL", "https://api.delighted.com/v1", "Delighted API base URL (with the version)"),
    ("NPS_<SOURCE>_S3_URL", None, "`s3://bucket/prefix` of the source's S3 destination (mode `s3`; Segment)"),
    ("NPS_S3_ENDPOINT", None, "an S3-compatible endpoint (MinIO, R2); default AWS"),
    ("NPS_S3_REGION", None, "the bucket's region; default AWS_REGION, else us-east-1"),
    ("NPS_S3_URL_STYLE", None, "`path` or `vhost`; default `path` with an endpoint, else `vhost`"),
    ("NPS_S3_USE_SSL", None, "HTTPS to the endpoint; default true, false for an `http://` endpoint"),
    ("NPS_S3_BACKEND", "auto", "`auto`, `httpfs` (DuckDB's extension) or `s3fs`"),
    ("NPS_DUCKDB_HTTPFS_EXTENSION", None, "path of a local httpfs extension file to load"),
    # Other engines (dbt_project/profiles.yml)
    ("NPS_MOTHERDUCK_DATABASE", "nps_platform", "the MotherDuck database (target `motherduck`)"),
    ("NPS_SPARK_DIR", "data/spark", "local Spark metastore, warehouse and raw Parquet (target `spark`)"),
    ("NPS_SPARK_MASTER", "local[2]", "the Spark master of the local session"),
    (
        "NPS_LAKE_DIR",
        None,
        "Spark mode: the lake folder the raw layer lands in as Parquet "
        "(`raw/<schema>/<table>/_partition_date=<day>/`); default `lake/` in NPS_SPARK_DIR",
    ),
    ("NPS_SPARK_SCHEMA", "default", "the Spark schema dbt builds in"),
    ("NPS_SPARK_METHOD", "thrift", "how dbt reaches a Spark cluster (target `spark_thrift`)"),
    ("NPS_SPARK_HOST", "localhost", "the Spark Thrift server"),
    ("NPS_SPARK_PORT", "10000", "the Spark Thrift server's port"),
    ("NPS_SPARK_USER", None, "the Spark user"),
    ("NPS_SPARK_TOKEN", None, "the Spark (Databricks) token", True),
    ("NPS_SPARK_CLUSTER", None, "the Databricks cluster id"),
)


def value(name: str) -> str | None:
    """The variable's value (surrounding blanks removed), else its default from `SETTINGS`."""
    raw = os.environ.get(name, "").strip()
    return raw or SETTINGS[_registered(name)].default


def _registered(name: str) -> str:
    if name in SETTINGS:
        return name
    for pattern in SETTINGS:
        prefix, _, suffix = pattern.partition("<SOURCE>")
        if _ and name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix) + len(suffix):
            return pattern
    raise KeyError(f"{name} is not a setting of the platform (settings.SETTINGS)")


# ----------------------------------------------------------------------------------------------- where things are


def absolute(value: str | Path) -> Path:
    """A path from a setting: `~` expanded, relative paths taken from the repository root."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def duckdb_path() -> Path:
    return absolute(value("NPS_DUCKDB_PATH"))


def landing_dir() -> Path:
    return absolute(value("NPS_LANDING_DIR"))


def _beside_warehouse(name: str, default_name: str, warehouse: Path | None) -> Path:
    configured = value(name)
    if configured:
        return absolute(configured)
    return (absolute(warehouse) if warehouse else duckdb_path()).parent / default_name


def serving_path(warehouse: Path | None = None) -> Path:
    """By default beside the warehouse, so a warehouse elsewhere (a test's) never publishes into data/."""
    return _beside_warehouse("NPS_SERVING_PATH", "serving.duckdb", warehouse)


def parquet_dir(warehouse: Path | None = None) -> Path:
    return _beside_warehouse("NPS_PARQUET_DIR", "parquet", warehouse)


def reports_dir(warehouse: Path | None = None) -> Path:
    return _beside_warehouse("NPS_REPORTS_DIR", "reports", warehouse)


def alerts_log(warehouse: Path | None = None) -> Path:
    """Each warehouse keeps its own ledger and log, so the log sits beside it unless configured."""
    return _beside_warehouse("NPS_ALERTS_LOG", "alerts.log", warehouse)


def outbox_dir(warehouse: Path | None = None) -> Path:
    return _beside_warehouse("NPS_OUTBOX_DIR", "outbox", warehouse)


def spark_dir() -> Path:
    return absolute(value("NPS_SPARK_DIR"))


def lake_dir() -> Path:
    configured = value("NPS_LAKE_DIR")
    return absolute(configured) if configured else spark_dir() / "lake"


def export_defaults() -> None:
    """Set the paths dbt reads (dbt_project/profiles.yml) to absolute values, so the orchestrator and dbt, which
    runs from dbt_project/, open the same files. Called by the entry points (the CLI, the definitions), never at
    import."""
    os.environ["NPS_DUCKDB_PATH"] = str(duckdb_path())
    os.environ["NPS_LANDING_DIR"] = str(landing_dir())
    os.environ["NPS_SPARK_DIR"] = str(spark_dir())


# --------------------------------------------------------------------------------------------------------- the run


def dbt_target() -> str:
    return value("NPS_DBT_TARGET") or "duckdb"


# The dbt targets whose engine is Spark: the raw layer goes to the lake, the Python marts and serving read Spark.
SPARK_TARGETS = ("spark", "spark_thrift")


def engine() -> str:
    """`spark` when the dbt target is a Spark one, else `duckdb` (MotherDuck included): the one switch of the run."""
    return "spark" if dbt_target() in SPARK_TARGETS else "duckdb"


def whole_number(name: str, *, minimum: int = 0) -> int:
    """A whole-number setting; a clear error naming the variable otherwise."""
    raw = value(name) or ""
    if not raw.isdigit() or int(raw) < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, not {raw!r}")
    return int(raw)


def markdown_table() -> str:
    """The table of docs/configuration.md."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for setting in SETTINGS.values():
        default = f"`{setting.default}`" if setting.default is not None else "(unset)"
        meaning = setting.meaning + (". **Secret**: never logged or stored" if setting.secret else "")
        lines.append(f"| `{setting.name}` | {default} | {meaning} |")
    return "\n".join(lines)
