"""Measure how many records per second a fake server serves to a minimal keep-alive client, so a
benchmark can show that the fake API is not its bottleneck.
"""

from __future__ import annotations

import base64
import http.client
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

VENDORS = ("polyai", "vectara")


def _per_second(amount: float, seconds: float) -> float:
    return amount / seconds if seconds > 0 else float("inf")


@dataclass(frozen=True)
class RateResult:
    """What one measurement read, how long the client took, and how long the server was busy with it.

    ``records_per_second`` is what this client saw (it includes parsing every page on the client side);
    ``server_records_per_second`` is the server's own capacity: records over the seconds it spent between
    reading a request and finishing its response.
    """

    vendor: str
    records: int
    requests: int
    body_bytes: int
    seconds: float
    server_seconds: float

    @property
    def records_per_second(self) -> float:
        return _per_second(self.records, self.seconds)

    @property
    def server_records_per_second(self) -> float:
        return _per_second(self.records, self.server_seconds)

    @property
    def megabytes_per_second(self) -> float:
        return _per_second(self.body_bytes / 1e6, self.seconds)

    def __str__(self) -> str:
        return (
            f"{self.vendor}: {self.records:,} records ({self.body_bytes / 1e6:,.1f} MB) in {self.requests:,} requests: "
            f"client {self.seconds:.2f} s = {self.records_per_second:,.0f} records/s "
            f"({self.megabytes_per_second:,.1f} MB/s); server busy {self.server_seconds:.2f} s = "
            f"{self.server_records_per_second:,.0f} records/s"
        )


class _Client:
    """One keep-alive HTTP connection that counts requests and body bytes."""

    def __init__(self, base_url: str, timeout: float) -> None:
        url = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
        self.requests = 0
        self.body_bytes = 0

    def fetch(self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]) -> bytes:
        self.connection.request(method, path, body=body, headers=dict(headers))
        response = self.connection.getresponse()
        data = response.read()
        self.requests += 1
        self.body_bytes += len(data)
        if response.status != 200:
            raise RuntimeError(f"{method} {path} answered {response.status}: {data[:200]!r}")
        return data

    def close(self) -> None:
        self.connection.close()


def _server_busy_seconds(client: _Client) -> float:
    return float(orjson.loads(client.fetch("GET", "/_fake/stats", None, {}))["served"]["busy_seconds"])


def _vectara_headers(client: _Client, vectara: Mapping[str, Any]) -> dict[str, str]:
    headers = {"customer-id": str(vectara["customer_id"]), "Content-Type": "application/json"}
    credentials = vectara["credentials"]
    if credentials["auth_type"] == "api_key":
        headers["x-api-key"] = credentials["api_key"]
        return headers
    basic = base64.b64encode(f"{credentials['client_id']}:{credentials['client_secret']}".encode()).decode()
    token_path = urlsplit(credentials["token_url"]).path
    form = urlencode({"grant_type": "client_credentials"}).encode()
    token = orjson.loads(
        client.fetch(
            "POST",
            token_path,
            form,
            {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    headers["Authorization"] = f"Bearer {token['access_token']}"
    return headers


def measure_rate(
    config: Mapping[str, Any],
    vendor: str,
    *,
    page_size: int = 1000,
    max_records: int | None = None,
    timeout: float = 60.0,
) -> RateResult:
    """Page through ``vendor``'s records (all of them, or about ``max_records``) and time it.

    ``config`` is :meth:`FakeApiServer.config` or the ``config`` of the JSON line ``python -m fake_api``
    prints. The client parses each page with orjson (to count records and find the next pointer) and
    nothing else; the server's busy time comes from its ``/_fake/stats``. Run the server in another
    process (``python -m fake_api``) so the client's work does not compete for the server's interpreter.
    """
    if vendor not in VENDORS:
        raise ValueError(f"vendor must be one of {VENDORS}")
    settings = config[vendor]
    client = _Client(settings["base_url"], timeout)
    try:
        if vendor == "polyai":
            path = f"/v1/{settings['account_id']}/{settings['project_id']}/conversations"
            headers = {"x-api-key": settings["api_key"]}
            records_key, next_key = "conversations", "next_offset"

            def request(cursor: Any) -> tuple[str, str, bytes | None]:
                return "GET", f"{path}?{urlencode({'limit': page_size, 'offset': cursor or 0})}", None

        else:
            headers = _vectara_headers(client, settings)
            records_key, next_key = "conversation", "pageKey"

            def request(cursor: Any) -> tuple[str, str, bytes | None]:
                body = {"numResults": page_size, "pageKey": cursor} if cursor else {"numResults": page_size}
                return "POST", "/v1/list-conversations", orjson.dumps(body)

        records, cursor = 0, None
        busy_before = _server_busy_seconds(client)
        first_request, first_bytes = client.requests, client.body_bytes
        started = time.perf_counter()
        while True:
            page = orjson.loads(client.fetch(*request(cursor), headers))
            records += len(page.get(records_key) or ())
            cursor = page.get(next_key)
            if cursor in (None, "") or (max_records is not None and records >= max_records):
                break
        seconds = time.perf_counter() - started
        requests, body_bytes = client.requests - first_request, client.body_bytes - first_bytes
        server_seconds = _server_busy_seconds(client) - busy_before
        return RateResult(vendor, records, requests, body_bytes, seconds, server_seconds)
    finally:
        client.close()
