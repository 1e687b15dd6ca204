"""The vendor endpoints of the fake: PolyAI v1 conversations, Vectara v1 list-conversations and
read-conversations, and an OAuth2 client-credentials token endpoint (PolyAI v3 is in
:mod:`fake_api.polyai_v3`, Vectara v2 chats and Agents in :mod:`fake_api.vectara_v2`). Each turns a
:class:`~fake_api.transport.Request` into a :class:`~fake_api.transport.Response`, in the vendor's own
success and error shapes.

The list endpoints share one template (:class:`ListEndpoint`): authenticate, parse, select a page,
apply a page fault, render, serialise (in fast mode from cached record and page bytes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import struct
import threading
import uuid
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any, ClassVar, NamedTuple
from urllib.parse import parse_qsl, unquote

import orjson

from .credentials import hand_out
from .data import (
    ENVIRONMENTS,
    PolyaiDataset,
    PolyaiFilter,
    PolyaiSlot,
    VectaraDataset,
    polyai_page,
    to_epoch_us,
    variant_index,
    vectara_page,
)
from .faults import NEXT_POINTER_KINDS, PAGE_KINDS, ActiveFault, Fault
from .transport import RESET, SHORT_BODY, Request, Response, json_response

Clock = Callable[[], float]

POLYAI_WINDOWS = ("closed", "half_open")
PAGE_KEY_ENDS = ("missing", "empty")
VECTARA_DEFAULT_NUM_RESULTS = 5
POLYAI_DEFAULT_LIMIT = 5
HTML_ERROR_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)
# grpc-gateway's HTTP status for each gRPC code, reversed (for Vectara error bodies).
_GRPC_CODE_BY_STATUS = {
    400: 3,
    401: 16,
    403: 7,
    404: 5,
    408: 4,
    409: 6,
    429: 8,
    500: 13,
    501: 12,
    502: 14,
    503: 14,
    504: 4,
}


class ApiError(Exception):
    """Raised while serving a request to answer it with ``response`` instead."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# --------------------------------------------------------------------------------------------------
# Shared collaborators: tokens, Vectara page keys, the fast-mode caches
# --------------------------------------------------------------------------------------------------


class TokenStore:
    """Bearer tokens issued by the token endpoint, each valid for ``ttl_seconds`` of the ``clock``."""

    def __init__(self, clock: Clock, ttl_seconds: float) -> None:
        self.clock = clock
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        """A new random token."""
        token = secrets.token_urlsafe(48)
        hand_out(token)
        with self._lock:
            self._expiry[token] = self.clock() + self.ttl_seconds
        return token

    def is_valid(self, token: str) -> bool:
        """Whether ``token`` was issued here and has not expired."""
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and self.clock() < expiry

    def expire_all(self) -> None:
        """Make every issued token expired."""
        with self._lock:
            self._expiry = dict.fromkeys(self._expiry, float("-inf"))


class PageKeyCodec:
    """Opaque Vectara page keys: standard base64 of a keyed MAC plus the (version, offset, numResults,
    nonce) payload, the payload XOR-masked with a stream derived from the MAC so keys look random.

    The 19 bytes always end the base64 text with ``==``, and ``+`` and ``/`` are common. A key this codec
    did not issue is rejected.
    """

    _LAYOUT = struct.Struct(">BQIH")
    _VERSION = 1
    _MAC_SIZE = 4

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hashlib.blake2b(payload, key=self._secret, digest_size=self._MAC_SIZE).digest()

    def _mask(self, mac: bytes, data: bytes) -> bytes:
        stream = hashlib.blake2b(mac, key=self._secret, digest_size=len(data)).digest()
        return bytes(a ^ b for a, b in zip(data, stream, strict=True))

    def encode(self, offset: int, num_results: int, nonce: int = 0) -> str:
        """The key of the page starting at listing position ``offset``; ``nonce`` varies the key only."""
        payload = self._LAYOUT.pack(self._VERSION, offset, num_results, nonce & 0xFFFF)
        mac = self._mac(payload)
        return base64.b64encode(mac + self._mask(mac, payload)).decode("ascii")

    def decode(self, key: str) -> tuple[int, int]:
        """``(offset, num_results)`` of a key; ValueError for anything this codec did not issue."""
        try:
            raw = base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError("not base64") from error
        if len(raw) != self._MAC_SIZE + self._LAYOUT.size:
            raise ValueError("not a page key of this server")
        mac = raw[: self._MAC_SIZE]
        payload = self._mask(mac, raw[self._MAC_SIZE :])
        if not secrets.compare_digest(mac, self._mac(payload)):
            raise ValueError("not a page key of this server")
        _, offset, num_results, _ = self._LAYOUT.unpack(payload)
        return offset, num_results


