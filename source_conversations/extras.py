"""Process-level extras of the package's console script: faster output, records with their nulls, one
terminal error, and a garbage collector tuned for streaming records. None of them changes which records
are read or what state is saved; `manifest.yaml` and `components.py` decide that, in every runner.

`install()` turns them all on and `run()` reads with them; the console script calls `run()` unless
`SOURCE_CONVERSATIONS_EXTRAS=off`.
Off, the console script behaves exactly as Airbyte's manifest runner (`source-declarative-manifest`):
the CDK's serializer (which drops a record's top-level `null` fields), its output path, and one error
trace per failed partition plus the CDK's summary. README, "Use it in Airbyte", has the measured
differences. The CDK members touched here are listed in `cdk_private.py`.
"""

import gc
import os
import sys
from datetime import datetime, timezone
from typing import Any, Callable, ContextManager, Iterable, List, Optional

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import (
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteTraceMessage,
    FailureType,
    TraceType,
    Type,
)
from airbyte_cdk.sources import Source
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

SWITCH = "SOURCE_CONVERSATIONS_EXTRAS"
"""Set to `off` (or `0`, `false`) to run the console script without any extra."""

_CDK_MESSAGE_TO_STRING = AirbyteEntrypoint.airbyte_message_to_string
_GC_THRESHOLD = gc.get_threshold()


def enabled(environ: Optional[dict] = None) -> bool:
    value = (environ if environ is not None else os.environ).get(SWITCH, "on").strip().lower()
    return value not in ("off", "0", "false", "no")


# ---------------------------------------------------------------------------------------------------
# Records: their nulls kept, as bytes
# ---------------------------------------------------------------------------------------------------


def record_line(message: AirbyteMessage) -> bytes:
    """A RECORD message as one line of UTF-8 bytes, its `null` fields kept.

    The CDK's serializer omits a record's top-level `null` fields, so a `null` the API sent reaches the
    destination as a missing column. orjson writes the record as it is, and faster; the bytes go to stdout
    without the CDK's decode, `StringIO` copy and encode (about 0.8 s of CPU per 100k PolyAI records,
    `python -m benchmark`).
    """
    record = message.record
    body = {"stream": record.stream, "data": record.data, "emitted_at": record.emitted_at}
    if record.namespace is not None:
        body["namespace"] = record.namespace
    return orjson.dumps({"type": "RECORD", "record": body}, option=orjson.OPT_APPEND_NEWLINE)


# ---------------------------------------------------------------------------------------------------
# One terminal error
# ---------------------------------------------------------------------------------------------------

_SEVERITY = (FailureType.config_error, FailureType.system_error, FailureType.transient_error)


class ErrorFolder:
    """Holds back the error traces of a sync and ends it with one, of the failed stream's own type.

    The CDK emits one TRACE per failed partition (a PolyAI window, a group of turns), then a summary it
    always types `config_error` ("isn't actionable", says its source), even when a server error caused it.
    The platform reads the first; a person reads the last. Here the sync ends with one error: the most
    pressing type (`config_error`, then `system_error`), each distinct message once. (An exhausted retry
    budget already ends in the connector's own words: `components.RetryAfterBackoff`.) The CDK's summary is
    told by its internal message, listed in `cdk_private.BEHAVIOURS`.
    """

    def __init__(self) -> None:
        self.errors: List[AirbyteErrorTraceMessage] = []
        self.enabled = True  # `read` only: `check` reports a config error as a trace and a FAILED status

    def hold(self, message: AirbyteMessage) -> bool:
        """True when `message` is an error trace, which is held back."""
        if (
            self.enabled
            and message.type == Type.TRACE
            and message.trace is not None
            and message.trace.type == TraceType.ERROR
        ):
            self.errors.append(message.trace.error)
            return True
        return False

    def add(self, error: AirbyteTracedException) -> None:
        """The exception the sync ended with; it adds nothing new when a stream error explained it."""
        if self.errors and error.internal_message == CDK_READ_FAILURE_SUMMARY:
            return
        self.errors.append(error.as_airbyte_message().trace.error)

    def folded(self) -> Optional[AirbyteMessage]:
        if not self.errors:
            return None
        kinds = {error.failure_type for error in self.errors}
        failure_type = next((kind for kind in _SEVERITY if kind in kinds), FailureType.system_error)
        streams = list(dict.fromkeys(_stream_name(error) for error in self.errors))
        texts = list(dict.fromkeys((_stream_name(error), _actionable(error)) for error in self.errors))
        message = " | ".join(text if len(streams) == 1 else f"{stream}: {text}" for stream, text in texts)
        return AirbyteMessage(
            type=Type.TRACE,
            trace=AirbyteTraceMessage(
                type=TraceType.ERROR,
                emitted_at=datetime.now(timezone.utc).timestamp() * 1000,
                error=AirbyteErrorTraceMessage(
                    message=message,
                    internal_message="; ".join(dict.fromkeys(error.internal_message or "" for error in self.errors)),
                    stack_trace=next((error.stack_trace for error in self.errors if error.stack_trace), None),
                    failure_type=failure_type,
                    stream_descriptor=self.errors[0].stream_descriptor if len(streams) == 1 else None,
                ),
            ),
        )


