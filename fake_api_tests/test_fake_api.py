"""Behaviour of the fake PolyAI / Vectara API server and its data helpers."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from fake_api import (
    DEFAULT_OAUTH_CLIENT_SECRET,
    DEFAULT_POLYAI_API_KEY,
    DEFAULT_VECTARA_API_KEY,
    POLYAI_DESCRIPTIONS,
    FakeApiServer,
    Fault,
    polyai_conversation,
    polyai_page,
    vectara_page,
    vectara_turn,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
POLYAI_FIELDS = set(POLYAI_DESCRIPTIONS)
TURN_FIELDS = {
    "user_input",
    "user_input_dtmf",
    "user_input_datetime",
    "agent_response",
    "agent_response_datetime",
    "latency",
    "translated_user_input",
    "english_agent_response",
    "intents",
    "entities",
    "is_ood",
    "is_silence",
}
UTC = UTC


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


class Client:
    """A thin requests-based client of one fake server."""

    def __init__(self, server: FakeApiServer) -> None:
        self.server = server
        self.session = requests.Session()
        polyai = server.polyai_config()
        self.polyai_url = f"{server.base_url}/v1/{polyai['account_id']}/{polyai['project_id']}/conversations"
        self.vectara_url = f"{server.base_url}/v1/list-conversations"
        self.vectara_headers = {"customer-id": server.vectara_customer_id, "x-api-key": server.vectara_api_key}

    def polyai(self, timeout: float = 10, **params: Any) -> requests.Response:
        return self.session.get(
            self.polyai_url, params=params, headers={"x-api-key": self.server.polyai_api_key}, timeout=timeout
        )

    def vectara(self, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> requests.Response:
        return self.session.post(self.vectara_url, json=body or {}, headers=headers or self.vectara_headers, timeout=10)

    def token(self, **form: str) -> requests.Response:
        return self.session.post(self.server.token_url, data=form, timeout=10)

    def all_polyai_ids(self, **params: Any) -> list[str]:
        ids: list[str] = []
        offset = 0
        while True:
            page = self.polyai(offset=offset, **params).json()
            ids += [conversation["id"] for conversation in page["conversations"]]
            if "next_offset" not in page:
                return ids
            offset = page["next_offset"]

    def all_vectara_pages(self, num_results: int) -> list[dict[str, Any]]:
        pages = [self.vectara({"numResults": num_results}).json()]
        while pages[-1].get("pageKey"):
            pages.append(self.vectara({"pageKey": pages[-1]["pageKey"]}).json())
        return pages


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeApiServer]:
    """A read-only server shared by the tests that neither mutate data nor inject faults."""
    with FakeApiServer(polyai_count=300, vectara_count=120, in_progress_count=7) as server:
        yield server


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    """A fresh server for tests that change data, faults, tokens or the log."""
    with FakeApiServer(polyai_count=60, vectara_count=23, in_progress_count=4) as server:
        yield server


@pytest.fixture
def client(server: FakeApiServer) -> Client:
    return Client(server)


@pytest.fixture(scope="module")
def shared_client(shared: FakeApiServer) -> Client:
    return Client(shared)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


def test_given_same_seed_and_index_when_generating_then_records_are_identical() -> None:
    assert polyai_conversation(17, seed=5) == polyai_conversation(17, seed=5)
    assert vectara_turn(17, seed=5) == vectara_turn(17, seed=5)


def test_given_different_seeds_when_generating_then_records_differ() -> None:
    assert polyai_conversation(3, seed=1)["id"] != polyai_conversation(3, seed=2)["id"]
    assert vectara_turn(3, seed=1)["id"] != vectara_turn(3, seed=2)["id"]


def test_given_polyai_conversation_then_every_documented_field_is_present() -> None:
    conversation = polyai_conversation(0)
    assert set(conversation) == POLYAI_FIELDS
    assert conversation["id"].startswith("CA") and len(conversation["id"]) == 34
    for turn in conversation["turns"]:
        assert set(turn) == TURN_FIELDS


def test_given_many_conversations_then_text_and_shape_variety_is_exercised() -> None:
    conversations = [polyai_conversation(i) for i in range(400)]
    texts = " ".join(
        str(turn[field]) for c in conversations for turn in c["turns"] for field in ("user_input", "agent_response")
    )
    assert any("\u0600" <= ch <= "\u06ff" for ch in texts)  # Arabic
    assert any("\u0590" <= ch <= "\u05ff" for ch in texts)  # Hebrew
    assert any(ord(ch) >= 0x1F300 for ch in texts)  # emoji
    assert "\r\n" in texts
    assert {c["started_at"][-1] for c in conversations} == {"Z", "0"}  # "Z" and "+00:00"
    assert {c["environment"] for c in conversations} == {"live", "sandbox", "pre-release"}
    assert {c["channel"] for c in conversations} == {"VOICE-SIP", "WEBCHAT", "CHAT"}
    assert any(c["handoff"] and c["handoff_reason"] and c["handoff_destination"] for c in conversations)
    assert any(c["from_number"] is None for c in conversations)
    assert any(not c["turns"] and c["num_turns"] > 0 for c in conversations)  # transcript access off
    assert any(isinstance(value, list) for c in conversations for value in c["metrics"].values())
    assert any(turn["user_input_dtmf"] for c in conversations for turn in c["turns"])
    assert any(turn["is_silence"] and turn["user_input"] is None for c in conversations for turn in c["turns"])


def test_given_generated_records_then_average_sizes_match_the_vendors() -> None:
    polyai_sizes = [len(orjson.dumps(polyai_conversation(i))) for i in range(1000)]
    vectara_sizes = [len(orjson.dumps(vectara_turn(i))) for i in range(1000)]
    assert 1500 <= sum(polyai_sizes) / 1000 <= 2100
    assert 300 <= sum(vectara_sizes) / 1000 <= 500


def test_given_in_progress_conversation_then_durations_are_null_and_transcript_partial() -> None:
    finished = polyai_conversation(9)
    live = polyai_conversation(9, in_progress=True)
    assert live["id"] == finished["id"] and live["started_at"] == finished["started_at"]
    assert live["in_progress"] is True and live["total_duration"] is None and live["polyai_duration"] is None
    assert live["num_turns"] <= finished["num_turns"]


def test_given_vectara_turn_then_id_equals_conversation_id_and_epoch_is_a_string() -> None:
    turn = vectara_turn(4)
    assert set(turn) == {"id", "conversationId", "query", "answer", "enabled", "epochSecs"}
    assert turn["id"] == turn["conversationId"]
    assert isinstance(turn["epochSecs"], str) and turn["epochSecs"].isdigit()


def test_given_epoch_as_number_ratio_then_some_epochs_are_numbers() -> None:
    epochs = [vectara_turn(i, epoch_as_number_ratio=0.5)["epochSecs"] for i in range(200)]
    assert {type(epoch) for epoch in epochs} == {str, int}


def test_given_page_helpers_then_bodies_have_the_vendor_shapes() -> None:
    records = [polyai_conversation(0)]
    assert "next_offset" not in polyai_page(records)
    assert polyai_page(records, next_offset=1)["next_offset"] == 1
    assert polyai_page(records)["descriptions"]["conversations"] == POLYAI_DESCRIPTIONS
    assert vectara_page([vectara_turn(0)]) == {
        "conversation": [vectara_turn(0)],
        "status": {"code": "OK", "statusDetail": ""},
    }
    failed = vectara_page([], page_key="k", status_code="UNAVAILABLE", detail="busy")
    assert failed["pageKey"] == "k" and failed["status"] == {"code": "UNAVAILABLE", "statusDetail": "busy"}


def test_given_a_million_records_when_building_a_server_then_nothing_is_generated_up_front() -> None:
    started = time.perf_counter()
    server = FakeApiServer(polyai_count=1_000_000, vectara_count=1_000_000)
    assert time.perf_counter() - started < 0.5
    assert server.polyai_count == 1_000_000 and server.vectara_count == 1_000_000


# --------------------------------------------------------------------------------------------------
# PolyAI endpoint
# --------------------------------------------------------------------------------------------------


def test_given_limit_when_listing_then_next_offset_points_past_page(shared_client: Client) -> None:
    page = shared_client.polyai(limit=10, offset=20).json()
    assert len(page["conversations"]) == 10
    assert page["next_offset"] == 30


def test_given_no_limit_when_listing_then_five_conversations_are_returned(shared_client: Client) -> None:
    assert len(shared_client.polyai().json()["conversations"]) == 5


def test_given_last_page_then_next_offset_is_absent(shared: FakeApiServer, shared_client: Client) -> None:
    live = len(shared.polyai_ids())
    page = shared_client.polyai(limit=10, offset=live - 3).json()
    assert len(page["conversations"]) == 3
    assert "next_offset" not in page


def test_given_offset_past_end_then_empty_list_without_next_offset(shared_client: Client) -> None:
    page = shared_client.polyai(limit=10, offset=10_000).json()
    assert page["conversations"] == [] and "next_offset" not in page


def test_given_all_pages_when_paging_then_ids_match_ground_truth_in_started_at_order(
    shared: FakeApiServer, shared_client: Client
) -> None:
    ids = shared_client.all_polyai_ids(limit=37)
    assert ids == shared.polyai_ids()
    started = [parse_time(c["started_at"]) for c in shared.polyai_records()]
    assert started == sorted(started) and len(set(started)) == len(started)


def test_given_served_records_then_they_equal_the_ground_truth_records(
    shared: FakeApiServer, shared_client: Client
) -> None:
    assert shared_client.polyai(limit=20).json()["conversations"] == shared.polyai_records()[:20]


def test_given_response_then_every_documented_field_is_described(shared_client: Client) -> None:
    page = shared_client.polyai(limit=2).json()
    assert set(page["descriptions"]["conversations"]) == POLYAI_FIELDS


def test_given_wrong_api_key_then_401_with_error_message(shared_client: Client) -> None:
    response = shared_client.session.get(shared_client.polyai_url, headers={"x-api-key": "wrong-key-000000000000000"})
    assert response.status_code == 401
    assert set(response.json()) == {"error_message"}


def test_given_wrong_project_then_404_with_platform_envelope(shared: FakeApiServer) -> None:
    response = requests.get(
        f"{shared.base_url}/v1/ws-other/PROJECT-other/conversations",
        headers={"x-api-key": shared.polyai_api_key, "X-PolyAI-Correlation-Id": "corr-1"},
        timeout=10,
    )
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": "Not Found",
        "error_id": "corr-1",
        "error_code": "PROJECT_NOT_FOUND",
        "error_message": "Project not found for this account",
        "data": None,
    }


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 1},
        {"limit": 5000},
        {"limit": "ten"},
        {"offset": -1},
        {"start_time": "yesterday"},
        {"end_time": "2024-13-01T00:00:00Z"},
        {"variant_id": "VARIANT-7f3a9c21", "variant_name": "Main line"},
        {"client_env": "production"},
        {"in_progress": "maybe"},
    ],
)
def test_given_invalid_parameter_then_400_with_error_message(shared_client: Client, params: dict[str, Any]) -> None:
    response = shared_client.polyai(**params)
    assert response.status_code == 400
    assert response.json()["error_message"]


def test_given_max_limit_then_it_is_accepted(shared_client: Client) -> None:
    assert shared_client.polyai(limit=4999).status_code == 200


def test_given_time_window_when_listing_then_bounds_are_inclusive(shared: FakeApiServer, shared_client: Client) -> None:
    records = shared.polyai_records()
    first, last = records[10], records[20]
    ids = shared_client.all_polyai_ids(limit=50, start_time=first["started_at"], end_time=last["started_at"])
    assert ids == [r["id"] for r in records[10:21]]


def test_given_time_window_with_other_offset_then_the_same_instants_are_used(
    shared: FakeApiServer, shared_client: Client
) -> None:
    records = shared.polyai_records()
    start = parse_time(records[5]["started_at"]).astimezone(timezone(timedelta(hours=5, minutes=30)))
    ids = shared_client.all_polyai_ids(limit=50, start_time=start.isoformat(), end_time=records[8]["started_at"])
    assert ids == [r["id"] for r in records[5:9]]


def test_given_half_open_window_when_listing_then_end_is_exclusive() -> None:
    with FakeApiServer(polyai_count=50, polyai_window="half_open") as server:
        records = server.polyai_records()
        ids = Client(server).all_polyai_ids(start_time=records[3]["started_at"], end_time=records[6]["started_at"])
        assert ids == [r["id"] for r in records[3:6]]


def test_given_client_env_when_listing_then_only_that_environment_is_listed(
    shared: FakeApiServer, shared_client: Client
) -> None:
    ids = shared_client.all_polyai_ids(limit=100, client_env="sandbox")
    assert ids and ids == shared.polyai_ids(client_env="sandbox")
    assert not set(ids) & set(shared.polyai_ids())


def test_given_in_progress_filter_then_only_matching_conversations_are_listed(
    shared: FakeApiServer, shared_client: Client
) -> None:
    live_now = shared_client.polyai(limit=100, in_progress="true").json()["conversations"]
    assert live_now and all(c["in_progress"] for c in live_now)
    finished = shared_client.all_polyai_ids(limit=100, in_progress="false")
    assert len(finished) + len(live_now) == len(shared.polyai_ids())


def test_given_variant_name_with_spaces_then_only_that_variant_is_listed(shared_client: Client) -> None:
    page = shared_client.polyai(limit=100, variant_name="Spanish pilot").json()
    assert page["conversations"] and {c["variant_name"] for c in page["conversations"]} == {"Spanish pilot"}
    assert shared_client.polyai(variant_id="VARIANT-unknown").json()["conversations"] == []


def test_given_include_context_state_then_context_state_appears_only_when_true(shared_client: Client) -> None:
    assert all("context_state" in c for c in shared_client.polyai(include_context_state="true").json()["conversations"])
    assert not any(
        "context_state" in c for c in shared_client.polyai(include_context_state="false").json()["conversations"]
    )


def test_given_keep_alive_connection_then_many_requests_share_it_with_content_length(shared: FakeApiServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", shared.port, timeout=10)
    path = Client(shared).polyai_url.removeprefix(shared.base_url)
    for _ in range(3):
        connection.request("GET", path, headers={"x-api-key": shared.polyai_api_key})
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200 and int(response.headers["Content-Length"]) == len(body)
    connection.close()


# --------------------------------------------------------------------------------------------------
# Vectara endpoint
# --------------------------------------------------------------------------------------------------


def test_given_page_keys_when_paging_then_every_conversation_is_listed_once_in_server_order(
    shared: FakeApiServer, shared_client: Client
) -> None:
    pages = shared_client.all_vectara_pages(num_results=25)
    ids = [turn["id"] for page in pages for turn in page["conversation"]]
    assert ids == shared.vectara_ids() and len(set(ids)) == shared.vectara_count
    assert [len(page["conversation"]) for page in pages] == [25, 25, 25, 25, 20]
    assert "pageKey" not in pages[-1]
    assert all(page["status"] == {"code": "OK", "statusDetail": ""} for page in pages)


def test_given_listing_then_order_is_not_chronological(shared: FakeApiServer) -> None:
    epochs = [int(turn["epochSecs"]) for turn in shared.vectara_records()]
    assert epochs != sorted(epochs) and epochs != sorted(epochs, reverse=True)


def test_given_page_keys_then_they_are_padded_standard_base64(shared_client: Client) -> None:
    keys = [page["pageKey"] for page in shared_client.all_vectara_pages(num_results=10)[:-1]]
    assert all(key.endswith("==") for key in keys)
    assert any(ch in key for key in keys for ch in "+/")
    assert all(base64.b64decode(key, validate=True) for key in keys)


def test_given_later_page_then_num_results_from_the_key_wins(shared_client: Client) -> None:
    first = shared_client.vectara({"numResults": 7}).json()
    second = shared_client.vectara({"pageKey": first["pageKey"], "numResults": 50}).json()
    assert len(second["conversation"]) == 7


def test_given_snake_case_body_then_it_is_accepted(shared_client: Client) -> None:
    first = shared_client.vectara({"num_results": 3}).json()
    second = shared_client.vectara({"page_key": first["pageKey"]}).json()
    assert len(first["conversation"]) == len(second["conversation"]) == 3
    assert first["conversation"] != second["conversation"]


@pytest.mark.parametrize("body", [{}, {"numResults": 0}])
def test_given_no_num_results_then_five_turns_are_returned(shared_client: Client, body: dict[str, Any]) -> None:
    assert len(shared_client.vectara(body).json()["conversation"]) == 5


@pytest.mark.parametrize("page_key", ["garbled", "AAAAAAAAAAAAAAAAAAAAAAAAAA==", "!!!"])
def test_given_unknown_page_key_then_400_invalid_page_key(shared_client: Client, page_key: str) -> None:
    response = shared_client.vectara({"pageKey": page_key})
    assert response.status_code == 400
    assert response.json() == {"code": 3, "message": "invalid page key", "details": []}


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": DEFAULT_VECTARA_API_KEY},
        {"customer-id": "999", "x-api-key": DEFAULT_VECTARA_API_KEY},
        {"customer-id": "2855056612", "x-api-key": "zqt_wrong_wrong_wrong_wrong"},
        {"customer-id": "2855056612", "Authorization": "Bearer not-a-token"},
    ],
)
def test_given_bad_vectara_credentials_then_401_code_16(shared_client: Client, headers: dict[str, str]) -> None:
    response = shared_client.vectara({}, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == 16 and response.json()["details"] == []


def test_given_page_key_end_empty_then_the_last_page_has_an_empty_key() -> None:
    with FakeApiServer(vectara_count=7, vectara_page_key_end="empty") as server:
        pages = Client(server).all_vectara_pages(num_results=5)
        assert [page["pageKey"] for page in pages][-1] == ""
        assert sum(len(page["conversation"]) for page in pages) == 7


def test_given_timeout_header_then_it_is_logged(client: Client, server: FakeApiServer) -> None:
    client.vectara({}, headers={**client.vectara_headers, "timeout": "30S"})
    assert server.requests.entries("vectara")[-1].headers["timeout"] == "30S"


# --------------------------------------------------------------------------------------------------
# OAuth2
# --------------------------------------------------------------------------------------------------


def test_given_client_credentials_when_requesting_a_token_then_the_bearer_token_lists(
    client: Client, server: FakeApiServer
) -> None:
    credentials = server.vectara_config(auth="oauth2")["credentials"]
    assert credentials["token_url"] == f"{server.base_url}/oauth2/token"
    token = client.token(
        grant_type="client_credentials", client_id=credentials["client_id"], client_secret=credentials["client_secret"]
    ).json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 1800 and len(token["access_token"]) >= 40
    headers = {"customer-id": server.vectara_customer_id, "Authorization": f"Bearer {token['access_token']}"}
    assert client.vectara({}, headers=headers).status_code == 200
    assert server.requests.count("token") == 1


def test_given_basic_auth_client_then_a_token_is_issued(client: Client, server: FakeApiServer) -> None:
    response = client.session.post(
        server.token_url,
        data={"grant_type": "client_credentials"},
        auth=(server.oauth_client_id, server.oauth_client_secret),
        timeout=10,
    )
    assert response.status_code == 200 and response.json()["access_token"]


@pytest.mark.parametrize(
    "form, error",
    [
        ({"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x" * 30}, "invalid_client"),
        ({"grant_type": "password", "client_id": "nobody", "client_secret": "x" * 30}, "unsupported_grant_type"),
    ],
)
def test_given_bad_token_request_then_400_oauth_error(client: Client, form: dict[str, str], error: str) -> None:
    response = client.token(**form)
    assert response.status_code == 400 and response.json() == {"error": error}


def test_given_expired_token_then_vectara_answers_401(client: Client, server: FakeApiServer) -> None:
    token = client.token(
        grant_type="client_credentials", client_id=server.oauth_client_id, client_secret=server.oauth_client_secret
    ).json()["access_token"]
    headers = {"customer-id": server.vectara_customer_id, "Authorization": f"Bearer {token}"}
    server.expire_tokens()
    assert client.vectara({}, headers=headers).status_code == 401


def test_given_clock_past_ttl_then_token_expires() -> None:
    now = [1_700_000_000.0]
    with FakeApiServer(vectara_count=5, token_ttl_seconds=60, clock=lambda: now[0]) as server:
        client = Client(server)
        token = client.token(
            grant_type="client_credentials", client_id=server.oauth_client_id, client_secret=server.oauth_client_secret
        ).json()["access_token"]
        headers = {"customer-id": server.vectara_customer_id, "Authorization": f"Bearer {token}"}
        now[0] += 59
        assert client.vectara({}, headers=headers).status_code == 200
        now[0] += 1
        assert client.vectara({}, headers=headers).status_code == 401


# --------------------------------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------------------------------


def test_given_added_polyai_conversations_when_listing_then_they_come_last(
    client: Client, server: FakeApiServer
) -> None:
    before = server.polyai_ids()
    added = server.add_polyai(3)
    assert client.all_polyai_ids(limit=25) == before + added == server.polyai_ids()


def test_given_conversation_added_in_the_past_then_later_offsets_shift(client: Client, server: FakeApiServer) -> None:
    records = server.polyai_records()
    first_page = client.polyai(limit=10).json()["conversations"]
    (late,) = server.add_polyai(1, started_at=parse_time(records[5]["started_at"]) + timedelta(microseconds=1))
    second_page = client.polyai(limit=10, offset=10).json()["conversations"]
    assert second_page[0]["id"] == first_page[-1]["id"]  # the shift re-serves the last row
    assert client.all_polyai_ids(limit=10)[6] == late


def test_given_in_progress_conversations_when_finished_then_they_have_durations(
    client: Client, server: FakeApiServer
) -> None:
    in_progress = server.polyai_ids(in_progress=True, client_env=None)
    assert len(in_progress) == 4
    assert server.finish_polyai_in_progress() == 4
    assert server.polyai_ids(in_progress=True, client_env=None) == []
    finished = {r["id"]: r for r in server.polyai_records(client_env=None)}
    assert all(finished[i]["total_duration"] and not finished[i]["in_progress"] for i in in_progress)


def test_given_added_in_progress_conversations_then_the_filter_and_finish_cover_them(server: FakeApiServer) -> None:
    server.finish_polyai_in_progress()
    added = server.add_polyai(2, in_progress=True)
    assert server.polyai_ids(in_progress=True) == added
    assert server.finish_polyai_in_progress() == 2


def test_given_added_vectara_conversations_then_they_are_listed_last(client: Client, server: FakeApiServer) -> None:
    added = server.add_vectara(2, epoch_secs=1_800_000_000)
    pages = client.all_vectara_pages(num_results=10)
    turns = [turn for page in pages for turn in page["conversation"]]
    assert [turn["id"] for turn in turns[-2:]] == added
    assert turns[-1]["epochSecs"] == "1800000000"


def test_given_control_endpoints_then_data_changes_and_stats_report_it(server: FakeApiServer) -> None:
    base = server.base_url
    assert (
        len(requests.post(f"{base}/_fake/polyai/add", json={"n": 2, "in_progress": True}, timeout=10).json()["ids"])
        == 2
    )
    assert requests.post(f"{base}/_fake/polyai/finish", timeout=10).json() == {"finished": 6}
    assert len(requests.post(f"{base}/_fake/vectara/add", json={"n": 3}, timeout=10).json()["ids"]) == 3
    stats = requests.get(f"{base}/_fake/stats", timeout=10).json()
    assert stats["polyai_count"] == 62 and stats["vectara_count"] == 26 and stats["polyai_in_progress"] == 0
    assert stats["requests"]["control"] == 4
    assert requests.post(f"{base}/_fake/polyai/add", json=[1], timeout=10).status_code == 400
    assert requests.get(f"{base}/_fake/nothing", timeout=10).status_code == 404


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint, expected_body",
    [
        ("polyai", {"error_message": "Too Many Requests"}),
        ("vectara", {"code": 8, "message": "Too Many Requests", "details": []}),
        ("token", {"error": "temporarily_unavailable", "error_description": "Too Many Requests"}),
    ],
)
def test_given_status_fault_then_vendor_error_with_retry_after_then_recovery(
    client: Client, server: FakeApiServer, endpoint: str, expected_body: dict[str, Any]
) -> None:
    server.inject(Fault(endpoint, "status", status=429, retry_after="2", times=2))
    call = {
        "polyai": lambda: client.polyai(),
        "vectara": lambda: client.vectara({}),
        "token": lambda: client.token(
            grant_type="client_credentials", client_id=server.oauth_client_id, client_secret=server.oauth_client_secret
        ),
    }[endpoint]
    for _ in range(2):
        response = call()
        assert response.status_code == 429 and response.headers["Retry-After"] == "2"
        assert response.json() == expected_body
    assert call().status_code == 200


def test_given_status_fault_with_body_then_that_body_is_sent(client: Client, server: FakeApiServer) -> None:
    server.inject(
        Fault("polyai", "status", status=503, body=b"<html>down</html>", retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    )
    response = client.polyai()
    assert response.status_code == 503 and response.text == "<html>down</html>"
    assert response.headers["Retry-After"] == "Wed, 21 Oct 2015 07:28:00 GMT"


def test_given_page_match_then_only_the_nth_request_fails(client: Client, server: FakeApiServer) -> None:
    server.inject(Fault("polyai", "status", status=500, match={"page": 2}))
    assert [client.polyai().status_code for _ in range(3)] == [200, 500, 200]


def test_given_offset_match_then_only_that_offset_fails(client: Client, server: FakeApiServer) -> None:
    server.inject(Fault("polyai", "status", status=502, match={"offset": 10}, times=None))
    assert client.polyai(limit=10, offset=0).status_code == 200
    assert client.polyai(limit=10, offset=10).status_code == 502
    assert client.polyai(limit=10, offset=10).status_code == 502
    server.clear_faults()
    assert client.polyai(limit=10, offset=10).status_code == 200


def test_given_first_page_match_then_a_request_without_page_key_fails(client: Client, server: FakeApiServer) -> None:
    server.inject(Fault("vectara", "status", status=503, match={"pageKey": ""}, times=None))
    first = client.vectara({"numResults": 5})
    assert first.status_code == 503
    server.clear_faults()
    key = client.vectara({"numResults": 5}).json()["pageKey"]
    server.inject(Fault("vectara", "status", status=503, match={"pageKey": ""}, times=None))
    assert client.vectara({"pageKey": key}).status_code == 200


def test_given_delay_fault_then_the_client_read_times_out(client: Client, server: FakeApiServer) -> None:
    server.inject(Fault("polyai", "delay", delay_seconds=1.0))
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.polyai(timeout=0.2)
    assert client.polyai().status_code == 200


def test_given_reset_fault_then_the_client_sees_a_connection_error(client: Client, server: FakeApiServer) -> None:
    server.inject(Fault("polyai", "reset"))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        client.polyai(limit=50)
    assert client.polyai().status_code == 200


def test_given_short_body_fault_then_the_client_sees_an_incomplete_body(client: Client, server: FakeApiServer) -> None:
    server.inject(Fault("vectara", "short_body"))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        client.vectara({"numResults": 20})
    assert client.vectara({}).status_code == 200


def test_given_truncated_json_fault_then_200_with_unparseable_json(client: Client, server: FakeApiServer) -> None:
    server.inject(Fault("polyai", "truncated_json"))
    response = client.polyai(limit=10)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.text)


def test_given_invalid_json_fault_then_200_html_page(client: Client, server: FakeApiServer) -> None:
    server.inject(Fault("vectara", "invalid_json"))
    response = client.vectara({})
    assert response.status_code == 200 and response.text.startswith("<html>")


@pytest.mark.parametrize(
    "endpoint, key", [("polyai", "conversations"), ("vectara", "conversation"), ("token", "access_token")]
)
def test_given_missing_key_fault_then_200_without_the_records_key(
    client: Client, server: FakeApiServer, endpoint: str, key: str
) -> None:
    server.inject(Fault(endpoint, "missing_key"))
    response = {
        "polyai": lambda: client.polyai(),
        "vectara": lambda: client.vectara({}),
        "token": lambda: client.token(
            grant_type="client_credentials", client_id=server.oauth_client_id, client_secret=server.oauth_client_secret
        ),
    }[endpoint]()
    assert response.status_code == 200 and key not in response.json()


def test_given_vendor_error_fault_then_200_with_the_vendor_error(client: Client, server: FakeApiServer) -> None:
    server.inject(Fault("vectara", "vendor_error", code="UNAVAILABLE", detail="try later"))
    server.inject(Fault("polyai", "vendor_error", detail="internal"))
    assert client.vectara({}).json() == {"status": {"code": "UNAVAILABLE", "statusDetail": "try later"}}
    assert client.polyai().json() == {"error_message": "internal"}


def test_given_empty_page_with_next_fault_then_following_it_loses_nothing(
    client: Client, server: FakeApiServer
) -> None:
    server.inject(Fault("polyai", "empty_page_with_next", match={"offset": 10}))
    page = client.polyai(limit=10, offset=10).json()
    assert page["conversations"] == [] and page["next_offset"] == 10
    server.inject(Fault("vectara", "empty_page_with_next", match={"page": 2}))
    pages = client.all_vectara_pages(num_results=10)
    assert [len(p["conversation"]) for p in pages] == [10, 0, 10, 3]
    assert [t["id"] for p in pages for t in p["conversation"]] == server.vectara_ids()


def test_given_offset_stuck_fault_then_next_offset_equals_the_request_offset(
    client: Client, server: FakeApiServer
) -> None:
    server.inject(Fault("polyai", "offset_stuck"))
    page = client.polyai(limit=10, offset=20).json()
    assert len(page["conversations"]) == 10 and page["next_offset"] == 20


def test_given_repeat_page_key_fault_then_the_same_key_keeps_coming_back(client: Client, server: FakeApiServer) -> None:
    server.inject(Fault("vectara", "repeat_page_key", times=3))
    first = client.vectara({"numResults": 5}).json()
    second = client.vectara({"pageKey": first["pageKey"]}).json()
    third = client.vectara({"pageKey": second["pageKey"]}).json()
    assert first["pageKey"] == second["pageKey"] == third["pageKey"]
    assert first["conversation"] == second["conversation"] == third["conversation"]
    assert client.vectara({"pageKey": third["pageKey"]}).json()["pageKey"] != first["pageKey"]


def test_given_cycle_fault_then_page_keys_go_a_b_a(client: Client, server: FakeApiServer) -> None:
    server.inject(Fault("vectara", "cycle", times=None))
    key_a = client.vectara({"numResults": 5}).json()["pageKey"]
    key_b = client.vectara({"pageKey": key_a}).json()["pageKey"]
    assert client.vectara({"pageKey": key_b}).json()["pageKey"] == key_a
    assert client.vectara({"pageKey": key_a}).json()["pageKey"] == key_b


def test_given_fault_over_http_then_it_is_armed_and_cleared(client: Client, server: FakeApiServer) -> None:
    fault = {"endpoint": "polyai", "kind": "status", "status": 503, "times": None}
    assert requests.post(f"{server.base_url}/_fake/faults", json=fault, timeout=10).status_code == 200
    assert client.polyai().status_code == 503
    assert requests.get(f"{server.base_url}/_fake/stats", timeout=10).json()["faults"][0]["kind"] == "status"
    requests.delete(f"{server.base_url}/_fake/faults", timeout=10)
    assert client.polyai().status_code == 200


@pytest.mark.parametrize(
    "fault",
    [
        {"endpoint": "polyai", "kind": "cycle"},
        {"endpoint": "token", "kind": "vendor_error"},
        {"endpoint": "nowhere"},
        {"endpoint": "polyai", "colour": "red"},
    ],
)
def test_given_invalid_fault_then_it_is_rejected(server: FakeApiServer, fault: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        Fault.from_dict(fault)
    assert requests.post(f"{server.base_url}/_fake/faults", json=fault, timeout=10).status_code == 400


# --------------------------------------------------------------------------------------------------
# Request log and secrets
# --------------------------------------------------------------------------------------------------


def test_given_requests_then_the_log_masks_every_secret(client: Client, server: FakeApiServer) -> None:
    client.polyai()
    client.vectara({"numResults": 2})
    client.token(
        grant_type="client_credentials", client_id=server.oauth_client_id, client_secret=server.oauth_client_secret
    )
    logged = repr(server.requests.entries())
    for secret in (DEFAULT_POLYAI_API_KEY, DEFAULT_VECTARA_API_KEY, DEFAULT_OAUTH_CLIENT_SECRET):
        assert len(secret) >= 24 and secret not in logged
    vectara_entry = server.requests.entries("vectara")[0]
    assert vectara_entry.body == {"numResults": 2} and vectara_entry.headers["x-api-key"] == "***"
    assert vectara_entry.status == 200
    assert server.requests.counts() == {"polyai": 1, "vectara": 1, "token": 1}


def test_given_reset_log_then_entries_and_counts_are_empty(client: Client, server: FakeApiServer) -> None:
    client.polyai()
    server.reset_log()
    assert len(server.requests) == 0 and server.requests.count("polyai") == 0
    # The same keep-alive connection: the previous response is fully accounted for before this one.
    served = client.session.get(f"{server.base_url}/_fake/stats", timeout=10).json()["served"]
    assert served["requests"] == 1 and served["bytes"] > 0 and served["records"] == 5


# --------------------------------------------------------------------------------------------------
# Fast mode, throughput, lifecycle
# --------------------------------------------------------------------------------------------------


def test_given_fast_mode_then_pages_are_byte_identical_to_normal_mode() -> None:
    end = datetime(2025, 6, 1, tzinfo=UTC)
    timeline = {"polyai_count": 40, "vectara_count": 30, "polyai_end": end, "vectara_end": end}
    with FakeApiServer(**timeline) as normal, FakeApiServer(**timeline, fast=True) as fast:
        assert fast.warm() == 70
        bodies = [
            (Client(s).polyai(limit=15, offset=5).content, Client(s).vectara({"numResults": 9}).content)
            for s in (normal, fast, fast)
        ]
        assert bodies[0] == bodies[1] == bodies[2]


def test_given_fast_mode_when_data_changes_then_cached_pages_are_not_served() -> None:
    with FakeApiServer(polyai_count=10, fast=True) as server:
        client = Client(server)
        assert len(client.polyai(limit=50).json()["conversations"]) == 9  # one of ten is not live
        server.add_polyai(2)
        assert len(client.polyai(limit=50).json()["conversations"]) == 11


def test_given_measure_rate_then_every_record_is_counted(server: FakeApiServer) -> None:
    polyai = server.measure_rate("polyai", page_size=7)
    vectara = server.measure_rate("vectara", page_size=7)
    assert polyai.records == len(server.polyai_ids()) and vectara.records == server.vectara_count
    assert vectara.requests == 4 and vectara.server_seconds > 0 and vectara.records_per_second > 0
    assert "records/s" in str(vectara)


def test_given_stopped_server_then_the_port_is_released_and_idle_connections_closed() -> None:
    server = FakeApiServer(polyai_count=5).start()
    assert Client(server).polyai().status_code == 200  # leaves an idle keep-alive connection open
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 2
    FakeApiServer(port=server.port).start().stop()


def test_given_main_module_when_started_then_it_prints_config_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "fake_api", "--polyai", "20", "--vectara", "20", "--in-progress", "2"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = json.loads(process.stdout.readline())
        polyai = line["config"]["polyai"]
        assert line["oauth_config"]["vectara"]["credentials"]["token_url"] == line["token_url"]
        response = requests.get(
            f"{line['base_url']}/v1/{polyai['account_id']}/{polyai['project_id']}/conversations",
            headers={"x-api-key": polyai["api_key"]},
            params={"in_progress": "true", "client_env": "live"},
            timeout=10,
        )
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
        process.stderr.close()


# --------------------------------------------------------------------------------------------------
# Routing and malformed requests
# --------------------------------------------------------------------------------------------------


def test_given_wrong_method_then_405_in_the_vendor_shape(shared: FakeApiServer, shared_client: Client) -> None:
    response = requests.post(shared_client.polyai_url, headers={"x-api-key": shared.polyai_api_key}, timeout=10)
    assert response.status_code == 405 and response.headers["Allow"] == "GET"
    assert set(response.json()) == {"error_message"}
    response = requests.get(shared_client.vectara_url, headers=shared_client.vectara_headers, timeout=10)
    assert response.status_code == 405 and response.json()["code"] == 2


def test_given_unknown_path_then_404(shared: FakeApiServer) -> None:
    # (/v2/chats used to be the example here; it is a real endpoint now, see test_vectara_v2.py)
    assert requests.get(f"{shared.base_url}/v2/corpora", timeout=10).status_code == 404
    assert requests.get(f"{shared.base_url}/v9/nothing", timeout=10).status_code == 404


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"numResults": -1}', b'{"numResults": "ten"}'])
def test_given_malformed_vectara_body_then_400_code_3(shared_client: Client, body: bytes) -> None:
    response = shared_client.session.post(
        shared_client.vectara_url, data=body, headers=shared_client.vectara_headers, timeout=10
    )
    assert response.status_code == 400 and response.json()["code"] == 3


def test_given_num_results_as_a_string_then_it_is_accepted(shared_client: Client) -> None:
    assert len(shared_client.vectara({"numResults": "4"}).json()["conversation"]) == 4


def test_given_token_expiry_over_http_then_bearer_tokens_stop_working(client: Client, server: FakeApiServer) -> None:
    token = client.token(
        grant_type="client_credentials", client_id=server.oauth_client_id, client_secret=server.oauth_client_secret
    ).json()["access_token"]
    headers = {"customer-id": server.vectara_customer_id, "Authorization": f"Bearer {token}"}
    assert client.vectara({}, headers=headers).status_code == 200
    requests.post(f"{server.base_url}/_fake/tokens/expire", timeout=10)
    assert client.vectara({}, headers=headers).status_code == 401


def test_given_concurrent_clients_then_each_reads_the_full_consistent_listing(shared: FakeApiServer) -> None:
    def read_both(_: int) -> tuple[list[str], list[str]]:
        client = Client(shared)
        pages = client.all_vectara_pages(num_results=17)
        return client.all_polyai_ids(limit=23), [t["id"] for p in pages for t in p["conversation"]]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(read_both, range(6)))
    assert all(result == (shared.polyai_ids(), shared.vectara_ids()) for result in results)
