"""A thread-safe log of the requests a fake server received, with secret values masked."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from .transport import Request

MASK = "***"
SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})
SECRET_FIELDS = frozenset({"client_secret", "api_key", "password", "access_token"})


@dataclass
class LoggedRequest:
    """One received request, as the tests may inspect it. Secret header and body values read ``"***"``.

    Attributes:
        endpoint: ``"polyai"`` (v1 and v3: see ``path``), ``"vectara"``, ``"vectara_read"``,
            ``"vectara_chats"``, ``"vectara_turns"``, ``"vectara_agents"``, ``"vectara_sessions"``,
            ``"vectara_events"``, ``"token"``, ``"control"`` or ``"unknown"``.
        headers: lower-case header names to values (``timeout``, ``customer-id`` ... kept as sent).
        body: the parsed JSON body, the form fields of a form body, raw text otherwise, None when empty.
        status: the status answered, once known.
    """

    endpoint: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    received_at: float
    status: int | None = None


def _parsed_body(request: Request) -> Any:
    if not request.body:
        return None
    content_type = (request.header("Content-Type") or "").lower()
    if "x-www-form-urlencoded" in content_type:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        return {name: MASK if name in SECRET_FIELDS else value for name, value in form.items()}
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return request.body.decode("utf-8", "replace")
    if isinstance(body, dict):
        return {name: MASK if name in SECRET_FIELDS else value for name, value in body.items()}
    return body


class RequestLog:
    """Received requests (the newest ``max_entries``) and per-endpoint counters (all of them)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=max_entries)
        self._counts: Counter[str] = Counter()

    def record(self, endpoint: str, request: Request, received_at: float) -> LoggedRequest:
        """Log ``request`` as a request to ``endpoint`` and return the entry (its ``status`` is set later)."""
        entry = LoggedRequest(
            endpoint=endpoint,
            method=request.method,
            path=request.path,
            query=dict(request.query),
            body=_parsed_body(request),
            headers={
                name.lower(): MASK if name.lower() in SECRET_HEADERS else value
                for name, value in request.headers.items()
            },
            received_at=received_at,
        )
        with self._lock:
            self._entries.append(entry)
            self._counts[endpoint] += 1
        return entry

    def entries(self, endpoint: str | None = None) -> list[LoggedRequest]:
        """A snapshot of the logged requests, oldest first, optionally only those to ``endpoint``."""
        with self._lock:
            return [entry for entry in self._entries if endpoint in (None, entry.endpoint)]

    def count(self, endpoint: str) -> int:
        """How many requests ``endpoint`` received since the last :meth:`clear`."""
        with self._lock:
            return self._counts[endpoint]

    def counts(self) -> dict[str, int]:
        """Requests received per endpoint since the last :meth:`clear`."""
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        """Forget every entry and counter."""
        with self._lock:
            self._entries.clear()
            self._counts.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self.entries())
