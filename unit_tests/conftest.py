"""Shared helpers for the unit tests: configs, catalogs, and running the source in-process."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

from airbyte_cdk.models import AirbyteStateMessage, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.state_builder import StateBuilder

from source_conversations import SourceConversations
from source_conversations.run import install_message_serializer
from test_support import leaks

# Long, distinctive fake secrets: the CDK masks secrets by value, and a short one would mangle logs.
POLYAI_KEY = "polyai-unit-key-7f3a9c2e5b1d4e8f"
VECTARA_KEY = "vectara-unit-key-2c8e1f9a7b3d5e6a"
CLIENT_SECRET = "vectara-unit-client-secret-9d2b7e4c1a8f"
ACCESS_TOKEN = "unit-access-token-4e7a1c9b2f8d3e6a5c0b"
SECRETS = (POLYAI_KEY, VECTARA_KEY, CLIENT_SECRET, ACCESS_TOKEN)
leaks.register_secret(*SECRETS)

POLYAI_BASE = "https://polyai.test"
VECTARA_BASE = "https://vectara.test"
TOKEN_URL = "https://auth.vectara.test/oauth2/token"
FROZEN_NOW = "2026-01-15T12:00:00Z"
START_DATE = "2026-01-01T00:00:00Z"


def polyai_settings(**overrides: Any) -> dict:
    settings = {
        "api_key": POLYAI_KEY,
        "account_id": "ws-unit",
        "project_id": "PROJECT-unit",
        "base_url": POLYAI_BASE,
        "page_size": 2,
        "window_days": 30,
    }
    settings.update(overrides)
    return settings


def vectara_settings(auth: str = "api_key", **overrides: Any) -> dict:
    credentials = (
        {"auth_type": "api_key", "api_key": VECTARA_KEY}
        if auth == "api_key"
        else {
            "auth_type": "oauth2_client_credentials",
            "client_id": "unit-client",
            "client_secret": CLIENT_SECRET,
            "token_url": TOKEN_URL,
        }
    )
    settings = {"customer_id": "1234567", "credentials": credentials, "base_url": VECTARA_BASE, "page_size": 2}
    settings.update(overrides)
    return settings


def config(polyai: Optional[dict] = None, vectara: Optional[dict] = None) -> dict:
    result: dict = {"start_date": START_DATE}
    if polyai is not None:
        result["polyai"] = polyai
    if vectara is not None:
        result["vectara"] = vectara
    return result


def catalog(stream: str, sync_mode: SyncMode = SyncMode.incremental):
    return CatalogBuilder().with_stream(stream, sync_mode).build()


def state(stream: str, value: Mapping[str, Any]) -> List[AirbyteStateMessage]:
    return StateBuilder().with_stream_state(stream, value).build()


def run_read(
    cfg: Mapping[str, Any],
    stream: str,
    sync_mode: SyncMode = SyncMode.incremental,
    stream_state: Optional[Mapping[str, Any]] = None,
    expect_failure: bool = False,
) -> EntrypointOutput:
    """Reads one stream in-process, as the console script would (config, catalog and state in the constructor)."""
    install_message_serializer()
    configured = catalog(stream, sync_mode)
    states = state(stream, stream_state) if stream_state is not None else None
    source = SourceConversations(catalog=configured, config=cfg, state=states)
    output = read(source, cfg, configured, states, expecting_exception=expect_failure)
    leaks.record_output(f"read {stream}", "\n".join(str(message) for message in output.get_message_iterator()))
    return output


def assert_no_secret(output: EntrypointOutput) -> None:
    """No API key, client secret or token appears in any message the run produced."""
    text = "\n".join(str(message) for message in output.get_message_iterator())
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"secrets in output: {len(leaked)}"
