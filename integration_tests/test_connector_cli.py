"""The installed console script against the fake API, as Airbyte runs it: spec, check, discover, read."""

import math
import subprocess
import time
from pathlib import Path

import pytest

from fake_api import FakeApiServer
from source_conversations import registry
from source_conversations.source import manifest
from test_support import leaks
from test_support.configs import connector_config, days_ago
from test_support.harness import configured_catalog, connector_executable, run_connector

START = days_ago(30)


def read(workdir: Path, config: dict, streams, state=None, mode="incremental"):
    run = run_connector("read", workdir, config, configured_catalog(streams, mode), state)
    assert run.returncode == 0, run.output[-3000:]
    assert run.errors() == []
    return run


# --------------------------------------------------------------------------------------------------
# spec, check, discover, config errors
# --------------------------------------------------------------------------------------------------


def test_given_spec_when_run_then_it_is_the_manifests_with_every_secret_marked(workdir):
    run = run_connector("spec", workdir)
    spec = run.of_type("SPEC")[0]["spec"]["connectionSpecification"]
    assert spec == manifest()["spec"]["connection_specification"]
    polyai_key = spec["properties"]["polyai"]["properties"]["api_key"]
    assert polyai_key["airbyte_secret"] is True
    vectara_forms = spec["properties"]["vectara"]["properties"]["credentials"]["oneOf"]
    assert [
        form["properties"].get("api_key", form["properties"].get("client_secret"))["airbyte_secret"]
        for form in vectara_forms
    ] == [True, True]


@pytest.mark.parametrize("versions", [("v3", "v2"), ("v1", "v1")], ids=["v3-v2", "v1-v1"])
def test_given_both_providers_when_check_then_it_succeeds(server, workdir, versions):
    config = connector_config(server, START, *versions)
    assert run_connector("check", workdir, config).connection_status == {"status": "SUCCEEDED"}


def test_given_a_query_key_when_check_with_agents_then_it_fails_saying_which_key_to_use(server, workdir):
    config = connector_config(server, START, polyai_version=None)
    config["vectara"]["credentials"]["api_key"] = server.vectara_config("query_api_key")["credentials"]["api_key"]
    status = run_connector("check", workdir, config).connection_status
    assert status["status"] == "FAILED"
    assert "Personal API key" in status["message"] and "`vectara.sync_agents`" in status["message"]
    config["vectara"]["sync_agents"] = False
    assert run_connector("check", workdir / "chats", config).connection_status == {"status": "SUCCEEDED"}


def test_given_one_project_that_does_not_exist_when_check_then_it_names_that_project(server, workdir):
    config = connector_config(server, START, vectara_version=None)
    config["polyai"]["project_ids"] = [*server.polyai_project_ids, "PROJECT-missing", "PROJECT-gone"]
    status = run_connector("check", workdir, config).connection_status
    assert status["status"] == "FAILED"
    assert (
        "PolyAI project 'PROJECT-missing'" in status["message"] and "PolyAI project 'PROJECT-gone'" in status["message"]
    )
    assert "PROJECT_NOT_FOUND" in status["message"]
    assert "PROJECT-alpha" not in status["message"]


@pytest.mark.parametrize(
    "change, named",
    [
        ({"polyai": {"include_context_state": True}}, "`polyai.include_context_state` is v1 only"),
        ({"polyai": {"page_size": 1500}}, "`polyai.page_size` is over 1000, v3's maximum"),
        ({"polyai": {"api_version": "v1", "channels": ["WEBCHAT"]}}, "`polyai.channels` is v3 only"),
        ({"polyai": {"api_version": "v1", "include_latency": True}}, "`polyai.include_latency` is v3 only"),
        ({"vectara": {"api_version": "v1"}}, "`vectara.customer_id` is required with api_version v1"),
        (
            {"polyai": {"variant_id": "VARIANT-1", "variant_name": "Main line"}},
            "`polyai.variant_id` and `polyai.variant_name`",
        ),
    ],
)
def test_given_an_invalid_combination_when_check_discover_and_read_then_each_fails_naming_the_field(
    server, workdir, change, named
):
    config = connector_config(server, START)
    for provider, values in change.items():
        config[provider].update(values)
    check = run_connector("check", workdir, config)
    assert check.connection_status["status"] == "FAILED" and named in check.connection_status["message"]
    for command, extra in (("discover", {}), ("read", {"catalog": configured_catalog(["vectara_chats"])})):
        run = run_connector(command, workdir / command, config, **extra)
        assert run.returncode != 0
        errors = run.errors()
        assert len(errors) == 1 and errors[0]["failure_type"] == "config_error" and named in errors[0]["message"]
        assert "Traceback" not in run.stderr


