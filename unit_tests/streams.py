"""Every stream described once for the in-process tests (the CDK's `HttpMocker`, time frozen at `NOW`).

A `StreamCase` says how one stream's requests, pages, records, page tokens and states look, and mocks
whatever the stream asks before its own requests: PolyAI's per-project probe for conversations still in
progress, a substream's parent lists. `test_behaviour_matrix.py` runs the same rows for every case; the
PolyAI and Vectara test files use the same builders for their specific behaviours.

Record bodies come from the fake API's data (`fake_api.data`, `fake_api.agents`), with the cursor field
set to the time a test needs. Every fake credential here is long and distinctive, and registered with the
suite-wide secret scan.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse

from fake_api.agents import AgentsDataset
from fake_api.data import (
    VectaraDataset,
    polyai_conversation,
    polyai_page,
    polyai_v3_page,
    vectara_page,
    vectara_turn,
)
from fake_api.polyai_v3 import v3_error_body
from fake_api.vectara_v2 import v2_error
from source_conversations import extras, registry
from test_support import leaks
from test_support.inprocess import read_stream

# -------------------------------------------------------------------------------------------------
# Fake credentials and hosts
# -------------------------------------------------------------------------------------------------

POLYAI_KEY = "polyai-inprocess-key-7f3a9c2e5b1d4e8f"
VECTARA_KEY = "vectara-inprocess-key-2c8e1f9a7b3d5e6a"
CLIENT_ID = "inprocess-oauth-client"
CLIENT_SECRET = "vectara-inprocess-client-secret-9d2b7e4c1a8f"
ACCESS_TOKEN = "inprocess-access-token-4e7a1c9b2f8d3e6a5c0b"
SECRETS = (POLYAI_KEY, VECTARA_KEY, CLIENT_SECRET, ACCESS_TOKEN)
leaks.register_secret(*SECRETS)

POLYAI_BASE = "https://polyai.test"
VECTARA_BASE = "https://vectara.test"
TOKEN_URL = "https://auth.vectara.test/oauth2/token"
ACCOUNT = "ws-inprocess"
PROJECT = "PROJECT-4f2a9c1e"
CUSTOMER_ID = "1234567"

# -------------------------------------------------------------------------------------------------
# Time: "now" is frozen, so every window and every hold is deterministic
# -------------------------------------------------------------------------------------------------

NOW = "2026-01-15T12:00:00Z"
START_DATE = "2026-01-01T00:00:00Z"
HOUR = 3600
DAY = 86400


def seconds_of(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


NOW_S = seconds_of(NOW)
START_S = seconds_of(START_DATE)
SAVED_S = START_S + 5 * DAY
"""The cursor of the saved state the resume tests start from."""
PARENTS_AT = START_S + HOUR
"""When a substream's parents (chats, conversations, sessions) were made, unless a test says otherwise."""


def iso_us(seconds: float) -> str:
    """The connector's state form, and PolyAI's: `2026-01-01T00:00:00.000000Z`."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cursor_us(seconds: float) -> str:
    """How the connector writes a date-time cursor in a state or a window: with its offset, `+0000`."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def iso_ms(seconds: float) -> str:
    """Vectara v2's form: `2026-01-01T00:00:00.000Z`."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def record_time(i: int) -> float:
    """When record `i` of an ordinary test was made: a day apart, well inside the sync's window."""
    return START_S + (i + 1) * DAY + 0.25


# -------------------------------------------------------------------------------------------------
# Reading, outputs, errors
# -------------------------------------------------------------------------------------------------


def read(
    config: Mapping[str, Any],
    stream: str,
    state: Optional[Mapping[str, Any]] = None,
    expect_failure: bool = False,
    sync_mode: SyncMode = SyncMode.incremental,
) -> EntrypointOutput:
    return read_stream(config, stream, sync_mode=sync_mode, stream_state=state, expect_failure=expect_failure)


def output_text(output: EntrypointOutput) -> str:
    return "\n".join(str(message) for message in output.get_message_iterator())


