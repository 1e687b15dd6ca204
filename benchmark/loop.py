"""The plain loop: the least work that reads a stream from the API and writes Airbyte RECORD lines.

A ``requests`` + orjson loop, one request at a time, as dlt's ``rest_api`` and singer-sdk read by default.
The benchmark runs it as its own process::

    python benchmark/loop.py JOB.json > OUT.jsonl

``JOB.json``: ``{"job": NAME, "stream": STREAM, "config": {the connector's config}, "page_size": N}``
(with ``"start_time"`` for PolyAI). It pages with one keep-alive session and the connector's page size,
stops when a page has no next pointer, and writes ``{"type":"RECORD","record":{"stream","data",
"emitted_at"}}`` per record to stdout, as the connector does. Jobs:

* ``polyai``: for each project of ``polyai.project_ids``, one walk of ``start_time`` to now (no windows;
  v3 by ``cursor``, v1 by ``next_offset``).
* ``vectara_v1_list``: ``POST /v1/list-conversations`` by ``pageKey``.
* ``vectara_v1_turns``: that list, and after each page ``POST /v1/read-conversations`` for its ids, 10 at a time.
* ``vectara_v2_chats``: ``GET /v2/chats`` by ``page_key``.
* ``vectara_v2_turns``: that list, and after each page ``GET /v2/chats/{id}/turns`` for each chat.
* ``vectara_agent_events``: ``GET /v2/agents``, each agent's sessions, each session's events (``agent_key``
  added to each event, as the connector does).

It imports only requests and orjson, so its start-up is as small as a Python client's can be: in the CPU
mode it is the ceiling, in the latency mode the sequential loop.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping

import orjson
import requests

READ_CONVERSATIONS_BATCH = 10
"""Vectara's read-conversations takes at most 10 ids a request."""
AGENTS_PAGE_LIMIT = 100


class Reader:
    """One keep-alive session; ``pages`` follows a next pointer until there is none."""

    def __init__(self, session: requests.Session, headers: Mapping[str, str]) -> None:
        self.session = session
        self.headers = dict(headers)

    def get(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.session.request(method, url, headers=self.headers, timeout=(30, 120), **kwargs)
        response.raise_for_status()
        return orjson.loads(response.content)

    def pages(
        self, request: Callable[[Any], tuple[str, str, dict[str, Any]]], next_of: Callable[[Any], Any]
    ) -> Iterator[Any]:
        token = None
        while True:
            method, url, kwargs = request(token)
            page = self.get(method, url, **kwargs)
            yield page
            token = next_of(page)
            if token in (None, ""):
                return


class Output:
    """RECORD lines of one stream, written as bytes."""

    def __init__(self, stream: str, out: Any) -> None:
        self.stream = stream
        self.out = out
        self.count = 0

    def write(self, records: list[Any], extra: Mapping[str, Any] | None = None) -> None:
        emitted_at = int(time.time() * 1000)
        for record in records:
            data = {**record, **extra} if extra else record
            message = {"type": "RECORD", "record": {"stream": self.stream, "data": data, "emitted_at": emitted_at}}
            self.out.write(orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE))
        self.count += len(records)


def _v2_next(page: Any) -> Any:
    return (page.get("metadata") or {}).get("page_key")


def polyai(job: Mapping[str, Any], session: requests.Session, output: Output) -> None:
    settings = job["config"]["polyai"]
    version = settings.get("api_version", "v3")
    reader = Reader(session, {"x-api-key": settings["api_key"]})
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    next_key = "cursor" if version == "v3" else "next_offset"
    token_key = "cursor" if version == "v3" else "offset"
    for project in settings["project_ids"]:
        url = f"{settings['base_url']}/{version}/{settings['account_id']}/{project}/conversations"
        params = {"client_env": "live", "limit": job["page_size"], "start_time": job["start_time"], "end_time": now}

        def request(token: Any, url: str = url, params: dict[str, Any] = params) -> tuple[str, str, dict[str, Any]]:
            return "GET", url, {"params": params if token is None else {**params, token_key: token}}

        for page in reader.pages(request, lambda page: page.get(next_key)):
            output.write(page["conversations"])


