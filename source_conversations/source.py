"""The source: the declarative manifest, plus what it cannot say.

1. `check` tests each configured provider on its own and says which one failed. The manifest's
   `CheckStream` takes a fixed list of streams, and fails on a stream that `ConditionalStreams`
   hid because its provider isn't configured.
2. The read timeout comes from the config (`read_timeout_seconds`): the manifest's requester takes
   only a fixed number there.
3. PolyAI conversations still in progress are held back, and the stream's state is kept from
   passing the earliest of them, so a later sync reads each one once it has finished. A cursor on
   `started_at` alone would move past a long call that started before the newest finished one.
4. Vectara's state is kept one second before the sync began (`FreshStateCap`), so the stream can
   deliver every conversation made before the sync without ever skipping one made during it.
5. Each stream's cursor is made cheaper per record (`cursors.PartitionLocalCursor`, which says why).
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, List, Mapping, MutableMapping, Optional

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteErrorTraceMessage,
    FailureType,
    TraceType,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    Status,
    Type,
)
from airbyte_cdk.sources.declarative.checks import CheckStream
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_conversations.config import POLYAI_STREAM, VECTARA_STREAM, ConfigError, parse_settings
from source_conversations.cursors import PartitionLocalCursor

MANIFEST_PATH = Path(__file__).with_name("manifest.yaml")
_PROVIDER_NAMES = {POLYAI_STREAM: "PolyAI", "vectara_conversations": "Vectara"}
_STARTED_AT = "started_at"


class SourceConversations(YamlDeclarativeSource):
    """Airbyte source for PolyAI and Vectara conversation logs, built from `manifest.yaml`."""

    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> None:
        self._read_timeout = _read_timeout_setting(config)  # read by _read_and_parse_yaml_file below
        self._initial_state = state or []
        super().__init__(path_to_yaml=str(MANIFEST_PATH), catalog=catalog, config=config, state=state)

    def _read_and_parse_yaml_file(self, path_to_yaml_file: str) -> Mapping[str, Any]:
        manifest = super()._read_and_parse_yaml_file(path_to_yaml_file)
        if self._read_timeout is not None:
            manifest["definitions"]["base_requester"]["read_timeout_in_seconds"] = self._read_timeout
        return manifest

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            settings = parse_settings(config)
        except ConfigError as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=error.message)
        failures = []
        for stream_name in settings.stream_names:
            ok, reason = CheckStream(stream_names=[stream_name], parameters={}).check_connection(
                self, logger, config
            )
            if not ok:
                failures.append(f"{_PROVIDER_NAMES[stream_name]} failed: {_readable(reason)}")
        if failures:
            return AirbyteConnectionStatus(status=Status.FAILED, message=" | ".join(failures))
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    def streams(self, config: Mapping[str, Any]) -> List[Any]:
        streams = super().streams(config)
        for stream in streams:
            if type(getattr(stream, "cursor", None)) is ConcurrentCursor:
                PartitionLocalCursor.adopt(stream.cursor)
        return streams

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> Any:
        parse_settings(config)
        return super().discover(logger, config)

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        parse_settings(config)
        check_saved_states(self._initial_state)
        in_progress = InProgressHold(POLYAI_STREAM)
        fresh = FreshStateCap(VECTARA_STREAM, self._initial_state)
        stream_errors: List[AirbyteErrorTraceMessage] = []
        try:
            for message in super().read(logger, config, catalog, state):
                kind = message.type
                if kind is Type.RECORD:  # the hot path: one check per record
                    if not in_progress.holds(message.record):
                        yield message
                elif kind is Type.TRACE and message.trace.type == TraceType.ERROR:
                    stream_errors.append(message.trace.error)
                else:
                    yield fresh.cap_state(in_progress.cap_state(message))
        except AirbyteTracedException:
            if not stream_errors:
                raise
        if stream_errors:
            raise one_failure(stream_errors)


def _read_timeout_setting(config: Optional[Mapping[str, Any]]) -> Optional[float]:
    value = (config or {}).get("read_timeout_seconds")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None  # absent or invalid: the manifest's default stays, and `check` names the field
    return float(value)


class InProgressHold:
    """Holds back a stream's in-progress conversations and caps its state before the earliest one.

    Records with `in_progress: true` are not emitted: their fields still change. Each STATE message
    of the stream is lowered to the earliest `started_at` held back so far, so the next sync's
    window (whose start is inclusive) reads that conversation again, finished by then. The state is
    written in UTC with a `Z`.
    """

    def __init__(self, stream_name: str) -> None:
        self._stream_name = stream_name
        self._earliest: Optional[datetime] = None
        self.held = 0

    def holds(self, record: AirbyteRecordMessage) -> bool:
        data = record.data
        if data.get("in_progress") is not True or record.stream != self._stream_name:
            return False
        started = _parse_instant(data.get(_STARTED_AT))
        if started is not None and (self._earliest is None or started < self._earliest):
            self._earliest = started
        self.held += 1
        return True

    def cap_state(self, message: AirbyteMessage) -> AirbyteMessage:
        blob = _stream_state_blob(message, self._stream_name)
        value = _parse_instant(blob.get(_STARTED_AT)) if blob is not None else None
        if value is None:
            return message
        if self._earliest is not None and self._earliest < value:
            value = self._earliest
        blob[_STARTED_AT] = _format_utc(value)
        return message


class FreshStateCap:
    """Keeps a stream's epoch-second state one second before the sync began.

    `vectara_conversations` reads every conversation made up to the second the sync began, so a
    conversation made a moment before the sync is delivered by it. One made later in that same second
    may not have been listed yet, so the saved state stops one second earlier and the next sync reads
    that second again (its records arrive twice; the destination dedupes on `id`). A saved state
    that is already past that point (a state from the future) is passed on unchanged: nothing
    emitted here moved it there.
    """

    def __init__(self, stream_name: str, saved: List[AirbyteStateMessage]) -> None:
        self._stream_name = stream_name
        self._cap = int(time.time()) - 1
        saved_values = (_epoch((_state_of(message, stream_name) or {}).get("epochSecs")) for message in saved)
        self._saved = max((value or 0 for value in saved_values), default=0)

    def cap_state(self, message: AirbyteMessage) -> AirbyteMessage:
        blob = _stream_state_blob(message, self._stream_name)
        value = _epoch(blob.get("epochSecs")) if blob is not None else None
        if value is not None and value > self._cap and value > self._saved:
            blob["epochSecs"] = str(max(self._cap, self._saved))
        return message


def _stream_state_blob(message: AirbyteMessage, stream_name: str) -> Optional[MutableMapping[str, Any]]:
    """The mutable state dict of a STATE message of `stream_name`, or None for any other message."""
    if message.type != Type.STATE or message.state is None:
        return None
    return _state_of(message.state, stream_name)


def _state_of(message: AirbyteStateMessage, stream_name: str) -> Optional[MutableMapping[str, Any]]:
    stream = message.stream
    if stream is None or stream.stream_state is None or stream.stream_descriptor.name != stream_name:
        return None
    return stream.stream_state.__dict__


_SEVERITY = (FailureType.config_error, FailureType.system_error, FailureType.transient_error)


def one_failure(errors: List[AirbyteErrorTraceMessage]) -> AirbyteTracedException:
    """Folds the per-stream error traces of a sync into the single terminal error it ends with.

    The CDK emits one TRACE per failed partition (a PolyAI window), then a summary TRACE that it
    always types `config_error` ("isn't actionable", says its source), even when a server error
    caused it. The user and the platform get one error instead: the failed stream's own type, each
    distinct message once, and the CDK's retry-exhaustion wording replaced by what to do.
    If several streams failed, `config_error` wins (the user must act), then `system_error`.
    """
    failure_type = next(
        (kind for kind in _SEVERITY if any(error.failure_type == kind for error in errors)),
        FailureType.system_error,
    )
    streams = list(dict.fromkeys(_stream_name(error) for error in errors))
    messages = list(dict.fromkeys((_stream_name(error), _actionable(error)) for error in errors))
    if len(streams) == 1:
        message = " | ".join(text for _, text in messages)
    else:
        message = " | ".join(f"{stream}: {text}" for stream, text in messages)
    return AirbyteTracedException(
        message=message,
        internal_message="; ".join(dict.fromkeys(error.internal_message or "" for error in errors)),
        failure_type=failure_type,
        stream_descriptor=errors[0].stream_descriptor if len(streams) == 1 else None,
    )


def _stream_name(error: AirbyteErrorTraceMessage) -> str:
    return error.stream_descriptor.name if error.stream_descriptor else "sync"


def _actionable(error: AirbyteErrorTraceMessage) -> str:
    """The CDK's words for an exhausted retry budget, replaced by what happened and what to do."""
    provider = _PROVIDER_NAMES.get(_stream_name(error), "The API")
    internal = error.internal_message or ""
    if internal.startswith("Rate limit retry budget exhausted"):
        return (
            f"{provider} kept answering HTTP 429 (rate limited) through every retry. The account's rate "
            "limit is exhausted: run the sync again later, or sync less often."
        )
    prefix = "Exhausted available request attempts. Exception: "
    if internal.startswith(prefix):
        return (
            f"{internal[len(prefix):].rstrip('.')}. It still failed after 5 retries with backoff; the sync "
            "stopped, and its state covers only what was emitted. Run it again later."
        )
    return error.message


