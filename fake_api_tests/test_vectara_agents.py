"""The Vectara Agents API on the fake server, over real HTTP: agents, sessions and events, paging,
hidden events, event types, key types, mutations, control endpoints and faults."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fake_api import AGENT_EVENT_TYPES, UNKNOWN_EVENT_TYPE, FakeApiServer, Fault


class AgentsClient:
    """A requests-based client of the Agents endpoints of one fake server."""

    def __init__(self, server: FakeApiServer, api_key: str | None = None) -> None:
        self.server = server
        self.session = requests.Session()
        self.headers = {"x-api-key": api_key or server.vectara_api_key}

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> requests.Response:
        return self.session.get(
            f"{self.server.base_url}/v2/agents{path}", params=params, headers=headers or self.headers, timeout=10
        )

    def sessions(self, agent_key: str, **params: Any) -> requests.Response:
        return self.get(f"/{agent_key}/sessions", **params)

    def events(self, agent_key: str, session_key: str, **params: Any) -> requests.Response:
        return self.get(f"/{agent_key}/sessions/{session_key}/events", **params)

    def walk(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of a paged Agents list (from ``page_key`` when given)."""
        pages = [self.get(path, **params).json()]
        params.pop("page_key", None)
        while pages[-1]["metadata"].get("page_key"):
            pages.append(self.get(path, page_key=pages[-1]["metadata"]["page_key"], **params).json())
            assert len(pages) < 1000
        assert all(key in page for page in pages)
        return pages


def items(pages: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [item for page in pages for item in page[key]]


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeApiServer]:
    with FakeApiServer(polyai_count=1, vectara_count=3, vectara_agent_count=3, vectara_sessions_per_agent=23) as server:
        yield server


@pytest.fixture(scope="module")
def client(shared: FakeApiServer) -> AgentsClient:
    return AgentsClient(shared)


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(
        polyai_count=1, vectara_count=3, vectara_sessions_per_agent=12, vectara_events_per_session=8
    ) as fresh:
        yield fresh


def tour(server: FakeApiServer) -> tuple[str, str]:
    """The agent and session keys of the session that has every event type (the first generated session)."""
    agent_key = server.vectara_agent_keys()[0]
    first = min(server.vectara_sessions(agent_key), key=lambda session: session["created_at"])
    return agent_key, first["key"]


# --------------------------------------------------------------------------------------------------
# Agents and sessions
# --------------------------------------------------------------------------------------------------


def test_given_agents_then_the_list_pages_and_matches_the_ground_truth(
    shared: FakeApiServer, client: AgentsClient
) -> None:
    pages = client.walk("", "agents", limit=2)
    agents = items(pages, "agents")
    assert agents == shared.vectara_agents() and len(agents) == 3 and len(pages) == 2
    assert [agent["key"] for agent in agents] == shared.vectara_agent_keys()
    for agent in agents:
        assert agent["key"].startswith("agt_") and {"name", "description", "enabled", "created_at"} <= set(agent)
    assert pages[-1]["metadata"] == {}


def test_given_sessions_then_paging_covers_each_once_in_an_unsorted_order(
    shared: FakeApiServer, client: AgentsClient
) -> None:
    for agent_key in shared.vectara_agent_keys():
        pages = client.walk(f"/{agent_key}/sessions", "sessions", limit=7)
        sessions = items(pages, "sessions")
        assert sessions == shared.vectara_sessions(agent_key) and len(sessions) == 23
        assert len({session["key"] for session in sessions}) == 23
        created = [session["created_at"] for session in sessions]
        assert created != sorted(created) and created != sorted(created, reverse=True)
        for session in sessions:
            assert set(session) == {
                "key",
                "agent_key",
                "name",
                "description",
                "metadata",
                "enabled",
                "tti_minutes",
                "created_at",
            }
            assert session["key"].startswith("ses_") and session["agent_key"] == agent_key
            assert session["tti_minutes"] is None or isinstance(session["tti_minutes"], int)
        keys = [page["metadata"]["page_key"] for page in pages[:-1]]
        assert all(base64.b64decode(key, validate=True) for key in keys)
    assert not set(shared.vectara_session_keys(shared.vectara_agent_keys()[0])) & set(
        shared.vectara_session_keys(shared.vectara_agent_keys()[1])
    )


def test_given_no_limit_then_ten_sessions_come(shared: FakeApiServer, client: AgentsClient) -> None:
    page = client.sessions(shared.vectara_agent_keys()[0]).json()
    assert len(page["sessions"]) == 10 and page["metadata"]["page_key"]


