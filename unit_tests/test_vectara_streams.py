"""Vectara specifics, in-process with the CDK's `HttpMocker`: v1 headers, OAuth client credentials, v1 turns
in batches of ten, v2 authentication and error bodies, and the Agents API's sessions and events.

OAuth token mocks are registered last: mocks are tried newest first, and a mock with a JSON body cannot
read the token request's form body.
"""

from typing import List

import pytest
import requests_mock
from airbyte_cdk.models import FailureType
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest
from freezegun import freeze_time

from fake_api.agents import UNKNOWN_EVENT_TYPE
from fake_api.data import vectara_page
from fake_api.vectara_v2 import v2_error
from test_support import leaks
from unit_tests.streams import (  # noqa: F401  (fixtures, used by name)
    ACCESS_TOKEN,
    AGENT,
    BATCH,
    CLIENT_ID,
    CLIENT_SECRET,
    CUSTOMER_ID,
    DAY,
    NOW,
    PARENTS_AT,
    SAVED_S,
    TOKEN_REQUEST,
    VECTARA_BASE,
    VECTARA_KEY,
    VECTARA_KEYS,
    agents_page,
    agents_request,
    assert_no_secret,
    chat,
    chat_turn,
    emitted,
    error_messages,
    event,
    events_request,
    fast_source,
    final_state,
    iso_us,
    list_conversations_request,
    ok,
    read,
    read_conversations_body,
    read_conversations_request,
    record_time,
    retry_sleeps,
    session,
    sessions_request,
    the_error,
    token_response,
    v2_page,
    v2_request,
    vectara_config,
    vectara_v1_turn,
)

pytestmark = pytest.mark.usefixtures("fast_source", "retry_sleeps")
FRESH_TOKEN = "inprocess-access-token-renewed-3f9c1a7e5b2d"
leaks.register_secret(FRESH_TOKEN)


def _list_page(first: int, key: str = None) -> object:
    return ok(vectara_page([vectara_v1_turn(first, record_time(first))], page_key=key))


# -------------------------------------------------------------------------------------------------
# v1 headers, OAuth client credentials
# -------------------------------------------------------------------------------------------------


@freeze_time(NOW)
def test_given_v1_api_key_when_read_then_customer_id_timeout_and_key_headers_are_sent() -> None:
    request = HttpRequest(
        f"{VECTARA_BASE}/v1/list-conversations",
        headers={"customer-id": CUSTOMER_ID, "timeout": "45S", "x-api-key": VECTARA_KEY},
        body={"numResults": 2},
    )
    with HttpMocker() as mocker:
        mocker.post(request, _list_page(0))
        output = read(vectara_config("v1", request_timeout=45), "vectara_conversations")
        mocker.assert_number_of_calls(request, 1)
    assert len(output.records) == 1
    assert_no_secret(output)


@freeze_time(NOW)
def test_given_oauth_when_reading_many_pages_then_one_token_signs_every_request() -> None:
    keys = VECTARA_KEYS
    requests = [list_conversations_request(key, auth="oauth") for key in (None, *keys)]
    with HttpMocker() as mocker:
        for index, (request, next_key) in enumerate(zip(requests, [*keys, None])):
            mocker.post(request, _list_page(index, next_key))
        mocker.post(TOKEN_REQUEST, token_response())
        output = read(vectara_config("v1", auth="oauth"), "vectara_conversations")
        mocker.assert_number_of_calls(TOKEN_REQUEST, 1)
        for request in requests:
            mocker.assert_number_of_calls(request, 1)
    assert len(output.records) == 3
    assert_no_secret(output)