def check_saved_states(states: List[AirbyteStateMessage]) -> None:
    """Fails on a saved state the connector cannot read, rather than resyncing from scratch.

    A state the CDK cannot parse ends in "Something went wrong"; a state without its cursor key is
    silently taken as none, and the whole history is read again. Both are the user's to fix.
    """
    for message in states:
        stream = message.stream
        if stream is None or stream.stream_state is None:
            continue
        name = stream.stream_descriptor.name
        state = dict(stream.stream_state.__dict__)
        if not state or name not in _CURSOR_PARSERS or "slices" in state:
            continue  # empty (a fresh start), a stream we don't have, or the CDK's own slice format
        cursor, parse = _CURSOR_PARSERS[name]
        value = state.get(cursor)
        if value is None or parse(value) is None:
            raise ConfigError(
                f"The saved state of {name} is {state!r}: it needs '{cursor}' holding "
                f"{_CURSOR_HINTS[cursor]}. Reset the stream's data in Airbyte, or fix the state."
            )


def _epoch(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None




def _parse_instant(value: Any) -> Optional[datetime]:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _format_utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _readable(reason: Any) -> str:
    """CheckStream wraps failures in a long sentence and sometimes a traceback; keep the message."""
    text = str(reason).split("\nTraceback", 1)[0].strip()
    return re.sub(r"^Stream \w+ is not available: ", "", text)


_CURSOR_PARSERS = {
    POLYAI_STREAM: (_STARTED_AT, _parse_instant),
    "vectara_conversations": ("epochSecs", _epoch),
}
_CURSOR_HINTS = {
    _STARTED_AT: "an ISO 8601 date-time like 2026-01-01T00:00:00Z",
    "epochSecs": "Unix seconds like \"1767225600\"",
}