@pytest.mark.parametrize("limit", [0, 101, "many"])
def test_given_session_limit_outside_1_to_100_then_400(shared: FakeApiServer, client: AgentsClient, limit: Any) -> None:
    response = client.sessions(shared.vectara_agent_keys()[0], limit=limit)
    assert response.status_code == 400 and "limit" in response.json()["field_errors"]


def test_given_limit_100_then_it_is_accepted(shared: FakeApiServer, client: AgentsClient) -> None:
    page = client.sessions(shared.vectara_agent_keys()[0], limit=100).json()
    assert len(page["sessions"]) == 23 and page["metadata"] == {}


def test_given_unknown_agent_then_404_with_its_id(client: AgentsClient) -> None:
    response = client.sessions("agt_nobody")
    assert response.status_code == 404 and response.json()["id"] == "agt_nobody"


# --------------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------------


def test_given_events_then_they_come_in_chronological_order_without_agent_key(
    shared: FakeApiServer, client: AgentsClient
) -> None:
    agent_key = shared.vectara_agent_keys()[1]
    for session_key in shared.vectara_session_keys(agent_key)[:6]:
        pages = client.walk(f"/{agent_key}/sessions/{session_key}/events", "events", limit=4, include_hidden="true")
        events = items(pages, "events")
        assert events == shared.vectara_events(agent_key, session_key, include_hidden=True) and len(events) == 22
        assert [event["created_at"] for event in events] == sorted(event["created_at"] for event in events)
        for event in events:
            assert event["id"].startswith("aev_") and event["session_key"] == session_key
            assert "agent_key" not in event and {"id", "session_key", "type", "created_at"} <= set(event)


def test_given_the_tour_session_then_every_documented_type_and_an_unknown_one_appear(
    shared: FakeApiServer, client: AgentsClient
) -> None:
    agent_key, session_key = tour(shared)
    events = items(
        client.walk(f"/{agent_key}/sessions/{session_key}/events", "events", include_hidden="true"), "events"
    )
    types = {event["type"] for event in events}
    assert types == set(AGENT_EVENT_TYPES) | {UNKNOWN_EVENT_TYPE} and len(AGENT_EVENT_TYPES) == 14
    by_type = {event["type"]: event for event in events}
    assert by_type["input_message"]["messages"][0]["type"] == "text"
    assert by_type["tool_input"]["tool_call_id"] == by_type["tool_output"]["tool_call_id"]
    assert isinstance(by_type["structured_output"]["content"], dict) and by_type["agent_output"]["content"]
    assert by_type["compaction"]["events_compacted"] > 0 and by_type["artifact_upload"]["artifacts"]


def test_given_hidden_events_then_they_come_only_with_include_hidden(
    shared: FakeApiServer, client: AgentsClient
) -> None:
    agent_key, session_key = tour(shared)
    path = f"/{agent_key}/sessions/{session_key}/events"
    everything = items(client.walk(path, "events", limit=5, include_hidden="true"), "events")
    visible = items(client.walk(path, "events", limit=5), "events")
    also_visible = items(client.walk(path, "events", limit=5, include_hidden="false"), "events")
    assert visible == also_visible == shared.vectara_events(agent_key, session_key)
    compaction = next(event for event in everything if event["type"] == "compaction")
    assert len(everything) - len(visible) == compaction["events_compacted"]
    assert visible[0] == compaction and {e["id"] for e in visible} < {e["id"] for e in everything}


def test_given_many_sessions_then_event_types_vary_and_compactions_hide_events(shared: FakeApiServer) -> None:
    counts: Counter[str] = Counter()
    hidden = 0
    for agent_key in shared.vectara_agent_keys():
        for session_key in shared.vectara_session_keys(agent_key):
            every = shared.vectara_events(agent_key, session_key, include_hidden=True)
            counts.update(event["type"] for event in every)
            hidden += len(every) - len(shared.vectara_events(agent_key, session_key))
    assert set(counts) == set(AGENT_EVENT_TYPES) | {UNKNOWN_EVENT_TYPE} and hidden > 0
    assert counts["input_message"] > counts["compaction"] > 0


def test_given_unknown_session_then_404(shared: FakeApiServer, client: AgentsClient) -> None:
    agent_a, agent_b = shared.vectara_agent_keys()[:2]
    session_of_a = shared.vectara_session_keys(agent_a)[0]
    assert client.events(agent_a, "ses_0000000000000000").status_code == 404
    response = client.events(agent_b, session_of_a)  # a session of another agent
    assert response.status_code == 404 and response.json()["id"] == session_of_a