def _vectara_v1(job: Mapping[str, Any], session: requests.Session) -> tuple[Reader, str]:
    settings = job["config"]["vectara"]
    headers = {
        "customer-id": settings["customer_id"],
        "x-api-key": settings["credentials"]["api_key"],
        "Content-Type": "application/json",
    }
    return Reader(session, headers), settings["base_url"]


def _vectara_v1_list(job: Mapping[str, Any], reader: Reader, base_url: str) -> Iterator[Any]:
    def request(token: Any) -> tuple[str, str, dict[str, Any]]:
        body = {"numResults": job["page_size"], **({"pageKey": token} if token else {})}
        return "POST", f"{base_url}/v1/list-conversations", {"data": orjson.dumps(body)}

    return reader.pages(request, lambda page: page.get("pageKey"))


def vectara_v1_list(job: Mapping[str, Any], session: requests.Session, output: Output) -> None:
    reader, base_url = _vectara_v1(job, session)
    for page in _vectara_v1_list(job, reader, base_url):
        output.write(page.get("conversation") or [])


def vectara_v1_turns(job: Mapping[str, Any], session: requests.Session, output: Output) -> None:
    reader, base_url = _vectara_v1(job, session)
    for page in _vectara_v1_list(job, reader, base_url):
        ids = [conversation["id"] for conversation in page.get("conversation") or []]
        for first in range(0, len(ids), READ_CONVERSATIONS_BATCH):
            body = {"conversationId": ids[first : first + READ_CONVERSATIONS_BATCH]}
            read = reader.get("POST", f"{base_url}/v1/read-conversations", data=orjson.dumps(body))
            for conversation in read.get("Conversation") or []:
                output.write(conversation.get("turn") or [])


def _vectara_v2(job: Mapping[str, Any], session: requests.Session) -> tuple[Reader, str]:
    settings = job["config"]["vectara"]
    return Reader(session, {"x-api-key": settings["credentials"]["api_key"]}), settings["base_url"]


def _v2_list(reader: Reader, url: str, limit: int) -> Iterator[Any]:
    def request(token: Any) -> tuple[str, str, dict[str, Any]]:
        return "GET", url, {"params": {"limit": limit, **({"page_key": token} if token else {})}}

    return reader.pages(request, _v2_next)


def vectara_v2_chats(job: Mapping[str, Any], session: requests.Session, output: Output) -> None:
    reader, base_url = _vectara_v2(job, session)
    for page in _v2_list(reader, f"{base_url}/v2/chats", job["page_size"]):
        output.write(page["chats"])


def vectara_v2_turns(job: Mapping[str, Any], session: requests.Session, output: Output) -> None:
    reader, base_url = _vectara_v2(job, session)
    for page in _v2_list(reader, f"{base_url}/v2/chats", job["page_size"]):
        for chat in page["chats"]:
            output.write(reader.get("GET", f"{base_url}/v2/chats/{chat['id']}/turns")["turns"])


def vectara_agent_events(job: Mapping[str, Any], session: requests.Session, output: Output) -> None:
    reader, base_url = _vectara_v2(job, session)
    for agents in _v2_list(reader, f"{base_url}/v2/agents", AGENTS_PAGE_LIMIT):
        for agent in agents["agents"]:
            sessions_url = f"{base_url}/v2/agents/{agent['key']}/sessions"
            for sessions in _v2_list(reader, sessions_url, AGENTS_PAGE_LIMIT):
                for agent_session in sessions["sessions"]:
                    events_url = f"{sessions_url}/{agent_session['key']}/events"
                    for events in _v2_list(reader, events_url, AGENTS_PAGE_LIMIT):
                        output.write(events["events"], {"agent_key": agent["key"]})


JOBS: dict[str, Callable[[Mapping[str, Any], requests.Session, Output], None]] = {
    "polyai": polyai,
    "vectara_v1_list": vectara_v1_list,
    "vectara_v1_turns": vectara_v1_turns,
    "vectara_v2_chats": vectara_v2_chats,
    "vectara_v2_turns": vectara_v2_turns,
    "vectara_agent_events": vectara_agent_events,
}


def main(argv: list[str]) -> int:
    """``JOB_PATH``: read what the job names and write its RECORD lines to stdout."""
    (job_path,) = argv
    with open(job_path, "rb") as job_file:
        job = orjson.loads(job_file.read())
    output = Output(job["stream"], sys.stdout.buffer)
    with requests.Session() as session:
        JOBS[job["job"]](job, session, output)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
