"""How the console script writes messages: bytes for records, order kept, every byte written."""

from __future__ import annotations

import gc
from typing import List

import orjson
import pytest

from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, Type

from source_conversations import run as run_module
from source_conversations.run import message_to_line, message_to_string, tune_garbage_collector, write_lines


def _record(data: dict) -> AirbyteMessage:
    return AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="s", data=data, emitted_at=1))


def test_given_record_with_nulls_when_serialized_as_line_then_bytes_keep_nulls_and_end_in_newline() -> None:
    message = _record({"id": "a", "summary": None, "text": "héllo 👋"})
    line = message_to_line(message)
    assert isinstance(line, bytes) and line.endswith(b"\n")
    assert line.decode() == message_to_string(message) + "\n"
    assert orjson.loads(line)["record"]["data"] == {"id": "a", "summary": None, "text": "héllo 👋"}


def test_given_records_then_state_when_written_then_records_reach_output_before_the_state() -> None:
    writes: List[bytes] = []
    lines = [b'{"type":"RECORD","n":1}\n', b'{"type":"RECORD","n":2}\n', '{"type":"STATE"}', b'{"type":"RECORD","n":3}\n']
    write_lines(lines, writes.append, batch_size=10)
    assert writes == [b'{"type":"RECORD","n":1}\n{"type":"RECORD","n":2}\n', b'{"type":"STATE"}\n', b'{"type":"RECORD","n":3}\n']


def test_given_more_records_than_a_batch_when_written_then_batches_are_joined_and_nothing_is_lost() -> None:
    writes: List[bytes] = []
    write_lines((b"%d\n" % i for i in range(7)), writes.append, batch_size=3)
    assert writes == [b"0\n1\n2\n", b"3\n4\n5\n", b"6\n"]


def test_given_descriptor_that_takes_few_bytes_when_writing_then_every_byte_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    written = bytearray()

    def short_write(descriptor: int, data: memoryview) -> int:
        chunk = bytes(data[:3])
        written.extend(chunk)
        return len(chunk)

    monkeypatch.setattr(run_module.os, "write", short_write)
    write = run_module._stdout_writer()
    write("ünïcode line\n".encode())
    assert written.decode() == "ünïcode line\n"


def test_given_log_lines_flushed_by_other_threads_when_writing_then_each_write_holds_the_print_buffer_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PRINT_BUFFER writes log lines under its lock; holding the same lock keeps a log line out of a batch.
    held: List[bool] = []

    class Lock:
        depth = 0

        def __enter__(self) -> None:
            Lock.depth += 1

        def __exit__(self, *exc: object) -> None:
            Lock.depth -= 1

    def recording_write(descriptor: int, data: memoryview) -> int:
        held.append(Lock.depth == 1)
        return len(data)

    monkeypatch.setattr(run_module.os, "write", recording_write)
    write = run_module._stdout_writer(lock=Lock())
    write(b"a\n" * 5000)
    write(b"b\n")
    assert held == [True, True]
    assert run_module._stdout_writer.__defaults__[0] is run_module.PRINT_BUFFER.lock


def test_given_tuning_when_applied_then_start_up_heap_is_frozen_and_young_threshold_raised() -> None:
    before = gc.get_threshold()
    try:
        tune_garbage_collector(young_threshold=4321)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (4321, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