@pytest.mark.parametrize("limit", [0, 101])
def test_given_event_limit_outside_1_to_100_then_400(shared: FakeApiServer, client: AgentsClient, limit: int) -> None:
    agent_key, session_key = tour(shared)
    assert client.events(agent_key, session_key, limit=limit).status_code == 400


def test_given_bad_include_hidden_then_400(shared: FakeApiServer, client: AgentsClient) -> None:
    agent_key, session_key = tour(shared)
    assert client.events(agent_key, session_key, include_hidden="perhaps").status_code == 400


# --------------------------------------------------------------------------------------------------
# Keys and tokens
# --------------------------------------------------------------------------------------------------


def test_given_query_key_then_agents_answer_403_but_chats_200(shared: FakeApiServer) -> None:
    query = AgentsClient(shared, api_key=shared.vectara_query_api_key)
    agent_key, session_key = tour(shared)
    for response in (query.get(""), query.sessions(agent_key), query.events(agent_key, session_key)):
        assert response.status_code == 403
        assert set(response.json()) == {"messages", "request_id"} and response.json()["messages"]
    chats = requests.get(f"{shared.base_url}/v2/chats", headers=query.headers, timeout=10)
    assert chats.status_code == 200
    assert shared.vectara_config("query_api_key")["credentials"]["api_key"] == shared.vectara_query_api_key


