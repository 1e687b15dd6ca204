"""Runs the source in this process, through the CDK's test entrypoint, as the unit tests do.

`components()` is the `components.py` module the source itself loaded (registered as the manifest runner
registers injected code); tests reach the component classes through it, never by importing the file as
a second, different module.
"""

from typing import Any, List, Mapping, Optional

from airbyte_cdk.models import AirbyteStateMessage, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, discover, read
from airbyte_cdk.test.state_builder import StateBuilder

from source_conversations.source import SourceConversations, components
from test_support import leaks

__all__ = ["components", "read_stream", "discover_output", "discover_streams", "state_of", "record_ids"]


def catalog(stream: str, sync_mode: SyncMode = SyncMode.incremental):
    return CatalogBuilder().with_stream(stream, sync_mode).build()


def state_of(stream: str, value: Mapping[str, Any]) -> List[AirbyteStateMessage]:
    return StateBuilder().with_stream_state(stream, value).build()


def read_stream(
    config: Mapping[str, Any],
    stream: str,
    sync_mode: SyncMode = SyncMode.incremental,
    stream_state: Optional[Mapping[str, Any]] = None,
    expect_failure: bool = False,
) -> EntrypointOutput:
    """Reads one stream in-process (config, catalog and state given to the constructor, as the CLI does)."""
    configured = catalog(stream, sync_mode)
    states = state_of(stream, stream_state) if stream_state is not None else None
    source = SourceConversations(catalog=configured, config=config, state=states)
    output = read(source, config, configured, states, expecting_exception=expect_failure)
    leaks.record_output(f"read {stream}", "\n".join(str(message) for message in output.get_message_iterator()))
    return output


def discover_output(config: Mapping[str, Any]) -> EntrypointOutput:
    output = discover(SourceConversations(config=config), config, expecting_exception=True)
    leaks.record_output("discover", "\n".join(str(message) for message in output.get_message_iterator()))
    return output


def discover_streams(config: Mapping[str, Any]) -> List[str]:
    return [stream.name for stream in discover_output(config).catalog.catalog.streams]


def record_ids(output: EntrypointOutput, key: str = "id") -> List[Any]:
    return [message.record.data.get(key) for message in output.records]