class LruCache:
    """Values by key, least recently used first out once their total size passes ``max_bytes``; thread-safe.

    :meth:`clear` starts a new generation: a value built from older data (``put`` with an older
    ``generation``) is not stored.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._values: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._size = 0
        self.generation = 0

    def get(self, key: Hashable) -> Any:
        """The value stored under ``key``, or None."""
        with self._lock:
            entry = self._values.get(key)
            if entry is None:
                return None
            self._values.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: Any, size: int, generation: int | None = None) -> None:
        """Store ``value`` (``size`` bytes) unless it is stale, too big or already there."""
        with self._lock:
            if generation not in (None, self.generation) or size > self.max_bytes or key in self._values:
                return
            self._values[key] = (value, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, evicted_size) = self._values.popitem(last=False)
                self._size -= evicted_size

    def clear(self) -> None:
        """Drop everything and start a new generation."""
        with self._lock:
            self._values.clear()
            self._size = 0
            self.generation += 1


@dataclass(frozen=True)
class FastCaches:
    """Fast mode's caches: whole responses by normalised request (cleared when data changes) and
    serialised records by identity (a record that changes gets a new identity: never cleared)."""

    pages: LruCache
    records: LruCache

    @classmethod
    def of_size(cls, max_bytes: int) -> FastCaches:
        return cls(LruCache(max_bytes), LruCache(max_bytes))


# --------------------------------------------------------------------------------------------------
# Endpoint base classes
# --------------------------------------------------------------------------------------------------


class Endpoint(ABC):
    """One faultable vendor endpoint."""

    name: ClassVar[str]
    method: ClassVar[str]

    @property
    def fault_endpoint(self) -> str:
        """The :attr:`Fault.endpoint` name whose faults apply here (usually :attr:`name`)."""
        return self.name

    @abstractmethod
    def serve(self, request: Request, fault: ActiveFault | None) -> Response:
        """Answer ``request``; ``fault`` is set only for a page-level fault kind."""

    @abstractmethod
    def error_body(self, status: int, message: str) -> Any:
        """The vendor's error body for ``status``."""

    @abstractmethod
    def match_params(self, request: Request) -> dict[str, str]:
        """The request parameters :attr:`Fault.match` conditions are compared with."""

    def error(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
        """An error response in the vendor's shape."""
        return json_response(status, self.error_body(status, message), headers)


def serve_with_fault(
    endpoint: Endpoint, request: Request, active: ActiveFault | None, wait: Callable[[float], Any]
) -> Response:
    """Answer ``request`` at ``endpoint``, damaged as ``active`` says (no fault: a normal answer).

    ``wait(seconds)`` sleeps for delay faults (it should return early when the server stops).
    """
    if active is None:
        return endpoint.serve(request, None)
    fault = active.fault
    if fault.kind == "status":
        return _status_fault_response(endpoint, fault)
    if fault.kind == "delay":
        wait(fault.delay_seconds)
        return endpoint.serve(request, None)
    if fault.kind in PAGE_KINDS:
        return endpoint.serve(request, active)
    normal = endpoint.serve(request, None)
    if fault.kind in (RESET, SHORT_BODY):
        return replace(normal, delivery=fault.kind)
    if fault.kind == "truncated_json":
        return replace(normal, status=200, body=normal.body[: len(normal.body) // 2])
    return Response(200, HTML_ERROR_PAGE, "text/html; charset=utf-8")


def _status_fault_response(endpoint: Endpoint, fault: Fault) -> Response:
    headers = (("Retry-After", fault.retry_after),) if fault.retry_after is not None else ()
    if fault.body is None:
        return endpoint.error(fault.status, _reason(fault.status), headers)
    if isinstance(fault.body, bytes):
        return Response(fault.status, fault.body, headers=headers)
    if isinstance(fault.body, str):
        return Response(fault.status, fault.body.encode(), "text/plain; charset=utf-8", headers)
    return json_response(fault.status, fault.body, headers)


class Page(NamedTuple):
    """One page of a list endpoint: the records (dicts, or serialised fragments in fast mode) and the
    pointer to the next page (None on the last)."""

    records: list[Any]
    next: Any


class ListEndpoint(Endpoint):
    """Template for a paged list endpoint; PolyAI and Vectara fill in the vendor specifics."""

    records_key: ClassVar[str]

    def __init__(self, lock: threading.RLock, caches: FastCaches | None) -> None:
        self.lock = lock
        self.caches = caches

    def serve(self, request: Request, fault: ActiveFault | None) -> Response:
        try:
            self.authenticate(request)
            query = self.parse(request)
        except ApiError as error:
            return error.response
        kind = fault.fault.kind if fault is not None else None
        if fault is not None and kind == "vendor_error":
            return json_response(200, self.vendor_error_body(fault.fault))
        pages = self.caches.pages if self.caches is not None and kind is None else None
        if pages is not None:
            cached: Response | None = pages.get((self.name, query))
            if cached is not None:
                return cached
            generation = pages.generation
        page = self.select(query)
        if kind == "empty_page_with_next":
            page = page._replace(records=[])
        if fault is not None and kind in NEXT_POINTER_KINDS:
            page = page._replace(next=self.faulted_next(kind, query, page, fault))
        body = self.render(page)
        if kind == "missing_key":
            del body[self.records_key]
        response = Response(200, orjson.dumps(body), records=len(page.records))
        if pages is not None:
            pages.put((self.name, query), response, len(response.body), generation)
        return response

    def record(self, identity: Hashable, build: Callable[[], dict[str, Any]]) -> Any:
        """The record ``build()`` makes; in fast mode its serialised form, cached under ``identity``."""
        if self.caches is None:
            return build()
        serialised = self.caches.records.get(identity)
        if serialised is None:
            serialised = orjson.dumps(build())
            self.caches.records.put(identity, serialised, len(serialised))
        return orjson.Fragment(serialised)

    @abstractmethod
    def warm(self) -> int:
        """Fast mode: serialise every current record into the record cache; return how many."""

    @abstractmethod
    def authenticate(self, request: Request) -> None:
        """Raise :class:`ApiError` unless the request carries valid credentials for the right tenant."""

    @abstractmethod
    def parse(self, request: Request) -> Hashable:
        """The normalised query (hashable: it keys the fast-mode cache); :class:`ApiError` when invalid."""

    @abstractmethod
    def select(self, query: Any) -> Page:
        """The page the query asks for."""

    @abstractmethod
    def render(self, page: Page) -> dict[str, Any]:
        """The response body of ``page``."""

    @abstractmethod
    def faulted_next(self, kind: str, query: Any, page: Page, fault: ActiveFault) -> Any:
        """The next-page pointer a pagination fault of ``kind`` answers with."""

    @abstractmethod
    def vendor_error_body(self, fault: Fault) -> dict[str, Any]:
        """A 200 body that reports an error the vendor's way."""


# --------------------------------------------------------------------------------------------------
# PolyAI
# --------------------------------------------------------------------------------------------------


def polyai_filter(
    start_us: int | None,
    end_us: int | None,
    window: str,
    environment: str | None = "live",
    variant: int | None = None,
    in_progress: bool | None = None,
) -> PolyaiFilter:
    """A filter for a ``[start, end]`` (``window="closed"``) or ``[start, end)`` (``"half_open"``) window."""
    if end_us is not None and window == "closed":
        end_us += 1
    return PolyaiFilter(start_us, end_us, environment, variant, in_progress)


@dataclass(frozen=True)
class PolyaiQuery:
    """A validated PolyAI list request."""

    filter: PolyaiFilter
    offset: int
    limit: int
    include_context_state: bool
    project_id: str = ""


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _bool_param(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _time_param(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return to_epoch_us(raw)
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 date-time, got {raw!r}") from None


class PolyaiEndpoint(ListEndpoint):
    """``GET /v1/{account_id}/{project_id}/conversations``, for every project of ``datasets``."""

    name = "polyai"
    method = "GET"
    records_key = "conversations"
    version = "v1"
    PATH_PREFIX = "/v1/"
    PATH_SUFFIX = "/conversations"

    def __init__(
        self,
        datasets: Mapping[str, PolyaiDataset],
        lock: threading.RLock,
        caches: FastCaches | None,
        *,
        api_key: str,
        account_id: str,
        max_limit: int,
        window: str,
    ) -> None:
        super().__init__(lock, caches)
        if window not in POLYAI_WINDOWS:
            raise ValueError(f"polyai_window must be one of {POLYAI_WINDOWS}")
        if not datasets:
            raise ValueError("at least one PolyAI project is needed")
        self.datasets = datasets
        self.api_key = api_key
        self.account_id = account_id
        self.max_limit = max_limit
        self.window = window

    @property
    def dataset(self) -> PolyaiDataset:
        """The default (first) project's dataset."""
        return next(iter(self.datasets.values()))

    @classmethod
    def tenant(cls, path: str) -> tuple[str, str] | None:
        """``(account_id, project_id)`` when ``path`` is a conversations list path, else None."""
        if not (path.startswith(cls.PATH_PREFIX) and path.endswith(cls.PATH_SUFFIX)):
            return None
        parts = path[len(cls.PATH_PREFIX) : -len(cls.PATH_SUFFIX)].split("/")
        if len(parts) != 2 or not all(parts):
            return None
        return unquote(parts[0]), unquote(parts[1])

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error_message": message}

    def match_params(self, request: Request) -> dict[str, str]:
        defaults = {"offset": "0", "limit": str(POLYAI_DEFAULT_LIMIT), "client_env": "live"}
        return {**defaults, **request.query, **self._path_params(request)}

    def _path_params(self, request: Request) -> dict[str, str]:
        account_id, project_id = self.tenant(request.path) or ("", "")
        params = {"account_id": account_id, "project_id": project_id, "version": self.version}
        channels = request.query_list("channel")
        if channels:
            params["channel"] = ",".join(channels)
        return params

    def project_of(self, request: Request) -> str | None:
        """The project id of the request's path when this account has that project, else None."""
        tenant = self.tenant(request.path)
        if tenant is None or tenant[0] != self.account_id or tenant[1] not in self.datasets:
            return None
        return tenant[1]

    def authenticate(self, request: Request) -> None:
        if request.header("x-api-key") != self.api_key:
            raise ApiError(self.error(401, "Unauthorized: missing or invalid x-api-key"))
        if self.project_of(request) is None:
            raise ApiError(
                json_response(
                    404,
                    {
                        "success": False,
                        "error": "Not Found",
                        "error_id": request.header("X-PolyAI-Correlation-Id") or str(uuid.uuid4()),
                        "error_code": "PROJECT_NOT_FOUND",
                        "error_message": "Project not found for this account",
                        "data": None,
                    },
                )
            )

    def parse(self, request: Request) -> PolyaiQuery:
        query = request.query
        try:
            environment = query.get("client_env") or "live"
            if environment not in ENVIRONMENTS:
                raise ValueError(f"client_env must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
            limit = _int_param(query, "limit", POLYAI_DEFAULT_LIMIT)
            if not 1 < limit < self.max_limit + 1:
                raise ValueError(f"limit must satisfy 1 < limit < {self.max_limit + 1}, got {limit}")
            offset = _int_param(query, "offset", 0)
            if offset < 0:
                raise ValueError(f"offset must be >= 0, got {offset}")
            if query.get("variant_id") and query.get("variant_name"):
                raise ValueError("Specify only one of variant_id or variant_name")
            return PolyaiQuery(
                project_id=self.project_of(request) or "",
                filter=polyai_filter(
                    _time_param(query, "start_time"),
                    _time_param(query, "end_time"),
                    self.window,
                    environment,
                    variant_index(query.get("variant_id") or None, query.get("variant_name") or None),
                    _bool_param(query, "in_progress"),
                ),
                offset=offset,
                limit=limit,
                include_context_state=bool(_bool_param(query, "include_context_state")),
            )
        except ValueError as error:
            raise ApiError(self.error(400, str(error))) from None

    def select(self, query: PolyaiQuery) -> Page:
        dataset = self.datasets[query.project_id]
        with self.lock:
            slots, total = dataset.page(query.filter, query.offset, query.limit)
        records = [self._conversation(dataset, slot, query.include_context_state) for slot in slots]
        end = query.offset + len(slots)
        return Page(records, end if end < total else None)

    def _conversation(self, dataset: PolyaiDataset, slot: PolyaiSlot, include_context_state: bool) -> Any:
        return self.record(
            (self.name, dataset.project_id, slot.record_index, slot.in_progress, include_context_state),
            lambda: dataset.conversation(slot, include_context_state),
        )

    def warm(self) -> int:
        warmed = 0
        for dataset in self.datasets.values():
            with self.lock:
                slots, _ = dataset.page(PolyaiFilter(environment=None), 0, dataset.size)
            for slot in slots:
                self._conversation(dataset, slot, False)
            warmed += len(slots)
        return warmed

    def render(self, page: Page) -> dict[str, Any]:
        return polyai_page(page.records, page.next)

    def faulted_next(self, kind: str, query: PolyaiQuery, page: Page, fault: ActiveFault) -> int | None:
        if kind == "missing_cursor":  # a v3-only fault: v1 has no cursor to leave out
            return page.next
        # empty_page_with_next resumes where it stood; offset_stuck (and cursor_repeat) never move on.
        return query.offset

    def vendor_error_body(self, fault: Fault) -> dict[str, Any]:
        return {"error_message": fault.detail}


# --------------------------------------------------------------------------------------------------
# Vectara
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VectaraQuery:
    """A validated Vectara list request: the listing position and page size (from the key on later pages)."""

    offset: int
    num_results: int
    page_key: str = ""


def _grpc_error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "details": []}


def _json_object(body: bytes) -> dict[str, Any]:
    """The JSON object of a request body (``{}`` when empty); ValueError for anything else."""
    parsed = orjson.loads(body or b"{}")  # orjson.JSONDecodeError is a ValueError
    if not isinstance(parsed, dict):
        raise ValueError("the body must be a JSON object")
    return parsed


def _first_field(body: Mapping[str, Any], *names: str) -> Any:
    """The first of ``names`` (proto3 JSON accepts lowerCamel and snake_case) that is set."""
    for name in names:
        if body.get(name) not in (None, ""):
            return body[name]
    return None


def _non_negative_int(name: str, raw: Any) -> int:
    """A proto3 JSON unsigned integer: a number or a decimal string."""
    if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).isdigit():
        raise ValueError(f"invalid {name} {raw!r}")
    return int(raw)


class VectaraEndpoint(ListEndpoint):
    """``POST /v1/list-conversations``."""

    name = "vectara"
    method = "POST"
    records_key = "conversation"
    PATH = "/v1/list-conversations"

    def __init__(
        self,
        dataset: VectaraDataset,
        lock: threading.RLock,
        caches: FastCaches | None,
        *,
        customer_id: str,
        api_key: str,
        tokens: TokenStore,
        page_keys: PageKeyCodec,
        page_key_end: str,
        query_api_key: str | None = None,
    ) -> None:
        super().__init__(lock, caches)
        if page_key_end not in PAGE_KEY_ENDS:
            raise ValueError(f"vectara_page_key_end must be one of {PAGE_KEY_ENDS}")
        self.dataset = dataset
        self.customer_id = customer_id
        self.api_key = api_key
        self.query_api_key = query_api_key
        self.tokens = tokens
        self.page_keys = page_keys
        self.page_key_end = page_key_end

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return _grpc_error(_GRPC_CODE_BY_STATUS.get(status, 2), message)

    def match_params(self, request: Request) -> dict[str, str]:
        try:
            body = _json_object(request.body)
        except ValueError:
            body = {}
        return {
            "pageKey": str(_first_field(body, "pageKey", "page_key") or ""),
            "numResults": str(_first_field(body, "numResults", "num_results") or 0),
        }

    def authenticate(self, request: Request) -> None:
        vectara_v1_authenticate(request, self.customer_id, (self.api_key, self.query_api_key), self.tokens)

    def parse(self, request: Request) -> VectaraQuery:
        try:
            body = _json_object(request.body)
            page_key = _first_field(body, "pageKey", "page_key")
            if page_key is None:
                num_results = _non_negative_int("numResults", _first_field(body, "numResults", "num_results") or 0)
                return VectaraQuery(0, num_results or VECTARA_DEFAULT_NUM_RESULTS)
        except ValueError as error:
            raise ApiError(json_response(400, _grpc_error(3, str(error)))) from None
        try:
            offset, num_results = self.page_keys.decode(str(page_key))
        except ValueError:
            raise ApiError(json_response(400, _grpc_error(3, "invalid page key"))) from None
        # On later pages every other field is ignored: the page size comes from the key.
        return VectaraQuery(offset, num_results, str(page_key))

    def select(self, query: VectaraQuery) -> Page:
        with self.lock:
            indices = self.dataset.listing(query.offset, query.num_results)
            size = self.dataset.size
        records = [self._turn(index) for index in indices]
        end = query.offset + len(indices)
        return Page(records, self.page_keys.encode(end, query.num_results) if end < size else None)

    def _turn(self, index: int) -> Any:
        return self.record((self.name, index), lambda: self.dataset.turn(index))

    def warm(self) -> int:
        with self.lock:
            size = self.dataset.size
        for index in range(size):
            self._turn(index)
        return size

    def render(self, page: Page) -> dict[str, Any]:
        end_key = "" if self.page_key_end == "empty" else None
        return vectara_page(page.records, page.next if page.next is not None else end_key)

    def faulted_next(self, kind: str, query: VectaraQuery, page: Page, fault: ActiveFault) -> str:
        if kind == "empty_page_with_next":
            return self.page_keys.encode(query.offset, query.num_results, nonce=fault.seen)
        if kind == "repeat_page_key":
            return query.page_key or self.page_keys.encode(query.offset, query.num_results, nonce=1)
        # cycle: remember the first two keys handed out (A, B); then B leads back to A and A to B.
        normal = page.next or self.page_keys.encode(query.offset + len(page.records), query.num_results)
        with self.lock:
            keys: list[str] = fault.memory.setdefault("keys", [])
            if len(keys) == 2 and query.page_key in keys:
                return keys[1 - keys.index(query.page_key)]
            if len(keys) < 2:
                keys.append(normal)
            return normal

    def vendor_error_body(self, fault: Fault) -> dict[str, Any]:
        return {"status": {"code": fault.code, "statusDetail": fault.detail}}


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = (request.header("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def vectara_v1_authenticate(
    request: Request, customer_id: str, api_keys: tuple[str | None, ...], tokens: TokenStore
) -> None:
    """Vectara v1 auth: the ``customer-id`` header and an accepted ``x-api-key`` or a valid bearer token;
    raise :class:`ApiError` (401, gRPC code 16) otherwise."""
    if request.header("customer-id") != customer_id:
        raise ApiError(json_response(401, _grpc_error(16, "Unauthenticated: missing or unknown customer-id")))
    api_key = request.header("x-api-key")
    if api_key is not None and api_key in api_keys:
        return
    token = bearer_token(request)
    if token is not None and tokens.is_valid(token):
        return
    raise ApiError(json_response(401, _grpc_error(16, "Unauthenticated: invalid API key or expired token")))


MAX_READ_CONVERSATIONS = 10
"""Most conversation ids one ``/v1/read-conversations`` request may name (the proto's limit)."""


@dataclass(frozen=True)
class ReadQuery:
    """A validated read-conversations request: the ids asked for, duplicates removed, in order."""

    conversation_ids: tuple[str, ...]


class VectaraReadEndpoint(ListEndpoint):
    """``POST /v1/read-conversations``: whole conversations (every turn) by id, at most 10 ids a request.

    The answer lists the known ids in the order asked (unknown ids are simply absent) under the key
    ``Conversation`` (capital C, as the proto names the field).
    """

    name = "vectara_read"
    method = "POST"
    records_key = "Conversation"
    PATH = "/v1/read-conversations"

    def __init__(
        self,
        dataset: VectaraDataset,
        lock: threading.RLock,
        caches: FastCaches | None,
        *,
        customer_id: str,
        api_keys: tuple[str | None, ...],
        tokens: TokenStore,
    ) -> None:
        super().__init__(lock, caches)
        self.dataset = dataset
        self.customer_id = customer_id
        self.api_keys = api_keys
        self.tokens = tokens

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return _grpc_error(_GRPC_CODE_BY_STATUS.get(status, 2), message)

    def match_params(self, request: Request) -> dict[str, str]:
        try:
            ids = self._ids(_json_object(request.body))
        except ValueError:
            ids = []
        return {"conversationId": ",".join(ids), "count": str(len(ids))}

    @staticmethod
    def _ids(body: Mapping[str, Any]) -> list[str]:
        raw = _first_field(body, "conversationId", "conversation_id")
        if raw is None:
            return []
        valid = isinstance(raw, list) and all(isinstance(item, str) for item in raw)
        if not valid:
            raise ValueError("conversationId must be a list of strings")
        return list(raw)

    def authenticate(self, request: Request) -> None:
        vectara_v1_authenticate(request, self.customer_id, self.api_keys, self.tokens)

    def parse(self, request: Request) -> ReadQuery:
        try:
            ids = self._ids(_json_object(request.body))
        except ValueError as error:
            raise ApiError(json_response(400, _grpc_error(3, str(error)))) from None
        if len(ids) > MAX_READ_CONVERSATIONS:
            message = f"at most {MAX_READ_CONVERSATIONS} conversation ids can be read at once, got {len(ids)}"
            raise ApiError(json_response(400, _grpc_error(3, message)))
        return ReadQuery(tuple(dict.fromkeys(ids)))

    def select(self, query: ReadQuery) -> Page:
        records = []
        with self.lock:
            for conversation_id in query.conversation_ids:
                index = self.dataset.index_of(conversation_id)
                if index is not None:
                    records.append({"id": conversation_id, "turn": self.dataset.turns(index)})
        return Page(records, None)

    def warm(self) -> int:
        return 0

    def render(self, page: Page) -> dict[str, Any]:
        return {self.records_key: page.records, "status": {"code": "OK", "statusDetail": ""}}

    def faulted_next(self, kind: str, query: Any, page: Page, fault: ActiveFault) -> Any:
        return None  # no paging

    def vendor_error_body(self, fault: Fault) -> dict[str, Any]:
        return {"status": {"code": fault.code, "statusDetail": fault.detail}}


# --------------------------------------------------------------------------------------------------
# OAuth2 token
# --------------------------------------------------------------------------------------------------


class TokenEndpoint(Endpoint):
    """``POST /oauth2/token`` with ``grant_type=client_credentials`` (client in the form or HTTP Basic)."""

    name = "token"
    method = "POST"
    PATH = "/oauth2/token"

    def __init__(self, tokens: TokenStore, *, client_id: str, client_secret: str) -> None:
        self.tokens = tokens
        self.client_id = client_id
        self.client_secret = client_secret

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        error = "temporarily_unavailable" if status == 429 or status >= 500 else "invalid_request"
        return {"error": error, "error_description": message}

    @staticmethod
    def _form(request: Request) -> dict[str, str]:
        return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))

    def match_params(self, request: Request) -> dict[str, str]:
        return {name: value for name, value in self._form(request).items() if name != "client_secret"}

    def _client(self, request: Request, form: Mapping[str, str]) -> tuple[str | None, str | None]:
        scheme, _, encoded = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, client_secret = base64.b64decode(encoded.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None, None
            return unquote(client_id), unquote(client_secret)
        return form.get("client_id"), form.get("client_secret")

    def serve(self, request: Request, fault: ActiveFault | None) -> Response:
        form = self._form(request)
        if form.get("grant_type") != "client_credentials":
            return json_response(400, {"error": "unsupported_grant_type"})
        if self._client(request, form) != (self.client_id, self.client_secret):
            return json_response(400, {"error": "invalid_client"})
        body = {"access_token": self.tokens.issue(), "token_type": "Bearer", "expires_in": int(self.tokens.ttl_seconds)}
        if fault is not None:  # the only page-level kind the token endpoint takes is missing_key
            del body["access_token"]
        return json_response(200, body, (("Cache-Control", "no-store"),))
