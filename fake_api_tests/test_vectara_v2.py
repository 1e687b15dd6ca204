"""Vectara v1 read-conversations and v2 chats on the fake server, over real HTTP: shapes, limits, paging,
the v1 <-> v2 correspondence, appended turns, auth, errors and faults."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fake_api import FakeApiServer, Fault
from fake_api.data import format_millis

READ_PATH = "/v1/read-conversations"


class Client:
    """A requests-based client of the Vectara endpoints of one fake server."""

    def __init__(self, server: FakeApiServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.v1_headers = {"customer-id": server.vectara_customer_id, "x-api-key": server.vectara_api_key}
        self.v2_headers = {"x-api-key": server.vectara_api_key}

    def read(self, ids: list[str], headers: dict[str, str] | None = None) -> requests.Response:
        return self.session.post(
            self.server.base_url + READ_PATH,
            json={"conversationId": ids},
            headers=headers or self.v1_headers,
            timeout=10,
        )

    def chats(self, headers: dict[str, str] | None = None, **params: Any) -> requests.Response:
        return self.session.get(
            f"{self.server.base_url}/v2/chats", params=params, headers=headers or self.v2_headers, timeout=10
        )

    def turns(self, chat_id: str, headers: dict[str, str] | None = None) -> requests.Response:
        return self.session.get(
            f"{self.server.base_url}/v2/chats/{chat_id}/turns", headers=headers or self.v2_headers, timeout=10
        )

    def all_chat_pages(self, limit: int) -> list[dict[str, Any]]:
        pages = [self.chats(limit=limit).json()]
        while pages[-1]["metadata"].get("page_key"):
            pages.append(self.chats(limit=limit, page_key=pages[-1]["metadata"]["page_key"]).json())
            assert len(pages) < 1000
        return pages

    def token(self) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.server.oauth_client_id,
            "client_secret": self.server.oauth_client_secret,
        }
        return str(self.session.post(self.server.token_url, data=form, timeout=10).json()["access_token"])


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeApiServer]:
    with FakeApiServer(polyai_count=5, vectara_count=140) as server:
        yield server


@pytest.fixture(scope="module")
def client(shared: FakeApiServer) -> Client:
    return Client(shared)


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(polyai_count=5, vectara_count=23) as fresh:
        yield fresh


# --------------------------------------------------------------------------------------------------
# v1 read-conversations
# --------------------------------------------------------------------------------------------------


def test_given_ten_ids_then_read_conversations_answers_with_capital_c(shared: FakeApiServer, client: Client) -> None:
    ids = shared.vectara_ids()[:10]
    response = client.read(ids)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"Conversation", "status"} and body["status"]["code"] == "OK"
    assert [conversation["id"] for conversation in body["Conversation"]] == ids
    assert all(set(conversation) == {"id", "turn"} for conversation in body["Conversation"])


def test_given_more_than_ten_ids_then_400_code_3(shared: FakeApiServer, client: Client) -> None:
    response = client.read(shared.vectara_ids()[:11])
    assert response.status_code == 400
    assert response.json()["code"] == 3 and "10" in response.json()["message"]


def test_given_turns_then_they_ascend_and_the_first_is_the_listed_record(shared: FakeApiServer, client: Client) -> None:
    listed = {record["id"]: record for record in shared.vectara_records()}
    counts = set()
    for start in range(0, 60, 10):
        for conversation in client.read(list(listed)[start : start + 10]).json()["Conversation"]:
            turns = conversation["turn"]
            counts.add(len(turns))
            assert 1 <= len(turns) <= 6
            assert turns[0] == listed[conversation["id"]] and turns[0]["id"] == conversation["id"]
            epochs = [turn["epochSecs"] for turn in turns]
            assert all(isinstance(epoch, str) for epoch in epochs) and [int(e) for e in epochs] == sorted(
                int(e) for e in epochs
            )
            for turn in turns[1:]:
                assert set(turn) == {"id", "conversationId", "query", "answer", "enabled", "epochSecs"}
                assert turn["conversationId"] == conversation["id"] and turn["id"] != conversation["id"]
            assert len({turn["id"] for turn in turns}) == len(turns)
    assert counts == {1, 2, 3, 4, 5, 6}


def test_given_unknown_ids_then_they_are_simply_absent(shared: FakeApiServer, client: Client) -> None:
    known = shared.vectara_ids()[3]
    unknown = ["00000000-0000-0000-0000-000000000000", "not-an-id", known.replace(known[-1], "x")]
    body = client.read([unknown[0], known, unknown[1], unknown[2], known]).json()
    assert [conversation["id"] for conversation in body["Conversation"]] == [known]
    assert client.read([]).json()["Conversation"] == []


def test_given_read_ground_truth_then_it_matches_the_answer(shared: FakeApiServer, client: Client) -> None:
    ids = shared.vectara_ids()[20:30]
    assert client.read(ids).json()["Conversation"] == [shared.vectara_conversation(i) for i in ids]
    every_turn = [turn for i in shared.vectara_ids() for turn in shared.vectara_conversation(i)["turn"]]
    assert shared.vectara_turns(version="v1") == every_turn
    assert shared.vectara_turn_ids() == [turn["id"] for turn in every_turn]


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"x-api-key": "query"}, 401),  # no customer-id
        ({"customer-id": "2855056612", "x-api-key": "zqt_wrong_wrong_wrong_wrong"}, 401),
        ({"customer-id": "2855056612", "x-api-key": "query"}, 200),
        ({"customer-id": "2855056612", "Authorization": "Bearer token"}, 200),
    ],
)
def test_given_read_credentials_then_list_conversations_rules_apply(
    shared: FakeApiServer, client: Client, headers: dict[str, str], status: int
) -> None:
    resolved = {
        name: {"query": shared.vectara_query_api_key, "Bearer token": f"Bearer {client.token()}"}.get(value, value)
        for name, value in headers.items()
    }
    response = client.read(shared.vectara_ids()[:2], headers=resolved)
    assert response.status_code == status
    if status == 401:
        assert response.json()["code"] == 16


@pytest.mark.parametrize("body", [b"not json", b'{"conversationId": "one-id"}', b'{"conversationId": [1, 2]}'])
def test_given_malformed_read_body_then_400_code_3(client: Client, body: bytes) -> None:
    response = client.session.post(client.server.base_url + READ_PATH, data=body, headers=client.v1_headers, timeout=10)
    assert response.status_code == 400 and response.json()["code"] == 3


def test_given_query_key_on_list_conversations_then_it_works(shared: FakeApiServer, client: Client) -> None:
    headers = {"customer-id": shared.vectara_customer_id, "x-api-key": shared.vectara_query_api_key}
    response = client.session.post(f"{shared.base_url}/v1/list-conversations", json={}, headers=headers, timeout=10)
    assert response.status_code == 200 and len(response.json()["conversation"]) == 5


# --------------------------------------------------------------------------------------------------
# v2 chats
# --------------------------------------------------------------------------------------------------


def test_given_page_keys_when_paging_chats_then_every_chat_comes_once(shared: FakeApiServer, client: Client) -> None:
    pages = client.all_chat_pages(limit=30)
    chats = [chat for page in pages for chat in page["chats"]]
    assert [chat["id"] for chat in chats] == shared.vectara_chat_ids() and len({c["id"] for c in chats}) == 140
    assert chats == shared.vectara_chats()
    assert [len(page["chats"]) for page in pages] == [30, 30, 30, 30, 20]
    assert pages[-1]["metadata"] == {}
    keys = [page["metadata"]["page_key"] for page in pages[:-1]]
    assert all(base64.b64decode(key, validate=True) for key in keys)
    assert any(ch in key for key in keys for ch in "+/=")


def test_given_chats_then_they_are_the_v1_conversations_under_v2_names(shared: FakeApiServer) -> None:
    chats = shared.vectara_chats()
    firsts = shared.vectara_records()
    assert len(chats) == len(firsts) == shared.vectara_count
    for chat, first in zip(chats, firsts, strict=True):
        assert set(chat) == {"id", "first_query", "first_answer", "enabled", "created_at"}
        assert chat["id"].startswith("cht_") and chat["id"] == shared.vectara_chat_id(first["id"])
        assert (chat["first_query"], chat["first_answer"], chat["enabled"]) == (
            first["query"],
            first["answer"],
            first["enabled"],
        )
        assert chat["created_at"] == format_millis(int(first["epochSecs"]) * 1_000_000)
    created = [chat["created_at"] for chat in chats]
    assert created != sorted(created) and created != sorted(created, reverse=True)  # unsorted listing


def test_given_no_limit_then_ten_chats_come(client: Client) -> None:
    assert len(client.chats().json()["chats"]) == 10


@pytest.mark.parametrize("limit", [0, 1001, "ten"])
def test_given_chat_limit_outside_1_to_1000_then_400_bad_request(client: Client, limit: Any) -> None:
    response = client.chats(limit=limit)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"field_errors", "messages", "request_id"} and "limit" in body["field_errors"]


def test_given_limit_1000_then_every_chat_comes_in_one_page(client: Client) -> None:
    page = client.chats(limit=1000).json()
    assert len(page["chats"]) == 140 and page["metadata"] == {}


@pytest.mark.parametrize("page_key", ["garbled", "AAAAAAAAAAAAAAAAAAAAAAAAAA=="])
def test_given_unknown_page_key_then_400(client: Client, page_key: str) -> None:
    response = client.chats(page_key=page_key)
    assert response.status_code == 400 and "page_key" in response.json()["field_errors"]


def test_given_page_key_end_empty_then_the_last_page_key_is_empty() -> None:
    with FakeApiServer(polyai_count=1, vectara_count=7, vectara_v2_page_key_end="empty") as server:
        pages = Client(server).all_chat_pages(limit=5)
        assert [page["metadata"]["page_key"] for page in pages][-1] == ""


def test_given_chat_turns_then_they_are_the_conversation_turns_under_v2_names(
    shared: FakeApiServer, client: Client
) -> None:
    for conversation_id in shared.vectara_ids()[:25]:
        chat_id = shared.vectara_chat_id(conversation_id)
        turns = client.turns(chat_id).json()
        assert set(turns) == {"turns"}
        v1_turns = shared.vectara_conversation(conversation_id)["turn"]
        assert turns["turns"] == shared.vectara_chat_turns(chat_id)
        assert len(turns["turns"]) == len(v1_turns)
        for v2, v1 in zip(turns["turns"], v1_turns, strict=True):
            assert set(v2) == {"id", "chat_id", "query", "answer", "enabled", "created_at"}
            assert v2["id"].startswith("trn_") and v2["chat_id"] == chat_id
            assert (v2["query"], v2["answer"], v2["enabled"]) == (v1["query"], v1["answer"], v1["enabled"])
            assert v2["created_at"] == format_millis(int(v1["epochSecs"]) * 1_000_000)
    every = shared.vectara_turns(version="v2")
    assert len(every) == len(shared.vectara_turns()) and len({turn["id"] for turn in every}) == len(every)


@pytest.mark.parametrize("chat_id", ["cht_0000000000000000", "cht_nope", "trn_1234"])
def test_given_unknown_chat_then_404_not_found_error(client: Client, chat_id: str) -> None:
    response = client.turns(chat_id)
    assert response.status_code == 404
    body = response.json()
    assert body["id"] == chat_id and body["messages"] and body["request_id"]


@pytest.mark.parametrize(
    "headers", [{}, {"x-api-key": "zqt_wrong_wrong_wrong_wrong"}, {"Authorization": "Bearer nope"}]
)
def test_given_bad_v2_credentials_then_401_error_shape(client: Client, headers: dict[str, str]) -> None:
    response = client.chats(headers=headers or {"Accept": "application/json"})
    assert response.status_code == 401 and set(response.json()) == {"messages", "request_id"}


def test_given_bearer_token_or_query_key_then_chats_answer_without_customer_id(
    shared: FakeApiServer, client: Client
) -> None:
    assert client.chats(headers={"Authorization": f"Bearer {client.token()}"}).status_code == 200
    assert client.chats(headers={"x-api-key": shared.vectara_query_api_key}).status_code == 200
    chat_id = shared.vectara_chat_ids()[0]
    assert client.turns(chat_id, headers={"x-api-key": shared.vectara_query_api_key}).status_code == 200


def test_given_wrong_method_then_405(shared: FakeApiServer, client: Client) -> None:
    response = client.session.post(f"{shared.base_url}/v2/chats", json={}, headers=client.v2_headers, timeout=10)
    assert response.status_code == 405 and response.headers["Allow"] == "GET"


# --------------------------------------------------------------------------------------------------
# Appended turns
# --------------------------------------------------------------------------------------------------


def test_given_appended_turns_then_both_versions_show_them(server: FakeApiServer) -> None:
    client = Client(server)
    conversation_id = server.vectara_ids()[4]
    before = client.read([conversation_id]).json()["Conversation"][0]["turn"]
    last_epoch = int(before[-1]["epochSecs"])
    added = server.add_vectara_turns(conversation_id, n=2, epoch_secs=last_epoch + 100)
    after = client.read([conversation_id]).json()["Conversation"][0]["turn"]
    assert after[: len(before)] == before and [turn["id"] for turn in after[len(before) :]] == added
    assert [turn["epochSecs"] for turn in after[-2:]] == [str(last_epoch + 100), str(last_epoch + 101)]
    v2 = client.turns(server.vectara_chat_id(conversation_id)).json()["turns"]
    assert len(v2) == len(after) and v2[-1]["query"] == after[-1]["query"]
    assert client.chats(limit=1000).json()["chats"] == server.vectara_chats()  # the chat list is unchanged


def test_given_appended_turn_in_the_past_then_it_still_comes_last(server: FakeApiServer) -> None:
    conversation_id = server.vectara_ids()[0]
    server.add_vectara_turns(conversation_id, epoch_secs=0)
    epochs = [int(turn["epochSecs"]) for turn in server.vectara_conversation(conversation_id)["turn"]]
    assert epochs == sorted(epochs)


def test_given_turns_control_endpoint_then_turns_are_appended(server: FakeApiServer) -> None:
    conversation_id = server.vectara_ids()[1]
    count = len(server.vectara_conversation(conversation_id)["turn"])
    response = requests.post(
        f"{server.base_url}/_fake/vectara/turns", json={"conversation_id": conversation_id, "n": 3}, timeout=10
    )
    assert response.status_code == 200 and len(response.json()["ids"]) == 3
    assert len(server.vectara_conversation(conversation_id)["turn"]) == count + 3
    missing = requests.post(f"{server.base_url}/_fake/vectara/turns", json={"conversation_id": "nope"}, timeout=10)
    assert missing.status_code == 400
    assert requests.post(f"{server.base_url}/_fake/vectara/turns", json={}, timeout=10).status_code == 400


def test_given_added_conversation_then_it_has_one_turn_and_a_chat(server: FakeApiServer) -> None:
    (added,) = server.add_vectara(1, epoch_secs=1_800_000_000)
    assert len(server.vectara_conversation(added)["turn"]) == 1
    assert server.vectara_chat_ids()[-1] == server.vectara_chat_id(added)
    assert server.vectara_chats()[-1]["created_at"] == format_millis(1_800_000_000 * 1_000_000)


def test_given_fast_mode_when_turns_are_appended_then_cached_answers_are_not_served() -> None:
    with FakeApiServer(polyai_count=1, vectara_count=9, fast=True) as server:
        client = Client(server)
        conversation_id = server.vectara_ids()[0]
        chat_id = server.vectara_chat_id(conversation_id)
        first_read, first_turns = client.read([conversation_id]).json(), client.turns(chat_id).json()
        assert client.read([conversation_id]).json() == first_read
        server.add_vectara_turns(conversation_id)
        assert (
            len(client.read([conversation_id]).json()["Conversation"][0]["turn"])
            == len(first_read["Conversation"][0]["turn"]) + 1
        )
        assert len(client.turns(chat_id).json()["turns"]) == len(first_turns["turns"]) + 1
        assert server.warm(["vectara_chats"]) == 9


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------


def test_given_read_faults_then_read_conversations_fails_as_told(server: FakeApiServer) -> None:
    client = Client(server)
    ids = server.vectara_ids()[:3]
    server.inject(Fault("vectara_read", "status", status=429, retry_after="1"))
    response = client.read(ids)
    assert response.status_code == 429 and response.json()["code"] == 8 and response.headers["Retry-After"] == "1"
    server.inject(Fault("vectara_read", "missing_key"))
    assert "Conversation" not in client.read(ids).json()
    server.inject(Fault("vectara_read", "vendor_error", code="UNAVAILABLE", detail="later"))
    assert client.read(ids).json() == {"status": {"code": "UNAVAILABLE", "statusDetail": "later"}}
    server.inject(Fault("vectara_read", "status", status=500, match={"conversationId": ids[1]}))
    assert client.read(ids[:1]).status_code == 200 and client.read(ids[1:2]).status_code == 500
    assert client.read(ids).status_code == 200


def test_given_chats_page_key_faults_then_paging_misbehaves_as_told(server: FakeApiServer) -> None:
    client = Client(server)
    server.inject(Fault("vectara_chats", "repeat_page_key", times=2))
    first = client.chats(limit=5).json()
    second = client.chats(limit=5, page_key=first["metadata"]["page_key"]).json()
    assert first["metadata"]["page_key"] == second["metadata"]["page_key"] and first["chats"] == second["chats"]
    server.inject(Fault("vectara_chats", "empty_page_with_next", match={"page": 2}))
    pages = client.all_chat_pages(limit=10)
    assert [len(page["chats"]) for page in pages] == [10, 0, 10, 3]
    assert [chat["id"] for page in pages for chat in page["chats"]] == server.vectara_chat_ids()


def test_given_chats_cycle_fault_then_keys_go_a_b_a(server: FakeApiServer) -> None:
    client = Client(server)
    server.inject(Fault("vectara_chats", "cycle", times=None))
    key_a = client.chats(limit=5).json()["metadata"]["page_key"]
    key_b = client.chats(limit=5, page_key=key_a).json()["metadata"]["page_key"]
    assert client.chats(limit=5, page_key=key_b).json()["metadata"]["page_key"] == key_a


@pytest.mark.parametrize("kind", ["reset", "short_body"])
def test_given_transport_faults_on_turns_then_the_client_sees_a_broken_response(
    server: FakeApiServer, kind: str
) -> None:
    chat_id = server.vectara_chat_ids()[0]
    server.inject(Fault("vectara_turns", kind, match={"chat_id": chat_id}))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        Client(server).turns(chat_id)
    assert Client(server).turns(chat_id).status_code == 200


def test_given_status_fault_on_turns_then_v2_error_shapes_are_used(server: FakeApiServer) -> None:
    client = Client(server)
    chat_id = server.vectara_chat_ids()[0]
    server.inject(Fault("vectara_turns", "status", status=404))
    body = client.turns(chat_id).json()
    assert set(body) == {"id", "messages", "request_id"}
    server.inject(Fault("vectara_turns", "missing_key"))
    assert client.turns(chat_id).json() == {}
    server.inject(Fault("vectara_chats", "status", status=503, retry_after="2"))
    response = client.chats()
    assert response.status_code == 503 and set(response.json()) == {"messages", "request_id"}
