"""Command-line entrypoint: `source-conversations spec|check|discover|read`."""

from __future__ import annotations

import sys
import traceback
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, List

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


def message_to_string(message: AirbyteMessage) -> str:
    """Serializes RECORD messages with their nulls; everything else as the CDK does.

    The CDK's message serializer omits top-level `null` fields of a record, so a `null` the API sent
    would reach the destination as a missing column. Records are written straight with orjson,
    which keeps them (and is faster than the generic serializer).
    """
    if message.type == Type.RECORD and message.record is not None:
        record = message.record
        body = {"stream": record.stream, "data": record.data, "emitted_at": record.emitted_at}
        if record.namespace is not None:
            body["namespace"] = record.namespace
        return orjson.dumps({"type": "RECORD", "record": body}).decode()
    return _cdk_message_to_string(message)


def install_message_serializer() -> None:
    """Routes every message the CDK entrypoint prints through `message_to_string`."""
    AirbyteEntrypoint.airbyte_message_to_string = staticmethod(message_to_string)  # type: ignore[method-assign]


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
    install_message_serializer()
    try:
        source = build_source(args)
    except Exception as error:  # a malformed file must end in a TRACE, not a bare traceback
        print(message_to_string(_startup_error(error)))
        sys.exit(1)
    # As airbyte_cdk.entrypoint.launch, with our entrypoint class and batched record output.
    entrypoint = ConversationsEntrypoint(source)
    parsed_args = entrypoint.parse_args(args)
    with PRINT_BUFFER:
        write_batched(entrypoint.run(parsed_args), PRINT_BUFFER.write)


_RECORD_PREFIX = '{"type":"RECORD"'


def write_batched(lines: Iterable[str], write: Callable[[str], Any], batch_size: int = 500) -> None:
    """Writes messages one per line, joining runs of RECORD lines into one write.

    The CDK's `launch` prints each message on its own (two locked writes per record). Records are
    batched; any other message (STATE, LOG, TRACE) first flushes the records before it, so a STATE
    never reaches stdout ahead of the records it covers.
    """
    batch: List[str] = []
    for line in lines:
        if line.startswith(_RECORD_PREFIX):
            batch.append(line)
            if len(batch) < batch_size:
                continue
            line = ""
        if batch:
            write("\n".join(batch) + "\n")
            batch.clear()
        if line:
            write(line + "\n")
    if batch:
        write("\n".join(batch) + "\n")


if __name__ == "__main__":
    run()