@freeze_time(NOW)
def test_given_api_refuses_the_token_mid_sync_when_read_then_one_fresh_token_and_the_request_is_retried() -> None:
    key = VECTARA_KEYS[0]
    with HttpMocker() as mocker:
        mocker.post(list_conversations_request(auth="oauth"), _list_page(0, key))
        refused = list_conversations_request(key, auth="oauth")
        mocker.post(refused, ok({"code": 16, "message": "token revoked"}, 401))
        renewed = HttpRequest(
            f"{VECTARA_BASE}/v1/list-conversations",
            headers={"customer-id": CUSTOMER_ID, "Authorization": f"Bearer {FRESH_TOKEN}"},
            body={"numResults": 2, "pageKey": key},
        )
        mocker.post(renewed, _list_page(1))
        mocker.post(TOKEN_REQUEST, [token_response(), token_response(FRESH_TOKEN)])
        output = read(vectara_config("v1", auth="oauth"), "vectara_conversations")
        mocker.assert_number_of_calls(TOKEN_REQUEST, 2)
        mocker.assert_number_of_calls(refused, 1)
        mocker.assert_number_of_calls(renewed, 1)
    assert len(output.records) == 2
    assert error_messages(output) == []
    assert_no_secret(output, FRESH_TOKEN)


@freeze_time(NOW)
def test_given_api_refuses_the_fresh_token_too_when_read_then_config_error_after_one_renewal() -> None:
    refused = ok({"code": 16, "message": "no access to this corpus"}, 401)
    with HttpMocker() as mocker:
        mocker.post(list_conversations_request(auth="oauth"), refused)
        fresh = HttpRequest(
            f"{VECTARA_BASE}/v1/list-conversations",
            headers={"Authorization": f"Bearer {FRESH_TOKEN}"},
            body={"numResults": 2},
        )
        mocker.post(fresh, refused)
        mocker.post(TOKEN_REQUEST, [token_response(), token_response(FRESH_TOKEN)])
        output = read(vectara_config("v1", auth="oauth"), "vectara_conversations", expect_failure=True)
        mocker.assert_number_of_calls(TOKEN_REQUEST, 2)
    error = the_error(output)
    assert error.failure_type == FailureType.config_error
    assert "vectara.credentials" in error.message
    assert_no_secret(output, FRESH_TOKEN)


@freeze_time(NOW)
def test_given_token_endpoint_rejects_the_client_when_read_then_config_error_says_so() -> None:
    with HttpMocker() as mocker:
        mocker.post(TOKEN_REQUEST, ok({"error": "invalid_client"}, 400))
        output = read(vectara_config("v1", auth="oauth"), "vectara_conversations", expect_failure=True)
        mocker.assert_number_of_calls(TOKEN_REQUEST, 1)  # not retried: the user must fix it
    error = the_error(output)
    assert error.failure_type == FailureType.config_error
    assert "rejected the OAuth client" in error.message and "vectara.credentials.client_secret" in error.message
    assert_no_secret(output)


@pytest.mark.parametrize(
    "version, token_url",
    [
        ("v2", "https://auth.vectara.io/oauth2/token"),
        ("v1", f"https://vectara-prod-{CUSTOMER_ID}.auth.us-west-2.amazoncognito.com/oauth2/token"),
    ],
)
@freeze_time(NOW)
def test_given_oauth_without_token_url_when_read_then_the_versions_default_token_url_is_asked(
    version: str, token_url: str
) -> None:
    config = vectara_config(version, auth="oauth")
    del config["vectara"]["credentials"]["token_url"]
    token_request = HttpRequest(
        token_url, body=f"grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
    )
    stream = "vectara_chats" if version == "v2" else "vectara_conversations"
    with HttpMocker() as mocker:
        if version == "v2":
            mocker.get(v2_request("/v2/chats", auth="oauth"), ok(v2_page("chats", [chat(0)])))
        else:
            mocker.post(list_conversations_request(auth="oauth"), _list_page(0))
        mocker.post(token_request, token_response())
        output = read(config, stream)
        mocker.assert_number_of_calls(token_request, 1)
    assert len(output.records) == 1
    assert_no_secret(output)


# -------------------------------------------------------------------------------------------------
# v1 turns
# -------------------------------------------------------------------------------------------------


