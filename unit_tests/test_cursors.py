"""`PartitionLocalCursor` must keep exactly the state the CDK's own `ConcurrentCursor` keeps.

Each test builds the stream twice from the same config: once as the connector runs it (the cursor
adopted into `PartitionLocalCursor`) and once with the CDK's stock cursor, feeds both the same
records, and compares what they would save.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, List, Mapping

import pytest
from freezegun import freeze_time

from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    CustomFormatConcurrentStreamStateConverter,
)
from airbyte_cdk.sources.types import Record

from source_conversations import SourceConversations
from source_conversations.cursors import PartitionLocalCursor, fast_iso_instant
from unit_tests.conftest import FROZEN_NOW, config, polyai_settings, vectara_settings

# The cursor_datetime_formats of polyai_window in manifest.yaml.
STARTED_AT_FORMATS = ["%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"]


class _Partition:
    """The two things `close_partition` asks of a partition."""

    def __init__(self, stream_slice: Any, stream_name: str) -> None:
        self._slice, self._name = stream_slice, stream_name

    def to_slice(self) -> Any:
        return self._slice

    def stream_name(self) -> str:
        return self._name


def _cursors(cfg: Mapping[str, Any], stream_name: str) -> tuple[ConcurrentCursor, ConcurrentCursor]:
    ours = next(s for s in SourceConversations(config=cfg).streams(cfg) if s.name == stream_name).cursor
    stock_source = SourceConversations(config=cfg)
    stock = next(s for s in YamlDeclarativeSource.streams(stock_source, cfg) if s.name == stream_name).cursor
    assert type(ours) is PartitionLocalCursor
    assert type(stock) is ConcurrentCursor
    return ours, stock


def _feed(cursor: ConcurrentCursor, stream_name: str, rows_per_slice: List[List[dict]]) -> None:
    for stream_slice, rows in zip(cursor.stream_slices(), rows_per_slice):
        for row in rows:
            cursor.observe(Record(data=row, stream_name=stream_name, associated_slice=stream_slice))
        cursor.close_partition(_Partition(stream_slice, stream_name))


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-02T03:04:05Z",
        "2026-01-02T03:04:05.123456Z",
        "2026-01-02T03:04:05.123Z",
        "2026-01-02T03:04:05.5Z",
        "2026-01-02T03:04:05+00:00",
        "2026-01-02T03:04:05.999999+00:00",
        "2026-01-02T03:04:05+05:30",
        "2026-01-02T03:04:05.250000-08:00",
        "2026-01-02T03:04:05+0000",
        "2026-03-08T02:30:00-08:00",
    ],
)
def test_given_offset_timestamp_when_parsed_fast_then_same_instant_as_cdk_parser(value: str) -> None:
    cdk = CustomFormatConcurrentStreamStateConverter(
        datetime_format=STARTED_AT_FORMATS[0], input_datetime_formats=STARTED_AT_FORMATS
    ).parse_timestamp(value)
    fast = fast_iso_instant(value)
    assert fast == cdk
    assert fast.utcoffset() == cdk.utcoffset()


@pytest.mark.parametrize(
    "value",
    ["2026-01-02T03:04:05", "2026-01-02", "2026-01-02 03:04:05Z", "2026-01-02T03:04:05,5Z", "not a date", ""],
)
def test_given_value_without_offset_or_iso_shape_when_parsed_fast_then_left_to_cdk_parser(value: str) -> None:
    assert fast_iso_instant(value) is None


@freeze_time(FROZEN_NOW)
def test_given_polyai_records_out_of_order_when_observed_then_state_equals_stock_cursor() -> None:
    cfg = config(polyai=polyai_settings(window_days=5))
    cfg["start_date"] = "2026-01-01T00:00:00Z"
    ours, stock = _cursors(cfg, "polyai_conversations")
    rows = [
        [{"started_at": "2026-01-02T10:00:00.000001Z"}, {"started_at": "2026-01-01T23:59:59.5+00:00"}],
        [{"started_at": "2026-01-08T01:00:00+05:30"}, {"id": "no cursor"}, {"started_at": "2026-01-09T00:00:00.25Z"}],
        [],
        [{"started_at": "2026-01-14T08:00:00.123456-08:00"}],
    ]
    for cursor in (ours, stock):
        _feed(cursor, "polyai_conversations", rows)
    assert ours.state == stock.state
    assert ours._most_recent_cursor_value_per_partition == stock._most_recent_cursor_value_per_partition
    assert ours._is_ascending_order == stock._is_ascending_order is False


@freeze_time(FROZEN_NOW)
def test_given_vectara_records_when_observed_then_state_equals_stock_cursor() -> None:
    cfg = config(vectara=vectara_settings())
    cfg["start_date"] = "2026-01-01T00:00:00Z"
    ours, stock = _cursors(cfg, "vectara_conversations")
    rows = [[{"epochSecs": "1767300000"}, {"epochSecs": 1767400000}, {"epochSecs": "1767350000"}]]
    for cursor in (ours, stock):
        _feed(cursor, "vectara_conversations", rows)
    assert ours.state == stock.state == {"epochSecs": "1767400000"}


@freeze_time(FROZEN_NOW)
def test_given_partitions_on_two_threads_when_observed_then_each_keeps_its_own_newest_value() -> None:
    cfg = config(polyai=polyai_settings(window_days=7))
    cfg["start_date"] = "2026-01-01T00:00:00Z"
    cursor, _ = _cursors(cfg, "polyai_conversations")
    first, second = list(cursor.stream_slices())[:2]
    barrier = threading.Barrier(2)

    def read(stream_slice: Any, day: int) -> None:
        barrier.wait()
        for hour in range(200):
            row = {"started_at": f"2026-01-{day:02d}T{hour % 24:02d}:00:00.{hour:06d}Z"}
            cursor.observe(Record(data=row, stream_name="polyai_conversations", associated_slice=stream_slice))

    threads = [threading.Thread(target=read, args=(first, 2)), threading.Thread(target=read, args=(second, 9))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Each thread's newest value is written when that thread closes its partition.
    closers = [
        threading.Thread(target=cursor.close_partition, args=(_Partition(s, "polyai_conversations"),))
        for s in (first, second)
    ]
    for closer in closers:
        closer.start()
        closer.join()
    newest = cursor._most_recent_cursor_value_per_partition
    assert newest[first] == datetime.fromisoformat("2026-01-02T23:00:00.000191+00:00")
    assert newest[second] == datetime.fromisoformat("2026-01-09T23:00:00.000191+00:00")