def test_given_an_unreadable_config_file_when_run_then_one_config_error_trace(workdir):
    path = workdir / "config.json"
    path.write_text("{not json", encoding="utf-8")
    completed = subprocess.run([connector_executable(), "check", "--config", str(path)], capture_output=True, text=True)
    leaks.record_output("check unreadable", completed.stdout + completed.stderr)
    assert completed.returncode == 1
    assert '"failure_type":"config_error"' in completed.stdout and "could not start" in completed.stdout


@pytest.mark.parametrize(
    "config_of, expected",
    [
        (lambda s: connector_config(s, START, vectara_version=None), ("polyai_conversations",)),
        (
            lambda s: connector_config(s, START, polyai_version=None),
            ("vectara_chats", "vectara_chat_turns", "vectara_agent_sessions", "vectara_agent_events"),
        ),
        (
            lambda s: connector_config(s, START, polyai_version=None, vectara_version="v1"),
            ("vectara_conversations", "vectara_turns"),
        ),
    ],
)
def test_given_one_provider_when_discover_then_only_its_streams_with_their_keys_and_cursors(
    server, workdir, config_of, expected
):
    catalog = run_connector("discover", workdir, config_of(server)).of_type("CATALOG")[0]["catalog"]["streams"]
    assert tuple(stream["name"] for stream in catalog) == expected
    for stream in catalog:
        info = registry.stream(stream["name"])
        assert stream["source_defined_primary_key"] == [[key] for key in info.primary_key]
        assert stream["default_cursor_field"] == [info.cursor_field]
        assert set(stream["supported_sync_modes"]) == {"full_refresh", "incremental"}


# --------------------------------------------------------------------------------------------------
# PolyAI v3, several projects
# --------------------------------------------------------------------------------------------------


def test_given_v3_and_three_projects_when_read_then_every_request_is_v3_paged_by_cursor_at_the_minimum_count(workdir):
    with FakeApiServer(
        polyai_projects={"PROJECT-a": 230, "PROJECT-b": 120, "PROJECT-c": 15}, polyai_spacing_seconds=600
    ) as server:
        config = connector_config(server, days_ago(5), vectara_version=None)
        config["polyai"].update(page_size=50, window_days=1)
        run = read(workdir, config, ["polyai_conversations"])
        entries = server.requests.entries("polyai")
    for project in server.polyai_project_ids:
        expected = server.polyai_ids(project_id=project, in_progress=False)
        assert sorted(
            i.split("/", 1)[1] for i in run.ids("polyai_conversations") if i.startswith(project + "/")
        ) == sorted(expected)
    assert all(entry.path.startswith("/v3/") for entry in entries)
    pages = [entry for entry in entries if "in_progress" not in entry.query]
    assert not any("offset" in entry.query for entry in pages)
    followed = [entry for entry in pages if "cursor" in entry.query]
    assert followed, "windows with more than one page were paged by cursor"
    probes = [entry for entry in entries if entry.query.get("in_progress") == "true"]
    assert len(probes) == 3, "one in-progress probe per project"
    by_window = {}
    for entry in pages:
        by_window.setdefault((entry.path.split("/")[3], entry.query["start_time"], entry.query["end_time"]), []).append(
            entry
        )
    for (project, start, end), requests in by_window.items():
        rows = len(server.polyai_ids(start, end, project_id=project, in_progress=None))
        assert len(requests) == max(1, math.ceil(rows / 50)), (project, start, rows)


def test_given_a_project_added_later_when_synced_then_it_starts_at_the_start_date_and_the_others_resume(
    server, workdir
):
    config = connector_config(server, START, vectara_version=None)
    first_projects = server.polyai_project_ids[:2]
    config["polyai"]["project_ids"] = list(first_projects)
    first = read(workdir / "1", config, ["polyai_conversations"])
    assert {i.split("/")[0] for i in first.ids("polyai_conversations")} == set(first_projects)
    saved = {
        entry["partition"]["project_id"]: entry["cursor"]["started_at"]
        for entry in first.stream_states("polyai_conversations")[-1]["states"]
    }

    server.finish_polyai_in_progress()
    added = server.add_polyai(1, project_id=first_projects[0], started_at=time.time() - 480)
    config["polyai"]["project_ids"] = list(server.polyai_project_ids)
    second = read(workdir / "2", config, ["polyai_conversations"], state=first.last_states())

    new_project = server.polyai_project_ids[2]
    from_new = [r["id"] for r in second.records("polyai_conversations") if r["project_id"] == new_project]
    assert sorted(from_new) == sorted(server.polyai_ids(project_id=new_project, in_progress=False))
    resumed = [r for r in second.records("polyai_conversations") if r["project_id"] != new_project]
    assert added[0] in {r["id"] for r in resumed}
    assert all(r["started_at"].replace("+00:00", "Z") >= saved[r["project_id"]][:19] for r in resumed), (
        "resumed from state"
    )