@freeze_time(NOW)
def test_given_23_conversations_when_turns_read_then_batches_of_at_most_ten_ids_and_turns_with_created_at() -> None:
    conversations = [vectara_v1_turn(100 + n, PARENTS_AT) for n in range(23)]
    ids = [conversation["id"] for conversation in conversations]
    batches = [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]
    turns = {}
    for n, conversation_id in enumerate(ids):
        first = vectara_v1_turn(200 + n, record_time(n % 5), conversation_id)
        later = vectara_v1_turn(300 + n, record_time(n % 5) + 60, conversation_id)
        later["epochSecs"] = int(later["epochSecs"])  # proto3 JSON may send the int64 as a number
        turns[conversation_id] = [first, later]
    with HttpMocker() as mocker:
        mocker.post(list_conversations_request(), ok(vectara_page(conversations)))
        requests = [read_conversations_request(batch) for batch in batches]
        for request, batch in zip(requests, batches):
            mocker.post(request, ok(read_conversations_body([turn for key in batch for turn in turns[key]])))
        output = read(vectara_config("v1"), "vectara_turns")
        for request in requests:
            mocker.assert_number_of_calls(request, 1)
    assert [len(batch) for batch in batches] == [10, 10, 3]
    expected = {turn["id"]: turn for pair in turns.values() for turn in pair}
    got = {message.record.data["id"]: message.record.data for message in output.records}
    assert sorted(got) == sorted(expected)
    for turn_id, data in got.items():
        seconds = int(expected[turn_id]["epochSecs"])
        assert data["epochSecs"] == str(seconds)
        assert data["created_at"] == iso_us(seconds).replace(".000000", "")
        assert data["conversationId"] == expected[turn_id]["conversationId"]


# -------------------------------------------------------------------------------------------------
# v2 chats and turns: authentication and error bodies
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["api_key", "oauth"])
@freeze_time(NOW)
def test_given_v2_auth_when_chats_and_turns_read_then_each_request_carries_it_and_no_customer_id(auth: str) -> None:
    chats = [chat(0), chat(1)]
    turns = {c["id"]: chat_turn(k, record_time(k), k) for k, c in enumerate(chats)}
    with requests_mock.Mocker() as mocked:
        mocked.post("https://auth.vectara.test/oauth2/token", json={"access_token": ACCESS_TOKEN, "expires_in": 1800})
        mocked.get(f"{VECTARA_BASE}/v2/chats", json=v2_page("chats", chats))
        for chat_id, turn in turns.items():
            mocked.get(f"{VECTARA_BASE}/v2/chats/{chat_id}/turns", json={"turns": [turn]})
        output = read(vectara_config("v2", auth=auth), "vectara_chat_turns")
        api_requests = [request for request in mocked.request_history if request.url.startswith(VECTARA_BASE)]
    assert sorted(emitted(output, "vectara_chat_turns")) == sorted(turn["id"] for turn in turns.values())
    assert len(api_requests) == 3
    for request in api_requests:
        headers = {name.lower(): value for name, value in request.headers.items()}
        assert "customer-id" not in headers
        assert headers["request-timeout"] == "30"
        if auth == "api_key":
            assert headers["x-api-key"] == VECTARA_KEY and "authorization" not in headers
        else:
            assert headers["authorization"] == f"Bearer {ACCESS_TOKEN}" and "x-api-key" not in headers
    assert_no_secret(output)


