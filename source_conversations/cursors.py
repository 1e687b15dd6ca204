"""A cheaper `observe` for the CDK's concurrent cursor: the per-record half of incremental state.

The manifest's `DatetimeBasedCursor` becomes a `ConcurrentCursor` at run time, and every record
passes through its `observe`. In airbyte-cdk 7.39 that costs, per record:

- two hashes of the record's slice (`StreamSlice.__hash__` is a `json.dumps` plus a SHA-256, and
  `observe` reads and writes a dict keyed by the slice);
- for `started_at`, a `strptime` through each of the `cursor_datetime_formats` in turn.

Measured with `python -m benchmark` on 2 cores, a 100k-record PolyAI full refresh spent about
2 s of its 9.6 s of CPU there. Nothing in the manifest can change it: the factory builds the
cursor itself. `PartitionLocalCursor` keeps the same state and the same results, and does that
work once per partition instead of once per record:

- it keeps the newest value of each partition being read in a dict keyed by the slice object's
  identity, and writes it into the CDK's per-partition dict when the partition closes, on whatever
  thread closes it, so the slice is hashed once per partition;
- it parses ISO 8601 values with `datetime.fromisoformat` when the value has the shape every
  configured format shares (`YYYY-MM-DDTHH:MM:SS` then a fraction or an offset) and carries an
  offset, and leaves every other value to the CDK's parser. Both give the same instant
  (`unit_tests/test_cursors.py` compares them value by value).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.types import Record

_ISO_SEPARATORS = frozenset(".+-Z")


class PartitionLocalCursor(ConcurrentCursor):
    """`ConcurrentCursor` that tracks each partition's newest cursor value without per-record hashing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare()

    @classmethod
    def adopt(cls, cursor: ConcurrentCursor) -> "PartitionLocalCursor":
        """Turns a cursor the CDK built into this class in place, keeping all of its state."""
        cursor.__class__ = cls
        cursor._prepare()  # type: ignore[attr-defined]
        return cursor  # type: ignore[return-value]

    def _prepare(self) -> None:
        # id(slice) -> [slice, newest value]. The entry holds the slice, so its id stays unique while
        # it is open; each partition is read by one thread, and dict operations are atomic.
        self._open_partitions: dict[int, list[Any]] = {}
        self._iso_cursor = any(
            "%Y-%m-%dT%H:%M:%S" in fmt for fmt in getattr(self._connector_state_converter, "_input_datetime_formats", ())
        )

    def observe(self, record: Record) -> None:
        stream_slice = record.associated_slice
        entry = self._open_partitions.get(id(stream_slice))
        if entry is None or entry[0] is not stream_slice:
            entry = [stream_slice, self._most_recent_cursor_value_per_partition.get(stream_slice)]
            self._open_partitions[id(stream_slice)] = entry
        try:
            value = self._extract_cursor_value(record)
        except ValueError:
            self._log_for_record_without_cursor_value()
            return
        newest = entry[1]
        if newest is None or newest < value:
            entry[1] = value
        elif newest > value:
            self._is_ascending_order = False

    def close_partition(self, partition: Partition) -> None:
        closing = partition.to_slice()
        for key, (stream_slice, newest) in list(self._open_partitions.items()):
            if stream_slice is closing or stream_slice == closing:
                del self._open_partitions[key]
                if newest is not None:
                    self._most_recent_cursor_value_per_partition[stream_slice] = newest
        super().close_partition(partition)

    def _extract_cursor_value(self, record: Record) -> Any:
        value = record.data.get(self._cursor_field.cursor_field_key)
        if self._iso_cursor and isinstance(value, str):
            parsed = fast_iso_instant(value)
            if parsed is not None:
                return parsed
        return super()._extract_cursor_value(record)


def fast_iso_instant(value: str) -> datetime | None:
    """`YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)` as an aware datetime, or None to leave it to the CDK."""
    if len(value) < 20 or value[10] != "T" or value[19] not in _ISO_SEPARATORS:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
