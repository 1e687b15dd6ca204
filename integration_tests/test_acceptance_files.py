"""Every file of integration_tests/ that Airbyte's tooling reads is valid and says what it claims.

The CDK standard suite (test_standard_suite.py) reads acceptance-test-config.yml, the two configs and
configured_catalog.json; it does not run the incremental and expected-records checks of the old
Connector Acceptance Tests, so they are here: the console script, as the platform runs it, against
the fake API server that the configs point at (127.0.0.1:18765, fixtures_standard.py).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from airbyte_cdk.models import ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.test.models.scenario import entry_key_problems, SCENARIO_SECTIONS

from fake_api import FakeApiServer
from integration_tests import fixtures_standard as standard
from integration_tests.generate_expected_records import render
from integration_tests.harness import ConnectorRun, run_connector
from source_conversations.source import SourceConversations

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE_CONFIG = HERE / "sample_config.json"
INVALID_CONFIG = HERE / "invalid_config.json"
CATALOG = HERE / "configured_catalog.json"
ABNORMAL_STATE = HERE / "abnormal_state.json"
EXPECTED_RECORDS = HERE / "expected_records.jsonl"
ACCEPTANCE_CONFIG = HERE / "acceptance-test-config.yml"
STREAMS = standard.STREAMS
CURSORS = {"polyai_conversations": "started_at", "vectara_conversations": "epochSecs"}


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _secrets(config: dict) -> list[str]:
    return [config["polyai"]["api_key"], config["vectara"]["credentials"]["api_key"]]


def _cursor_instant(stream: str, value: Any) -> float:
    """A stream's cursor value as Unix seconds, for comparing states."""
    if stream == "vectara_conversations":
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeApiServer]:
    yield from standard.acceptance_server()


def _run(command: str, workdir: Path, **files: Path) -> ConnectorRun:
    """`source-conversations <command> --config ... --catalog ... --state ...` with the files as they are."""
    extra: list[str] = []
    for flag, path in files.items():
        extra += [f"--{flag}", str(path)]
    return run_connector(command, workdir, extra_args=extra, timeout=120)


# ---- The files parse, and hold what Airbyte expects of them ----


def test_acceptance_test_config_lists_existing_files_and_only_keys_the_cdk_reads() -> None:
    config = yaml.safe_load(ACCEPTANCE_CONFIG.read_text(encoding="utf-8"))
    sections = config["acceptance_tests"]
    assert set(sections) <= set(SCENARIO_SECTIONS), "a section the CDK standard suite does not collect"
    listed = set()
    for section, body in sections.items():
        for entry in body["tests"]:
            assert not entry_key_problems(entry, (section,)), entry_key_problems(entry, (section,))
            for key in ("config_path", "configured_catalog_path"):
                if key in entry:
                    assert (ROOT / entry[key]).is_file(), f"{section}: {entry[key]} does not exist"
                    listed.add(entry[key])
    assert {
        "integration_tests/sample_config.json",
        "integration_tests/invalid_config.json",
        "integration_tests/configured_catalog.json",
    } <= listed
    connection = {entry["config_path"]: entry.get("status") for entry in sections["connection"]["tests"]}
    assert connection == {
        "integration_tests/sample_config.json": "succeed",
        "integration_tests/invalid_config.json": "failed",
    }


def test_sample_config_is_the_fake_servers_config_on_the_fixed_port(server: FakeApiServer) -> None:
    sample = _json(SAMPLE_CONFIG)
    assert sample == {"start_date": standard.START_DATE, **server.config("api_key")}
    assert sample["polyai"]["base_url"] == sample["vectara"]["base_url"] == standard.BASE_URL


def test_invalid_config_differs_from_the_sample_only_by_its_keys() -> None:
    sample, invalid = _json(SAMPLE_CONFIG), _json(INVALID_CONFIG)
    for provider in (invalid["polyai"], invalid["vectara"]["credentials"]):
        provider["api_key"] = "<key>"
    for provider in (sample["polyai"], sample["vectara"]["credentials"]):
        provider["api_key"] = "<key>"
    assert invalid == sample
    assert not set(_secrets(_json(INVALID_CONFIG))) & set(_secrets(_json(SAMPLE_CONFIG)))


def test_configured_catalog_parses_and_reads_both_streams_incrementally() -> None:
    catalog: ConfiguredAirbyteCatalog = SourceConversations.read_catalog(str(CATALOG))
    assert [configured.stream.name for configured in catalog.streams] == list(STREAMS)
    for configured in catalog.streams:
        assert configured.sync_mode == SyncMode.incremental
        assert configured.cursor_field == [CURSORS[configured.stream.name]]
        assert configured.primary_key == [["id"]]