CDK_READ_FAILURE_SUMMARY = "Concurrent read failure"
"""The internal message of the trace the CDK's concurrent read ends a failed sync with (`cdk_private.BEHAVIOURS`)."""


def _stream_name(error: AirbyteErrorTraceMessage) -> str:
    return error.stream_descriptor.name if error.stream_descriptor else "sync"


def _actionable(error: AirbyteErrorTraceMessage) -> str:
    return error.message or error.internal_message or ""


# ---------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------


class Output:
    """The console script's output: what the CDK's entrypoint yields, written to stdout as bytes."""

    def __init__(self) -> None:
        self.errors = ErrorFolder()

    def serialize(self, message: AirbyteMessage) -> Any:
        """Replaces `AirbyteEntrypoint.airbyte_message_to_string` while the extras are installed: RECORDs
        become bytes (`record_line`), error traces are held (`ErrorFolder`), the rest is the CDK's string."""
        if message.type == Type.RECORD and message.record is not None:
            return record_line(message)
        if self.errors.hold(message):
            return None
        return _CDK_MESSAGE_TO_STRING(message)


def stdout_writer(lock: ContextManager[Any] = PRINT_BUFFER.lock) -> Callable[[bytes], None]:
    """Writes bytes to stdout's file descriptor, all of them, unbuffered.

    Each write holds `lock`, the lock the CDK's PRINT_BUFFER holds while it writes log lines, which worker
    threads flush at any moment: a pipe write longer than PIPE_BUF (4 KiB) is not atomic, so without it a
    log line could land inside a batch of records and break both lines.
    """
    sys.__stdout__.flush()
    descriptor = sys.__stdout__.fileno()

    def write(data: bytes) -> None:
        view = memoryview(data)
        with lock:
            while view:
                view = view[os.write(descriptor, view) :]

    return write


def write_lines(lines: Iterable[Any], write: Callable[[bytes], Any], batch_size: int = 500) -> None:
    """Writes the entrypoint's messages one per line, joining runs of RECORD lines into one write.

    RECORD lines come as bytes that end in a newline, other messages as a `str`, held ones as None. Any
    other message first writes the records before it, so a STATE never reaches stdout ahead of the records
    it covers. Nothing waits in a buffer: each write goes out.
    """
    batch: List[bytes] = []
    for line in lines:
        if line is None:
            continue
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


def tune_garbage_collector(young_threshold: int = 5000) -> None:
    """Keeps Python's cycle collector from re-scanning the start-up heap while records stream by.

    By the time the source is built, the CDK, pydantic and the parsed manifest have left several hundred
    thousand long-lived objects; every full collection walked them again, and young collections ran every
    700 new containers, which a 1,000-record page makes in its first few records. `gc.freeze()` sets the
    start-up heap aside and a larger young threshold runs the collector less often; records hold no cycles,
    so reference counting frees them as before. Measured with `python -m benchmark` on a 100k-record full
    refresh: PolyAI 6.2 -> 4.8 s of CPU, Vectara 5.4 -> 4.8 s (medians of 4).
    """
    gc.freeze()
    gc.set_threshold(young_threshold, *gc.get_threshold()[1:])


def install() -> Output:
    """Turns every extra on for this process (the garbage-collector tuning, the serializer that keeps nulls
    and writes bytes, the error folding); returns the output that `run` drives. `uninstall` undoes it."""
    tune_garbage_collector()
    output = Output()
    AirbyteEntrypoint.airbyte_message_to_string = staticmethod(output.serialize)  # type: ignore[method-assign]
    return output


def uninstall() -> None:
    AirbyteEntrypoint.airbyte_message_to_string = staticmethod(_CDK_MESSAGE_TO_STRING)  # type: ignore[method-assign]
    gc.unfreeze()
    gc.set_threshold(*_GC_THRESHOLD)


def run(source: Source, args: List[str]) -> bool:
    """The CDK's entrypoint on `source` with every extra on: records written as bytes under the log lock,
    and a failed sync ended by one error trace. Returns False when the sync failed."""
    output = install()
    entrypoint = AirbyteEntrypoint(source)
    parsed_args = entrypoint.parse_args(args)
    output.errors.enabled = parsed_args.command == "read"
    write = stdout_writer()
    with PRINT_BUFFER:  # log lines of worker threads are buffered, and flushed under PRINT_BUFFER.lock
        try:
            write_lines(entrypoint.run(parsed_args), write)
        except AirbyteTracedException as error:
            output.errors.add(error)
        except Exception as error:  # what the CDK's exception hook would have reported
            output.errors.add(AirbyteTracedException.from_exception(error))
        folded = output.errors.folded()
        uninstall()
        if folded is not None:
            write(AirbyteEntrypoint.airbyte_message_to_string(folded).encode() + b"\n")
    return folded is None
