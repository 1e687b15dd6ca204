"""Fault injection: describe a failure with :class:`Fault`, arm it on a server, and the next matching
requests get it instead of (or on top of) the normal answer.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

ENDPOINTS = (
    "polyai",
    "vectara",
    "token",
    "vectara_read",
    "vectara_chats",
    "vectara_turns",
    "vectara_agents",
    "vectara_sessions",
    "vectara_events",
)
"""Fault endpoint names. ``"polyai"`` covers the v1 and the v3 conversations list (match ``{"version": "v3"}``
to pick one); each other name is one endpoint (see :class:`Fault`)."""

TRANSPORT_KINDS = frozenset({"status", "delay", "reset", "short_body", "truncated_json", "invalid_json"})
"""Kinds that work on any endpoint: they replace or damage the HTTP response as a whole."""

NEXT_POINTER_KINDS = frozenset(
    {"empty_page_with_next", "offset_stuck", "repeat_page_key", "cycle", "cursor_repeat", "missing_cursor"}
)
"""Kinds that tamper with the next-page pointer of a list page."""

PAGE_KINDS = NEXT_POINTER_KINDS | {"missing_key", "vendor_error"}
"""Kinds that change the content of a 200 answer (the endpoint applies them); each endpoint supports the
subset in :data:`KINDS_BY_ENDPOINT`."""

_PAGE_KEY_KINDS = frozenset({"missing_key", "empty_page_with_next", "repeat_page_key", "cycle"})

KINDS_BY_ENDPOINT: dict[str, frozenset[str]] = {
    "polyai": TRANSPORT_KINDS
    | {"missing_key", "vendor_error", "empty_page_with_next", "offset_stuck", "cursor_repeat", "missing_cursor"},
    "vectara": TRANSPORT_KINDS | {"missing_key", "vendor_error", "empty_page_with_next", "repeat_page_key", "cycle"},
    "token": TRANSPORT_KINDS | {"missing_key"},
    "vectara_read": TRANSPORT_KINDS | {"missing_key", "vendor_error"},
    "vectara_chats": TRANSPORT_KINDS | _PAGE_KEY_KINDS,
    "vectara_turns": TRANSPORT_KINDS | {"missing_key"},
    "vectara_agents": TRANSPORT_KINDS | _PAGE_KEY_KINDS,
    "vectara_sessions": TRANSPORT_KINDS | _PAGE_KEY_KINDS,
    "vectara_events": TRANSPORT_KINDS | _PAGE_KEY_KINDS,
}

FaultBody = bytes | str | dict[str, Any] | list[Any] | None


@dataclass(frozen=True)
class Fault:
    """One failure to inject into the answers of one endpoint.

    Attributes:
        endpoint: one of :data:`ENDPOINTS`: ``"polyai"`` (v1 and v3 lists), ``"vectara"`` (v1
            list-conversations), ``"token"``, ``"vectara_read"`` (v1 read-conversations),
            ``"vectara_chats"`` / ``"vectara_turns"`` (v2 chats and a chat's turns), ``"vectara_agents"``,
            ``"vectara_sessions"``, ``"vectara_events"`` (Agents API lists).
        kind: what goes wrong (the other fields say how):

            * ``status``: answer ``status`` with ``body`` (default: the vendor's own error shape) and,
              when set, a ``Retry-After: retry_after`` header (seconds or an HTTP date).
            * ``delay``: wait ``delay_seconds`` before answering normally (a stall past a read timeout).
            * ``reset``: send the headers and half the body, then reset the connection (TCP RST).
            * ``short_body``: send a ``Content-Length`` larger than the bytes sent, then close.
            * ``truncated_json``: 200 whose JSON body is cut in half (Content-Length consistent).
            * ``invalid_json``: 200 with an HTML error page.
            * ``missing_key``: 200 JSON without the records key (``conversations`` / ``conversation`` /
              ``access_token`` / ``Conversation`` / ``chats`` / ``turns`` / ``agents`` / ``sessions`` /
              ``events``).
            * ``vendor_error``: 200 carrying an error: PolyAI v1 ``{"error_message": detail}``, v3 the error
              envelope; Vectara v1 ``{"status": {"code": code, "statusDetail": detail}}`` and no records.
            * ``empty_page_with_next``: 200 with no records but a next pointer that resumes at the same
              position (PolyAI ``next_offset`` = the request's offset, v3 ``cursor`` = the request's cursor
              or one for the same position; Vectara a fresh page key for the same position), so following
              it loses nothing.
            * ``offset_stuck`` / ``cursor_repeat`` (PolyAI): normal records, but the next pointer is the
              request's own position: v1 ``next_offset`` = the request's offset; v3 ``cursor`` = the
              request's cursor (a first-page request gets a cursor for the first page, which then keeps
              coming back) and ``next_offset``, when sent, the request's offset.
            * ``missing_cursor`` (PolyAI v3): the body has no ``cursor`` key at all (``next_offset`` is still
              sent when the server sends it); on v1 nothing changes.
            * ``repeat_page_key`` (Vectara v1 list and the v2 / Agents lists): normal records, but the page
              key echoes the request's key; a first-page request gets a key for the first page, which then
              keeps coming back.
            * ``cycle`` (same endpoints): keys go A -> B -> A -> B ...: the third affected request (sent key B)
              is answered with key A again (so use ``times=None`` or at least 3).
        times: how many matching requests get the fault; None means every one from now on.
        match: conditions a request must meet, all of them:
            ``{"page": N}`` is the N-th request (1-based) to the endpoint since the fault was injected;
            any other key is compared, as a string, with the request's parameter of that name: query
            parameters for PolyAI (``offset``, ``limit``, ``start_time``, ``cursor`` ... with the API
            defaults when absent, a repeated ``channel`` joined with commas) plus ``account_id``,
            ``project_id`` and ``version`` (``"v1"`` / ``"v3"``) from the path; the JSON body for Vectara
            list-conversations (``pageKey`` / ``numResults``; ``""`` / ``"0"`` when absent) and
            read-conversations (``conversationId``: the ids joined with commas; ``count``); form fields for
            the token endpoint; query parameters (``limit``, ``page_key``, ``include_hidden``) and path
            parameters (``chat_id``, ``agent_key``, ``session_key``) for the v2 and Agents endpoints.
        status, retry_after, body: for ``status`` faults (which answer before any authentication). A
            ``bytes`` body is sent as is, a ``str`` as text/plain, anything else as JSON.
        delay_seconds: for ``delay`` faults.
        code, detail: for ``vendor_error`` faults (``code`` is the Vectara status code name).
    """

    endpoint: str
    kind: str = "status"
    times: int | None = 1
    match: Mapping[str, Any] | None = field(default_factory=dict)
    status: int = 503
    retry_after: str | None = None
    body: FaultBody = None
    delay_seconds: float = 5.0
    code: str = "UNAVAILABLE"
    detail: str = "injected fault"

    def __post_init__(self) -> None:
        if self.endpoint not in KINDS_BY_ENDPOINT:
            raise ValueError(f"unknown endpoint {self.endpoint!r}; expected one of {ENDPOINTS}")
        if self.kind not in KINDS_BY_ENDPOINT[self.endpoint]:
            supported = ", ".join(sorted(KINDS_BY_ENDPOINT[self.endpoint]))
            raise ValueError(f"fault kind {self.kind!r} does not apply to {self.endpoint}; use one of: {supported}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1, or None for every request")
        if self.match is None:
            object.__setattr__(self, "match", {})
        if self.retry_after is not None and not isinstance(self.retry_after, str):
            object.__setattr__(self, "retry_after", str(self.retry_after))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from its JSON form (the field names above); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of this fault (a bytes body is shown as text)."""
        data = asdict(self)
        if isinstance(self.body, bytes):
            data["body"] = self.body.decode("utf-8", "replace")
        return data


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ActiveFault:
    """An injected fault and its progress: requests seen, uses left, and memory for stateful kinds."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.seen = 0
        self.remaining = fault.times
        self.memory: dict[str, Any] = {}

    def matches(self, params: Mapping[str, str]) -> bool:
        """Whether the request just counted in ``seen`` meets every condition of ``fault.match``."""
        for name, expected in (self.fault.match or {}).items():
            if name == "page":
                if self.seen != int(expected):
                    return False
            elif params.get(name, "") != _as_text(expected):
                return False
        return True


class FaultRegistry:
    """The armed faults of a server, thread-safe. The first armed fault that matches a request wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[ActiveFault] = []

    def inject(self, fault: Fault) -> None:
        """Arm ``fault``; its ``page`` counter starts now."""
        with self._lock:
            self._armed.append(ActiveFault(fault))

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._armed.clear()

    def take(self, endpoint: str, params: Mapping[str, str]) -> ActiveFault | None:
        """Count a request to ``endpoint`` and return the fault it gets, using one of its ``times``."""
        with self._lock:
            chosen = None
            for armed in self._armed:
                if armed.fault.endpoint != endpoint:
                    continue
                armed.seen += 1
                if chosen is None and armed.matches(params):
                    chosen = armed
            if chosen is not None and chosen.remaining is not None:
                chosen.remaining -= 1
                if chosen.remaining == 0:
                    self._armed.remove(chosen)
            return chosen

    def describe(self) -> list[dict[str, Any]]:
        """The armed faults with their remaining uses, for the stats endpoint."""
        with self._lock:
            return [{**armed.fault.to_dict(), "remaining": armed.remaining} for armed in self._armed]
