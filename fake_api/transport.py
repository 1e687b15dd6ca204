"""HTTP plumbing: the request and response values the endpoints work with, and a threaded HTTP/1.1
server (keep-alive, Content-Length always set) bound to 127.0.0.1 that can also misbehave on purpose:
reset a connection or send fewer body bytes than it announced.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, parse_qsl, urlsplit

import orjson

FULL = "full"
RESET = "reset"
SHORT_BODY = "short_body"


@dataclass(frozen=True)
class Request:
    """One HTTP request. ``query`` keeps the last value of a repeated parameter, ``query_lists`` every value
    in order (``channel=A&channel=B`` -> ``{"channel": ["A", "B"]}``); ``headers`` is case-insensitive."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    query_lists: Mapping[str, list[str]] = field(default_factory=dict)

    def query_list(self, name: str) -> list[str]:
        """Every value of query parameter ``name`` in order (``[]`` when absent; falls back to ``query``
        for a request built without ``query_lists``)."""
        if name in self.query_lists:
            return list(self.query_lists[name])
        return [self.query[name]] if name in self.query else []

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None."""
        return self.headers.get(name)


@dataclass(frozen=True)
class Response:
    """One HTTP response. ``delivery`` is ``"full"``, or ``"reset"`` / ``"short_body"`` to send half the body
    and then reset / close the connection. ``records`` (not sent) counts the records in the body, for the
    server's throughput counters; ``endpoint`` (not sent) names the endpoint the server counts the request
    under while it is in flight (empty: not counted)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delivery: str = FULL
    records: int = 0
    endpoint: str = ""


def json_response(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """A JSON response."""
    return Response(status, orjson.dumps(payload), headers=tuple(headers))


RequestHandler = Callable[[Request], Response]
ServedCallback = Callable[[Response, int, float], None]
"""Called after each response with the body bytes sent and the seconds spent on the request."""
FinishedCallback = Callable[[Response], None]
"""Called once a response was written, or writing it failed: the request is no longer in flight."""


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, asks the server's handler for the response, and writes it."""

    protocol_version = "HTTP/1.1"
    server_version = "fake-api/1.0"
    disable_nagle_algorithm = True
    timeout = 300  # seconds an idle keep-alive connection is kept
    server: HttpServer

    def _dispatch(self) -> None:
        started = time.perf_counter()
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True  # the unread body would desynchronise the connection
            response = json_response(411, {"message": "chunked request bodies are not supported; send Content-Length"})
        else:
            response = self._respond()
        try:
            sent = self._send(response)
        except OSError:  # the client went away (e.g. it timed out during a delay fault)
            self.close_connection = True
            return
        finally:
            if self.server.on_finished is not None:
                self.server.on_finished(response)
        self.server.on_served(response, sent, time.perf_counter() - started)

    def _respond(self) -> Response:
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=cast(Mapping[str, str], self.headers),  # an HTTPMessage: a case-insensitive mapping
            body=self.rfile.read(int(self.headers.get("Content-Length") or 0)),
            query_lists=parse_qs(url.query, keep_blank_values=True),
        )
        try:
            return self.server.respond(request)
        except Exception:  # a bug in the fake: report it loudly, answer 500
            traceback.print_exc(file=sys.stderr)
            return json_response(500, {"error_message": "fake API internal error (see server stderr)"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _send(self, response: Response) -> int:
        """Write ``response``; return the body bytes sent."""
        body = response.body
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if response.delivery == FULL:
            sent = body
        else:
            sent = body[: len(body) // 2]
            self.close_connection = True
        self.wfile.write(sent)
        if response.delivery == RESET:
            self._reset_connection()
        return len(sent)

    def _reset_connection(self) -> None:
        """Close with SO_LINGER 0 so the peer gets a TCP RST instead of an orderly FIN."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the file object holds a reference that would otherwise keep the socket open
        self.connection.close()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr lines; the fake keeps its own request log."""


class HttpServer(ThreadingHTTPServer):
    """A thread-per-connection HTTP/1.1 server on 127.0.0.1 that can drop all its connections at once."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        port: int,
        respond: RequestHandler,
        on_served: ServedCallback,
        on_finished: FinishedCallback | None = None,
    ) -> None:
        self.respond = respond
        self.on_served = on_served
        self.on_finished = on_finished
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def port(self) -> int:
        """The bound port."""
        return self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open connection, waking handler threads blocked on idle keep-alive reads."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
