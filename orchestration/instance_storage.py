"""Dagster's SQLite event log, keeping one open connection per database instead of one per event.

Dagster writes two events per asset and partition (planned, materialized): a first load of a year of daily
partitions is about 25,000 events (the `make run` demo: 12,503 of each). The stock SQLite event log opens and
closes a connection for each one, and closing the last connection of a WAL database checkpoints it with an fsync
(about 25 ms on these disks: minutes of a first `make run`). Here each database keeps a pooled connection with
`synchronous=NORMAL`, which in WAL mode keeps the database consistent after a crash and only gives up the
durability of the last events before a power cut; a re-run restores them (every partition is idempotent).

It also remembers what it has learnt of the index database's schema. The stock storage asks SQLite, for every
asset event, whether the asset-event tags table exists (building a new engine and connection each time) and which
columns the asset keys table has: a third of the time it spent storing a year-long first load's events. A table or
column that exists keeps existing (migrations only add them), so only answers "yes" are remembered.
Configured in dagster.yaml (`event_log_storage`).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool


def _no_sync_per_commit(dbapi_connection, _connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class WalSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with a pooled connection per run database (see the module docstring)."""

    def __init__(self, base_dir: str, inst_data=None):
        # Set before the parent's __init__, which already connects to the index database.
        self._engines: dict[str, Engine] = {}
        self._engines_lock = threading.Lock()
        self._tables_present: set[str] = set()
        self._asset_key_columns_present: set[str] = set()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=QueuePool,
                    pool_size=1,
                    max_overflow=4,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
                )
                event.listen(engine, "connect", _no_sync_per_commit)
                self._engines[shard] = engine
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        if table_name not in self._tables_present and super().has_table(table_name):
            self._tables_present.add(table_name)
        return table_name in self._tables_present

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        if column_name not in self._asset_key_columns_present and super()._has_asset_key_col_on_connection(
            conn, column_name
        ):
            self._asset_key_columns_present.add(column_name)
        return column_name in self._asset_key_columns_present

    def dispose(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
        super().dispose()