def test_abnormal_state_is_per_stream_and_far_in_the_future() -> None:
    states = SourceConversations.read_state(str(ABNORMAL_STATE))
    assert [state.stream.stream_descriptor.name for state in states] == list(STREAMS)
    for state in states:
        assert state.type.value == "STREAM"
        name = state.stream.stream_descriptor.name
        value = state.stream.stream_state.__dict__[CURSORS[name]]
        assert _cursor_instant(name, value) > datetime(2090, 1, 1).timestamp()


def test_expected_records_file_is_what_the_generator_writes() -> None:
    assert EXPECTED_RECORDS.read_text(encoding="utf-8") == render(), (
        "expected_records.jsonl is out of date: run `python -m integration_tests.generate_expected_records`"
    )
    lines = [json.loads(line) for line in EXPECTED_RECORDS.read_text(encoding="utf-8").splitlines()]
    counts = Counter(line["stream"] for line in lines)
    assert set(counts) == set(STREAMS) and all(counts.values())
    assert all(set(line) == {"stream", "data", "emitted_at"} for line in lines)


# ---- The files against the connector and the fake API server ----


def test_catalog_streams_are_the_streams_discover_reports(server: FakeApiServer, tmp_path: Path) -> None:
    run = _run("discover", tmp_path, config=SAMPLE_CONFIG)
    assert run.returncode == 0, run.errors()
    discovered = {stream["name"]: stream for stream in run.of_type("CATALOG")[0]["catalog"]["streams"]}
    catalog = _json(CATALOG)
    assert [configured["stream"]["name"] for configured in catalog["streams"]] == sorted(discovered)
    for configured in catalog["streams"]:
        stream = configured["stream"]
        found = discovered[stream["name"]]
        for key in ("supported_sync_modes", "source_defined_cursor", "default_cursor_field", "source_defined_primary_key"):
            assert stream[key] == found[key], (stream["name"], key)
        assert configured["sync_mode"] in found["supported_sync_modes"]
        assert configured["cursor_field"] == found["default_cursor_field"]
        assert configured["primary_key"] == found["source_defined_primary_key"]


def test_sample_config_checks_and_invalid_config_fails_without_printing_its_keys(
    server: FakeApiServer, tmp_path: Path
) -> None:
    good = _run("check", tmp_path / "good", config=SAMPLE_CONFIG)
    assert good.connection_status == {"status": "SUCCEEDED"}

    bad = _run("check", tmp_path / "bad", config=INVALID_CONFIG)
    status = bad.connection_status
    assert status["status"] == "FAILED"
    assert "PolyAI failed: PolyAI refused the API key" in status["message"]
    assert "Vectara failed: Vectara refused the credentials" in status["message"]
    for secret in _secrets(_json(INVALID_CONFIG)):
        assert secret not in bad.output


def test_read_returns_exactly_the_expected_records(server: FakeApiServer, tmp_path: Path) -> None:
    run = _run("read", tmp_path, config=SAMPLE_CONFIG, catalog=CATALOG)
    assert run.returncode == 0, run.errors()
    expected = [json.loads(line) for line in EXPECTED_RECORDS.read_text(encoding="utf-8").splitlines()]
    for stream in STREAMS:
        want = {line["data"]["id"]: line["data"] for line in expected if line["stream"] == stream}
        got = run.records(stream)
        assert len(got) == len(want), f"{stream}: {len(got)} records, expected {len(want)}"
        assert {record["id"] for record in got} == set(want), stream
        for record in got:
            assert record == want[record["id"]], f"{stream} record {record['id']} differs from expected_records.jsonl"
    for secret in _secrets(_json(SAMPLE_CONFIG)):
        assert secret not in run.output


def test_read_from_abnormal_state_returns_nothing_and_keeps_the_state(server: FakeApiServer, tmp_path: Path) -> None:
    run = _run("read", tmp_path, config=SAMPLE_CONFIG, catalog=CATALOG, state=ABNORMAL_STATE)
    assert run.returncode == 0, run.errors()
    assert run.records() == []
    given = {
        state["stream"]["stream_descriptor"]["name"]: state["stream"]["stream_state"] for state in _json(ABNORMAL_STATE)
    }
    emitted = {state["stream"]["stream_descriptor"]["name"]: state["stream"]["stream_state"] for state in run.last_states()}
    assert set(emitted) == set(STREAMS), "every stream emits its state"
    for stream, cursor in CURSORS.items():
        assert _cursor_instant(stream, emitted[stream][cursor]) >= _cursor_instant(stream, given[stream][cursor]), (
            f"{stream}: the state went back from {given[stream][cursor]} to {emitted[stream][cursor]}"
        )