@pytest.mark.parametrize(
    "status, body, shown",
    [
        (
            400,
            v2_error(["Invalid request"], field_errors={"limit": "must be at most 1000"}),
            ["Invalid request", "must be at most 1000", "vectara.page_size"],
        ),
        (401, v2_error(["Unauthorized: invalid or missing API key or token"]), ["invalid or missing API key"]),
        (
            404,
            v2_error(["Endpoint chats not found"], missing_id="chats"),
            ["Endpoint chats not found", "vectara.base_url"],
        ),
    ],
    ids=["400 field_errors", "401 messages", "404 messages"],
)
@freeze_time(NOW)
def test_given_v2_error_body_when_read_then_its_messages_reach_the_user(
    status: int, body: dict, shown: List[str]
) -> None:
    request = v2_request("/v2/chats")
    with HttpMocker() as mocker:
        mocker.get(request, ok(body, status))
        output = read(vectara_config("v2"), "vectara_chats", expect_failure=True)
        mocker.assert_number_of_calls(request, 1)
    error = the_error(output)
    assert error.failure_type == FailureType.config_error
    for text in shown:
        assert text in error.message, f"{text!r} not in {error.message!r}"


# -------------------------------------------------------------------------------------------------
# Agents: sessions and events
# -------------------------------------------------------------------------------------------------

FORBIDDEN = v2_error(["Permission denied: a Query API key cannot use the Agents API; use a Personal API key or OAuth"])


@pytest.mark.parametrize("where", ["agents", "sessions", "events"])
@freeze_time(NOW)
def test_given_403_on_an_agent_endpoint_when_read_then_config_error_about_personal_keys_and_sync_agents(
    where: str,
) -> None:
    stream = "vectara_agent_events" if where == "events" else "vectara_agent_sessions"
    with HttpMocker() as mocker:
        mocker.get(agents_request(), ok(FORBIDDEN, 403) if where == "agents" else agents_page())
        if where != "agents":
            sessions = ok(FORBIDDEN, 403) if where == "sessions" else ok(v2_page("sessions", [session(0)]))
            mocker.get(sessions_request(), sessions)
        if where == "events":
            mocker.get(events_request(session(0)["key"]), ok(FORBIDDEN, 403))
        output = read(vectara_config("v2"), stream, expect_failure=True)
    error = the_error(output)
    assert error.failure_type == FailureType.config_error
    assert "Personal API key" in error.message and "vectara.sync_agents" in error.message
    assert "a Query API key cannot use the Agents API" in error.message


@freeze_time(NOW)
def test_given_agent_keys_when_sessions_read_then_no_agents_request_and_each_agents_sessions_are_read() -> None:
    keys = ["agt_support_aaa111", "agt_sales_bbb222"]
    with HttpMocker() as mocker:
        listing = agents_request()
        mocker.get(listing, agents_page())
        per_agent = {key: sessions_request(key) for key in keys}
        for n, (key, request) in enumerate(per_agent.items()):
            mocker.get(request, ok(v2_page("sessions", [dict(session(n, record_time(n)), agent_key=key)])))
        output = read(vectara_config("v2", agent_keys=keys), "vectara_agent_sessions")
        mocker.assert_number_of_calls(listing, 0)
        for request in per_agent.values():
            mocker.assert_number_of_calls(request, 1)
    assert sorted(message.record.data["agent_key"] for message in output.records) == sorted(keys)
    assert len(final_state(output)["states"]) == 2


@freeze_time(NOW)
def test_given_an_event_of_an_unknown_type_when_read_then_it_passes_through_whole_with_agent_key_added() -> None:
    known = event(0, record_time(0))
    unknown = {
        "id": "aev_0f0f0f0f0f0f0f0f",
        "session_key": session(0)["key"],
        "type": UNKNOWN_EVENT_TYPE,
        "created_at": "2026-01-03T00:00:00.000Z",
        "payload": {"note": "new in the API", "nested": [{"level": 3, "flags": [True, None]}]},
        "surprise_field": 42,
    }
    with HttpMocker() as mocker:
        mocker.get(agents_request(), agents_page())
        mocker.get(sessions_request(), ok(v2_page("sessions", [session(0)])))
        mocker.get(events_request(session(0)["key"]), ok(v2_page("events", [known, unknown])))
        output = read(vectara_config("v2"), "vectara_agent_events")
    assert [message.record.data for message in output.records] == [
        {**known, "agent_key": AGENT},
        {**unknown, "agent_key": AGENT},
    ]


