"""PolyAI Conversations v3: ``GET /v3/{account_id}/{project_id}/conversations``.

The same conversations as v1 (:class:`~fake_api.endpoints.PolyaiEndpoint`), in v3's shapes:

* paging by an opaque, URL-safe ``cursor`` (``null`` on the last page); legacy ``offset`` still works and
  a ``cursor`` beats it. A cursor names the last record served (keyset paging), so it stays valid and
  loses nothing while conversations are added, even before it. It also carries a hash of every filter: a
  cursor sent with other filters, or one this server did not issue, is a 400.
* ``limit`` 1..1000, default 1000; a repeatable ``channel`` filter; ``include_latency``;
  ``include_context_state`` is ignored.
* records with ``""`` for empty text (:func:`~fake_api.data.polyai_v3_conversation`), no ``descriptions``.
* every error in the platform envelope ``{success, error, error_id, error_code, error_message, data}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import struct
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from .data import (
    ENVIRONMENTS,
    PolyaiDataset,
    PolyaiFilter,
    PolyaiSlot,
    PolyaiSortKey,
    polyai_v3_conversation,
    variant_index,
)
from .endpoints import (
    ApiError,
    FastCaches,
    Page,
    PolyaiEndpoint,
    _bool_param,
    _int_param,
    _reason,
    _time_param,
    polyai_filter,
)
from .faults import ActiveFault, Fault
from .transport import Request, json_response

POLYAI_V3_MAX_LIMIT = 1000
POLYAI_V3_DEFAULT_LIMIT = 1000
_SCAN_CHUNK = 500
_ERROR_CODE_BY_STATUS = {
    400: "CONVERSATIONS_VALIDATION_FAILED",
    401: "AUTH_INVALID_API_KEY",
    403: "CONVERSATIONS_FORBIDDEN",
    404: "CONVERSATIONS_NOT_FOUND",
    408: "REQUEST_TIMEOUT",
    429: "RATE_LIMIT_EXCEEDED",
}


def v3_error_body(status: int, code: str, message: str, error_id: str | None = None) -> dict[str, Any]:
    """The PolyAI platform error envelope."""
    return {
        "success": False,
        "error": _reason(status),
        "error_id": error_id or str(uuid.uuid4()),
        "error_code": code,
        "error_message": message,
        "data": None,
    }


class CursorCodec:
    """Opaque v3 cursors: unpadded base64url of a keyed MAC and a masked payload holding what comes
    before the next page (nothing, or the sort key of the last record served), the number of matching
    records before it (for ``next_offset``) and a hash of the request's filters.
    """

    _LAYOUT = struct.Struct(">BBqQQ8s")
    _VERSION = 3
    _START, _AFTER_GENERATED, _AFTER_ADDED = 0, 1, 2
    _MAC_SIZE = 8
    _ALPHABET = re.compile(r"[A-Za-z0-9_-]+")

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hashlib.blake2b(payload, key=self._secret, digest_size=self._MAC_SIZE).digest()

    def _mask(self, mac: bytes, data: bytes) -> bytes:
        stream = hashlib.blake2b(mac, key=self._secret, digest_size=len(data)).digest()
        return bytes(a ^ b for a, b in zip(data, stream, strict=True))

    def encode(self, after: PolyaiSortKey | None, rank: int, filter_hash: bytes) -> str:
        """The cursor of the page after ``after`` (None: the first page); ``rank`` matching records precede it."""
        if after is None:
            kind, started_us, index = self._START, 0, 0
        else:
            started_us, added, index = after
            kind = self._AFTER_ADDED if added else self._AFTER_GENERATED
        payload = self._LAYOUT.pack(self._VERSION, kind, started_us, index, rank, filter_hash)
        mac = self._mac(payload)
        return base64.urlsafe_b64encode(mac + self._mask(mac, payload)).rstrip(b"=").decode("ascii")

    def decode(self, cursor: str) -> tuple[PolyaiSortKey | None, int, bytes]:
        """``(after, rank, filter_hash)`` of a cursor; ValueError for anything this codec did not issue."""
        if not self._ALPHABET.fullmatch(cursor):
            raise ValueError("the cursor is not URL-safe base64")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError) as error:
            raise ValueError("the cursor is not URL-safe base64") from error
        if len(raw) != self._MAC_SIZE + self._LAYOUT.size:
            raise ValueError("the cursor was not issued by this API")
        mac = raw[: self._MAC_SIZE]
        payload = self._mask(mac, raw[self._MAC_SIZE :])
        if not secrets.compare_digest(mac, self._mac(payload)):
            raise ValueError("the cursor was not issued by this API")
        version, kind, started_us, index, rank, filter_hash = self._LAYOUT.unpack(payload)
        if version != self._VERSION or kind not in (self._START, self._AFTER_GENERATED, self._AFTER_ADDED):
            raise ValueError("the cursor was not issued by this API")
        after = None if kind == self._START else (started_us, int(kind == self._AFTER_ADDED), index)
        return after, rank, filter_hash


@dataclass(frozen=True)
class PolyaiV3Query:
    """A validated v3 list request. ``cursor`` is the request's cursor (``""``: none); with one, ``after``
    and ``rank`` come from it and ``offset`` is ignored."""

    project_id: str
    filter: PolyaiFilter
    channels: frozenset[str]
    limit: int
    include_latency: bool
    filter_hash: bytes
    cursor: str = ""
    after: PolyaiSortKey | None = None
    rank: int = 0
    offset: int = 0


class V3Next(NamedTuple):
    """The next-page pointers of a v3 page: ``cursor`` (None on the last page) and ``next_offset`` (None:
    no next page, or not sent); ``omit_cursor`` leaves the ``cursor`` key out of the body."""

    cursor: str | None
    next_offset: int | None
    omit_cursor: bool = False


class PolyaiV3Endpoint(PolyaiEndpoint):
    """``GET /v3/{account_id}/{project_id}/conversations`` (faults: endpoint ``"polyai"``)."""

    name = "polyai_v3"
    version = "v3"
    PATH_PREFIX = "/v3/"

    def __init__(
        self,
        datasets: Mapping[str, PolyaiDataset],
        lock: threading.RLock,
        caches: FastCaches | None,
        *,
        api_key: str,
        account_id: str,
        window: str,
        cursors: CursorCodec,
        send_next_offset: bool = False,
        omit_cursor: bool = False,
    ) -> None:
        super().__init__(
            datasets, lock, caches, api_key=api_key, account_id=account_id, max_limit=POLYAI_V3_MAX_LIMIT, window=window
        )
        self.cursors = cursors
        self.send_next_offset = send_next_offset
        self.omit_cursor = omit_cursor

    @property
    def fault_endpoint(self) -> str:
        return "polyai"

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        code = _ERROR_CODE_BY_STATUS.get(status, "INTERNAL_SERVER_ERROR" if status >= 500 else "REQUEST_FAILED")
        return v3_error_body(status, code, message)

    @staticmethod
    def _error(request: Request, status: int, code: str, message: str) -> ApiError:
        error_id = request.header("X-PolyAI-Correlation-Id")
        return ApiError(json_response(status, v3_error_body(status, code, message, error_id)))

    def match_params(self, request: Request) -> dict[str, str]:
        defaults = {"offset": "0", "limit": str(POLYAI_V3_DEFAULT_LIMIT), "client_env": "live", "cursor": ""}
        return {**defaults, **request.query, **self._path_params(request)}

    def authenticate(self, request: Request) -> None:
        if request.header("x-api-key") != self.api_key:
            raise self._error(request, 401, "AUTH_INVALID_API_KEY", "Missing or invalid API key (x-api-key)")
        if self.project_of(request) is None:
            account_id, project_id = self.tenant(request.path) or ("", "")
            message = f"Project {project_id!r} not found in account {account_id!r}"
            raise self._error(request, 404, "PROJECT_NOT_FOUND", message)

    @staticmethod
    def filter_hash(project_id: str, query_filter: PolyaiFilter, channels: frozenset[str]) -> bytes:
        """What a cursor remembers of the filters: every one but the page size and the output options."""
        identity = [
            project_id,
            query_filter.start_us,
            query_filter.end_us,
            query_filter.environment,
            query_filter.variant,
            query_filter.in_progress,
            sorted(channels),
        ]
        return hashlib.blake2b(orjson.dumps(identity), digest_size=8).digest()

    def parse(self, request: Request) -> PolyaiV3Query:
        query = request.query
        project_id = self.project_of(request) or ""
        try:
            environment = query.get("client_env") or "live"
            if environment not in ENVIRONMENTS:
                raise ValueError(f"client_env must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
            limit = _int_param(query, "limit", POLYAI_V3_DEFAULT_LIMIT)
            if not 1 <= limit <= POLYAI_V3_MAX_LIMIT:
                raise ValueError(f"limit must be between 1 and {POLYAI_V3_MAX_LIMIT}, got {limit}")
            if query.get("variant_id") and query.get("variant_name"):
                raise ValueError("Specify only one of variant_id or variant_name")
            query_filter = polyai_filter(
                _time_param(query, "start_time"),
                _time_param(query, "end_time"),
                self.window,
                environment,
                variant_index(query.get("variant_id") or None, query.get("variant_name") or None),
                _bool_param(query, "in_progress"),
            )
            include_latency = bool(_bool_param(query, "include_latency"))
            cursor = query.get("cursor") or ""
            offset = 0 if cursor else _int_param(query, "offset", 0)
            if offset < 0:
                raise ValueError(f"offset must be >= 0, got {offset}")
        except ValueError as error:
            raise self._error(request, 400, "CONVERSATIONS_VALIDATION_FAILED", str(error)) from None
        channels = frozenset(value for value in request.query_list("channel") if value)
        filter_hash = self.filter_hash(project_id, query_filter, channels)
        parsed = PolyaiV3Query(project_id, query_filter, channels, limit, include_latency, filter_hash, offset=offset)
        if not cursor:
            return parsed
        try:
            after, rank, cursor_filters = self.cursors.decode(cursor)
        except ValueError as error:
            raise self._error(
                request, 400, "GET_CONVERSATIONS_FILTER_PARSE_ERROR", f"Invalid cursor: {error}"
            ) from None
        if cursor_filters != filter_hash:
            message = "Invalid cursor: it was issued for other filters; keep every filter identical between pages"
            raise self._error(request, 400, "GET_CONVERSATIONS_FILTER_PARSE_ERROR", message)
        return PolyaiV3Query(
            project_id,
            query_filter,
            channels,
            limit,
            include_latency,
            filter_hash,
            cursor=cursor,
            after=after,
            rank=rank,
        )

    # -- page selection -----------------------------------------------------------------------------

    def _matches(self, dataset: PolyaiDataset, query: PolyaiV3Query, slot: PolyaiSlot) -> bool:
        return not query.channels or dataset.channel(slot) in query.channels

    def _start(self, dataset: PolyaiDataset, query: PolyaiV3Query) -> tuple[int, int]:
        """``(position, rank)``: where the page starts among the records the filter (without channels)
        admits, and how many records matching every filter come before it. Call under the lock."""
        if query.cursor:
            position = 0 if query.after is None else dataset.position_after(query.filter, query.after)
            return position, (position if not query.channels else query.rank)
        if not query.channels:
            return query.offset, query.offset
        position, skipped = 0, 0
        while skipped < query.offset:
            slots, _ = dataset.page(query.filter, position, _SCAN_CHUNK)
            if not slots:
                break
            for slot in slots:
                if skipped == query.offset:
                    break
                position += 1
                skipped += self._matches(dataset, query, slot)
        return position, query.offset

    def _scan(self, dataset: PolyaiDataset, query: PolyaiV3Query, position: int) -> tuple[list[PolyaiSlot], bool]:
        """The next ``limit`` matching slots from ``position``, and whether another one follows."""
        if not query.channels:
            slots, total = dataset.page(query.filter, position, query.limit)
            return slots, position + len(slots) < total
        found: list[PolyaiSlot] = []
        while True:
            slots, _ = dataset.page(query.filter, position, _SCAN_CHUNK)
            if not slots:
                return found, False
            for slot in slots:
                if self._matches(dataset, query, slot):
                    if len(found) == query.limit:
                        return found, True
                    found.append(slot)
            position += len(slots)

    def select(self, query: PolyaiV3Query) -> Page:
        dataset = self.datasets[query.project_id]
        with self.lock:
            position, rank = self._start(dataset, query)
            slots, more = self._scan(dataset, query, position)
        records = [self._v3_conversation(dataset, slot, query.include_latency) for slot in slots]
        if not more or not slots:
            return Page(records, V3Next(None, None, self.omit_cursor))
        end_rank = rank + len(slots)
        cursor = self.cursors.encode(dataset.sort_key(slots[-1]), end_rank, query.filter_hash)
        return Page(records, V3Next(cursor, end_rank, self.omit_cursor))

    def _v3_conversation(self, dataset: PolyaiDataset, slot: PolyaiSlot, include_latency: bool) -> Any:
        return self.record(
            (self.name, dataset.project_id, slot.record_index, slot.in_progress, include_latency),
            lambda: polyai_v3_conversation(dataset.conversation(slot), include_latency),
        )

    def warm(self) -> int:
        warmed = 0
        for dataset in self.datasets.values():
            with self.lock:
                slots, _ = dataset.page(PolyaiFilter(environment=None), 0, dataset.size)
            for slot in slots:
                self._v3_conversation(dataset, slot, False)
            warmed += len(slots)
        return warmed

    def render(self, page: Page) -> dict[str, Any]:
        pointer: V3Next = page.next
        body: dict[str, Any] = {"conversations": page.records, "cursor": pointer.cursor}
        if self.send_next_offset and pointer.next_offset is not None:
            body["next_offset"] = pointer.next_offset
        if pointer.omit_cursor:
            del body["cursor"]
        return body

    def _same_page_cursor(self, query: PolyaiV3Query) -> str:
        """A cursor that leads back to the page ``query`` asked for."""
        if query.cursor:
            return query.cursor
        dataset = self.datasets[query.project_id]
        with self.lock:
            position, rank = self._start(dataset, query)
            before = dataset.page(query.filter, position - 1, 1)[0] if position > 0 else []
        after = dataset.sort_key(before[0]) if before else None
        return self.cursors.encode(after, rank, query.filter_hash)

    def faulted_next(self, kind: str, query: PolyaiV3Query, page: Page, fault: ActiveFault) -> V3Next:
        pointer: V3Next = page.next
        if kind == "missing_cursor":
            return pointer._replace(omit_cursor=True)
        # empty_page_with_next resumes where it stood; cursor_repeat and offset_stuck never move on.
        with self.lock:
            rank = self._start(self.datasets[query.project_id], query)[1]
        return V3Next(self._same_page_cursor(query), rank, pointer.omit_cursor)

    def vendor_error_body(self, fault: Fault) -> dict[str, Any]:
        return v3_error_body(500, "INTERNAL_SERVER_ERROR", fault.detail)
