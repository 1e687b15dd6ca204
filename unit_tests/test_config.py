"""Bad configs fail `check` (FAILED status) and `read` (config_error TRACE) with a message that names the field."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from integration_tests.harness import configured_catalog, connector_executable, run_connector
from source_conversations.config import ConfigError, parse_settings
from unit_tests.conftest import POLYAI_KEY, polyai_settings, vectara_settings

BAD_CONFIGS = {
    "empty config": ({}, "No provider is configured"),
    "missing required field": ({"polyai": {"api_key": POLYAI_KEY, "account_id": "ws"}}, "`polyai.project_id` is required"),
    "wrong type": ({"polyai": polyai_settings(page_size="big")}, "`polyai.page_size`"),
    "page size out of range": ({"polyai": polyai_settings(page_size=5000)}, "`polyai.page_size`"),
    "malformed start_date": ({"start_date": "last tuesday", "polyai": polyai_settings()}, "`start_date`"),
    "start_date not a string": ({"start_date": 123, "polyai": polyai_settings()}, "`start_date`"),
    "start_date with a fraction": ({"start_date": "2025-01-01T00:00:00.5Z", "polyai": polyai_settings()}, "`start_date`"),
    "start_date not in UTC": ({"start_date": "2025-01-01T00:00:00+05:00", "polyai": polyai_settings()}, "`start_date`"),
    "unknown region": ({"polyai": polyai_settings(region="eu-1")}, "`polyai.region`"),
    "malformed base_url": ({"polyai": polyai_settings(base_url="api.example.com")}, "`polyai.base_url`"),
    "both variant fields": (
        {"polyai": polyai_settings(variant_id="v1", variant_name="Main")},
        "polyai.variant_id and polyai.variant_name are both set",
    ),
    "customer id not digits": ({"vectara": vectara_settings(customer_id="12ab")}, "`vectara.customer_id`"),
    "unknown auth type": (
        {"vectara": vectara_settings(credentials={"auth_type": "password"})},
        "`vectara.credentials`",
    ),
    "oauth without secret": (
        {"vectara": vectara_settings(credentials={"auth_type": "oauth2_client_credentials", "client_id": "c"})},
        "`vectara.credentials.client_secret` is required",
    ),
}


@pytest.mark.parametrize("config, expected", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_given_bad_config_when_parsed_then_error_names_the_field(config: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(config)
    assert expected in raised.value.message


# The cases issue 5 lists, each through the console script's `check` and `read`.
THROUGH_THE_CLI = [
    "wrong type",
    "start_date not a string",
    "malformed start_date",
    "unknown region",
    "malformed base_url",
    "missing required field",
    "both variant fields",
    "empty config",
]


def _assert_no_bare_traceback(run) -> None:
    """Every stdout line is an Airbyte message, and stderr holds no Python traceback."""
    for line in run.stdout.splitlines():
        assert line.startswith("{"), f"not an Airbyte message: {line[:80]}"
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("case", THROUGH_THE_CLI)
def test_given_bad_config_when_check_then_failed_status_names_the_field_without_traceback(tmp_path: Path, case: str) -> None:
    config, expected = BAD_CONFIGS[case]
    run = run_connector("check", tmp_path, config=config)
    assert run.connection_status["status"] == "FAILED"
    assert expected in run.connection_status["message"]
    assert "Traceback" not in run.connection_status["message"]
    _assert_no_bare_traceback(run)
    assert POLYAI_KEY not in run.output


@pytest.mark.parametrize("case", THROUGH_THE_CLI)
def test_given_bad_config_when_read_then_one_config_error_trace_naming_the_field(tmp_path: Path, case: str) -> None:
    config, expected = BAD_CONFIGS[case]
    run = run_connector("read", tmp_path, config=config, catalog=configured_catalog())
    assert run.returncode != 0
    errors = run.errors()
    assert len(errors) == 1
    assert errors[0]["failure_type"] == "config_error"
    assert expected in errors[0]["message"]
    _assert_no_bare_traceback(run)
    assert POLYAI_KEY not in run.output


def test_given_malformed_state_file_when_read_then_config_error_not_a_silent_resync(tmp_path: Path) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({"polyai": polyai_settings()}))
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(configured_catalog(["polyai_conversations"])))
    state_path = tmp_path / "state.json"
    state_path.write_text('[{"type": "STREAM", "stream": ')
    completed = subprocess.run(
        [connector_executable(), "read", "--config", str(config_path), "--catalog", str(catalog_path), "--state", str(state_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode != 0
    trace = [json.loads(line) for line in completed.stdout.splitlines() if '"TRACE"' in line]
    assert len(trace) == 1
    assert trace[0]["trace"]["error"]["failure_type"] == "config_error"
    assert "--state" in trace[0]["trace"]["error"]["message"]


def test_given_valid_config_when_parsed_then_defaults_apply() -> None:
    settings = parse_settings({"polyai": {"api_key": POLYAI_KEY, "account_id": "ws", "project_id": "p"}})
    assert settings.polyai.region == "us-1"
    assert settings.polyai.page_size == 1000
    assert settings.stream_names == ["polyai_conversations"]
    assert POLYAI_KEY not in repr(settings)