@pytest.mark.parametrize("include_hidden", [True, False])
@freeze_time(NOW)
def test_given_include_hidden_events_setting_when_read_then_include_hidden_is_sent_only_with_it(
    include_hidden: bool,
) -> None:
    key = session(0)["key"]
    request = events_request(key, include_hidden="true") if include_hidden else events_request(key)
    with HttpMocker() as mocker:
        mocker.get(agents_request(), agents_page())
        mocker.get(sessions_request(), ok(v2_page("sessions", [session(0)])))
        mocker.get(request, ok(v2_page("events", [event(0, record_time(0))])))
        output = read(vectara_config("v2", include_hidden_events=include_hidden), "vectara_agent_events")
        mocker.assert_number_of_calls(request, 1)
    assert len(output.records) == 1


@freeze_time(NOW)
def test_given_a_session_deleted_before_its_events_are_read_when_read_then_skipped_and_other_sessions_events_arrive() -> (
    None
):
    gone, alive = session(0), session(1)
    kept = [event(k, record_time(k), session_index=1) for k in range(2)]
    with HttpMocker() as mocker:
        mocker.get(agents_request(), agents_page())
        mocker.get(sessions_request(), ok(v2_page("sessions", [gone, alive])))
        deleted = events_request(gone["key"])
        mocker.get(deleted, ok(v2_error([f"Session {gone['key']!r} not found"], missing_id=gone["key"]), 404))
        mocker.get(events_request(alive["key"]), ok(v2_page("events", kept)))
        output = read(vectara_config("v2"), "vectara_agent_events")
        mocker.assert_number_of_calls(deleted, 1)
    assert sorted(emitted(output, "vectara_agent_events")) == sorted(record["id"] for record in kept)
    assert error_messages(output) == []


# -------------------------------------------------------------------------------------------------
# Saved states in the form StateCheck accepts
# -------------------------------------------------------------------------------------------------


def _parent_state(stream: str, cursor: dict) -> dict:
    if stream == "vectara_turns":
        return {"vectara_conversations": dict(cursor)}
    if stream == "vectara_chat_turns":
        return {"vectara_chats": dict(cursor)}
    return {"vectara_agent_sessions": {"states": [{"partition": {"agent_key": AGENT}, "cursor": dict(cursor)}]}}


@pytest.mark.parametrize("form", ["cursor", "state", "state_and_parent_state"])
@pytest.mark.parametrize("stream", ["vectara_turns", "vectara_chat_turns", "vectara_agent_events"])
@freeze_time(NOW)
def test_given_a_global_state_in_a_form_state_check_accepts_when_read_then_newer_records_and_the_state_stays_global(
    stream: str, form: str
) -> None:
    """`StateCheck` accepts `{<cursor>: ...}` and `{"state": {<cursor>: ...}}` for these streams (its error
    message shows both), with or without `parent_state`; the state the CDK emits carries
    `use_global_cursor: true`. Each form must read, and the new state must stay one global cursor, not
    turn into one entry per chat, session or batch of conversation ids."""
    version = "v1" if stream == "vectara_turns" else "v2"
    cursor = {"epochSecs": str(int(SAVED_S))} if version == "v1" else {"created_at": iso_us(SAVED_S)}
    saved = {
        "cursor": cursor,
        "state": {"state": cursor},
        "state_and_parent_state": {"state": cursor, "parent_state": _parent_state(stream, cursor)},
    }[form]
    with HttpMocker() as mocker:
        if stream == "vectara_turns":
            parent = vectara_v1_turn(100, SAVED_S - DAY)
            mocker.post(list_conversations_request(), ok(vectara_page([parent])))
            child = vectara_v1_turn(200, SAVED_S + DAY, parent["id"])
            mocker.post(read_conversations_request([parent["id"]]), ok(read_conversations_body([child])))
        elif stream == "vectara_chat_turns":
            mocker.get(v2_request("/v2/chats"), ok(v2_page("chats", [chat(0, SAVED_S - DAY)])))
            mocker.get(
                v2_request(f"/v2/chats/{chat(0)['id']}/turns", limit=None), ok({"turns": [chat_turn(0, SAVED_S + DAY)]})
            )
        else:
            mocker.get(agents_request(), agents_page())
            mocker.get(sessions_request(), ok(v2_page("sessions", [session(0, SAVED_S - DAY)])))
            mocker.get(events_request(session(0)["key"]), ok(v2_page("events", [event(0, SAVED_S + DAY)])))
        output = read(vectara_config(version), stream, state=saved)
    assert error_messages(output) == []
    assert len(output.records) == 1
    state = final_state(output)
    assert "states" not in state, f"per-partition entries in the state: {state['states']}"
    assert state["use_global_cursor"] is True


