"""One manifest, three runners, the same data.

The same syncs run through the package's console script (with and without its process-level extras) and
through the CDK's `source-declarative-manifest` with the manifest and `components.py` injected, in a
process where `source_conversations` cannot be imported, as Airbyte Cloud and the Connector Builder run
it. Each must deliver the same records and save the same states.
"""

import hashlib
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from fake_api import FakeApiServer
from source_conversations import registry
from test_support.configs import connector_config, days_ago
from test_support.harness import PLAIN_ENV, ConnectorRun, configured_catalog, injected, run_connector
from test_support.truth import expected_ids

# console: the package's console script; plain: the same without extras; manifest: the CDK's runner.
RUNNERS = {"console": ("console", None), "plain": ("console", PLAIN_ENV), "manifest": ("manifest", None)}
DATA_END = (int(time.time()) // 3600 - 1) * 3600  # one fixed timeline for every server of this module
START = days_ago(40)  # the fake's data spans a few hours before DATA_END


def fake() -> FakeApiServer:
    return FakeApiServer(
        polyai_projects={"PROJECT-alpha": 160, "PROJECT-beta": 90, "PROJECT-gamma": 40},
        vectara_count=90,
        in_progress_count=2,
        vectara_sessions_per_agent=5,
        vectara_events_per_session=4,
        polyai_end=DATA_END,
        vectara_end=DATA_END,
    )


def sync(runner: str, workdir: Path, config: dict, streams, state=None, mode: str = "incremental") -> ConnectorRun:
    kind, env = RUNNERS[runner]
    run = run_connector("read", workdir, config, configured_catalog(streams, mode), state, runner=kind, env=env)
    assert run.returncode == 0, run.output[-3000:]
    assert run.errors() == []
    return run


def final_states(run: ConnectorRun) -> Dict[str, dict]:
    """The last state of each stream, less the CDK's `lookback_window`: how long that sync took, in seconds."""
    return {
        state["stream"]["stream_descriptor"]["name"]: {
            key: value for key, value in state["stream"]["stream_state"].items() if key != "lookback_window"
        }
        for state in run.last_states()
    }


def without_top_level_nulls(records: List[dict]) -> List[dict]:
    return [{key: value for key, value in record.items() if value is not None} for record in records]


@pytest.fixture(scope="module")
def full_refresh(tmp_path_factory) -> Dict[Tuple[str, str], Tuple[ConnectorRun, Dict[str, List[str]]]]:
    """Every stream of every API version, read in full by each runner from one fake server."""
    results = {}
    with fake() as server:
        for versions in (("v3", "v2"), ("v1", "v1")):
            config = connector_config(server, start_date=START, polyai_version=versions[0], vectara_version=versions[1])
            config["polyai"]["window_days"] = 7
            streams = registry.streams_for(config)
            expected = expected_ids(server, streams)
            for runner in RUNNERS:
                workdir = tmp_path_factory.mktemp(f"{runner}-{versions[1]}")
                results[(runner, versions[1])] = (sync(runner, workdir, config, streams, mode="full_refresh"), expected)
    return results


@pytest.mark.parametrize("versions", ["v2", "v1"])
@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_given_each_runner_when_full_refresh_then_every_stream_delivers_exactly_the_fakes_records(
    full_refresh, runner, versions
):
    run, expected = full_refresh[(runner, versions)]
    for stream, ids in expected.items():
        assert sorted(set(run.ids(stream))) == sorted(ids), stream
        assert len(run.ids(stream)) == len(ids), f"{stream}: a record came twice"


@pytest.mark.parametrize("versions", ["v2", "v1"])
def test_given_the_three_runners_when_full_refresh_then_records_and_states_are_the_same(full_refresh, versions):
    console, _ = full_refresh[("console", versions)]
    for runner in ("plain", "manifest"):
        other, _ = full_refresh[(runner, versions)]
        for stream in registry.STREAMS:
            mine = sorted(without_top_level_nulls(console.records(stream)), key=repr)
            theirs = sorted(without_top_level_nulls(other.records(stream)), key=repr)
            assert mine == theirs, f"{runner} {stream}"
        assert final_states(console) == final_states(other), runner


def test_given_the_extras_when_records_hold_nulls_then_only_the_console_script_keeps_top_level_nulls(full_refresh):
    console, _ = full_refresh[("console", "v1")]
    plain, _ = full_refresh[("plain", "v1")]
    with_nulls = [r for r in console.records("polyai_conversations") if any(v is None for v in r.values())]
    assert with_nulls, "the fake serves conversations with null fields"
    assert all(None not in r.values() for r in plain.records("polyai_conversations"))


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_given_conversations_in_progress_when_they_finish_between_syncs_then_the_next_sync_delivers_them_per_project(
    tmp_path, runner
):
    with fake() as server:
        config = connector_config(server, start_date=START, vectara_version=None)
        config["polyai"]["window_days"] = 7
        held = {
            project: server.polyai_ids(project_id=project, in_progress=True) for project in server.polyai_project_ids
        }
        assert sum(map(len, held.values())) >= 2, "the fake has live conversations in progress"
        first = sync(runner, tmp_path / "first", config, ["polyai_conversations"])
        delivered = set(first.ids("polyai_conversations"))
        assert not delivered & {f"{p}/{i}" for p, ids in held.items() for i in ids}
        assert all(record["in_progress"] is False for record in first.records("polyai_conversations"))

        server.finish_polyai_in_progress()
        new = {
            project: server.add_polyai(2, project_id=project, started_at=time.time() - 900)
            for project in server.polyai_project_ids
        }
        second = sync(runner, tmp_path / "second", config, ["polyai_conversations"], state=first.last_states())

        arrived = set(second.ids("polyai_conversations"))
        for project in server.polyai_project_ids:
            for conversation_id in held[project] + new[project]:
                assert f"{project}/{conversation_id}" in arrived, (project, conversation_id)
        finished = {r["id"]: r for r in second.records("polyai_conversations")}
        assert all(finished[i]["in_progress"] is False for ids in held.values() for i in ids)
        states = second.stream_states("polyai_conversations")[-1]["states"]
        assert sorted(entry["partition"]["project_id"] for entry in states) == sorted(server.polyai_project_ids)


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_given_records_made_around_the_syncs_start_when_read_then_state_stays_a_second_before_it(tmp_path, runner):
    with fake() as server:
        config = connector_config(server, start_date=START, polyai_version=None, vectara_version="v1")
        before = int(time.time()) - 3
        server.add_vectara(1, epoch_secs=before)
        future = server.add_vectara(1, epoch_secs=int(time.time()) + 3600)
        started = int(time.time())
        run = sync(runner, tmp_path, config, ["vectara_conversations"])
        ended = int(time.time())
        ids = set(run.ids("vectara_conversations"))
        assert server.vectara_ids()[-2] in ids and future[0] not in ids
        saved = int(run.stream_states("vectara_conversations")[-1]["epochSecs"])
        assert saved == before <= started - 1 and saved < ended


@pytest.mark.parametrize("runner", ["console", "manifest"])
@pytest.mark.parametrize("provider", ["polyai", "vectara"])
def test_given_a_wrong_key_when_check_then_it_fails_naming_the_setting(tmp_path, runner, provider):
    with fake() as server:
        config = connector_config(server)
        wrong = "a-wrong-key-that-the-fake-refuses-7d1e"
        if provider == "polyai":
            config["polyai"]["api_key"] = wrong
        else:
            config["vectara"]["credentials"]["api_key"] = wrong
        check = run_connector("check", tmp_path, config, runner=runner)
        status = check.connection_status
        assert status["status"] == "FAILED"
        assert (f"`{provider}.api_key`" if provider == "polyai" else "`vectara.credentials`") in status["message"]
        assert wrong not in check.output


@pytest.mark.parametrize("runner", ["console", "manifest"])
def test_given_a_wrong_address_when_check_then_it_fails_naming_the_project(tmp_path, runner):
    with fake() as server:
        config = connector_config(server, start_date=START, vectara_version=None)
        config["polyai"]["base_url"] = server.base_url + "/not-polyai"
        check = run_connector("check", tmp_path, config, runner=runner)
    assert check.connection_status["status"] == "FAILED"
    message = check.connection_status["message"]
    assert all(f"PolyAI project '{project}'" in message for project in config["polyai"]["project_ids"])


def test_given_components_that_import_the_package_when_run_by_the_manifest_runner_then_it_fails(tmp_path):
    """The runner the parity tests use cannot import source_conversations, as in Airbyte Cloud."""
    with fake() as server:
        body = injected(connector_config(server))
        body["__injected_components_py"] = "import source_conversations\n" + body["__injected_components_py"]
        body["__injected_components_py_checksums"] = {
            "md5": hashlib.md5(body["__injected_components_py"].encode()).hexdigest()
        }
        run = run_connector("check", tmp_path, body, runner="manifest", inject=False)
    assert run.returncode != 0
    assert "source_conversations" in run.output


def test_given_every_runner_when_streams_are_listed_then_discover_agrees_with_the_registry(tmp_path):
    with fake() as server:
        for versions in (("v3", "v2"), ("v1", "v1")):
            config = connector_config(server, start_date=START, polyai_version=versions[0], vectara_version=versions[1])
            for runner in ("console", "manifest"):
                run = run_connector("discover", tmp_path / runner / versions[1], config, runner=runner)
                listed = [stream["name"] for stream in run.of_type("CATALOG")[0]["catalog"]["streams"]]
                assert tuple(listed) == registry.streams_for(config), runner


def test_given_no_agents_sync_when_discovered_then_only_chats_streams(tmp_path):
    with fake() as server:
        config = connector_config(server, start_date=START, polyai_version=None)
        config["vectara"]["sync_agents"] = False
        run = run_connector("discover", tmp_path, config, runner="manifest")
        listed = [stream["name"] for stream in run.of_type("CATALOG")[0]["catalog"]["streams"]]
        assert listed == ["vectara_chats", "vectara_chat_turns"]