def test_given_a_project_removed_when_synced_then_it_is_not_read(server, workdir):
    config = connector_config(server, START, vectara_version=None)
    config["polyai"]["project_ids"] = server.polyai_project_ids[:1]
    read(workdir, config, ["polyai_conversations"])
    assert {entry.path.split("/")[3] for entry in server.requests.entries("polyai")} == set(
        server.polyai_project_ids[:1]
    )


def test_given_channels_and_latency_when_read_then_only_those_channels_with_turn_latency(server, workdir):
    config = connector_config(server, START, vectara_version=None)
    config["polyai"].update(channels=["WEBCHAT", "CHAT"], include_latency=True)
    run = read(workdir, config, ["polyai_conversations"])
    records = run.records("polyai_conversations")
    assert records and {record["channel"] for record in records} <= {"WEBCHAT", "CHAT"}
    assert any(isinstance(turn.get("latency"), (int, float)) for record in records for turn in record["turns"])
    pages = [entry for entry in server.requests.entries("polyai") if "in_progress" not in entry.query]
    assert all(entry.query.get("include_latency") == "true" for entry in pages)


def test_given_v1_when_read_then_it_pages_by_offset_and_sends_nulls_as_the_api_does(server, workdir):
    config = connector_config(server, START, polyai_version="v1", vectara_version=None)
    config["polyai"]["page_size"] = 40
    run = read(workdir, config, ["polyai_conversations"])
    entries = [entry for entry in server.requests.entries("polyai") if "in_progress" not in entry.query]
    assert all(entry.path.startswith("/v1/") for entry in entries)
    assert any("offset" in entry.query for entry in entries) and not any("cursor" in entry.query for entry in entries)
    assert len(run.ids("polyai_conversations")) == sum(
        len(server.polyai_ids(project_id=p, in_progress=False)) for p in server.polyai_project_ids
    )


# --------------------------------------------------------------------------------------------------
# Vectara: turns and events appended to old conversations and sessions
# --------------------------------------------------------------------------------------------------


def appended(server: FakeApiServer, version: str, conversation_id: str, n: int) -> list:
    """Appends `n` turns made a few seconds ago (before the next sync's window ends); returns their ids."""
    v1_ids = server.add_vectara_turns(conversation_id, n, epoch_secs=int(time.time()) - 5)
    if version == "v1":
        return v1_ids
    return [turn["id"] for turn in server.vectara_chat_turns(server.vectara_chat_id(conversation_id))[-n:]]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_given_turns_appended_inside_and_outside_the_lookback_when_synced_again_then_those_inside_arrive(
    workdir, version
):
    now = int(time.time())
    with FakeApiServer(vectara_count=60, vectara_spacing_seconds=86400, vectara_end=now - 600) as server:
        config = connector_config(server, days_ago(90), polyai_version=None, vectara_version=version)
        config["vectara"].update(turns_lookback_days=7, sync_agents=False)
        turns = "vectara_turns" if version == "v1" else "vectara_chat_turns"
        lists = "vectara_conversations" if version == "v1" else "vectara_chats"
        first = read(workdir / "1", config, [lists, turns])
        assert sorted(first.ids(turns)) == sorted(server.vectara_turn_ids(version))
        by_age = sorted(server.vectara_records(), key=lambda turn: int(turn["epochSecs"]))  # one a day
        recent, old = by_age[-3]["id"], by_age[-20]["id"]  # made 2 and 19 days ago
        appended_recent = appended(server, version, recent, 2)
        appended_old = appended(server, version, old, 1)
        second = read(workdir / "2", config, [lists, turns], state=first.last_states())
        ids = set(second.ids(turns))
    assert set(appended_recent) <= ids
    assert not set(appended_old) & ids, "outside the lookback: the documented trade-off"
    assert len(ids) <= len(appended_recent) + 2, "few old turns are sent again"


def test_given_events_appended_to_an_old_session_and_a_deleted_session_when_synced_again_then_events_arrive_without_error(
    server, workdir
):
    config = connector_config(server, START, polyai_version=None)
    streams = ["vectara_agent_sessions", "vectara_agent_events"]
    first = read(workdir / "1", config, streams)
    agent = server.vectara_agent_keys()[0]
    sessions = server.vectara_session_keys(agent)
    added = server.add_vectara_events(agent, sessions[0], 3, created_at=time.time() - 5)
    server.delete_vectara_session(agent, sessions[1])
    second = read(workdir / "2", config, streams, state=first.last_states())
    ids = set(second.ids("vectara_agent_events"))
    assert set(added) <= ids
    events = {e["id"]: e for e in first.records("vectara_agent_events")}
    assert {event["type"] for event in events.values()} >= {"input_message", "agent_output", "future_event_type"}
    unknown = next(e for e in events.values() if e["type"] == "future_event_type")
    assert unknown["agent_key"] and unknown["session_key"] and len(unknown) > 5, "an unknown type arrives whole"
