"""Every file of integration_tests/ that Airbyte's tooling reads is valid and says what it claims.

The CDK standard suite (test_standard_suite.py) reads acceptance-test-config.yml, the configs and the
configured catalogs; it does not run the incremental and expected-records checks of the old Connector
Acceptance Tests, so they are here: the console script, as the platform runs it, against the fake API
server that the configs point at (127.0.0.1:18765, fixtures_standard.py), for both acceptance sets
(`generate_expected_records.ACCEPTANCE_SETS`): PolyAI v3 with Vectara v2 and the Agents API, and
PolyAI v1 with Vectara REST v1. Stream names, primary keys and cursors come from
`source_conversations.registry`.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.models.scenario import SCENARIO_SECTIONS, entry_key_problems

from fake_api import FakeApiServer
from integration_tests import fixtures_standard as standard
from integration_tests.generate_expected_records import ACCEPTANCE_SETS, AcceptanceSet, render
from source_conversations import registry
from source_conversations.source import SourceConversations
from test_support import configs
from test_support.harness import ConnectorRun, run_connector

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE_CONFIG = HERE / "sample_config.json"
INVALID_CONFIG = HERE / "invalid_config.json"
ACCEPTANCE_CONFIG = HERE / "acceptance-test-config.yml"
CURSOR_FIELDS = {info.cursor_field for info in registry.STREAMS.values()}
FAR_FUTURE = datetime(2090, 1, 1).timestamp()
SETS = pytest.mark.parametrize("acceptance_set", ACCEPTANCE_SETS, ids=[s.name for s in ACCEPTANCE_SETS])


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _secrets(config: dict) -> list[str]:
    return [config["polyai"]["api_key"], config["vectara"]["credentials"]["api_key"]]


def _instant(value: Any) -> float:
    """A cursor value (Unix seconds as a string, or an ISO 8601 date-time) as Unix seconds."""
    text = str(value)
    if text.lstrip("-").isdigit():
        return float(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def cursor_values(blob: Any, path: tuple = ()) -> dict[tuple, float]:
    """Every cursor value of a state blob, by where it sits: `("states", <partition>, field)` for a
    per-partition cursor, `("parent_state", <parent>, ...)` for a parent's, `("state", field)` for a
    global one."""
    found: dict[tuple, float] = {}
    if isinstance(blob, dict):
        for key, value in blob.items():
            if key in CURSOR_FIELDS and not isinstance(value, (dict, list)):
                found[path + (key,)] = _instant(value)
            elif key == "states" and isinstance(value, list):
                for entry in value:
                    partition = json.dumps(entry.get("partition"), sort_keys=True)
                    found.update(cursor_values(entry.get("cursor"), path + ("states", partition)))
            else:
                found.update(cursor_values(value, path + (key,)))
    return found


def _stream_states(states: list[dict]) -> dict[str, dict]:
    return {state["stream"]["stream_descriptor"]["name"]: state["stream"]["stream_state"] for state in states}


@pytest.fixture(scope="module")
def acceptance_api() -> Iterator[FakeApiServer]:
    """The acceptance-test dataset on 127.0.0.1:18765, the address the configs use."""
    yield from standard.acceptance_server()


def _run(command: str, workdir: Path, **files: Path) -> ConnectorRun:
    """`source-conversations <command> --config ... --catalog ... --state ...` with the files as they are."""
    extra: list[str] = []
    for flag, path in files.items():
        extra += [f"--{flag}", str(path)]
    return run_connector(command, workdir, extra_args=extra, timeout=180)


@pytest.fixture(scope="module")
def first_syncs(acceptance_api: FakeApiServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ConnectorRun]:
    """One read of each sample config with its catalog and no state (a first sync), by set name."""
    runs = {}
    for acceptance_set in ACCEPTANCE_SETS:
        workdir = tmp_path_factory.mktemp(f"first-sync-{acceptance_set.name}")
        runs[acceptance_set.name] = _run("read", workdir, config=acceptance_set.config, catalog=acceptance_set.catalog)
    return runs


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
    samples = {str(s.config.relative_to(ROOT)) for s in ACCEPTANCE_SETS}
    catalogs = {str(s.config.relative_to(ROOT)): str(s.catalog.relative_to(ROOT)) for s in ACCEPTANCE_SETS}
    connection = {entry["config_path"]: entry.get("status") for entry in sections["connection"]["tests"]}
    assert connection == {**dict.fromkeys(samples, "succeed"), "integration_tests/invalid_config.json": "failed"}
    for section in ("spec", "discovery"):
        assert {entry["config_path"] for entry in sections[section]["tests"]} == samples, section
    reads = {entry["config_path"]: entry for entry in sections["basic_read"]["tests"]}
    assert set(reads) == samples
    for sample, entry in reads.items():
        assert entry["configured_catalog_path"] == catalogs[sample]
        assert entry.get("empty_streams", []) == [], "every stream of the acceptance dataset has records"


@SETS
def test_sample_config_is_the_fake_servers_config_on_the_fixed_port(
    acceptance_api: FakeApiServer, acceptance_set: AcceptanceSet
) -> None:
    sample = acceptance_set.load_config()
    polyai_version, vectara_version = sample["polyai"]["api_version"], sample["vectara"]["api_version"]
    vectara_extra = {"sync_agents": True} if vectara_version == "v2" else {}
    assert sample == {
        "start_date": standard.START_DATE,
        "polyai": configs.polyai(acceptance_api, polyai_version),
        "vectara": configs.vectara(acceptance_api, vectara_version, **vectara_extra),
    }
    assert sample["polyai"]["project_ids"] == list(standard.POLYAI_PROJECTS)
    assert sample["polyai"]["base_url"] == sample["vectara"]["base_url"] == standard.BASE_URL


def test_the_sample_configs_cover_every_stream_and_api_version() -> None:
    samples = [acceptance_set.load_config() for acceptance_set in ACCEPTANCE_SETS]
    covered = {stream for sample in samples for stream in registry.streams_for(sample)}
    assert covered == set(registry.STREAMS), f"no acceptance set reads {sorted(set(registry.STREAMS) - covered)}"
    for provider in ("polyai", "vectara"):
        versions = {sample[provider]["api_version"] for sample in samples}
        assert versions == set(registry.SPEC_VERSIONS[provider]), provider


def test_invalid_config_differs_from_the_v3_sample_only_by_its_keys() -> None:
    sample, invalid = _json(SAMPLE_CONFIG), _json(INVALID_CONFIG)
    assert not set(_secrets(invalid)) & set(_secrets(sample))
    for config in (sample, invalid):
        config["polyai"]["api_key"] = config["vectara"]["credentials"]["api_key"] = "<key>"
    assert invalid == sample


@SETS
def test_configured_catalog_reads_the_configs_streams_incrementally(acceptance_set: AcceptanceSet) -> None:
    catalog = SourceConversations.read_catalog(str(acceptance_set.catalog))
    assert tuple(configured.stream.name for configured in catalog.streams) == registry.streams_for(
        acceptance_set.load_config()
    )
    for configured in catalog.streams:
        info = registry.stream(configured.stream.name)
        assert configured.sync_mode == SyncMode.incremental
        assert configured.cursor_field == [info.cursor_field]
        assert configured.primary_key == [[key] for key in info.primary_key]


@SETS
def test_abnormal_state_holds_a_far_future_state_for_every_stream_of_the_catalog(acceptance_set: AcceptanceSet) -> None:
    states = SourceConversations.read_state(str(acceptance_set.abnormal_state))
    catalog = _json(acceptance_set.catalog)
    assert [state.stream.stream_descriptor.name for state in states] == [
        configured["stream"]["name"] for configured in catalog["streams"]
    ]
    for state in states:
        assert state.type.value == "STREAM"
        name = state.stream.stream_descriptor.name
        values = cursor_values(_stream_states(_json(acceptance_set.abnormal_state))[name])
        assert values, f"{name}: no `{registry.stream(name).cursor_field}` in its state"
        assert all(value > FAR_FUTURE for value in values.values()), f"{name}: {values}"


@SETS
def test_expected_records_file_is_what_the_generator_writes(acceptance_set: AcceptanceSet) -> None:
    text = acceptance_set.expected_records.read_text(encoding="utf-8")
    assert text == render(acceptance_set), (
        f"{acceptance_set.expected_records.name} is out of date: "
        "run `python -m integration_tests.generate_expected_records`"
    )
    lines = [json.loads(line) for line in text.splitlines()]
    assert all(set(line) == {"stream", "data", "emitted_at"} for line in lines)
    counts = Counter(line["stream"] for line in lines)
    assert tuple(counts) == registry.streams_for(acceptance_set.load_config())
    assert all(counts.values()), counts


# ---- The files against the connector and the fake API server ----


@SETS
def test_catalog_streams_are_the_streams_discover_reports(
    acceptance_api: FakeApiServer, acceptance_set: AcceptanceSet, tmp_path: Path
) -> None:
    run = _run("discover", tmp_path, config=acceptance_set.config)
    assert run.returncode == 0, run.errors()
    discovered = {stream["name"]: stream for stream in run.of_type("CATALOG")[0]["catalog"]["streams"]}
    catalog = _json(acceptance_set.catalog)
    assert [configured["stream"]["name"] for configured in catalog["streams"]] == list(discovered)
    for configured in catalog["streams"]:
        stream = configured["stream"]
        found = discovered[stream["name"]]
        for key in (
            "supported_sync_modes",
            "source_defined_cursor",
            "default_cursor_field",
            "source_defined_primary_key",
        ):
            assert stream[key] == found[key], (stream["name"], key)
        assert configured["sync_mode"] in found["supported_sync_modes"]
        assert configured["cursor_field"] == found["default_cursor_field"]
        assert configured["primary_key"] == found["source_defined_primary_key"]


@SETS
def test_given_each_sample_config_when_check_then_it_succeeds(
    acceptance_api: FakeApiServer, acceptance_set: AcceptanceSet, tmp_path: Path
) -> None:
    assert _run("check", tmp_path, config=acceptance_set.config).connection_status == {"status": "SUCCEEDED"}


def test_invalid_config_fails_check_naming_each_vendor_in_turn_without_printing_its_keys(
    acceptance_api: FakeApiServer, tmp_path: Path
) -> None:
    run = _run("check", tmp_path / "both", config=INVALID_CONFIG)
    status = run.connection_status
    assert status["status"] == "FAILED"
    for secret in _secrets(_json(INVALID_CONFIG)):
        assert secret not in run.output
    for project in standard.POLYAI_PROJECTS:
        assert f"PolyAI project '{project}': PolyAI refused the API key" in status["message"]
    # CDK 7.39's CheckDynamicStream stops at the first stream that is not available: with PolyAI's key
    # fixed, the same check names Vectara's (README, Settings).
    fixed = _json(INVALID_CONFIG)
    fixed["polyai"]["api_key"] = _json(SAMPLE_CONFIG)["polyai"]["api_key"]
    path = tmp_path / "vectara-only-wrong.json"
    path.write_text(json.dumps(fixed), encoding="utf-8")
    second = _run("check", tmp_path / "vectara", config=path)
    assert second.connection_status["status"] == "FAILED"
    assert "Vectara refused the credentials" in second.connection_status["message"]
    assert fixed["vectara"]["credentials"]["api_key"] not in second.output


def _by_primary_key(stream: str, records: list[dict]) -> dict[tuple, dict]:
    keys = registry.stream(stream).primary_key
    found: dict[tuple, dict] = {}
    for record in records:
        key = tuple(record.get(field) for field in keys)
        assert None not in key, f"{stream}: a record without its primary key {keys}: {record}"
        assert found.setdefault(key, record) == record, f"{stream} {key}: sent twice, differently"
        found[key] = record
    return found


@SETS
def test_read_returns_exactly_the_expected_records(
    first_syncs: dict[str, ConnectorRun], acceptance_set: AcceptanceSet
) -> None:
    run = first_syncs[acceptance_set.name]
    assert run.returncode == 0, run.errors()
    assert run.errors() == []
    expected = [json.loads(line) for line in acceptance_set.expected_records.read_text(encoding="utf-8").splitlines()]
    streams = [configured["stream"]["name"] for configured in _json(acceptance_set.catalog)["streams"]]
    assert {message["record"]["stream"] for message in run.of_type("RECORD")} <= set(streams)
    for stream in streams:
        want = _by_primary_key(stream, [line["data"] for line in expected if line["stream"] == stream])
        got = _by_primary_key(stream, run.records(stream))
        assert sorted(got) == sorted(want), (
            f"{stream}: missing {sorted(set(want) - set(got))}, extra {sorted(set(got) - set(want))}"
        )
        for key, record in got.items():
            assert record == want[key], f"{stream} record {key} differs from {acceptance_set.expected_records.name}"
    assert set(_stream_states(run.last_states())) == set(streams), "every stream saves its state"
    for secret in _secrets(acceptance_set.load_config()):
        assert secret not in run.output


@SETS
def test_abnormal_state_has_the_form_a_real_sync_saves(
    first_syncs: dict[str, ConnectorRun], acceptance_set: AcceptanceSet
) -> None:
    """Each cursor of abnormal_state*.json sits where a real sync puts it, and every partition a real
    sync saves (each PolyAI project, each agent) has one."""
    saved = _stream_states(first_syncs[acceptance_set.name].last_states())
    given = _stream_states(_json(acceptance_set.abnormal_state))
    assert set(given) == set(saved)
    for stream, blob in given.items():
        real = cursor_values(saved[stream])
        assert set(cursor_values(blob)) <= set(real), f"{stream}: {sorted(cursor_values(blob))} vs {sorted(real)}"
        per_partition = {path for path in real if "states" in path}
        missing = per_partition - set(cursor_values(blob))
        assert not missing, f"{stream}: no far-future cursor for {sorted(missing)}"


@SETS
def test_read_from_abnormal_state_returns_nothing_and_keeps_the_state(
    acceptance_api: FakeApiServer, acceptance_set: AcceptanceSet, tmp_path: Path
) -> None:
    run = _run(
        "read",
        tmp_path,
        config=acceptance_set.config,
        catalog=acceptance_set.catalog,
        state=acceptance_set.abnormal_state,
    )
    assert run.returncode == 0, run.errors()
    assert run.records() == []
    given = _stream_states(_json(acceptance_set.abnormal_state))
    emitted = _stream_states(run.last_states())
    assert set(emitted) == set(given), "every stream emits its state"
    for stream, blob in given.items():
        kept = cursor_values(emitted[stream])
        for path, value in cursor_values(blob).items():
            assert path in kept, f"{stream}: the state lost {path}"
            assert kept[path] >= value, f"{stream}: the state at {path} went back from {value} to {kept[path]}"
