"""The ceiling: the least work that reads a stream from the API and writes Airbyte RECORD lines.

A plain ``requests`` + orjson loop, run as its own process by the benchmark::

    python benchmark/ceiling.py polyai CONFIG.json PAGE_SIZE > OUT.jsonl

It pages with one keep-alive session and the same page size as the connector, stops when the page has no
next pointer, and writes ``{"type":"RECORD","record":{"stream","data","emitted_at"}}`` per record to stdout,
as the connector does. It imports only requests and orjson so that its start-up is as small as a Python client's can be.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import orjson
import requests

Request = Callable[[Mapping[str, Any], int, Any], dict[str, Any]]
"""``(vendor config, page size, next pointer or None)`` -> keyword arguments of ``Session.request``."""


def _polyai_request(config: Mapping[str, Any], page_size: int, cursor: Any) -> dict[str, Any]:
    return {
        "method": "GET",
        "url": f"{config['base_url']}/v1/{config['account_id']}/{config['project_id']}/conversations",
        "params": {"client_env": "live", "limit": page_size, "offset": cursor or 0},
        "headers": {"x-api-key": config["api_key"]},
    }


def _vectara_request(config: Mapping[str, Any], page_size: int, cursor: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"numResults": page_size}
    if cursor:
        body["pageKey"] = cursor
    return {
        "method": "POST",
        "url": f"{config['base_url']}/v1/list-conversations",
        "data": orjson.dumps(body),
        "headers": {
            "customer-id": config["customer_id"],
            "x-api-key": config["credentials"]["api_key"],
            "Content-Type": "application/json",
        },
    }


@dataclass(frozen=True)
class Api:
    """How one vendor's list endpoint pages: the stream it feeds, where the records and next pointer are."""

    stream: str
    records_key: str
    next_key: str
    request: Request


APIS: dict[str, Api] = {
    "polyai": Api("polyai_conversations", "conversations", "next_offset", _polyai_request),
    "vectara": Api("vectara_conversations", "conversation", "pageKey", _vectara_request),
}


def read(vendor: str, config: Mapping[str, Any], page_size: int, out: Any) -> int:
    """Write every record of ``vendor`` to the binary file ``out`` as RECORD lines; return how many."""
    api = APIS[vendor]
    count, cursor = 0, None
    with requests.Session() as session:
        while True:
            response = session.request(**api.request(config, page_size, cursor), timeout=(30, 120))
            response.raise_for_status()
            page = orjson.loads(response.content)
            emitted_at = int(time.time() * 1000)
            for record in page[api.records_key]:
                message = {"type": "RECORD", "record": {"stream": api.stream, "data": record, "emitted_at": emitted_at}}
                out.write(orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE))
                count += 1
            cursor = page.get(api.next_key)
            if cursor in (None, ""):
                return count


def main(argv: list[str]) -> int:
    """``VENDOR CONFIG_PATH PAGE_SIZE``; the config is the connector's (one section per vendor)."""
    vendor, config_path, page_size = argv
    with open(config_path, "rb") as config_file:
        config = orjson.loads(config_file.read())[vendor]
    read(vendor, config, int(page_size), sys.stdout.buffer)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
