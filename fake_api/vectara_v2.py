"""Vectara REST v2 endpoints of the fake: chats (unpublished from the docs, still in the SDK) and the Agents
API's agents, sessions and session events.

* ``GET /v2/chats`` and ``GET /v2/chats/{chat_id}/turns``: the v1 conversations under v2 ids and names.
* ``GET /v2/agents``, ``GET /v2/agents/{agent_key}/sessions``,
  ``GET /v2/agents/{agent_key}/sessions/{session_key}/events``.

Lists answer ``{<items>, "metadata": {"page_key": ...}}``; the page key is standard base64 (``+``, ``/``
and ``=`` are common) and is missing on the last page (or ``""``, as the server is configured). Auth is
``x-api-key`` or ``Authorization: Bearer`` (no ``customer-id``); a Query API key works on chats but gets
403 on every Agents endpoint. Errors come in v2's shapes: ``{messages, request_id}`` (401/403),
``{id, messages, request_id}`` (404), ``{field_errors, messages, request_id}`` (400).
"""

from __future__ import annotations

import threading
import uuid
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import unquote

from .agents import AgentsDataset, scan_page
from .data import VectaraDataset
from .endpoints import (
    PAGE_KEY_ENDS,
    ApiError,
    FastCaches,
    ListEndpoint,
    Page,
    PageKeyCodec,
    TokenStore,
    _bool_param,
    bearer_token,
)
from .faults import ActiveFault, Fault
from .transport import Request, json_response

CHATS_DEFAULT_LIMIT = 10
CHATS_MAX_LIMIT = 1000
AGENTS_DEFAULT_LIMIT = 10
AGENTS_MAX_LIMIT = 100


