"""Segment track events from an S3-compatible bucket (NPS_SOURCE_MODE_SEGMENT=s3), against a real local S3 server
(moto in server mode, signatures checked against an IAM access key): the mirror lands exactly the objects' bytes,
the unchanged loader loads them, and the raw table equals what a file-mode load of the same files gives."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ingestion.api.settings import ConfigurationError, s3_sources, source_mode
from ingestion.landing import dates_present, landing_file
from ingestion.loader import load_files
from ingestion.object_storage import (
    ObjectStorageError,
    httpfs_available,
    mirror,
    object_store_connection,
    s3_settings,
)
from ingestion.registry import get_entity

SPEC = get_entity("segment", "tracks")
ROW_COLUMNS = (
    "message_id, event, user_id, anonymous_id, account_id, event_timestamp, properties::varchar, context::varchar, "
    "_partition_date, _source_file, _line_number"
)
REJECT_COLUMNS = "reason, raw_record, _partition_date, _source_file, _line_number"


@dataclass
class S3Server:
    endpoint: str  # host:port
    key_id: str
    secret: str
    requests: list[str]  # every request line the server answered ("GET /bucket/key HTTP/1.1" 200)

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=f"http://{self.endpoint}",
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            region_name="us-east-1",
        )

    def object_gets(self, bucket: str) -> list[str]:
        """Object downloads (GET of a key), not listings (GET of the bucket with a query)."""
        pattern = re.compile(rf"GET /{bucket}/([^ ?]+) HTTP")
        return [match.group(1) for line in self.requests if (match := pattern.search(line))]


class _RequestLog(logging.Handler):
    def __init__(self, lines: list[str]):
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on a free local port. Authentication is switched on after an IAM user with an access key
    is created, so a wrong secret is refused by signature check exactly as AWS or MinIO would."""
    from moto import settings as moto_settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.server import ThreadedMotoServer

    requests: list[str] = []
    handler = _RequestLog(requests)
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.addHandler(handler)
    werkzeug.setLevel(logging.INFO)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    previous = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    try:
        iam = boto3.client(
            "iam",
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
            region_name="us-east-1",
        )
        iam.create_user(UserName="nps-loader")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="nps-loader", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="nps-loader")["AccessKey"]
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        ActionAuthenticatorMixin.request_count = 0
        yield S3Server(f"{host}:{port}", key["AccessKeyId"], key["SecretAccessKey"], requests)
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = previous
        server.stop()
        werkzeug.removeHandler(handler)


@pytest.fixture(scope="module")
def segment_files(small_landing: Path) -> list[Path]:
    files = sorted((small_landing / SPEC.landing_subdir).glob("*.jsonl"))
    assert len(files) > 60
    return files


def make_bucket(server: S3Server, name: str, files: list[Path], prefix: str = "events/segment-tracks") -> str:
    client = server.client()
    client.create_bucket(Bucket=name)
    for path in files:
        client.put_object(Bucket=name, Key=f"{prefix}/{path.name}", Body=path.read_bytes())
    return f"s3://{name}/{prefix}"


def environment(server: S3Server, url: str, **overrides: str) -> dict[str, str]:
    return {
        "NPS_SOURCE_MODE_SEGMENT": "s3",
        "NPS_SEGMENT_S3_URL": url,
        "NPS_S3_ENDPOINT": server.endpoint,
        "NPS_S3_USE_SSL": "false",
        "NPS_S3_URL_STYLE": "path",
        "NPS_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": server.key_id,
        "AWS_SECRET_ACCESS_KEY": server.secret,
        **overrides,
    }


def load_landing(landing: Path, warehouse: Path, batch: str):
    """The unchanged loader over every segment/tracks file of a landing folder."""
    files = [landing_file(landing, SPEC, day) for day in dates_present(landing, [SPEC])]
    with duckdb.connect(str(warehouse)) as con:
        return load_files(con, files, batch)


