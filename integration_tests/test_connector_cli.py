"""The installed `source-conversations` console script against the fake API server, as a user runs it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fake_api import FakeApiServer
from integration_tests.conftest import small_pages
from integration_tests.harness import configured_catalog, run_connector

POLYAI = "polyai_conversations"
VECTARA = "vectara_conversations"


def _secrets(server: FakeApiServer) -> list[str]:
    oauth = server.config(auth="oauth2")["vectara"]["credentials"]
    return [server.polyai_config()["api_key"], server.vectara_config()["credentials"]["api_key"], oauth["client_secret"]]


def _assert_once_each(ids: list[str]) -> None:
    duplicates = [item for item, count in Counter(ids).items() if count > 1]
    assert not duplicates, f"{len(duplicates)} ids emitted more than once"


def test_spec_shows_both_providers_with_every_secret_marked(workdir: Path) -> None:
    run = run_connector("spec", workdir)
    assert run.returncode == 0
    spec = run.of_type("SPEC")[0]["spec"]["connectionSpecification"]
    polyai = spec["properties"]["polyai"]
    assert polyai["properties"]["api_key"]["airbyte_secret"] is True
    assert set(polyai["required"]) == {"api_key", "account_id", "project_id"}
    credentials = spec["properties"]["vectara"]["properties"]["credentials"]["oneOf"]
    assert {c["properties"]["auth_type"]["const"] for c in credentials} == {"api_key", "oauth2_client_credentials"}
    assert credentials[0]["properties"]["api_key"]["airbyte_secret"] is True
    assert credentials[1]["properties"]["client_secret"]["airbyte_secret"] is True


@pytest.mark.parametrize("auth", ["api_key", "oauth2"])
def test_check_succeeds_for_both_providers(server: FakeApiServer, workdir: Path, auth: str) -> None:
    run = run_connector("check", workdir, config=server.config(auth=auth))
    assert run.connection_status == {"status": "SUCCEEDED"}


def test_check_with_a_wrong_key_fails_naming_the_provider_and_never_prints_the_key(
    server: FakeApiServer, workdir: Path
) -> None:
    config = server.config()
    wrong_key = "wrong-polyai-key-0123456789abcdef"
    config["polyai"]["api_key"] = wrong_key
    run = run_connector("check", workdir, config=config)
    status = run.connection_status
    assert status["status"] == "FAILED"
    assert status["message"].startswith("PolyAI failed: PolyAI refused the API key")
    assert "polyai.region" in status["message"]
    assert "Vectara" not in status["message"]
    for secret in [wrong_key, *_secrets(server)]:
        assert secret not in run.output


def test_discover_lists_only_the_configured_providers_streams(server: FakeApiServer, workdir: Path) -> None:
    config = server.config()
    del config["vectara"]
    run = run_connector("discover", workdir, config=config)
    streams = run.of_type("CATALOG")[0]["catalog"]["streams"]
    assert [stream["name"] for stream in streams] == [POLYAI]
    assert streams[0]["source_defined_primary_key"] == [["id"]]
    assert streams[0]["default_cursor_field"] == ["started_at"]


@pytest.mark.parametrize("stream", [POLYAI, VECTARA])
def test_full_refresh_returns_every_conversation_once(server: FakeApiServer, workdir: Path, stream: str) -> None:
    run = run_connector(
        "read", workdir, config=small_pages(server.config()), catalog=configured_catalog([stream], "full_refresh")
    )
    assert run.returncode == 0, run.errors()
    ids = run.ids(stream)
    _assert_once_each(ids)
    expected = server.polyai_ids(in_progress=False) if stream == POLYAI else server.vectara_ids()
    assert sorted(ids) == sorted(expected)


@pytest.mark.parametrize("auth", ["api_key", "oauth2"])
def test_second_incremental_sync_returns_only_new_conversations(
    server: FakeApiServer, workdir: Path, auth: str
) -> None:
    config = small_pages(server.config(auth=auth))
    catalog = configured_catalog()
    first = run_connector("read", workdir / "1", config=config, catalog=catalog)
    assert first.returncode == 0, first.errors()
    assert len(first.ids(POLYAI)) == len(server.polyai_ids(in_progress=False))
    assert len(first.ids(VECTARA)) == len(server.vectara_ids())

    new_polyai = server.add_polyai(7)
    new_vectara = server.add_vectara(5)
    second = run_connector("read", workdir / "2", config=config, catalog=catalog, state=first.last_states())
    assert second.returncode == 0, second.errors()
    # The in-progress ones of the first sync finished in between? Not yet: only the new ones arrive.
    assert sorted(second.ids(POLYAI)) == sorted(new_polyai)
    assert sorted(second.ids(VECTARA)) == sorted(new_vectara)
    for secret in _secrets(server):
        assert secret not in first.output + second.output


def test_conversation_in_progress_during_a_sync_arrives_in_the_next_one(
    server: FakeApiServer, workdir: Path
) -> None:
    config = small_pages(server.config())
    catalog = configured_catalog([POLYAI])
    in_progress = server.polyai_ids(in_progress=True)
    assert in_progress, "the fixture holds some conversations in progress"

    first = run_connector("read", workdir / "1", config=config, catalog=catalog)
    assert not set(in_progress) & set(first.ids(POLYAI))

    server.finish_polyai_in_progress()
    second = run_connector("read", workdir / "2", config=config, catalog=catalog, state=first.last_states())
    assert set(in_progress) <= set(second.ids(POLYAI))
    finished = {record["id"]: record for record in second.records(POLYAI)}
    assert all(finished[conversation]["in_progress"] is False for conversation in in_progress)


def test_one_read_syncs_both_providers(server: FakeApiServer, workdir: Path) -> None:
    run = run_connector("read", workdir, config=small_pages(server.config()), catalog=configured_catalog())
    assert run.returncode == 0
    assert {state["stream"]["stream_descriptor"]["name"] for state in run.states()} == {POLYAI, VECTARA}
    for stream, expected in ((POLYAI, server.polyai_ids(in_progress=False)), (VECTARA, server.vectara_ids())):
        _assert_once_each(run.ids(stream))
        assert sorted(run.ids(stream)) == sorted(expected)


def test_oauth_fetches_one_token_for_many_pages(server: FakeApiServer, workdir: Path) -> None:
    config = small_pages(server.config(auth="oauth2"))
    run = run_connector("read", workdir, config=config, catalog=configured_catalog([VECTARA]))
    assert run.returncode == 0
    stats = server.stats()
    assert stats["requests"]["token"] == 1
    assert stats["requests"]["vectara"] >= 300 // 40
