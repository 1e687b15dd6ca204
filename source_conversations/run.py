"""Command-line entrypoint: `source-conversations spec|check|discover|read`."""

from __future__ import annotations

import gc
import os
import sys
import traceback
from datetime import datetime, timezone
from typing import Any, Callable, ContextManager, Iterable, List

import orjson

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import (
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteTraceMessage,
    FailureType,
    TraceType,
    Type,
)

from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.logger import PRINT_BUFFER

from source_conversations.config import parse_settings
from source_conversations.source import SourceConversations

_cdk_message_to_string = AirbyteEntrypoint.airbyte_message_to_string


def _record_message(message: AirbyteMessage) -> dict[str, Any]:
    record = message.record
    body = {"stream": record.stream, "data": record.data, "emitted_at": record.emitted_at}
    if record.namespace is not None:
        body["namespace"] = record.namespace
    return {"type": "RECORD", "record": body}


def message_to_string(message: AirbyteMessage) -> str:
    """Serializes RECORD messages with their nulls; everything else as the CDK does.

    The CDK's message serializer omits top-level `null` fields of a record, so a `null` the API sent
    would reach the destination as a missing column. Records are written straight with orjson,
    which keeps them (and is faster than the generic serializer).
    """
    if message.type == Type.RECORD and message.record is not None:
        return orjson.dumps(_record_message(message)).decode()
    return _cdk_message_to_string(message)


def message_to_line(message: AirbyteMessage) -> bytes | str:
    """As `message_to_string`, but a RECORD comes as UTF-8 bytes with its newline, ready for stdout.

    The console script writes bytes: orjson's output goes to the file descriptor as it is, where the
    CDK's path decodes it to `str`, copies it through a `StringIO` and encodes it again. On a 100k-record
    PolyAI read (180 MB of output) that round trip cost about 0.8 s of CPU (`python -m benchmark`).
    """
    if message.type == Type.RECORD and message.record is not None:
        return orjson.dumps(_record_message(message), option=orjson.OPT_APPEND_NEWLINE)
    return _cdk_message_to_string(message)


def install_message_serializer(serializer: Callable[[AirbyteMessage], Any] = message_to_string) -> None:
    """Routes every message the CDK entrypoint prints through `serializer`."""
    AirbyteEntrypoint.airbyte_message_to_string = staticmethod(serializer)  # type: ignore[method-assign]


class ConversationsEntrypoint(AirbyteEntrypoint):
    """The CDK entrypoint, with config errors that name the field and the fix.

    The CDK validates the config against the spec's JSON schema before `check`, `discover` and
    `read`, and reports only the schema's words ("'a' is a required property", with no path).
    The typed settings run first, so the message says `polyai.account_id` and what to put there.
    """

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Any) -> None:
        parse_settings(split_config(config)[0])
        AirbyteEntrypoint.validate_connection(source_spec, config)


def _startup_error(error: Exception) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.TRACE,
        trace=AirbyteTraceMessage(
            type=TraceType.ERROR,
            emitted_at=int(datetime.now(timezone.utc).timestamp() * 1000),
            error=AirbyteErrorTraceMessage(
                message=(
                    f"The connector could not start: {error}. Check that the --config, --catalog and "
                    "--state files exist and hold valid JSON of the right shape."
                ),
                internal_message=str(error),
                stack_trace=traceback.format_exc(),
                failure_type=FailureType.config_error,
            ),
        ),
    )


def build_source(args: List[str]) -> SourceConversations:
    """Builds the source from the CLI arguments: in CDK 7 config, catalog and state go to the constructor."""
    config_path = AirbyteEntrypoint.extract_config(args)
    catalog_path = AirbyteEntrypoint.extract_catalog(args)
    state_path = AirbyteEntrypoint.extract_state(args)
    return SourceConversations(
        config=SourceConversations.read_config(config_path) if config_path else None,
        catalog=SourceConversations.read_catalog(catalog_path) if catalog_path else None,
        state=SourceConversations.read_state(state_path) if state_path else None,
    )


def run(args: List[str] | None = None) -> None:
    args = sys.argv[1:] if args is None else args
    install_message_serializer(message_to_line)
    try:
        source = build_source(args)
    except Exception as error:  # a malformed file must end in a TRACE, not a bare traceback
        print(message_to_string(_startup_error(error)))
        sys.exit(1)
    tune_garbage_collector()
    # As airbyte_cdk.entrypoint.launch, with our entrypoint class and bytes written straight to stdout.
    # Log lines still go through the CDK's PRINT_BUFFER; each write, ours or its, is whole lines.
    entrypoint = ConversationsEntrypoint(source)
    parsed_args = entrypoint.parse_args(args)
    with PRINT_BUFFER:
        write_lines(entrypoint.run(parsed_args), _stdout_writer())


def tune_garbage_collector(young_threshold: int = 5000) -> None:
    """Keeps Python's cycle collector from re-scanning the start-up heap while records stream by.

    By the time the source is built, the CDK, pydantic and the parsed manifest have left several
    hundred thousand long-lived objects. Every full collection walked all of them again, and the
    allocation-counted young collections ran every 700 new containers, which a 1,000-record page makes
    in its first few records. `gc.freeze()` sets the start-up heap aside (it is never freed anyway) and
    a larger young threshold runs the collector less often; records hold no cycles, so reference
    counting frees them as before and memory stays flat. Measured with `python -m benchmark` on a
    100k-record full refresh: PolyAI 6.2 -> 4.8 s of CPU, Vectara 5.4 -> 4.8 s (medians of 4).
    """
    gc.freeze()
    gc.set_threshold(young_threshold, *gc.get_threshold()[1:])


def _stdout_writer(lock: ContextManager[Any] = PRINT_BUFFER.lock) -> Callable[[bytes], None]:
    """Writes bytes to stdout's file descriptor, all of them, unbuffered (whatever PYTHONUNBUFFERED says).

    Each write holds `lock`, the lock the CDK's PRINT_BUFFER holds while it writes log lines, which
    worker threads can flush at any moment. A write to a pipe longer than PIPE_BUF (4 KiB) is not atomic,
    so without it a log line could land inside a batch of records and break both lines.
    """
    sys.__stdout__.flush()
    descriptor = sys.__stdout__.fileno()

    def write(data: bytes) -> None:
        view = memoryview(data)
        with lock:
            while view:
                view = view[os.write(descriptor, view) :]

    return write


def write_lines(lines: Iterable[bytes | str], write: Callable[[bytes], Any], batch_size: int = 500) -> None:
    """Writes the entrypoint's messages, one per line, joining runs of RECORD lines into one write.

    RECORD lines come as bytes that end in a newline (`message_to_line`), any other message as a `str`.
    Every other message (STATE, LOG, TRACE) first writes the records before it, so a STATE never
    reaches stdout ahead of the records it covers. Nothing waits in a buffer: each write goes out.
    """
    batch: List[bytes] = []
    for line in lines:
        if type(line) is bytes:
            batch.append(line)
            if len(batch) >= batch_size:
                write(b"".join(batch))
                batch.clear()
            continue
        if batch:
            write(b"".join(batch))
            batch.clear()
        write(line.encode() + b"\n")
    if batch:
        write(b"".join(batch))


if __name__ == "__main__":
    run()