def assert_no_secret(output: EntrypointOutput, *more: str) -> None:
    text = output_text(output)
    leaked = [index for index, secret in enumerate(SECRETS + more) if secret in text]
    assert not leaked, f"secrets #{leaked} appear in the output"


def error_traces(output: EntrypointOutput) -> List[Any]:
    return [message.trace.error for message in output.errors]


def error_messages(output: EntrypointOutput) -> List[str]:
    return [trace.message for trace in error_traces(output)]


CDK_SUMMARY = extras.CDK_READ_FAILURE_SUMMARY
"""The internal message of the CDK's closing trace after a failed stream ("During the sync, the following
streams did not sync successfully"), which it always types `config_error`; the console script folds it
away (`extras.ErrorFolder`), the manifest runner and this in-process runner print it."""


def the_error(output: EntrypointOutput) -> Any:
    """The one error trace of a failed read: a failure is reported once, not once per layer or per retry.
    Besides it, the CDK may close the sync with its summary (`CDK_SUMMARY`), once."""
    traces = error_traces(output)
    own = [trace for trace in traces if trace.internal_message != CDK_SUMMARY]
    assert len(own) == 1, f"expected exactly one error trace, got {[trace.message for trace in own]}"
    assert len(traces) - len(own) <= 1, "the CDK's summary came more than once"
    return own[0]


def emitted(output: EntrypointOutput, stream: str) -> List[str]:
    """Each record's primary key, joined with `/` (as `ConnectorRun.ids`)."""
    keys = registry.stream(stream).primary_key
    return ["/".join(str(message.record.data.get(key)) for key in keys) for message in output.records]


def final_state(output: EntrypointOutput) -> Dict[str, Any]:
    assert output.state_messages, "no state was emitted"
    return _plain(output.most_recent_state.stream_state)


