"""Command-line entrypoint: `source-conversations spec|check|discover|read`.

It builds `SourceConversations` (the manifest and its components, nothing more) from the CLI arguments,
as Airbyte's Python connectors do, and runs the CDK's entrypoint. The process-level extras of
`extras.py` are on unless `SOURCE_CONVERSATIONS_EXTRAS=off`.
"""

import sys
import traceback
from datetime import datetime, timezone
from typing import List, Optional

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.models import (
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteTraceMessage,
    FailureType,
    TraceType,
    Type,
)

from source_conversations import extras
from source_conversations.source import SourceConversations


def build_source(args: List[str]) -> SourceConversations:
    """The source, with config, catalog and state from the CLI arguments (CDK 7 takes them at construction)."""
    config_path = AirbyteEntrypoint.extract_config(args)
    catalog_path = AirbyteEntrypoint.extract_catalog(args)
    state_path = AirbyteEntrypoint.extract_state(args)
    return SourceConversations(
        config=SourceConversations.read_config(config_path) if config_path else None,
        catalog=SourceConversations.read_catalog(catalog_path) if catalog_path else None,
        state=SourceConversations.read_state(state_path) if state_path else None,
        config_path=config_path,
    )


def _startup_error(error: Exception) -> str:
    message = AirbyteMessage(
        type=Type.TRACE,
        trace=AirbyteTraceMessage(
            type=TraceType.ERROR,
            emitted_at=datetime.now(timezone.utc).timestamp() * 1000,
            error=AirbyteErrorTraceMessage(
                message=(
                    f"The connector could not start: {error}. Check that the --config, --catalog and --state files "
                    "exist and hold valid JSON of the right shape."
                ),
                internal_message=str(error),
                stack_trace=traceback.format_exc(),
                failure_type=FailureType.config_error,
            ),
        ),
    )
    return AirbyteEntrypoint.airbyte_message_to_string(message)


def run(args: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if args is None else args
    try:
        source = build_source(args)
    except Exception as error:  # an unreadable file ends in a TRACE, not a bare traceback
        print(_startup_error(error), flush=True)
        sys.exit(1)
    if not extras.enabled():
        launch(source, args)
    elif not extras.run(source, args):
        sys.exit(1)


if __name__ == "__main__":
    run()
