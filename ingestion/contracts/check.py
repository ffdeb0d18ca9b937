"""Records against their entity's contract outside a load: the rules the loader applies (the same SQL, in an
in-memory DuckDB), for a receiver that must answer its sender before it keeps a record (the Typeform webhook).

Planning the rules' query costs DuckDB tens of milliseconds and checking a record a few microseconds, so callers
that arrive while a check runs are checked together in the next one (as the webhook's writer groups its fsyncs).
The statements are prepared once; the current time the rules compare with is a column of the batch's table, set
when its lines are inserted, because DuckDB binds a prepared statement that calls `now()` again on every execution
(7 ms instead of 1 ms for a batch, measured with DuckDB 2.0). A batch is three statements (truncate, insert,
execute): a one-row clock table updated before each batch cost a statement and a cross join, 5.3 ms a batch of
three records instead of 3.6 ms (DuckDB 2.0, this project's 2-core machine).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from datetime import datetime

import duckdb

from ingestion.contracts.render import elements_where, substitute_vars, typed
from ingestion.contracts.rules import NOW_UTC, contract_rules
from ingestion.contracts.settings import ContractSettings, load_settings
from ingestion.entities import EntitySpec
from ingestion.loader.json_objects import key_expression
from ingestion.loader.records import rule_sql

# The column of every checked record holding the current time (set with the batch's lines).
_CLOCK = "checker_now_utc"


# Batches checked on a connection between two checkpoints (each frees the rows of the batches before it).
CHECKPOINT_EVERY = 100


@dataclass
class _Connection:
    db: duckdb.DuckDBPyConnection
    batches: int = 0


@dataclass
class _Waiting:
    line: str
    result: tuple[str | None, datetime | None] | None = None
    error: BaseException | None = None


class RecordChecker:
    """Checks JSON-object records of one entity; the settings (dbt vars, rated currencies) are read once."""

    def __init__(self, spec: EntitySpec, settings: ContractSettings | None = None):
        assert spec.layout == "json_object", "records of JSON-object entities"
        self.spec = spec
        settings = settings or load_settings()
        contract = contract_rules(spec, settings, projected=False)
        reason, broken = rule_sql(spec, contract.rules)
        time = typed("duckdb", spec.contract_field(spec.record_time)) if spec.record_time else "null"
        # The elements the contract picks (Typeform's NPS answer) are found once per record (a column the
        # projection and the rules read), not once per field and rule.
        picked = {}
        for element in dict.fromkeys(f.element for f in spec.fields if f.element is not None):
            picked[f"picked_{len(picked)}"] = substitute_vars(elements_where("duckdb", element), settings.vars)

        def read_picked(text: str) -> str:
            for name, expression in picked.items():
                text = text.replace(expression, name)
            return text

        reason, broken, time = (read_picked(text) for text in (reason, broken, time))
        contract = replace(contract, projection=tuple((name, read_picked(sql)) for name, sql in contract.projection))
        raw = (
            f"select position, {key_expression(spec, 'line')} as record_id, line::json as payload, now_utc as {_CLOCK} "
            "from lines"
        )
        if picked:
            raw = f"select *, {', '.join(f'{sql} as {name}' for name, sql in picked.items())} from ({raw})"
        records = f"select * from {contract.over(f'({raw})')}"
        reason, broken, time, records = (text.replace(NOW_UTC, _CLOCK) for text in (reason, broken, time, records))
        statements = {
            # Most records break no rule: the first statement only says which do, the second says why.
            "contract_broken": (
                f"select position, {broken} as broken, {time} as record_time from ({records}) order by 1"
            ),
            "contract_reason": f"select position, {reason} as reason from ({records}) order by 1",
        }
        # One connection per batch in flight. One at a time checks the receiver's requests fastest: the events that
        # wait for it form larger batches, and a batch costs about the same for one record as for twelve (two
        # connections gave 250-290 requests/s in the load tests, one 300-330).
        self._idle = [self._connect(statements) for _ in range(self.PARALLEL_BATCHES)]
        self._connections = list(self._idle)
        self._changed = threading.Condition()
        self._queue: list[_Waiting] = []

    PARALLEL_BATCHES = 1

    @staticmethod
    def _connect(statements: dict[str, str]) -> _Connection:
        # One thread: a batch is a handful of records, and idle worker threads would spin on the receiver's cores.
        con = duckdb.connect(config={"threads": 1})
        # Prepared statements over a table of the batch's lines: planned once, not per batch; the optimizer is off
        # (it costs more than it saves on a handful of records).
        con.execute("pragma disable_optimizer")
        con.execute("create table lines (position integer, line varchar, now_utc timestamp)")
        for name, sql in statements.items():
            con.execute(f"prepare {name} as {sql}")
        return _Connection(con)

    def check(self, record: dict) -> tuple[str | None, datetime | None]:
        """(the reason the loader would reject the record, or None; its typed record time)."""
        waiting = _Waiting(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        with self._changed:
            self._queue.append(waiting)
            while waiting.result is None and waiting.error is None:
                if not self._idle or not self._queue:
                    self._changed.wait()
                    continue
                batch, self._queue, con = self._queue, [], self._idle.pop()
                self._changed.release()
                try:
                    self._check(con, batch)
                finally:
                    self._changed.acquire()
                    self._idle.append(con)
                    self._changed.notify_all()
        if waiting.error is not None:
            raise waiting.error
        return waiting.result

    @staticmethod
    def _check(con: _Connection, batch: list[_Waiting]) -> None:
        lines = [waiting.line for waiting in batch]
        try:
            con.db.execute("truncate lines")
            con.db.execute(
                f"insert into lines select generate_subscripts(l, 1), unnest(l), {NOW_UTC} "
                "from (select ?::varchar[] as l)",
                [lines],
            )
            rows = con.db.execute("execute contract_broken").fetchall()
            reasons = dict(con.db.execute("execute contract_reason").fetchall()) if any(row[1] for row in rows) else {}
            con.batches += 1
            if con.batches % CHECKPOINT_EVERY == 0:
                # Deleted rows of an in-memory table are freed only by a checkpoint: without it a receiver running
                # for weeks grows by ~1.6 KB per batch and each scan slows down.
                con.db.execute("checkpoint")
        except duckdb.Error as error:
            for waiting in batch:
                waiting.error = error
            return
        for waiting, (position, broken, record_time) in zip(batch, rows, strict=True):
            waiting.result = (reasons[position] if broken else None, record_time)

    def close(self) -> None:
        for con in self._connections:
            con.db.close()