def test_given_bearer_token_then_agents_answer(shared: FakeApiServer, client: AgentsClient) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": shared.oauth_client_id,
        "client_secret": shared.oauth_client_secret,
    }
    token = requests.post(shared.token_url, data=form, timeout=10).json()["access_token"]
    assert client.get("", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("", headers={"x-api-key": "zqt_wrong_wrong_wrong_wrong"}).status_code == 401


# --------------------------------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------------------------------


def test_given_deleted_session_then_it_leaves_the_list_and_answers_404(server: FakeApiServer) -> None:
    client = AgentsClient(server)
    agent_key = server.vectara_agent_keys()[0]
    first_page = client.sessions(agent_key, limit=5).json()
    doomed = server.vectara_session_keys(agent_key)[7]  # on a later page
    assert client.events(agent_key, doomed).status_code == 200
    server.delete_session(agent_key, doomed)
    assert client.events(agent_key, doomed).status_code == 404
    later_pages = client.walk(
        f"/{agent_key}/sessions", "sessions", limit=5, page_key=first_page["metadata"]["page_key"]
    )
    rest = items(later_pages, "sessions")
    keys = [s["key"] for s in first_page["sessions"] + rest]
    assert doomed not in keys and len(keys) == 11 and keys == server.vectara_session_keys(agent_key)
    with pytest.raises(ValueError):
        server.delete_vectara_session(agent_key, doomed)


def test_given_added_session_then_it_is_listed_last_with_its_events(server: FakeApiServer) -> None:
    client = AgentsClient(server)
    agent_key = server.vectara_agent_keys()[1]
    key = server.add_vectara_session(agent_key, name="Late night order", events=5)
    sessions = items(client.walk(f"/{agent_key}/sessions", "sessions"), "sessions")
    assert sessions[-1]["key"] == key and sessions[-1]["name"] == "Late night order" and len(sessions) == 13
    events = client.events(agent_key, key, include_hidden="true").json()["events"]
    assert len(events) == 5 and events[0]["created_at"] >= sessions[-1]["created_at"]


def test_given_appended_events_then_they_come_last_in_order(server: FakeApiServer) -> None:
    client = AgentsClient(server)
    agent_key = server.vectara_agent_keys()[0]
    session_key = server.vectara_session_keys(agent_key)[2]
    before = server.vectara_events(agent_key, session_key, include_hidden=True)
    ids = server.add_vectara_events(agent_key, session_key, n=3)
    more = server.add_vectara_events(agent_key, session_key, types=["tool_input", "tool_output", "brand_new_type"])
    events = items(
        client.walk(f"/{agent_key}/sessions/{session_key}/events", "events", limit=3, include_hidden="true"), "events"
    )
    assert events[: len(before)] == before and [e["id"] for e in events[len(before) :]] == ids + more
    assert [e["type"] for e in events[-6:]] == [
        "input_message",
        "agent_output",
        "input_message",
        "tool_input",
        "tool_output",
        "brand_new_type",
    ]
    assert [e["created_at"] for e in events] == sorted(e["created_at"] for e in events)
    assert len({e["created_at"] for e in events}) == len(events)


def test_given_agents_control_endpoints_then_sessions_and_events_change(server: FakeApiServer) -> None:
    base = server.base_url
    agent_key = server.vectara_agent_keys()[0]
    key = requests.post(
        f"{base}/_fake/agents/sessions",
        json={"agent_key": agent_key, "name": "From a subprocess", "events": 2},
        timeout=10,
    ).json()["key"]
    assert server.vectara_sessions(agent_key)[-1]["key"] == key
    ids = requests.post(
        f"{base}/_fake/agents/events", json={"agent_key": agent_key, "session_key": key, "n": 2}, timeout=10
    ).json()["ids"]
    assert server.vectara_event_ids(agent_key, key)[-2:] == ids
    deleted = requests.delete(
        f"{base}/_fake/agents/sessions", json={"agent_key": agent_key, "session_key": key}, timeout=10
    )
    assert deleted.json() == {"deleted": key} and key not in server.vectara_session_keys(agent_key)
    again = requests.delete(
        f"{base}/_fake/agents/sessions", json={"agent_key": agent_key, "session_key": key}, timeout=10
    )
    assert again.status_code == 400
    assert requests.post(f"{base}/_fake/agents/events", json={"agent_key": agent_key}, timeout=10).status_code == 400
    stats = requests.get(f"{base}/_fake/stats", timeout=10).json()
    assert stats["vectara_agents"] == 2 and stats["vectara_sessions"][agent_key] == 12


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------


def test_given_sessions_repeat_page_key_fault_then_the_key_comes_back(server: FakeApiServer) -> None:
    client = AgentsClient(server)
    agent_key = server.vectara_agent_keys()[0]
    server.inject(Fault("vectara_sessions", "repeat_page_key", times=2, match={"agent_key": agent_key}))
    first = client.sessions(agent_key, limit=3).json()
    second = client.sessions(agent_key, limit=3, page_key=first["metadata"]["page_key"]).json()
    assert first["metadata"]["page_key"] == second["metadata"]["page_key"] and first["sessions"] == second["sessions"]
    third = client.sessions(agent_key, limit=3, page_key=second["metadata"]["page_key"]).json()
    assert third["metadata"]["page_key"] != first["metadata"]["page_key"]  # the fault is used up


def test_given_events_empty_page_with_next_fault_then_following_it_loses_nothing(server: FakeApiServer) -> None:
    client = AgentsClient(server)
    agent_key = server.vectara_agent_keys()[0]
    session_key = server.vectara_session_keys(agent_key)[0]
    server.inject(Fault("vectara_events", "empty_page_with_next", match={"session_key": session_key, "page": 2}))
    pages = client.walk(f"/{agent_key}/sessions/{session_key}/events", "events", limit=3, include_hidden="true")
    assert pages[1]["events"] == [] and pages[1]["metadata"]["page_key"]
    assert items(pages, "events") == server.vectara_events(agent_key, session_key, include_hidden=True)


@pytest.mark.parametrize("endpoint", ["vectara_agents", "vectara_sessions", "vectara_events"])
def test_given_status_and_missing_key_faults_then_each_agents_endpoint_obeys(
    server: FakeApiServer, endpoint: str
) -> None:
    client = AgentsClient(server)
    agent_key = server.vectara_agent_keys()[0]
    session_key = server.vectara_session_keys(agent_key)[0]
    call, key = {
        "vectara_agents": (lambda: client.get(""), "agents"),
        "vectara_sessions": (lambda: client.sessions(agent_key), "sessions"),
        "vectara_events": (lambda: client.events(agent_key, session_key), "events"),
    }[endpoint]
    server.inject(Fault(endpoint, "status", status=429, retry_after="5"))
    response = call()
    assert response.status_code == 429 and response.headers["Retry-After"] == "5"
    assert set(response.json()) == {"messages", "request_id"}
    server.inject(Fault(endpoint, "missing_key"))
    assert key not in call().json()
    server.inject(Fault(endpoint, "truncated_json"))
    with pytest.raises(ValueError):
        call().json()
    assert call().status_code == 200


def test_given_delay_fault_on_events_then_the_read_times_out(server: FakeApiServer) -> None:
    client = AgentsClient(server)
    agent_key = server.vectara_agent_keys()[0]
    server.inject(Fault("vectara_events", "delay", delay_seconds=1.0))
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.session.get(
            f"{server.base_url}/v2/agents/{agent_key}/sessions/{server.vectara_session_keys(agent_key)[0]}/events",
            headers=client.headers,
            timeout=0.2,
        )


@pytest.mark.parametrize("endpoint", ["vectara_read", "vectara_turns"])
def test_given_paging_faults_on_unpaged_endpoints_then_they_are_refused(endpoint: str) -> None:
    with pytest.raises(ValueError):
        Fault(endpoint, "repeat_page_key")
