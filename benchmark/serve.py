"""The fake API for the benchmark, in its own process: ``python -m benchmark.serve SPEC.json``.

``SPEC.json`` (written by :class:`benchmark.process.ServerProcess`)::

    {"server": {keyword arguments of FakeApiServer},      # fast=True is added
     "warm": ["polyai_v3", "vectara_chats", ...],          # endpoints to serialise before serving
     "truth": {"path": "TRUTH.json", "streams": [...],     # ground truth to write, for these streams
               "polyai_windows": {"start": "2025-...Z", "days": 30, "count": 14}}}

The server runs in fast mode (every record serialised once, pages cached), with caches sized for the data
(the default 1 GB bound would evict pages at a million PolyAI records, and the server would then
regenerate them), and with the spec's latency (``latency_ms``, ``bandwidth_mbps``). Before serving it
writes the ground truth of the requested streams (see :func:`ground_truth`), then prints one JSON line:
``{"base_url", "sections"}``, where ``sections`` are the connector's config sections for every API version
(``test_support.configs``); it serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import datetime, timedelta
from typing import Any, Mapping

import orjson

from fake_api import FakeApiServer
from source_conversations import registry
from test_support import configs

CACHE_BYTES_PER_RECORD = 8 * 1024
"""Room per record in each fast-mode cache: records are under 2 KB, and pages of several queries repeat them."""


def _key(stream: str, record: Mapping[str, Any]) -> str:
    """A record's primary key as the benchmark compares them: the fields joined with ``/`` (the harness's form)."""
    return "/".join(str(record.get(field)) for field in registry.stream(stream).primary_key)


def _polyai_truth(server: FakeApiServer, windows: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every live conversation's key, and per project its live count and (with ``windows``) the count in
    each closed window ``[start + k*days, start + (k+1)*days]`` (a conversation on an edge is in both)."""
    projects: dict[str, Any] = {}
    keys: list[str] = []
    for project in server.polyai_project_ids:
        ids = server.polyai_ids(project_id=project)
        keys += [f"{project}/{conversation}" for conversation in ids]
        per_window: list[int] = []
        if windows:
            start = datetime.fromisoformat(windows["start"].replace("Z", "+00:00"))
            step = timedelta(days=windows["days"])
            per_window = [
                len(server.polyai_ids(start + k * step, start + (k + 1) * step, project_id=project))
                for k in range(windows["count"])
            ]
        projects[project] = {"rows": len(ids), "rows_per_window": per_window}
    return {"keys": keys, "projects": projects}


def ground_truth(server: FakeApiServer, streams: list[str], windows: Mapping[str, Any] | None) -> dict[str, Any]:
    """What each of ``streams`` must read from ``server`` (every key exactly once), and the counts its
    minimum number of requests is computed from."""
    truth: dict[str, Any] = {}
    for stream in streams:
        if stream == "polyai_conversations":
            truth[stream] = _polyai_truth(server, windows)
        elif stream in ("vectara_conversations", "vectara_turns"):
            conversations = server.vectara_ids()
            keys = conversations if stream == "vectara_conversations" else server.vectara_turn_ids("v1")
            truth[stream] = {"keys": keys, "conversations": len(conversations)}
        elif stream in ("vectara_chats", "vectara_chat_turns"):
            chats = server.vectara_chat_ids()
            keys = chats if stream == "vectara_chats" else server.vectara_turn_ids("v2")
            truth[stream] = {"keys": keys, "chats": len(chats)}
        elif stream == "vectara_agent_events":
            keys, sessions = [], []
            for agent in server.vectara_agent_keys():
                per_agent = []
                for session in server.vectara_session_keys(agent):
                    events = server.vectara_events(agent, session)
                    keys += [_key(stream, {**event, "agent_key": agent}) for event in events]
                    per_agent.append(len(events))
                sessions.append(per_agent)
            truth[stream] = {"keys": keys, "events_per_session": sessions}
        else:
            raise ValueError(f"no ground truth for {stream}")
    return truth


def sections(server: FakeApiServer) -> dict[str, Any]:
    """The connector's config sections pointed at ``server``, one per API version."""
    return {
        "polyai_v3": configs.polyai(server, "v3"),
        "polyai_v1": configs.polyai(server, "v1"),
        "vectara_v2": configs.vectara(server, "v2"),
        "vectara_v1": configs.vectara(server, "v1"),
    }


def data_records(server_args: Mapping[str, Any]) -> int:
    """About how many records the server generates (to size its caches)."""
    projects = server_args.get("polyai_projects") or {}
    agents = server_args.get("vectara_agent_count", 2) * server_args.get("vectara_sessions_per_agent", 25)
    return (
        sum(projects.values())
        + server_args.get("polyai_count", 0)
        + 4 * server_args.get("vectara_count", 0)  # chats, their turns (1-6 each), the v1 shapes
        + agents * server_args.get("vectara_events_per_session", 22)
    )


def main(argv: list[str] | None = None) -> int:
    """Serve until a stop signal; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0], "rb") as spec_file:
        spec = orjson.loads(spec_file.read())
    server_args = dict(spec["server"])
    cache_bytes = max(1 << 30, CACHE_BYTES_PER_RECORD * data_records(server_args))
    server = FakeApiServer(fast=True, cache_max_bytes=cache_bytes, **server_args)
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    if spec.get("warm"):
        server.warm(spec["warm"])
    truth = spec.get("truth")
    with server:
        if truth:
            found = ground_truth(server, truth["streams"], truth.get("polyai_windows"))
            with open(truth["path"], "wb") as truth_file:
                truth_file.write(orjson.dumps(found))
        line = {"base_url": server.base_url, "sections": sections(server)}
        sys.stdout.write(orjson.dumps(line).decode() + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