def _plain(value: Any) -> Any:
    if hasattr(value, "__dict__"):
        value = vars(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def warnings(output: EntrypointOutput) -> List[str]:
    return [message.log.message for message in output.logs if message.log.level.value == "WARN"]


def ok(body: Any, status: int = 200, **headers: str) -> HttpResponse:
    return HttpResponse(body if isinstance(body, str) else json.dumps(body), status, headers=dict(headers))


# -------------------------------------------------------------------------------------------------
# Fixtures
# -------------------------------------------------------------------------------------------------


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> List[float]:
    """Makes the CDK's retry waits instant inside the test, and records how long each would have been.

    The CDK sleeps in `rate_limiting.user_defined_backoff_handler` (the wait a backoff strategy asked for,
    plus one second) and in the `backoff` library's loop; only those two modules' `time` is replaced.
    """
    import backoff._sync
    from airbyte_cdk.sources.streams.http import rate_limiting

    waits: List[float] = []
    instant = SimpleNamespace(sleep=lambda seconds: waits.append(float(seconds)))
    monkeypatch.setattr(rate_limiting, "time", instant)
    monkeypatch.setattr(backoff._sync, "time", instant)
    return waits


@pytest.fixture
def fast_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parses the manifest and the CDK's schema once for the session instead of once per read.

    Each read builds a new source, which loads both YAML files again (about 0.25 s of a 0.3 s read). The
    source gets a deep copy of the same parsed documents, so what it builds is unchanged.
    """
    import copy

    from airbyte_cdk.sources.declarative import concurrent_declarative_source as cds

    from source_conversations import source as source_module

    if not _PARSED:
        _PARSED["manifest"] = source_module.manifest()
        _PARSED["schema"] = cds.get_declarative_component_schema()
    monkeypatch.setattr(source_module, "manifest", lambda: copy.deepcopy(_PARSED["manifest"]))
    monkeypatch.setattr(cds, "get_declarative_component_schema", lambda: copy.deepcopy(_PARSED["schema"]))


_PARSED: Dict[str, Any] = {}


# -------------------------------------------------------------------------------------------------
# Configs
# -------------------------------------------------------------------------------------------------


def polyai_config(version: str = "v3", projects: Sequence[str] = (PROJECT,), **settings: Any) -> Dict[str, Any]:
    section = {
        "api_version": version,
        "api_key": POLYAI_KEY,
        "account_id": ACCOUNT,
        "project_ids": list(projects),
        "base_url": POLYAI_BASE,
        "page_size": 2,
    }
    section.update(settings)
    return {"start_date": START_DATE, "polyai": section}


def vectara_credentials(auth: str = "api_key", token_url: Optional[str] = TOKEN_URL) -> Dict[str, Any]:
    if auth == "api_key":
        return {"auth_type": "api_key", "api_key": VECTARA_KEY}
    credentials = {"auth_type": "oauth2_client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    if token_url:
        credentials["token_url"] = token_url
    return credentials


def vectara_config(version: str = "v2", auth: str = "api_key", **settings: Any) -> Dict[str, Any]:
    section: Dict[str, Any] = {
        "api_version": version,
        "credentials": vectara_credentials(auth),
        "base_url": VECTARA_BASE,
        "page_size": 2,
    }
    if version == "v1":
        section["customer_id"] = CUSTOMER_ID
    section.update(settings)
    return {"start_date": START_DATE, "vectara": section}


def auth_headers(auth: str = "api_key", token: str = ACCESS_TOKEN) -> Dict[str, str]:
    return {"x-api-key": VECTARA_KEY} if auth == "api_key" else {"Authorization": f"Bearer {token}"}


TOKEN_REQUEST = HttpRequest(
    TOKEN_URL, body=f"grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
)


def token_response(token: str = ACCESS_TOKEN, expires_in: int = 1800) -> HttpResponse:
    return ok({"access_token": token, "token_type": "Bearer", "expires_in": expires_in})


# -------------------------------------------------------------------------------------------------
# Record and request builders, per API
# -------------------------------------------------------------------------------------------------


def polyai_record(
    i: int, seconds: float, version: str = "v3", project: str = PROJECT, in_progress: bool = False
) -> dict:
    record = polyai_conversation(i, version=version, account_id=ACCOUNT, project_id=project)
    record.update(started_at=iso_us(seconds), in_progress=in_progress)
    return record


def polyai_url(version: str, project: str = PROJECT) -> str:
    return f"{POLYAI_BASE}/{version}/{ACCOUNT}/{project}/conversations"


def polyai_request(
    version: str = "v3",
    token: Any = None,
    project: str = PROJECT,
    since: Optional[float] = None,
    **params: Any,
) -> HttpRequest:
    """A window request: the whole range from `since` (the start date by default) to now, one window."""
    query: Dict[str, Any] = {
        "client_env": "live",
        "limit": "2",
        "start_time": cursor_us(START_S if since is None else since),
        "end_time": cursor_us(NOW_S),
    }
    if token is not None:
        query["cursor" if isinstance(token, str) else "offset"] = str(token)
    query.update(params)
    return HttpRequest(polyai_url(version, project), query_params=query, headers={"x-api-key": POLYAI_KEY})


def polyai_probe(version: str = "v3", project: str = PROJECT, max_hours: int = 24, **params: Any) -> HttpRequest:
    """The request `PolyAIProjects` sends per project before any window: its oldest conversation in progress."""
    query = {
        "client_env": "live",
        "in_progress": "true",
        "limit": "2",
        "start_time": cursor_us(NOW_S - max_hours * HOUR),
        "end_time": cursor_us(NOW_S),
        **params,
    }
    return HttpRequest(polyai_url(version, project), query_params=query, headers={"x-api-key": POLYAI_KEY})


def polyai_body(version: str, records: List[dict], token: Any = None) -> dict:
    if version == "v3":
        return polyai_v3_page(records, cursor=token)
    return polyai_page(records, next_offset=token)


def polyai_partition_state(cursors: Mapping[str, float]) -> dict:
    return {
        "states": [{"partition": {"project_id": p}, "cursor": {"started_at": iso_us(s)}} for p, s in cursors.items()]
    }


def vectara_v1_headers(auth: str = "api_key", timeout: int = 30) -> Dict[str, str]:
    return {"customer-id": CUSTOMER_ID, "timeout": f"{timeout}S", **auth_headers(auth)}


def list_conversations_request(token: Optional[str] = None, auth: str = "api_key", page_size: int = 2) -> HttpRequest:
    body: Dict[str, Any] = {"numResults": page_size}
    if token is not None:
        body["pageKey"] = token
    return HttpRequest(f"{VECTARA_BASE}/v1/list-conversations", headers=vectara_v1_headers(auth), body=body)


def read_conversations_request(ids: Sequence[str], auth: str = "api_key") -> HttpRequest:
    return HttpRequest(
        f"{VECTARA_BASE}/v1/read-conversations", headers=vectara_v1_headers(auth), body={"conversationId": list(ids)}
    )


def vectara_v1_turn(i: int, seconds: float, conversation_id: Optional[str] = None) -> dict:
    """Turn `i`, made at `seconds`; the first turn of its own conversation unless `conversation_id` says."""
    record = vectara_turn(i)
    record["epochSecs"] = str(int(seconds))
    if conversation_id is not None:
        record["conversationId"] = conversation_id
    return record


def read_conversations_body(turns: List[dict]) -> dict:
    grouped: Dict[str, List[dict]] = {}
    for turn in turns:
        grouped.setdefault(turn["conversationId"], []).append(turn)
    return {"Conversation": [{"id": key, "turn": value} for key, value in grouped.items()], "status": {"code": "OK"}}


def v2_headers(auth: str = "api_key", token: str = ACCESS_TOKEN) -> Dict[str, str]:
    return {"Request-Timeout": "30", **auth_headers(auth, token)}


def v2_request(
    path: str, token: Optional[str] = None, limit: Optional[int] = 2, auth: str = "api_key", **params: Any
) -> HttpRequest:
    query: Dict[str, Any] = {}
    if limit is not None:
        query["limit"] = str(limit)
    if token is not None:
        query["page_key"] = token
    query.update(params)
    return HttpRequest(f"{VECTARA_BASE}{path}", query_params=query or None, headers=v2_headers(auth))


def v2_page(key: str, records: List[dict], token: Optional[str] = None) -> dict:
    return {key: records, "metadata": {} if token is None else {"page_key": token}}


_CHATS = VectaraDataset(count=64, origin_secs=int(START_S), spacing_secs=60)
_AGENTS = AgentsDataset(agent_count=1, sessions_per_agent=24, events_per_session=22, end_us=int(NOW_S * 1e6))
AGENT = _AGENTS.agent_keys[0]


def chat(i: int, seconds: float = PARENTS_AT) -> dict:
    record = _CHATS.chat(i)
    record["created_at"] = iso_ms(seconds)
    return record


def chat_turn(i: int, seconds: float, chat_index: int = 0) -> dict:
    turns = _CHATS.chat_turns(chat_index)
    record = dict(turns[0], id=f"trn_{chat_index:04d}{i:012x}")
    record["created_at"] = iso_ms(seconds)
    return record


def session(j: int, seconds: float = PARENTS_AT) -> dict:
    record = _AGENTS.session(0, j)
    record["created_at"] = iso_ms(seconds)
    return record


def event(i: int, seconds: float, session_index: int = 0) -> dict:
    record = dict(_AGENTS.events(0, session_index)[i].record)
    record["created_at"] = iso_ms(seconds)
    return record


def agents_request(token: Optional[str] = None, auth: str = "api_key") -> HttpRequest:
    return v2_request("/v2/agents", token, limit=100, auth=auth)


def sessions_request(agent: str = AGENT, token: Optional[str] = None, auth: str = "api_key") -> HttpRequest:
    return v2_request(f"/v2/agents/{agent}/sessions", token, limit=100, auth=auth)


def events_request(
    session_key: str, agent: str = AGENT, token: Optional[str] = None, auth: str = "api_key", **params: Any
) -> HttpRequest:
    return v2_request(f"/v2/agents/{agent}/sessions/{session_key}/events", token, limit=100, auth=auth, **params)


def agents_page(keys: Sequence[str] = (AGENT,)) -> HttpResponse:
    return ok(v2_page("agents", [{"key": key, "name": key, "enabled": True} for key in keys]))


# -------------------------------------------------------------------------------------------------
# The cases
# -------------------------------------------------------------------------------------------------


@dataclass
class StreamCase:
    """How one stream's requests, pages, records, tokens and states look.

    `partition` numbers what the stream reads one request sequence for: a project, a chat, a batch of ten
    conversations, a session. `request(token, partition, since)` is the stream's own request;
    `partitions(mocker, n, made_at)` mocks what it asks first so that `n` partitions exist, their
    parents made at `made_at`.
    """

    id: str
    stream: str
    method: str
    records_key: str
    auth_hints: Tuple[str, ...]
    tokens: Tuple[Any, ...] = ()
    """Page tokens as the API hands them out; empty for a stream that does not page."""
    server_filters_time: bool = False
    """The API filters by time (PolyAI), so a resumed read's request carries the state."""

    @property
    def paged(self) -> bool:
        return bool(self.tokens)

    def config(self) -> Dict[str, Any]:
        raise NotImplementedError

    def partitions(self, mocker: HttpMocker, n: int = 1, made_at: float = PARENTS_AT) -> None:
        """Mocks everything the stream requests before its own requests."""

    def request(self, token: Any = None, partition: int = 0, since: Optional[float] = None) -> HttpRequest:
        raise NotImplementedError

    def body(self, records: List[dict], token: Any = None) -> dict:
        raise NotImplementedError

    def record(self, i: int, seconds: float, partition: int = 0) -> dict:
        raise NotImplementedError

    def key(self, record: Mapping[str, Any]) -> str:
        """The primary key the stream emits for `record` (fields the connector adds included)."""
        return "/".join(str(record.get(name)) for name in registry.stream(self.stream).primary_key)

    def saved_state(self, seconds: float) -> Dict[str, Any]:
        """A saved state whose cursor (and parents' cursors) is at `seconds`."""
        raise NotImplementedError

    def state_after(self, newest: float, parents: float = PARENTS_AT) -> Dict[str, Any]:
        """The state a sync leaves when its newest record is at `newest`, its parents' at `parents`."""
        raise NotImplementedError

    def error(self, status: int, message: str) -> dict:
        """The vendor's error body."""
        raise NotImplementedError

    def mock(self, mocker: HttpMocker, request: HttpRequest, *responses: HttpResponse) -> None:
        getattr(mocker, self.method)(request, list(responses))

    def page(self, records: List[dict], token: Any = None) -> HttpResponse:
        return ok(self.body(records, token))

    def mock_repeating_token(self, mocker: HttpMocker) -> None:
        """A walk whose page token comes back: the stream's own, or its parent list's when it does not page."""
        first, again = self.tokens[0], self.repeated_token()
        self.partitions(mocker)
        self.mock(mocker, self.request(), self.page([self.record(0, record_time(0))], first))
        self.mock(mocker, self.request(first), self.page([self.record(1, record_time(1))], again))

    def repeated_token(self) -> Any:
        """The token the second page hands out: the first one again (for v1, an offset that does not move)."""
        return self.tokens[0]


@dataclass
class PolyAICase(StreamCase):
    version: str = "v3"

    def config(self) -> Dict[str, Any]:
        return polyai_config(self.version)

    def partitions(self, mocker: HttpMocker, n: int = 1, made_at: float = PARENTS_AT) -> None:
        mocker.get(polyai_probe(self.version), ok(polyai_body(self.version, [])))

    def request(self, token: Any = None, partition: int = 0, since: Optional[float] = None) -> HttpRequest:
        return polyai_request(self.version, token, since=since)

    def body(self, records: List[dict], token: Any = None) -> dict:
        return polyai_body(self.version, records, token)

    def record(self, i: int, seconds: float, partition: int = 0) -> dict:
        return polyai_record(i, seconds, self.version)

    def saved_state(self, seconds: float) -> Dict[str, Any]:
        return polyai_partition_state({PROJECT: seconds})

    def state_after(self, newest: float, parents: float = PARENTS_AT) -> Dict[str, Any]:
        cursor = {"started_at": cursor_us(newest)}
        return {
            "use_global_cursor": False,
            "states": [{"partition": {"project_id": PROJECT}, "cursor": cursor}],
            "state": cursor,
            "lookback_window": 0,
        }

    def error(self, status: int, message: str) -> dict:
        codes = {401: "AUTH_INVALID_API_KEY", 429: "RATE_LIMIT_EXCEEDED", 404: "PROJECT_NOT_FOUND"}
        if self.version == "v3":
            return v3_error_body(status, codes.get(status, "INTERNAL_SERVER_ERROR"), message)
        return {"error_message": message}


@dataclass
class VectaraConversationsCase(StreamCase):
    def config(self) -> Dict[str, Any]:
        return vectara_config("v1")

    def request(self, token: Any = None, partition: int = 0, since: Optional[float] = None) -> HttpRequest:
        return list_conversations_request(token)

    def body(self, records: List[dict], token: Any = None) -> dict:
        return vectara_page(records, page_key=token)

    def record(self, i: int, seconds: float, partition: int = 0) -> dict:
        return vectara_v1_turn(i, seconds)

    def saved_state(self, seconds: float) -> Dict[str, Any]:
        return {"epochSecs": str(int(seconds))}

    def state_after(self, newest: float, parents: float = PARENTS_AT) -> Dict[str, Any]:
        return {"epochSecs": str(int(newest))}

    def error(self, status: int, message: str) -> dict:
        return {"code": 16 if status == 401 else 13, "message": message, "details": []}


BATCH = 10
"""Conversations per read-conversations request (the API takes at most 10 ids)."""


@dataclass
class VectaraTurnsCase(StreamCase):
    """Partition k is the k-th batch of ten conversations; `partitions(n)` lists 10 * (n - 1) + 1 of them,
    so the last batch holds one conversation."""

    conversations_listed: int = 1

    def config(self) -> Dict[str, Any]:
        return vectara_config("v1")

    @staticmethod
    def conversation(n: int, made_at: float = PARENTS_AT) -> dict:
        return vectara_v1_turn(1000 + n, made_at)

    def conversation_ids(self, partition: int) -> List[str]:
        numbers = range(partition * BATCH, min((partition + 1) * BATCH, self.conversations_listed))
        return [self.conversation(n)["id"] for n in numbers]

    def partitions(self, mocker: HttpMocker, n: int = 1, made_at: float = PARENTS_AT) -> None:
        self.conversations_listed = BATCH * (n - 1) + 1
        conversations = [self.conversation(k, made_at) for k in range(self.conversations_listed)]
        mocker.post(list_conversations_request(), ok(vectara_page(conversations)))

    def request(self, token: Any = None, partition: int = 0, since: Optional[float] = None) -> HttpRequest:
        return read_conversations_request(self.conversation_ids(partition))

    def body(self, records: List[dict], token: Any = None) -> dict:
        return read_conversations_body(records)

    def record(self, i: int, seconds: float, partition: int = 0) -> dict:
        return vectara_v1_turn(i, seconds, conversation_id=self.conversation_ids(partition)[0])

    def saved_state(self, seconds: float) -> Dict[str, Any]:
        # The form the stream emits: the CDK keeps one global cursor for grouped partitions.
        epoch = {"epochSecs": str(int(seconds))}
        return {
            "use_global_cursor": True,
            "state": epoch,
            "lookback_window": 0,
            "parent_state": {"vectara_conversations": dict(epoch)},
        }

    def state_after(self, newest: float, parents: float = PARENTS_AT) -> Dict[str, Any]:
        return {
            "use_global_cursor": True,
            "state": {"epochSecs": str(int(newest))},
            "lookback_window": 0,
            "parent_state": {"vectara_conversations": {"epochSecs": str(int(parents))}},
        }

    def error(self, status: int, message: str) -> dict:
        return {"code": 16 if status == 401 else 13, "message": message, "details": []}

    def mock_repeating_token(self, mocker: HttpMocker) -> None:
        key = "Q2F+/Zm9v="
        first, second = self.conversation(0), self.conversation(1)
        mocker.post(list_conversations_request(), ok(vectara_page([first], page_key=key)))
        mocker.post(list_conversations_request(key), ok(vectara_page([second], page_key=key)))
        for parent in (first, second):
            mocker.post(
                read_conversations_request([parent["id"]]),
                self.page([vectara_v1_turn(7, record_time(0), parent["id"])]),
            )


@dataclass
class ChatsCase(StreamCase):
    def config(self) -> Dict[str, Any]:
        return vectara_config("v2")

    def request(self, token: Any = None, partition: int = 0, since: Optional[float] = None) -> HttpRequest:
        return v2_request("/v2/chats", token)

    def body(self, records: List[dict], token: Any = None) -> dict:
        return v2_page("chats", records, token)

    def record(self, i: int, seconds: float, partition: int = 0) -> dict:
        return chat(i, seconds)

    def saved_state(self, seconds: float) -> Dict[str, Any]:
        return {"created_at": iso_us(seconds)}

    def state_after(self, newest: float, parents: float = PARENTS_AT) -> Dict[str, Any]:
        return {"created_at": cursor_us(int(newest * 1000) / 1000)}

    def error(self, status: int, message: str) -> dict:
        return v2_error([message])


@dataclass
class ChatTurnsCase(ChatsCase):
    def partitions(self, mocker: HttpMocker, n: int = 1, made_at: float = PARENTS_AT) -> None:
        mocker.get(v2_request("/v2/chats"), ok(v2_page("chats", [chat(k, made_at) for k in range(n)])))

    def request(self, token: Any = None, partition: int = 0, since: Optional[float] = None) -> HttpRequest:
        return v2_request(f"/v2/chats/{chat(partition)['id']}/turns", limit=None)

    def body(self, records: List[dict], token: Any = None) -> dict:
        return {"turns": records}

    def record(self, i: int, seconds: float, partition: int = 0) -> dict:
        return chat_turn(i, seconds, partition)

    def saved_state(self, seconds: float) -> Dict[str, Any]:
        cursor = {"created_at": iso_us(seconds)}
        return {
            "use_global_cursor": True,
            "state": cursor,
            "lookback_window": 0,
            "parent_state": {"vectara_chats": dict(cursor)},
        }

    def state_after(self, newest: float, parents: float = PARENTS_AT) -> Dict[str, Any]:
        return {
            "use_global_cursor": True,
            "state": {"created_at": cursor_us(int(newest * 1000) / 1000)},
            "lookback_window": 0,
            "parent_state": {"vectara_chats": {"created_at": cursor_us(int(parents * 1000) / 1000)}},
        }

    def mock_repeating_token(self, mocker: HttpMocker) -> None:
        key = "cGFnZS0y+/A="
        mocker.get(v2_request("/v2/chats"), ok(v2_page("chats", [chat(0)], key)))
        mocker.get(v2_request("/v2/chats", key), ok(v2_page("chats", [chat(1)], key)))
        for partition in (0, 1):
            mocker.get(
                self.request(partition=partition), self.page([self.record(partition, record_time(0), partition)])
            )


@dataclass
class SessionsCase(StreamCase):
    def config(self) -> Dict[str, Any]:
        return vectara_config("v2")

    def partitions(self, mocker: HttpMocker, n: int = 1, made_at: float = PARENTS_AT) -> None:
        mocker.get(agents_request(), agents_page())

    def request(self, token: Any = None, partition: int = 0, since: Optional[float] = None) -> HttpRequest:
        return sessions_request(AGENT, token)

    def body(self, records: List[dict], token: Any = None) -> dict:
        return v2_page("sessions", records, token)

    def record(self, i: int, seconds: float, partition: int = 0) -> dict:
        return session(i, seconds)

    def saved_state(self, seconds: float) -> Dict[str, Any]:
        return {"states": [{"partition": {"agent_key": AGENT}, "cursor": {"created_at": iso_us(seconds)}}]}

    def state_after(self, newest: float, parents: float = PARENTS_AT) -> Dict[str, Any]:
        cursor = {"created_at": cursor_us(int(newest * 1000) / 1000)}
        return {
            "use_global_cursor": False,
            "states": [{"partition": {"agent_key": AGENT}, "cursor": cursor}],
            "state": cursor,
            "lookback_window": 0,
        }

    def error(self, status: int, message: str) -> dict:
        return v2_error([message])


@dataclass
class EventsCase(SessionsCase):
    def partitions(self, mocker: HttpMocker, n: int = 1, made_at: float = PARENTS_AT) -> None:
        mocker.get(agents_request(), agents_page())
        mocker.get(sessions_request(), ok(v2_page("sessions", [session(j, made_at) for j in range(n)])))

    def request(self, token: Any = None, partition: int = 0, since: Optional[float] = None) -> HttpRequest:
        return events_request(_AGENTS.session_key(0, partition), token=token)

    def body(self, records: List[dict], token: Any = None) -> dict:
        return v2_page("events", records, token)

    def record(self, i: int, seconds: float, partition: int = 0) -> dict:
        return event(i, seconds, partition)

    def saved_state(self, seconds: float) -> Dict[str, Any]:
        cursor = {"created_at": iso_us(seconds)}
        sessions = {"states": [{"partition": {"agent_key": AGENT}, "cursor": dict(cursor)}]}
        return {
            "use_global_cursor": True,
            "state": cursor,
            "lookback_window": 0,
            "parent_state": {"vectara_agent_sessions": sessions},
        }

    def state_after(self, newest: float, parents: float = PARENTS_AT) -> Dict[str, Any]:
        parent_cursor = {"created_at": cursor_us(int(parents * 1000) / 1000)}
        return {
            "use_global_cursor": True,
            "state": {"created_at": cursor_us(int(newest * 1000) / 1000)},
            "lookback_window": 0,
            "parent_state": {
                "vectara_agent_sessions": {
                    "use_global_cursor": False,
                    "states": [{"partition": {"agent_key": AGENT}, "cursor": parent_cursor}],
                    "state": parent_cursor,
                    "lookback_window": 0,
                }
            },
        }


POLYAI_HINTS = ("polyai.api_key", "polyai.region")
VECTARA_HINTS = ("vectara.credentials",)
V1_HINTS = ("vectara.credentials", "vectara.customer_id")
# Opaque tokens as the APIs hand them out: v3 cursors are URL-safe, a numeric-looking one must not turn
# into a number; Vectara's are standard base64 with `+`, `/` and `=`.
V3_CURSORS = ("eyJvIjoyfQ-_x", "000123")
V1_OFFSETS = (2, 4)
VECTARA_KEYS = ("Q2F+/Zm9v=", "YmFy+/2==")

CASES: List[StreamCase] = [
    PolyAICase(
        "polyai_v3", "polyai_conversations", "get", "conversations", POLYAI_HINTS, V3_CURSORS, True, version="v3"
    ),
    PolyAICase(
        "polyai_v1", "polyai_conversations", "get", "conversations", POLYAI_HINTS, V1_OFFSETS, True, version="v1"
    ),
    VectaraConversationsCase(
        "vectara_conversations", "vectara_conversations", "post", "conversation", V1_HINTS, VECTARA_KEYS
    ),
    VectaraTurnsCase("vectara_turns", "vectara_turns", "post", "Conversation", V1_HINTS),
    ChatsCase("vectara_chats", "vectara_chats", "get", "chats", VECTARA_HINTS, VECTARA_KEYS),
    ChatTurnsCase("vectara_chat_turns", "vectara_chat_turns", "get", "turns", VECTARA_HINTS),
    SessionsCase("vectara_agent_sessions", "vectara_agent_sessions", "get", "sessions", VECTARA_HINTS, VECTARA_KEYS),
    EventsCase("vectara_agent_events", "vectara_agent_events", "get", "events", VECTARA_HINTS, VECTARA_KEYS),
]
