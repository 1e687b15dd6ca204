"""PolyAI Conversations v3 on the fake server: cursor paging, filters, channels, several projects,
v3 record and error shapes, faults and the control endpoints (all over real HTTP)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from fake_api import (
    ALL_PROJECTS,
    DEFAULT_PROJECT_ID,
    FakeApiServer,
    Fault,
    polyai_conversation,
    polyai_v3_page,
)
from fake_api.data import POLYAI_V3_TEXT_FIELDS, POLYAI_V3_TURN_TEXT_FIELDS, to_epoch_us
from fake_api.transport import Request

OTHER_PROJECT = "PROJECT-0th3r001"
PROJECTS = {DEFAULT_PROJECT_ID: 160, OTHER_PROJECT: 90}


class V3Client:
    """A thin requests-based client of the v3 list endpoint of one fake server."""

    def __init__(self, server: FakeApiServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.config = server.polyai_config(version="v3")

    def url(self, project_id: str | None = None, account_id: str | None = None) -> str:
        account = account_id or self.config["account_id"]
        return f"{self.server.base_url}/v3/{account}/{project_id or DEFAULT_PROJECT_ID}/conversations"

    def get(self, project_id: str | None = None, params: Any = None, **headers: str) -> requests.Response:
        return self.session.get(
            self.url(project_id), params=params, headers={"x-api-key": self.config["api_key"], **headers}, timeout=10
        )

    def walk(self, project_id: str | None = None, **params: Any) -> tuple[list[str], list[dict[str, Any]]]:
        """Every id of a cursor walk, and the pages."""
        pages: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = [
                (name, item)
                for name, value in params.items()
                for item in (value if isinstance(value, list) else [value])
            ]
            if cursor is not None:
                query.append(("cursor", cursor))
            response = self.get(project_id, query)
            assert response.status_code == 200, response.text
            pages.append(response.json())
            cursor = pages[-1]["cursor"]
            if cursor is None:
                return [c["id"] for page in pages for c in page["conversations"]], pages
            assert len(pages) < 1000


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeApiServer]:
    with FakeApiServer(polyai_projects=PROJECTS, vectara_count=5, in_progress_count=3) as server:
        yield server


@pytest.fixture(scope="module")
def v3(shared: FakeApiServer) -> V3Client:
    return V3Client(shared)


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(
        polyai_projects={DEFAULT_PROJECT_ID: 60, OTHER_PROJECT: 40}, vectara_count=5, in_progress_count=2
    ) as fresh:
        yield fresh


# --------------------------------------------------------------------------------------------------
# Cursor paging
# --------------------------------------------------------------------------------------------------


def test_given_cursor_walk_then_every_id_comes_once_in_order_and_the_walk_ends_with_null(
    shared: FakeApiServer, v3: V3Client
) -> None:
    ids, pages = v3.walk(limit=17)
    assert ids == shared.polyai_ids() and len(set(ids)) == len(ids)
    assert pages[-1]["cursor"] is None and all(page["cursor"] for page in pages[:-1])
    assert all(set(page) == {"conversations", "cursor"} for page in pages)  # no descriptions, no next_offset
    assert [len(page["conversations"]) for page in pages[:-1]] == [17] * (len(pages) - 1)


def test_given_cursors_then_they_are_opaque_and_url_safe(v3: V3Client) -> None:
    _, pages = v3.walk(limit=25)
    cursors = [page["cursor"] for page in pages[:-1]]
    assert len(set(cursors)) == len(cursors)
    for cursor in cursors:
        assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def test_given_no_limit_then_up_to_1000_come_in_one_page(shared: FakeApiServer, v3: V3Client) -> None:
    page = v3.get().json()
    assert [c["id"] for c in page["conversations"]] == shared.polyai_ids() and page["cursor"] is None


def test_given_limit_changes_between_pages_then_the_cursor_still_works(shared: FakeApiServer, v3: V3Client) -> None:
    first = v3.get(params={"limit": 10}).json()
    second = v3.get(params={"limit": 30, "cursor": first["cursor"]}).json()
    assert [c["id"] for c in first["conversations"] + second["conversations"]] == shared.polyai_ids()[:40]


@pytest.mark.parametrize(
    "changed",
    [{"client_env": "sandbox"}, {"in_progress": "false"}, {"variant_name": "Main line"}, {"channel": "WEBCHAT"}],
)
def test_given_cursor_with_other_filters_then_400_filter_parse_error(v3: V3Client, changed: dict[str, str]) -> None:
    cursor = v3.get(params={"limit": 5}).json()["cursor"]
    response = v3.get(params={"limit": 5, "cursor": cursor, **changed})
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["data"] is None and body["error"] == "Bad Request"
    assert body["error_code"] == "GET_CONVERSATIONS_FILTER_PARSE_ERROR" and "cursor" in body["error_message"].lower()


def test_given_cursor_of_a_time_window_then_a_different_window_is_refused(shared: FakeApiServer, v3: V3Client) -> None:
    records = shared.polyai_records()
    window = {"start_time": records[3]["started_at"], "end_time": records[40]["started_at"], "limit": 5}
    cursor = v3.get(params=window).json()["cursor"]
    assert v3.get(params={**window, "cursor": cursor}).status_code == 200
    moved = {**window, "end_time": records[41]["started_at"], "cursor": cursor}
    assert v3.get(params=moved).status_code == 400


def test_given_cursor_of_another_project_then_400(v3: V3Client) -> None:
    cursor = v3.get(OTHER_PROJECT, {"limit": 5}).json()["cursor"]
    assert v3.get(params={"limit": 5, "cursor": cursor}).status_code == 400


@pytest.mark.parametrize(
    "cursor", ["garbage", "!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "a+b/c="]
)
def test_given_malformed_cursor_then_400_with_the_v3_envelope(v3: V3Client, cursor: str) -> None:
    response = v3.get(params={"cursor": cursor})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"success", "error", "error_id", "error_code", "error_message", "data"}
    assert body["error_code"] == "GET_CONVERSATIONS_FILTER_PARSE_ERROR" and "cursor" in body["error_message"].lower()


def test_given_tampered_cursor_then_400(v3: V3Client) -> None:
    cursor = v3.get(params={"limit": 5}).json()["cursor"]
    tampered = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]
    assert v3.get(params={"limit": 5, "cursor": tampered}).status_code == 400


@pytest.mark.parametrize("limit", [1001, 5000, 0, -1, "ten"])
def test_given_limit_outside_1_to_1000_then_400_validation_failed(v3: V3Client, limit: Any) -> None:
    response = v3.get(params={"limit": limit})
    assert response.status_code == 400 and response.json()["error_code"] == "CONVERSATIONS_VALIDATION_FAILED"


@pytest.mark.parametrize("limit", [1, 1000])
def test_given_limit_at_the_bounds_then_it_is_accepted(v3: V3Client, limit: int) -> None:
    assert v3.get(params={"limit": limit}).status_code == 200


def test_given_v1_then_its_own_limits_still_apply(shared: FakeApiServer) -> None:
    url = f"{shared.base_url}/v1/{shared.polyai_config()['account_id']}/{DEFAULT_PROJECT_ID}/conversations"
    headers = {"x-api-key": shared.polyai_api_key}
    assert requests.get(url, params={"limit": 4999}, headers=headers, timeout=10).status_code == 200
    assert requests.get(url, params={"limit": 1}, headers=headers, timeout=10).status_code == 400


def test_given_offset_alone_then_legacy_paging_works(shared: FakeApiServer, v3: V3Client) -> None:
    page = v3.get(params={"limit": 10, "offset": 20}).json()
    assert [c["id"] for c in page["conversations"]] == shared.polyai_ids()[20:30] and page["cursor"]


def test_given_cursor_and_offset_then_the_cursor_wins(shared: FakeApiServer, v3: V3Client) -> None:
    cursor = v3.get(params={"limit": 10}).json()["cursor"]
    page = v3.get(params={"limit": 10, "offset": 100, "cursor": cursor}).json()
    assert [c["id"] for c in page["conversations"]] == shared.polyai_ids()[10:20]


def test_given_cursor_after_an_offset_page_then_the_walk_continues(shared: FakeApiServer, v3: V3Client) -> None:
    first = v3.get(params={"limit": 10, "offset": 30}).json()
    second = v3.get(params={"limit": 10, "cursor": first["cursor"]}).json()
    assert [c["id"] for c in second["conversations"]] == shared.polyai_ids()[40:50]


def test_given_conversations_added_before_the_cursor_then_the_walk_loses_and_repeats_nothing(
    server: FakeApiServer,
) -> None:
    client = V3Client(server)
    before = server.polyai_ids()
    first = client.get(params={"limit": 10}).json()
    started = to_epoch_us(first["conversations"][4]["started_at"]) / 1e6
    server.add_polyai(2, started_at=started + 1e-6)  # inside the page already read
    server.add_polyai(1)  # and one at the end
    rest = []
    cursor = first["cursor"]
    while cursor:
        page = client.get(params={"limit": 10, "cursor": cursor}).json()
        rest += [c["id"] for c in page["conversations"]]
        cursor = page["cursor"]
    assert [c["id"] for c in first["conversations"]] + rest == before + server.polyai_ids()[-1:]


def test_given_in_progress_filter_then_the_walk_lists_only_those(shared: FakeApiServer, v3: V3Client) -> None:
    ids, _ = v3.walk(limit=2, in_progress="true")
    assert ids == shared.polyai_ids(in_progress=True) and len(ids) == 3


def test_given_time_window_then_bounds_follow_the_server_window(shared: FakeApiServer, v3: V3Client) -> None:
    records = shared.polyai_records()
    ids, _ = v3.walk(limit=4, start_time=records[10]["started_at"], end_time=records[20]["started_at"])
    assert ids == [r["id"] for r in records[10:21]]


def test_given_client_env_then_only_that_environment_is_walked(shared: FakeApiServer, v3: V3Client) -> None:
    ids, _ = v3.walk(limit=3, client_env="sandbox")
    assert ids and ids == shared.polyai_ids(client_env="sandbox")


# --------------------------------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------------------------------


def test_given_records_then_several_channels_occur(shared: FakeApiServer) -> None:
    records = shared.polyai_records(project_id=ALL_PROJECTS, client_env=None)
    assert {r["channel"] for r in records} == {"VOICE-SIP", "WEBCHAT", "CHAT"}


def test_given_repeated_channel_then_either_channel_is_listed(shared: FakeApiServer, v3: V3Client) -> None:
    ids, pages = v3.walk(limit=3, channel=["WEBCHAT", "CHAT"])
    expected = shared.polyai_ids(channels=["WEBCHAT", "CHAT"])
    assert ids == expected and expected
    assert {c["channel"] for page in pages for c in page["conversations"]} <= {"WEBCHAT", "CHAT"}
    assert pages[-1]["cursor"] is None


def test_given_one_channel_then_only_it_is_listed(shared: FakeApiServer, v3: V3Client) -> None:
    voice, _ = v3.walk(limit=50, channel=["VOICE-SIP"])
    chat, _ = v3.walk(limit=50, channel=["WEBCHAT", "CHAT"])
    assert sorted(voice + chat) == sorted(shared.polyai_ids())
    assert v3.get(params={"channel": "FAX"}).json() == {"conversations": [], "cursor": None}


def test_given_channel_and_offset_then_the_offset_counts_matching_records(shared: FakeApiServer, v3: V3Client) -> None:
    expected = shared.polyai_ids(channels=["VOICE-SIP"])
    page = v3.get(params=[("channel", "VOICE-SIP"), ("limit", 5), ("offset", 7)]).json()
    assert [c["id"] for c in page["conversations"]] == expected[7:12]


def test_given_repeated_query_parameter_then_query_lists_keeps_every_value() -> None:
    request = Request("GET", "/x", {"channel": "B"}, {}, query_lists={"channel": ["A", "B"]})
    assert request.query["channel"] == "B" and request.query_list("channel") == ["A", "B"]
    assert Request("GET", "/x", {"channel": "B"}, {}).query_list("channel") == ["B"]
    assert Request("GET", "/x", {}, {}).query_list("channel") == []


# --------------------------------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------------------------------


def test_given_several_projects_then_each_has_its_own_data(shared: FakeApiServer, v3: V3Client) -> None:
    default_ids, _ = v3.walk(limit=100)
    other_ids, pages = v3.walk(OTHER_PROJECT, limit=100)
    assert other_ids == shared.polyai_ids(project_id=OTHER_PROJECT)
    assert not set(default_ids) & set(other_ids)
    assert {c["project_id"] for page in pages for c in page["conversations"]} == {OTHER_PROJECT}
    assert shared.polyai_project_count(OTHER_PROJECT) == 90 and shared.polyai_count == 250
    everything = shared.polyai_ids(project_id=ALL_PROJECTS, client_env=None)
    assert len(everything) == len(set(everything)) == 250


def test_given_default_project_then_its_records_are_the_single_project_ones(shared: FakeApiServer) -> None:
    single = FakeApiServer(polyai_count=160, vectara_count=5, in_progress_count=3)
    # same seed, same project id and the same count: the same conversation ids as a one-project server
    assert shared.polyai_ids(client_env=None)[:50] == single.polyai_ids(client_env=None)[:50]


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_given_unknown_project_then_404_project_not_found(shared: FakeApiServer, version: str) -> None:
    url = f"{shared.base_url}/{version}/{shared.polyai_config()['account_id']}/PROJECT-unknown/conversations"
    response = requests.get(url, headers={"x-api-key": shared.polyai_api_key}, timeout=10)
    assert response.status_code == 404
    body = response.json()
    assert body["error_code"] == "PROJECT_NOT_FOUND" and body["success"] is False
    if version == "v3":
        assert "PROJECT-unknown" in body["error_message"]


def test_given_unknown_account_then_404(v3: V3Client) -> None:
    response = v3.session.get(v3.url(account_id="ws-nobody"), headers={"x-api-key": v3.config["api_key"]}, timeout=10)
    assert response.status_code == 404 and response.json()["error_code"] == "PROJECT_NOT_FOUND"


def test_given_second_project_on_v1_then_it_lists_its_own_records(shared: FakeApiServer) -> None:
    url = f"{shared.base_url}/v1/{shared.polyai_config()['account_id']}/{OTHER_PROJECT}/conversations"
    page = requests.get(url, params={"limit": 10}, headers={"x-api-key": shared.polyai_api_key}, timeout=10).json()
    assert page["conversations"] == shared.polyai_records(project_id=OTHER_PROJECT)[:10]
    assert "descriptions" in page and page["next_offset"] == 10


def test_given_bad_api_key_then_401_auth_code_with_the_correlation_id(v3: V3Client) -> None:
    response = v3.session.get(
        v3.url(), headers={"x-api-key": "wrong-key-0000000000000000", "X-PolyAI-Correlation-Id": "corr-9"}, timeout=10
    )
    assert response.status_code == 401
    body = response.json()
    assert body["error_code"].startswith("AUTH_") and body["error_id"] == "corr-9" and body["error"] == "Unauthorized"


def test_given_config_helpers_then_v1_is_unchanged_and_v3_lists_projects(shared: FakeApiServer) -> None:
    assert shared.polyai_config() == {
        "api_key": shared.polyai_api_key,
        "account_id": "ws-f4k3a1c0",
        "project_id": DEFAULT_PROJECT_ID,
        "base_url": shared.base_url,
    }
    assert shared.config()["polyai"] == shared.polyai_config()
    assert shared.polyai_config(version="v3") == {
        "api_key": shared.polyai_api_key,
        "account_id": "ws-f4k3a1c0",
        "project_ids": [DEFAULT_PROJECT_ID, OTHER_PROJECT],
        "base_url": shared.base_url,
        "api_version": "v3",
    }
    assert shared.polyai_config(version="v3", projects=[OTHER_PROJECT])["project_ids"] == [OTHER_PROJECT]
    assert shared.config(polyai_version="v3")["polyai"]["api_version"] == "v3"
    with pytest.raises(ValueError):
        shared.polyai_config(version="v3", projects=["PROJECT-nope"])


# --------------------------------------------------------------------------------------------------
# v3 records
# --------------------------------------------------------------------------------------------------


def test_given_v3_records_then_they_equal_the_ground_truth(shared: FakeApiServer, v3: V3Client) -> None:
    page = v3.get(OTHER_PROJECT, {"limit": 30}).json()
    assert page["conversations"] == shared.polyai_records(project_id=OTHER_PROJECT, version="v3")[:30]


def test_given_v3_records_then_empty_text_is_an_empty_string_and_numbers_stay_null(shared: FakeApiServer) -> None:
    v1 = shared.polyai_records(client_env=None)
    v3_records = shared.polyai_records(client_env=None, version="v3")
    assert [r["id"] for r in v1] == [r["id"] for r in v3_records]
    for record in v3_records:
        assert all(isinstance(record[name], str) for name in POLYAI_V3_TEXT_FIELDS)
        assert "context_state" not in record
        for turn in record["turns"]:
            assert all(isinstance(turn[name], str) for name in POLYAI_V3_TURN_TEXT_FIELDS)
            assert "latency" not in turn
    assert any(r["from_number"] == "" for r in v3_records) and any(r["handoff_reason"] == "" for r in v3_records)
    assert any(r["total_duration"] is None for r in v3_records)  # in progress: a number stays null
    assert any(t["translated_user_input"] == "" for r in v3_records for t in r["turns"])
    assert any(t["english_agent_response"] not in ("", None) for r in v3_records for t in r["turns"])
    assert any(r["from_number"] is None for r in v1)


def test_given_include_latency_then_turns_carry_latency_in_seconds(shared: FakeApiServer, v3: V3Client) -> None:
    with_latency = v3.get(params={"limit": 40, "include_latency": "true"}).json()["conversations"]
    without = v3.get(params={"limit": 40}).json()["conversations"]
    turns = [turn for record in with_latency for turn in record["turns"]]
    assert turns and all("latency" in turn for turn in turns)
    assert any(isinstance(turn["latency"], float) and 0 < turn["latency"] < 5 for turn in turns)
    assert not any("latency" in turn for record in without for turn in record["turns"])
    assert with_latency == shared.polyai_records(version="v3", include_latency=True)[:40]


def test_given_include_context_state_on_v3_then_it_is_ignored(v3: V3Client) -> None:
    page = v3.get(params={"limit": 5, "include_context_state": "true"}).json()
    assert not any("context_state" in c for c in page["conversations"])


def test_given_data_helpers_then_v3_bodies_can_be_built_without_a_server() -> None:
    record = polyai_conversation(3, version="v3", include_latency=True)
    assert record["id"] == polyai_conversation(3)["id"] and all("latency" in t for t in record["turns"])
    assert polyai_v3_page([record]) == {"conversations": [record], "cursor": None}
    assert polyai_v3_page([], cursor="abc", next_offset=5) == {"conversations": [], "cursor": "abc", "next_offset": 5}


# --------------------------------------------------------------------------------------------------
# next_offset and missing cursors
# --------------------------------------------------------------------------------------------------


def test_given_next_offset_option_then_pages_carry_it_until_the_last() -> None:
    with FakeApiServer(polyai_count=80, vectara_count=1, polyai_v3_next_offset=True) as server:
        client = V3Client(server)
        first = client.get(params={"limit": 20}).json()
        assert first["next_offset"] == 20 and first["cursor"]
        ids = [c["id"] for c in first["conversations"]]
        offset = first["next_offset"]
        while True:  # a client that follows next_offset only
            page = client.get(params={"limit": 20, "offset": offset}).json()
            ids += [c["id"] for c in page["conversations"]]
            if "next_offset" not in page:
                break
            offset = page["next_offset"]
        assert ids == server.polyai_ids() and page["cursor"] is None
        by_cursor = client.get(params={"limit": 20, "cursor": first["cursor"]}).json()
        assert by_cursor["next_offset"] == 40


def test_given_omit_cursor_option_then_bodies_have_no_cursor_key_but_next_offset() -> None:
    with FakeApiServer(
        polyai_count=45, vectara_count=1, polyai_v3_next_offset=True, polyai_v3_omit_cursor=True
    ) as server:
        page = V3Client(server).get(params={"limit": 20}).json()
        assert "cursor" not in page and page["next_offset"] == 20


def test_given_missing_cursor_fault_then_one_body_lacks_the_cursor_key(server: FakeApiServer) -> None:
    client = V3Client(server)
    server.inject(Fault("polyai", "missing_cursor", match={"version": "v3"}))
    assert "cursor" not in client.get(params={"limit": 5}).json()
    assert client.get(params={"limit": 5}).json()["cursor"]


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------


def test_given_polyai_status_fault_then_v3_answers_in_the_v3_envelope(server: FakeApiServer) -> None:
    client = V3Client(server)
    server.inject(Fault("polyai", "status", status=429, retry_after="3", match={"version": "v3"}))
    response = client.get()
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert response.json()["error"] == "Too Many Requests" and response.json()["success"] is False
    assert client.get().status_code == 200


def test_given_fault_matching_a_project_then_only_that_project_fails(server: FakeApiServer) -> None:
    client = V3Client(server)
    server.inject(Fault("polyai", "status", status=503, times=None, match={"project_id": OTHER_PROJECT}))
    assert client.get().status_code == 200
    assert client.get(OTHER_PROJECT).status_code == 503
    v1 = f"{server.base_url}/v1/{client.config['account_id']}/{OTHER_PROJECT}/conversations"
    assert requests.get(v1, headers={"x-api-key": server.polyai_api_key}, timeout=10).status_code == 503


def test_given_fault_matching_a_cursor_then_only_that_page_fails(server: FakeApiServer) -> None:
    client = V3Client(server)
    cursor = client.get(params={"limit": 5}).json()["cursor"]
    server.inject(Fault("polyai", "status", status=500, match={"cursor": cursor}, times=None))
    assert client.get(params={"limit": 5}).status_code == 200
    assert client.get(params={"limit": 5, "cursor": cursor}).status_code == 500


def test_given_fault_matching_channels_then_they_are_joined_with_commas(server: FakeApiServer) -> None:
    client = V3Client(server)
    server.inject(Fault("polyai", "status", status=502, match={"channel": "WEBCHAT,CHAT"}))
    assert client.get(params=[("channel", "WEBCHAT")]).status_code == 200
    assert client.get(params=[("channel", "WEBCHAT"), ("channel", "CHAT")]).status_code == 502


def test_given_cursor_repeat_fault_then_the_response_cursor_is_the_request_cursor(server: FakeApiServer) -> None:
    client = V3Client(server)
    cursor = client.get(params={"limit": 5}).json()["cursor"]
    server.inject(Fault("polyai", "cursor_repeat", times=2))
    repeated = client.get(params={"limit": 5, "cursor": cursor}).json()
    assert repeated["cursor"] == cursor and [c["id"] for c in repeated["conversations"]] == server.polyai_ids()[5:10]
    first = client.get(params={"limit": 5}).json()  # a first page gets a cursor back to the first page
    again = client.get(params={"limit": 5, "cursor": first["cursor"]}).json()
    assert again["conversations"] == first["conversations"]


def test_given_empty_page_with_next_fault_on_v3_then_following_it_loses_nothing(server: FakeApiServer) -> None:
    client = V3Client(server)
    server.inject(Fault("polyai", "empty_page_with_next", match={"version": "v3", "page": 2}))
    ids, pages = client.walk(limit=10)
    assert ids == server.polyai_ids()
    assert pages[1]["conversations"] == [] and pages[1]["cursor"] == pages[0]["cursor"]


@pytest.mark.parametrize("kind", ["truncated_json", "invalid_json", "missing_key", "vendor_error"])
def test_given_damaging_faults_then_v3_answers_are_damaged(server: FakeApiServer, kind: str) -> None:
    server.inject(Fault("polyai", kind, match={"version": "v3"}))
    response = V3Client(server).get(params={"limit": 5})
    assert response.status_code == 200
    if kind == "missing_key":
        assert "conversations" not in response.json()
    elif kind == "vendor_error":
        assert response.json()["success"] is False
    else:
        with pytest.raises(ValueError):
            response.json()


def test_given_delay_fault_then_the_v3_read_times_out(server: FakeApiServer) -> None:
    server.inject(Fault("polyai", "delay", delay_seconds=1.0, match={"version": "v3"}))
    with pytest.raises(requests.exceptions.ReadTimeout):
        V3Client(server).session.get(V3Client(server).url(), headers={"x-api-key": server.polyai_api_key}, timeout=0.2)


# --------------------------------------------------------------------------------------------------
# Mutations per project
# --------------------------------------------------------------------------------------------------


def test_given_in_progress_count_then_it_applies_per_project_and_finish_covers_all(server: FakeApiServer) -> None:
    assert len(server.polyai_ids(in_progress=True, client_env=None)) == 2
    assert len(server.polyai_ids(in_progress=True, client_env=None, project_id=OTHER_PROJECT)) == 2
    assert server.finish_polyai_in_progress(OTHER_PROJECT) == 2
    assert server.polyai_ids(in_progress=True, client_env=None, project_id=OTHER_PROJECT) == []
    assert server.finish_polyai_in_progress() == 2


def test_given_added_conversations_in_a_project_then_only_its_walk_shows_them(server: FakeApiServer) -> None:
    client = V3Client(server)
    added = server.add_polyai(2, project_id=OTHER_PROJECT)
    other, pages = client.walk(OTHER_PROJECT, limit=7)
    assert other[-2:] == added and {c["project_id"] for p in pages for c in p["conversations"]} == {OTHER_PROJECT}
    assert not set(added) & set(client.walk(limit=7)[0])


def test_given_control_endpoints_with_project_id_then_that_project_changes(server: FakeApiServer) -> None:
    base = server.base_url
    response = requests.post(
        f"{base}/_fake/polyai/add", json={"n": 2, "in_progress": True, "project_id": OTHER_PROJECT}, timeout=10
    )
    assert len(response.json()["ids"]) == 2
    assert server.polyai_ids(in_progress=True, project_id=OTHER_PROJECT)[-2:] == response.json()["ids"]
    finished = requests.post(f"{base}/_fake/polyai/finish", json={"project_id": OTHER_PROJECT}, timeout=10).json()
    assert finished == {"finished": 4}
    assert requests.post(f"{base}/_fake/polyai/finish", timeout=10).json() == {"finished": 2}
    bad = requests.post(f"{base}/_fake/polyai/add", json={"project_id": "PROJECT-nope"}, timeout=10)
    assert bad.status_code == 400
    assert requests.get(f"{base}/_fake/stats", timeout=10).json()["polyai_projects"] == {
        DEFAULT_PROJECT_ID: 60,
        OTHER_PROJECT: 42,
    }


def test_given_started_at_in_the_past_then_v3_offsets_shift_but_cursors_do_not(server: FakeApiServer) -> None:
    client = V3Client(server)
    records = server.polyai_records()
    first = client.get(params={"limit": 10}).json()
    moment = to_epoch_us(records[2]["started_at"]) / 1e6 + timedelta(microseconds=1).total_seconds()
    (late,) = server.add_polyai(1, started_at=moment)
    by_offset = client.get(params={"limit": 10, "offset": 10}).json()["conversations"]
    by_cursor = client.get(params={"limit": 10, "cursor": first["cursor"]}).json()["conversations"]
    assert by_offset[0]["id"] == first["conversations"][-1]["id"]  # the shift re-serves the last row
    assert [c["id"] for c in by_cursor] == [r["id"] for r in records[10:20]]
    assert late in server.polyai_ids()[:4]


def test_given_fast_mode_then_v3_pages_are_byte_identical_to_normal_mode() -> None:
    end = datetime(2025, 6, 1, tzinfo=UTC)
    timeline = {"polyai_projects": {DEFAULT_PROJECT_ID: 40, OTHER_PROJECT: 30}, "vectara_count": 3, "polyai_end": end}
    with FakeApiServer(**timeline) as normal, FakeApiServer(**timeline, fast=True) as fast:
        assert fast.warm(["polyai_v3"]) == 70
        bodies = []
        for server in (normal, fast, fast):
            client = V3Client(server)
            first = client.get(OTHER_PROJECT, [("limit", 7), ("channel", "VOICE-SIP")])
            second = client.get(
                OTHER_PROJECT, [("limit", 7), ("channel", "VOICE-SIP"), ("cursor", first.json()["cursor"])]
            )
            bodies.append(
                (first.content, second.content, client.get(params={"limit": 9, "include_latency": "true"}).content)
            )
        assert bodies[0] == bodies[1] == bodies[2]
        fast.add_polyai(1, project_id=OTHER_PROJECT)  # the page cache must not serve stale pages
        assert len(V3Client(fast).walk(OTHER_PROJECT)[0]) == len(fast.polyai_ids(project_id=OTHER_PROJECT))