def table(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def message_ids(paths: list[Path]) -> set[str]:
    """Independently of the loader: every messageId in the files, parsed in plain Python."""
    found = set()
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                found.add(json.loads(line)["messageId"])
    return found


# --- settings and mode ----------------------------------------------------------------------------------------


def test_mode_setting_accepts_s3_for_segment_only(tmp_path: Path):
    assert source_mode("segment", {}.get) == "file"
    assert source_mode("segment", {"NPS_SOURCE_MODE_SEGMENT": "S3"}.get) == "s3"
    assert s3_sources({"NPS_SOURCE_MODE_SEGMENT": "s3"}.get) == ["segment"]
    # The global default applies where the source has that mode: API mode everywhere leaves Segment on files.
    assert source_mode("segment", {"NPS_SOURCE_MODE": "api"}.get) == "file"
    assert source_mode("stripe", {"NPS_SOURCE_MODE": "s3"}.get) == "file"
    with pytest.raises(ConfigurationError, match="NPS_SOURCE_MODE_STRIPE=s3: stripe cannot be read from S3"):
        source_mode("stripe", {"NPS_SOURCE_MODE_STRIPE": "s3"}.get)
    with pytest.raises(ConfigurationError, match="segment has no API connector"):
        source_mode("segment", {"NPS_SOURCE_MODE_SEGMENT": "api"}.get)
    with pytest.raises(ConfigurationError, match="NPS_SOURCE_MODE_SEGMENT must be 'file' or 's3', not 'ftp'"):
        source_mode("segment", {"NPS_SOURCE_MODE_SEGMENT": "ftp"}.get)


def test_settings_name_the_variable_and_never_print_a_credential(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="NPS_SEGMENT_S3_URL is not set"):
        s3_settings("segment", tmp_path, {}.get)
    with pytest.raises(ConfigurationError, match="NPS_SEGMENT_S3_URL must look like s3://bucket/prefix"):
        s3_settings("segment", tmp_path, {"NPS_SEGMENT_S3_URL": "s3://bucket/prefix/*.jsonl"}.get)
    base = {"NPS_SEGMENT_S3_URL": "s3://nps-bucket/usage/"}
    with pytest.raises(ConfigurationError, match="AWS_SECRET_ACCESS_KEY is not set"):
        s3_settings("segment", tmp_path, {**base, "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}.get)
    with pytest.raises(ConfigurationError, match="NPS_S3_URL_STYLE must be 'path' or 'vhost'"):
        s3_settings("segment", tmp_path, {**base, "NPS_S3_URL_STYLE": "subdomain"}.get)
    aws = s3_settings("segment", tmp_path, base.get)
    assert (aws.url, aws.bucket, aws.prefix, aws.endpoint, aws.url_style, aws.use_ssl) == (
        "s3://nps-bucket/usage",
        "nps-bucket",
        "usage",
        "",
        "vhost",
        True,
    )
    assert aws.glob == "s3://nps-bucket/usage/*" and aws.key_id is None and aws.state_dir == tmp_path / "_s3"
    minio = s3_settings(
        "segment",
        tmp_path,
        {
            **base,
            "NPS_S3_ENDPOINT": "http://minio.internal:9000",
            "AWS_ACCESS_KEY_ID": "minio-user",
            "AWS_SECRET_ACCESS_KEY": "minio-secret-value",
        }.get,
    )
    assert (minio.endpoint, minio.use_ssl, minio.url_style) == ("minio.internal:9000", False, "path")
    assert "minio-secret-value" not in repr(minio) and "minio-secret-value" not in str(minio)


def test_httpfs_backend_is_explained_when_it_cannot_load(tmp_path: Path):
    """DuckDB 2.0.0 offline: no httpfs build for it can be installed; asking for httpfs says so plainly."""
    assert not httpfs_available(), "httpfs loads now: add a test of the httpfs backend against the S3 server"
    settings = s3_settings(
        "segment", tmp_path, {"NPS_SEGMENT_S3_URL": "s3://nps-bucket", "NPS_S3_BACKEND": "httpfs"}.get
    )
    with (
        pytest.raises(ConfigurationError, match=rf"DuckDB {re.escape(duckdb.__version__)} cannot load the httpfs"),
        object_store_connection(settings),
    ):
        pass


# --- the mirror and the loader against the S3 server ----------------------------------------------------------


def test_s3_load_equals_the_file_load_of_the_same_files(s3_server: S3Server, segment_files, tmp_path: Path):
    url = make_bucket(s3_server, "nps-equal", segment_files)
    landing = tmp_path / "landing"
    result = mirror("segment", landing, environment(s3_server, url).get)
    assert result.backend in ("httpfs", "fsspec")
    assert result.objects_listed == len(segment_files) and not result.objects_ignored
    assert len(result.downloaded) == len(segment_files) == len(result.files_changed)
    assert result.bytes_downloaded == sum(path.stat().st_size for path in segment_files)
    # Every object downloaded once, byte for byte.
    assert sorted(s3_server.object_gets("nps-equal")) == sorted(
        f"events/segment-tracks/{p.name}" for p in segment_files
    )
    mirrored = sorted((landing / SPEC.landing_subdir).glob("*.jsonl"))
    assert [p.name for p in mirrored] == [p.name for p in segment_files]
    assert [sha(p) for p in mirrored] == [sha(p) for p in segment_files]
    # Nothing but the day files and the mirror's own state folder in the landing folder.
    assert {p.relative_to(landing).parts[0] for p in landing.rglob("*") if p.is_file()} == {"segment", "_s3"}

    s3_load = load_landing(landing, tmp_path / "s3.duckdb", "s3")
    file_load = load_landing(segment_files[0].parents[2], tmp_path / "files.duckdb", "files")
    assert not s3_load.errors and all(load.reconciles for load in s3_load.loads)
    assert [load.as_dict() for load in s3_load.loads] == [load.as_dict() for load in file_load.loads]
    s3_rows = table(tmp_path / "s3.duckdb", f"select {ROW_COLUMNS} from raw_segment.tracks order by all")
    file_rows = table(tmp_path / "files.duckdb", f"select {ROW_COLUMNS} from raw_segment.tracks order by all")
    assert s3_rows == file_rows and len(s3_rows) > 1000
    assert {row[0] for row in s3_rows} == message_ids(segment_files)
    assert table(tmp_path / "s3.duckdb", f"select {REJECT_COLUMNS} from raw_segment.tracks_rejects order by all") == (
        table(tmp_path / "files.duckdb", f"select {REJECT_COLUMNS} from raw_segment.tracks_rejects order by all")
    )


def test_second_run_downloads_nothing_and_a_changed_object_replaces_its_day(
    s3_server: S3Server, segment_files, tmp_path: Path
):
    url = make_bucket(s3_server, "nps-rerun", segment_files)
    env = environment(s3_server, url)
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    mirror("segment", landing, env.get)
    load_landing(landing, warehouse, "first")
    files_before = {p: (p.stat().st_mtime_ns, sha(p)) for p in landing.rglob("*") if p.is_file()}
    rows_before = table(warehouse, f"select {ROW_COLUMNS}, _batch_id from raw_segment.tracks order by all")

    # Second run: nothing downloaded (the server saw no object GET), no file touched, the loader skips everything.
    gets_before = len(s3_server.object_gets("nps-rerun"))
    again = mirror("segment", landing, env.get)
    assert len(s3_server.object_gets("nps-rerun")) == gets_before
    assert again.downloaded == [] and again.files_changed == [] and again.bytes_downloaded == 0
    assert {f.status for f in again.files} == {"unchanged"} and len(again.files) == len(segment_files)
    assert {p: (p.stat().st_mtime_ns, sha(p)) for p in landing.rglob("*") if p.is_file()} == files_before
    second = load_landing(landing, warehouse, "second")
    assert {load.status for load in second.loads} == {"unchanged"}
    assert table(warehouse, f"select {ROW_COLUMNS}, _batch_id from raw_segment.tracks order by all") == rows_before

    # One object changes: its first event dropped, a new one appended. Only it is downloaded; only its day changes.
    target = segment_files[10]
    lines = target.read_text().splitlines()
    added = json.loads(lines[0])
    added["messageId"] = "s3-test-added-event"
    new_lines = [*lines[1:], json.dumps(added)]
    s3_server.client().put_object(
        Bucket="nps-rerun", Key=f"events/segment-tracks/{target.name}", Body=("\n".join(new_lines) + "\n").encode()
    )
    changed = mirror("segment", landing, env.get)
    assert changed.downloaded == [f"segment/tracks/{target.name}"] == changed.files_changed
    assert s3_server.object_gets("nps-rerun")[gets_before:] == [f"events/segment-tracks/{target.name}"]
    third = load_landing(landing, warehouse, "third")
    assert [load.source_file for load in third.loads if load.status == "loaded"] == [f"segment/tracks/{target.name}"]
    day = target.name.removesuffix(".jsonl")
    in_day = table(
        warehouse, f"select message_id, _line_number from raw_segment.tracks where _partition_date = '{day}' order by 2"
    )
    expected = [(json.loads(line)["messageId"], number) for number, line in enumerate(new_lines, start=1)]
    assert in_day == expected
    others = [row for row in rows_before if str(row[8]) != day]
    assert (
        table(
            warehouse,
            f"select {ROW_COLUMNS}, _batch_id from raw_segment.tracks where _partition_date <> '{day}' order by all",
        )
        == others
    )


def test_bad_line_in_an_object_is_quarantined_with_file_and_line(s3_server: S3Server, segment_files, tmp_path: Path):
    client = s3_server.client()
    client.create_bucket(Bucket="nps-bad")
    source = segment_files[3]
    lines = source.read_text().splitlines()
    truncated = lines[2][: len(lines[2]) // 2]
    body = "\n".join([*lines[:2], truncated, *lines[3:]]) + "\n"
    client.put_object(Bucket="nps-bad", Key=f"usage/{source.name}", Body=body.encode())
    client.put_object(Bucket="nps-bad", Key="usage/README.txt", Body=b"not a day object")
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    result = mirror("segment", landing, environment(s3_server, "s3://nps-bad/usage").get)
    relative = f"segment/tracks/{source.name}"
    # The mirror names the object each landing file came from (state file and metadata).
    assert [(f.relative_path, f.object_url) for f in result.files] == [(relative, f"s3://nps-bad/usage/{source.name}")]
    state = json.loads((landing / "_s3" / "segment.json").read_text())
    assert state["files"][relative]["object"] == f"s3://nps-bad/usage/{source.name}"
    assert result.objects_ignored == ["README.txt"]
    loaded = load_landing(landing, warehouse, "bad")
    assert loaded.loads[0].records_rejected == 1 and loaded.loads[0].reconciles
    assert loaded.loads[0].records_loaded == len(lines) - 1
    assert table(
        warehouse, "select _source_file, _line_number, reason, raw_record from raw_segment.tracks_rejects"
    ) == [(relative, 3, "not valid JSON (a truncated or malformed line)", truncated)]


def test_wrong_secret_fails_clearly_without_the_secret(s3_server: S3Server, segment_files, tmp_path: Path, caplog):
    url = make_bucket(s3_server, "nps-denied", segment_files[:2])
    wrong = "wRoNg/SecretValue+ThatMustNeverAppear0123456789"
    landing = tmp_path / "landing"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ObjectStorageError) as raised:
        mirror("segment", landing, environment(s3_server, url, AWS_SECRET_ACCESS_KEY=wrong).get)
    message = str(raised.value)
    assert raised.value.credentials_refused
    assert message.startswith("segment from S3: could not list s3://nps-denied/events/segment-tracks")
    assert "AWS_SECRET_ACCESS_KEY" in message and "Nothing was mirrored" in message
    assert wrong not in message and wrong not in repr(raised.value)
    assert s3_server.key_id not in message
    assert wrong not in caplog.text and wrong not in "\n".join(s3_server.requests)
    assert not (landing / "segment").exists()
    # A correct secret never reaches the logs either.
    caplog.clear()
    mirror("segment", landing, environment(s3_server, url).get)
    assert s3_server.secret not in caplog.text


# --- orchestration: the raw asset mirrors first, then loads -----------------------------------------------------


def materialize_segment(tmp_path: Path, monkeypatch, env: dict[str, str], first: str, last: str):
    from orchestration.defs.ingestion.assets import raw_assets
    from orchestration.defs.resources import LandingZoneResource, VendorApiResource, WarehouseResource

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return dg.materialize(
        [asset for asset in raw_assets() if asset.key.path == ["raw_segment", "tracks"]],
        resources={
            "warehouse": WarehouseResource(database=str(tmp_path / "warehouse.duckdb")),
            "landing": LandingZoneResource(landing_dir=str(tmp_path / "landing")),
            "vendor_apis": VendorApiResource(),
        },
        tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
        raise_on_error=False,
    )


def test_raw_asset_mirrors_from_s3_then_loads(s3_server: S3Server, segment_files, tmp_path: Path, monkeypatch):
    files = segment_files[:8]
    url = make_bucket(s3_server, "nps-asset", files)
    first, last = files[0].name.removesuffix(".jsonl"), files[-1].name.removesuffix(".jsonl")
    result = materialize_segment(tmp_path, monkeypatch, environment(s3_server, url), first, last)
    assert result.success
    materializations = result.get_asset_materialization_events()
    assert len(materializations) == 8  # one per partition of the single run, same metadata
    metadata = materializations[0].materialization.metadata
    summary = metadata["s3_mirror"].value
    assert summary["url"] == url and summary["objects_listed"] == 8 and summary["objects_downloaded"] == 8
    assert summary["files_written"] == [f"segment/tracks/{p.name}" for p in files]
    assert metadata["files_loaded"].value == 8
    rows = table(tmp_path / "warehouse.duckdb", "select message_id from raw_segment.tracks")
    assert {row[0] for row in rows} == message_ids(files) and len(rows) == len(message_ids(files))
    checks = {check.check_name: check.passed for check in result.get_asset_check_evaluations()}
    assert checks["reconciliation"] is True
    events = "\n".join(repr(event) for event in result.all_events)
    assert s3_server.secret not in events and s3_server.key_id not in events


def test_raw_asset_with_a_refused_secret_fails_without_retry_or_leak(
    s3_server: S3Server, segment_files, tmp_path: Path, monkeypatch
):
    url = make_bucket(s3_server, "nps-asset-denied", segment_files[:2])
    wrong = "AnotherWrongSecret/ForTheAsset+987654321"
    day = segment_files[0].name.removesuffix(".jsonl")
    result = materialize_segment(
        tmp_path, monkeypatch, environment(s3_server, url, AWS_SECRET_ACCESS_KEY=wrong), day, day
    )
    assert not result.success
    failures = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    assert len(failures) == 1  # refused credentials are not retried
    assert "The store refused the credentials" in failures[0].message + repr(failures[0].event_specific_data)
    assert not [event for event in result.all_events if event.event_type_value == "STEP_UP_FOR_RETRY"]
    assert wrong not in "\n".join(repr(event) for event in result.all_events)


def test_cli_fetches_s3_mode_segment_before_the_run(
    s3_server: S3Server, segment_files, tmp_path: Path, monkeypatch, capsys
):
    from orchestration.cli import fetch_remote_sources

    url = make_bucket(s3_server, "nps-cli", segment_files[:3])
    for name, value in environment(s3_server, url).items():
        monkeypatch.setenv(name, value)
    for name in ("NPS_SOURCE_MODE", "NPS_SOURCE_MODE_TYPEFORM", "NPS_SOURCE_MODE_ZENDESK", "NPS_SOURCE_MODE_STRIPE"):
        monkeypatch.delenv(name, raising=False)
    assert fetch_remote_sources(tmp_path / "landing") is True
    assert sorted(p.name for p in (tmp_path / "landing" / "segment" / "tracks").iterdir()) == [
        p.name for p in segment_files[:3]
    ]
    assert "Mirrored segment from s3://nps-cli/events/segment-tracks" in capsys.readouterr().out
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "cli-wrong-secret-0000")
    assert fetch_remote_sources(tmp_path / "other") is False
    out = capsys.readouterr().out
    assert out.startswith("error: segment from S3: could not list") and "cli-wrong-secret-0000" not in out


def test_gzip_objects_are_mirrored_as_gzip_day_files_and_load_the_same(
    s3_server: S3Server, segment_files, tmp_path: Path
):
    # Segment's S3 destination writes gzip objects: the same days, compressed, must give the same raw rows.
    compressed = tmp_path / "compressed"
    compressed.mkdir()
    for path in segment_files[:5]:
        (compressed / f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes()))
    url = make_bucket(s3_server, "nps-gzip", sorted(compressed.iterdir()))
    landing = tmp_path / "landing"
    result = mirror("segment", landing, environment(s3_server, url).get)
    assert not result.objects_ignored
    assert result.downloaded == [f"segment/tracks/{path.name}.gz" for path in segment_files[:5]]
    s3_load = load_landing(landing, tmp_path / "s3.duckdb", "s3")
    plain = tmp_path / "plain"
    for path in segment_files[:5]:
        (plain / SPEC.landing_subdir).mkdir(parents=True, exist_ok=True)
        (plain / SPEC.landing_subdir / path.name).write_bytes(path.read_bytes())
    file_load = load_landing(plain, tmp_path / "files.duckdb", "files")
    assert not s3_load.errors
    assert [(load.source_file, load.records_loaded) for load in s3_load.loads] == [
        (f"{load.source_file}.gz", load.records_loaded) for load in file_load.loads
    ]
    query = (
        "select * exclude (_source_file, _batch_id, _loaded_at), regexp_replace(_source_file, '\\.gz$', '') "
        "from raw_segment.tracks order by all"
    )
    rows = table(tmp_path / "s3.duckdb", query)
    assert rows == table(tmp_path / "files.duckdb", query) and len(rows) > 100
    assert {row[0] for row in rows} == message_ids(segment_files[:5])