def v2_error(
    messages: list[str], *, missing_id: str | None = None, field_errors: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A v2 error body: ``NotFoundError`` with ``missing_id``, ``BadRequestError`` with ``field_errors``,
    else ``Error``."""
    body: dict[str, Any] = {}
    if missing_id is not None:
        body["id"] = missing_id
    if field_errors is not None:
        body["field_errors"] = dict(field_errors)
    body["messages"] = messages
    body["request_id"] = str(uuid.uuid4())
    return body


def v2_route(path: str) -> str | None:
    """The endpoint name of a v2 path, or None."""
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "v2" or not all(parts):
        return None
    if parts[1] == "chats":
        return {2: "vectara_chats", 4: "vectara_turns" if parts[-1] == "turns" else None}.get(len(parts))
    if parts[1] == "agents":
        if len(parts) == 2:
            return "vectara_agents"
        if len(parts) == 4 and parts[3] == "sessions":
            return "vectara_sessions"
        if len(parts) == 6 and parts[3] == "sessions" and parts[5] == "events":
            return "vectara_events"
    return None


def _segment(path: str, index: int) -> str:
    parts = path.strip("/").split("/")
    return unquote(parts[index]) if index < len(parts) else ""


class V2Auth:
    """Who may call the v2 endpoints: the personal API key, the Query API key (not on Agents endpoints)
    or a valid bearer token."""

    def __init__(self, api_key: str, query_api_key: str | None, tokens: TokenStore) -> None:
        self.api_key = api_key
        self.query_api_key = query_api_key
        self.tokens = tokens

    def check(self, request: Request, agents_api: bool) -> None:
        """Raise :class:`ApiError` (401 or 403) unless the request may call the endpoint."""
        api_key = request.header("x-api-key")
        if api_key is not None:
            if api_key == self.api_key:
                return
            if self.query_api_key and api_key == self.query_api_key:
                if not agents_api:
                    return
                message = (
                    "Permission denied: a Query API key cannot use the Agents API; use a Personal API key or OAuth"
                )
                raise ApiError(json_response(403, v2_error([message])))
        else:
            token = bearer_token(request)
            if token is not None and self.tokens.is_valid(token):
                return
        raise ApiError(json_response(401, v2_error(["Unauthorized: invalid or missing API key or token"])))


class V2Endpoint(ListEndpoint):
    """A v2 ``GET`` endpoint: v2 auth and error shapes."""

    method = "GET"
    agents_api: ClassVar[bool] = False

    def __init__(self, lock: threading.RLock, caches: FastCaches | None, auth: V2Auth) -> None:
        super().__init__(lock, caches)
        self.auth = auth

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        if status == 400:
            return v2_error([message], field_errors={})
        if status == 404:
            return v2_error([message], missing_id="")
        return v2_error([message])

    def authenticate(self, request: Request) -> None:
        self.auth.check(request, self.agents_api)

    def path_params(self, request: Request) -> dict[str, str]:
        """The path parameters of the request (``chat_id``, ``agent_key``, ``session_key``)."""
        return {}

    def match_params(self, request: Request) -> dict[str, str]:
        return {**request.query, **self.path_params(request)}

    def warm(self) -> int:
        return 0

    def vendor_error_body(self, fault: Fault) -> dict[str, Any]:  # not a v2 fault kind
        return v2_error([fault.detail])

    @staticmethod
    def not_found(missing_id: str, what: str) -> ApiError:
        return ApiError(json_response(404, v2_error([f"{what} {missing_id!r} not found"], missing_id=missing_id)))

    @staticmethod
    def bad_request(field: str, message: str) -> ApiError:
        return ApiError(json_response(400, v2_error([message], field_errors={field: message})))


@dataclass(frozen=True)
class KeyedQuery:
    """A validated v2 list request: the resolved parent (indices), the listing position, page size, the
    request's page key (``""`` on the first page) and, for events, ``include_hidden``."""

    parent: tuple[int, ...]
    offset: int
    limit: int
    page_key: str = ""
    include_hidden: bool = False


class PageKeyEndpoint(V2Endpoint):
    """A v2 list paged by ``limit`` / ``page_key``; subclasses resolve the parent and pick the records."""

    default_limit: ClassVar[int] = AGENTS_DEFAULT_LIMIT
    max_limit: ClassVar[int] = AGENTS_MAX_LIMIT

    def __init__(
        self,
        lock: threading.RLock,
        caches: FastCaches | None,
        auth: V2Auth,
        *,
        page_keys: PageKeyCodec,
        page_key_end: str = "missing",
    ) -> None:
        super().__init__(lock, caches, auth)
        if page_key_end not in PAGE_KEY_ENDS:
            raise ValueError(f"page_key_end must be one of {PAGE_KEY_ENDS}")
        self.page_keys = page_keys
        self.page_key_end = page_key_end

    def match_params(self, request: Request) -> dict[str, str]:
        defaults = {"limit": str(self.default_limit), "page_key": ""}
        return {**defaults, **request.query, **self.path_params(request)}

    @abstractmethod
    def resolve(self, request: Request) -> tuple[int, ...]:
        """The parent's indices; :class:`ApiError` 404 when it does not exist."""

    @abstractmethod
    def positions(self, query: KeyedQuery) -> tuple[list[Any], int | None]:
        """The page's records and the listing position of the next page (None: last page)."""

    def parse(self, request: Request) -> KeyedQuery:
        parent = self.resolve(request)
        query = request.query
        try:
            limit = int(query["limit"]) if query.get("limit") else None
        except ValueError:
            raise self.bad_request("limit", f"limit must be an integer, got {query['limit']!r}") from None
        if limit is not None and not 1 <= limit <= self.max_limit:
            raise self.bad_request("limit", f"limit must be between 1 and {self.max_limit}, got {limit}")
        try:
            include_hidden = bool(_bool_param(query, "include_hidden"))
        except ValueError as error:
            raise self.bad_request("include_hidden", str(error)) from None
        page_key = query.get("page_key") or ""
        if not page_key:
            return KeyedQuery(parent, 0, limit or self.default_limit, "", include_hidden)
        try:
            offset, key_limit = self.page_keys.decode(page_key)
        except ValueError:
            raise self.bad_request("page_key", "invalid page key") from None
        return KeyedQuery(parent, offset, limit or key_limit, page_key, include_hidden)

    def select(self, query: KeyedQuery) -> Page:
        records, next_position = self.positions(query)
        next_key = None if next_position is None else self.page_keys.encode(next_position, query.limit)
        return Page(records, next_key)

    def render(self, page: Page) -> dict[str, Any]:
        metadata: dict[str, Any] = {}
        if page.next is not None:
            metadata["page_key"] = page.next
        elif self.page_key_end == "empty":
            metadata["page_key"] = ""
        return {self.records_key: page.records, "metadata": metadata}

    def faulted_next(self, kind: str, query: KeyedQuery, page: Page, fault: ActiveFault) -> str:
        if kind == "empty_page_with_next":
            return self.page_keys.encode(query.offset, query.limit, nonce=fault.seen)
        if kind == "repeat_page_key":
            return query.page_key or self.page_keys.encode(query.offset, query.limit, nonce=1)
        # cycle: remember the first two keys handed out (A, B); then B leads back to A and A to B.
        normal = page.next or self.page_keys.encode(query.offset + len(page.records), query.limit)
        with self.lock:
            keys: list[str] = fault.memory.setdefault("keys", [])
            if len(keys) == 2 and query.page_key in keys:
                return keys[1 - keys.index(query.page_key)]
            if len(keys) < 2:
                keys.append(normal)
            return normal


# --------------------------------------------------------------------------------------------------
# Chats
# --------------------------------------------------------------------------------------------------


class ChatsEndpoint(PageKeyEndpoint):
    """``GET /v2/chats``: every conversation as a v2 chat, in the v1 listing's (unsorted) order."""

    name = "vectara_chats"
    records_key = "chats"
    default_limit = CHATS_DEFAULT_LIMIT
    max_limit = CHATS_MAX_LIMIT

    def __init__(
        self,
        dataset: VectaraDataset,
        lock: threading.RLock,
        caches: FastCaches | None,
        auth: V2Auth,
        *,
        page_keys: PageKeyCodec,
        page_key_end: str = "missing",
    ) -> None:
        super().__init__(lock, caches, auth, page_keys=page_keys, page_key_end=page_key_end)
        self.dataset = dataset

    def resolve(self, request: Request) -> tuple[int, ...]:
        return ()

    def positions(self, query: KeyedQuery) -> tuple[list[Any], int | None]:
        with self.lock:
            indices = self.dataset.listing(query.offset, query.limit)
            size = self.dataset.size
        records = [self.record((self.name, index), lambda index=index: self.dataset.chat(index)) for index in indices]
        end = query.offset + len(indices)
        return records, (end if end < size else None)

    def warm(self) -> int:
        with self.lock:
            size = self.dataset.size
        for index in range(size):
            self.record((self.name, index), lambda index=index: self.dataset.chat(index))
        return size


class ChatTurnsEndpoint(V2Endpoint):
    """``GET /v2/chats/{chat_id}/turns``: every turn of one chat, oldest first, no paging."""

    name = "vectara_turns"
    records_key = "turns"

    def __init__(self, dataset: VectaraDataset, lock: threading.RLock, caches: FastCaches | None, auth: V2Auth) -> None:
        super().__init__(lock, caches, auth)
        self.dataset = dataset

    def path_params(self, request: Request) -> dict[str, str]:
        return {"chat_id": _segment(request.path, 2)}

    def parse(self, request: Request) -> tuple[int]:
        chat_id = _segment(request.path, 2)
        with self.lock:
            index = self.dataset.index_of_chat(chat_id)
        if index is None:
            raise self.not_found(chat_id, "Chat")
        return (index,)

    def select(self, query: tuple[int]) -> Page:
        with self.lock:
            return Page(self.dataset.chat_turns(query[0]), None)

    def render(self, page: Page) -> dict[str, Any]:
        return {self.records_key: page.records}

    def faulted_next(self, kind: str, query: Any, page: Page, fault: ActiveFault) -> None:
        return None


# --------------------------------------------------------------------------------------------------
# Agents
# --------------------------------------------------------------------------------------------------


class AgentsListEndpoint(PageKeyEndpoint):
    """``GET /v2/agents``."""

    name = "vectara_agents"
    records_key = "agents"
    agents_api = True

    def __init__(
        self,
        dataset: AgentsDataset,
        lock: threading.RLock,
        caches: FastCaches | None,
        auth: V2Auth,
        *,
        page_keys: PageKeyCodec,
        page_key_end: str = "missing",
    ) -> None:
        super().__init__(lock, caches, auth, page_keys=page_keys, page_key_end=page_key_end)
        self.dataset = dataset

    def resolve(self, request: Request) -> tuple[int, ...]:
        return ()

    def positions(self, query: KeyedQuery) -> tuple[list[Any], int | None]:
        with self.lock:
            found, next_position = scan_page(self.dataset.agent_count, query.offset, query.limit, lambda _: True)
            return [self.dataset.agent(a) for a in found], next_position


class SessionsEndpoint(AgentsListEndpoint):
    """``GET /v2/agents/{agent_key}/sessions``: live sessions in an unsorted order (not by ``created_at``)."""

    name = "vectara_sessions"
    records_key = "sessions"

    def path_params(self, request: Request) -> dict[str, str]:
        return {"agent_key": _segment(request.path, 2)}

    def resolve(self, request: Request) -> tuple[int, ...]:
        agent_key = _segment(request.path, 2)
        with self.lock:
            a = self.dataset.agent_index(agent_key)
        if a is None:
            raise self.not_found(agent_key, "Agent")
        return (a,)

    def positions(self, query: KeyedQuery) -> tuple[list[Any], int | None]:
        (a,) = query.parent
        with self.lock:
            found, next_position = self.dataset.session_page(a, query.offset, query.limit)
        records = [self.record((self.name, a, j), lambda j=j: self.dataset.session(a, j)) for j in found]
        return records, next_position


class EventsEndpoint(SessionsEndpoint):
    """``GET /v2/agents/{agent_key}/sessions/{session_key}/events``: chronological; hidden (compacted)
    events only with ``include_hidden=true``."""

    name = "vectara_events"
    records_key = "events"

    def path_params(self, request: Request) -> dict[str, str]:
        return {"agent_key": _segment(request.path, 2), "session_key": _segment(request.path, 4)}

    def resolve(self, request: Request) -> tuple[int, ...]:
        (a,) = super().resolve(request)
        session_key = _segment(request.path, 4)
        with self.lock:
            j = self.dataset.session_index(a, session_key)
        if j is None:
            raise self.not_found(session_key, "Session")
        return a, j

    def positions(self, query: KeyedQuery) -> tuple[list[Any], int | None]:
        a, j = query.parent
        with self.lock:
            events = self.dataset.events(a, j)
        found, next_position = scan_page(
            len(events), query.offset, query.limit, lambda p: query.include_hidden or not events[p].hidden
        )
        return [events[p].record for p in found], next_position
