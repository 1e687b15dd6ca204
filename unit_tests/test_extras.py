"""The console script's process-level extras (`extras.py`): records as bytes with their nulls, order and
every byte kept, one terminal error, the garbage-collector tuning, and the switch that turns them off."""

import gc
from typing import List

import orjson
import pytest
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, FailureType, StreamDescriptor, Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_conversations import extras


def record(data: dict) -> AirbyteMessage:
    return AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="s", data=data, emitted_at=1))


def error(
    message: str, failure_type: FailureType, stream: str = "polyai_conversations", internal: str = ""
) -> AirbyteMessage:
    return AirbyteTracedException(
        message=message, internal_message=internal or message, failure_type=failure_type
    ).as_airbyte_message(stream_descriptor=StreamDescriptor(name=stream))


def test_given_a_record_with_nulls_when_serialized_then_bytes_that_keep_them_and_end_in_a_newline():
    line = extras.record_line(record({"id": "a", "summary": None, "text": "héllo 👋"}))
    assert isinstance(line, bytes) and line.endswith(b"\n")
    assert orjson.loads(line)["record"]["data"] == {"id": "a", "summary": None, "text": "héllo 👋"}
    assert (
        "summary"
        not in orjson.loads(AirbyteEntrypoint.airbyte_message_to_string(record({"id": "a", "summary": None})))[
            "record"
        ]["data"]
    )


def test_given_records_then_a_state_when_written_then_the_records_reach_stdout_before_the_state():
    writes: List[bytes] = []
    lines = [b'{"n":1}\n', b'{"n":2}\n', '{"type":"STATE"}', None, b'{"n":3}\n']
    extras.write_lines(lines, writes.append, batch_size=10)
    assert writes == [b'{"n":1}\n{"n":2}\n', b'{"type":"STATE"}\n', b'{"n":3}\n']


def test_given_more_records_than_a_batch_when_written_then_batches_are_joined_and_none_lost():
    writes: List[bytes] = []
    extras.write_lines((b"%d\n" % i for i in range(7)), writes.append, batch_size=3)
    assert writes == [b"0\n1\n2\n", b"3\n4\n5\n", b"6\n"]


def test_given_a_descriptor_that_takes_few_bytes_when_writing_then_every_byte_is_written(monkeypatch):
    written = bytearray()

    def short_write(descriptor: int, data: memoryview) -> int:
        written.extend(bytes(data[:3]))
        return min(3, len(data))

    monkeypatch.setattr(extras.os, "write", short_write)
    extras.stdout_writer()("ünïcode line\n".encode())
    assert written.decode() == "ünïcode line\n"


def test_given_log_lines_flushed_by_worker_threads_when_writing_then_each_write_holds_the_print_buffer_lock(
    monkeypatch,
):
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

    monkeypatch.setattr(extras.os, "write", recording_write)
    write = extras.stdout_writer(lock=Lock())
    write(b"a\n" * 5000)
    write(b"b\n")
    assert held == [True, True]
    assert extras.stdout_writer.__defaults__[0] is extras.PRINT_BUFFER.lock


def test_given_errors_of_several_partitions_when_folded_then_one_trace_of_the_most_pressing_type():
    folder = extras.ErrorFolder()
    assert folder.hold(error("PolyAI had a temporary server error.", FailureType.transient_error))
    assert folder.hold(error("PolyAI had a temporary server error.", FailureType.transient_error))
    assert folder.hold(error("PolyAI refused the API key.", FailureType.config_error))
    assert not folder.hold(record({"id": "a"}))
    folder.add(
        AirbyteTracedException(internal_message=extras.CDK_READ_FAILURE_SUMMARY, failure_type=FailureType.config_error)
    )
    folded = folder.folded().trace.error
    assert folded.failure_type == FailureType.config_error
    assert folded.message == "PolyAI had a temporary server error. | PolyAI refused the API key."
    assert folded.stream_descriptor.name == "polyai_conversations"


def test_given_the_connectors_own_retry_message_when_folded_then_it_reaches_the_user_unchanged():
    folder = extras.ErrorFolder()
    text = "PolyAI answered HTTP 503. It still failed after 5 retries with backoff; the sync stopped."
    folder.hold(error(text, FailureType.transient_error, internal="Exhausted available request attempts."))
    assert folder.folded().trace.error.message == text


def test_given_check_when_an_error_trace_comes_then_it_is_not_held():
    folder = extras.ErrorFolder()
    folder.enabled = False
    assert not folder.hold(error("x", FailureType.config_error))
    assert folder.folded() is None


def test_given_the_install_when_messages_are_serialized_then_records_are_bytes_and_uninstall_restores_the_cdk():
    original, threshold = AirbyteEntrypoint.airbyte_message_to_string, gc.get_threshold()
    try:
        output = extras.install()
        assert isinstance(AirbyteEntrypoint.airbyte_message_to_string(record({"id": "a"})), bytes)
        assert output.serialize(error("x", FailureType.system_error)) is None
        assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] == 5000
    finally:
        extras.uninstall()
    assert AirbyteEntrypoint.airbyte_message_to_string is original
    assert isinstance(AirbyteEntrypoint.airbyte_message_to_string(record({"id": "a"})), str)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == threshold


@pytest.mark.parametrize(
    "value, on", [(None, True), ("on", True), ("off", False), ("0", False), ("false", False), ("OFF", False)]
)
def test_given_the_switch_when_read_then_extras_on_unless_turned_off(value, on):
    assert extras.enabled({} if value is None else {extras.SWITCH: value}) is on


def test_given_tuning_when_applied_then_the_start_up_heap_is_frozen_and_the_young_threshold_raised():
    before = gc.get_threshold()
    try:
        extras.tune_garbage_collector(young_threshold=4321)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (4321, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