# -------------------------------------------------------------------------------------------------
# The parent's lookback: which parents' turns (events) a resumed sync reads again
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["vectara_turns", "vectara_chat_turns", "vectara_agent_events"])
@freeze_time(NOW)
def test_given_parent_state_when_resumed_then_only_parents_within_the_lookback_or_newer_are_read_again(
    stream: str,
) -> None:
    """The parent list is walked whole (no time filter in the API), but only parents made within
    turns_lookback_days before the parent's saved state, or after it, have their turns (events) read
    again. The parent list inherits the child's `$parameters`: its own filter must still keep only its
    window, not every parent."""
    version = "v1" if stream == "vectara_turns" else "v2"
    config = vectara_config(version)
    config["vectara"]["turns_lookback_days"] = 2
    cursor = {"epochSecs": str(int(SAVED_S))} if version == "v1" else {"created_at": iso_us(SAVED_S)}
    saved = {"state": cursor, "parent_state": _parent_state(stream, cursor)}
    made = {"old": SAVED_S - 4 * DAY, "inside": SAVED_S - DAY, "new": SAVED_S + DAY}
    with HttpMocker() as mocker:
        if stream == "vectara_turns":
            parents = {name: vectara_v1_turn(100 + n, at) for n, (name, at) in enumerate(made.items())}
            mocker.post(list_conversations_request(), ok(vectara_page(list(parents.values()))))
            wanted = read_conversations_request([parents["inside"]["id"], parents["new"]["id"]])
            child = vectara_v1_turn(200, SAVED_S + DAY, parents["new"]["id"])
            mocker.post(wanted, ok(read_conversations_body([child])))
            children = {"wanted": wanted}
        elif stream == "vectara_chat_turns":
            parents = {name: chat(n, at) for n, (name, at) in enumerate(made.items())}
            mocker.get(v2_request("/v2/chats"), ok(v2_page("chats", list(parents.values()))))
            children = {
                name: v2_request(f"/v2/chats/{parent['id']}/turns", limit=None) for name, parent in parents.items()
            }
            for n, request in enumerate(children.values()):
                mocker.get(request, ok({"turns": [chat_turn(n, SAVED_S + DAY, n)]}))
        else:
            parents = {name: session(n, at) for n, (name, at) in enumerate(made.items())}
            mocker.get(agents_request(), agents_page())
            mocker.get(sessions_request(), ok(v2_page("sessions", list(parents.values()))))
            children = {name: events_request(parent["key"]) for name, parent in parents.items()}
            for n, request in enumerate(children.values()):
                mocker.get(request, ok(v2_page("events", [event(n, SAVED_S + DAY, n)])))
        output = read(config, stream, state=saved)
        if stream == "vectara_turns":
            mocker.assert_number_of_calls(children["wanted"], 1)
        else:
            mocker.assert_number_of_calls(children["old"], 0)
            mocker.assert_number_of_calls(children["inside"], 1)
            mocker.assert_number_of_calls(children["new"], 1)
    assert error_messages(output) == []
