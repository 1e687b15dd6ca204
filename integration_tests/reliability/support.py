"""The reliability suite's building blocks: a fake API with a known timeline, configs, connector runs
(each one timed, bounded by a subprocess timeout and recorded for the suite-wide secret check), and
scenarios that run two at a time.

A *scenario* is the "given/when" half of a test: it starts a fake server, arms faults, runs the
connector (and re-runs it) and returns an :class:`Outcome`. The test itself is the "then" half and only
asserts. Scenarios are independent subprocess work, so the module's scenarios start together on two
workers as soon as its first test asks for its outcome (see ``conftest.py``); the suite stays fast on
two cores without pytest-xdist.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence

import requests

from fake_api import FakeApiServer, Fault
from integration_tests.harness import ConnectorRun, configured_catalog, connector_executable
from test_support import leaks

POLYAI = "polyai_conversations"
VECTARA = "vectara_conversations"
STREAMS = (POLYAI, VECTARA)

HOUR = 3600
DAY = 24 * HOUR
NOW = int(time.time())
DATA_END = NOW - 600  # the fake's default: data ends ten minutes before "now"
POLYAI_COUNT = 40
VECTARA_COUNT = 30
SPACING = 3 * HOUR  # 40 PolyAI conversations over 5 days: six one-day windows with 2-3 pages each
START = (DATA_END - POLYAI_COUNT * SPACING - HOUR) // HOUR * HOUR
START_DATE = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START))
POLYAI_PAGE = 3
VECTARA_PAGE = 5
READ_TIMEOUT = 2  # seconds; small so that any stall costs little (production default: 120)
RUN_TIMEOUT = 120  # seconds; every connector subprocess is killed after this (I5)

# Every output a connector run produced, and every secret it must not show, go to the suite-wide
# secret scan (test_support.leaks, run by the root conftest.py after each test).
# ------------------------------------------------------------------------------------------------


def register_output(label: str, text: str) -> None:
    leaks.record_output(label, text)


def register_secrets(*values: str) -> None:
    leaks.register_secret(*values)


def issued_tokens(server: FakeApiServer) -> List[str]:
    """Bearer tokens the fake's token endpoint issued.

    fake_api has no public accessor for them (and its request log masks the Authorization header),
    so this reads the token store's private table; if that ever moves, it degrades to "none".
    """
    store = getattr(server, "_tokens", None)
    table = getattr(store, "_expiry", None)
    return list(table) if isinstance(table, Mapping) else []


def server_secrets(server: FakeApiServer) -> List[str]:
    return [server.polyai_api_key, server.vectara_api_key, server.oauth_client_secret, *issued_tokens(server)]


# ------------------------------------------------------------------------------------------------
# Fake API and configs
# ------------------------------------------------------------------------------------------------


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_server(**overrides: Any) -> FakeApiServer:
    """A started fake with the suite's timeline: 40 PolyAI and 30 Vectara conversations, 3 h apart,
    ending ten minutes ago. Its secrets are registered for the suite-wide check."""
    end = datetime.fromtimestamp(DATA_END, timezone.utc)
    settings: dict[str, Any] = dict(
        polyai_count=POLYAI_COUNT,
        vectara_count=VECTARA_COUNT,
        polyai_spacing_seconds=SPACING,
        vectara_spacing_seconds=4 * HOUR,
        polyai_end=end,
        vectara_end=end,
    )
    settings.update(overrides)
    server = FakeApiServer(**settings).start()
    register_secrets(*server_secrets(server))
    return server


def config_for(
    server: FakeApiServer,
    auth: str = "api_key",
    *,
    window_days: int = 1,
    polyai_page: int = POLYAI_PAGE,
    vectara_page: int = VECTARA_PAGE,
    read_timeout: int = READ_TIMEOUT,
    start_date: str = START_DATE,
) -> dict:
    config = server.config(auth=auth)
    config["start_date"] = start_date
    config["read_timeout_seconds"] = read_timeout
    config["polyai"].update(page_size=polyai_page, window_days=window_days)
    config["vectara"]["page_size"] = vectara_page
    return config


def window_start(index: int, window_days: int = 1, start: int = START) -> str:
    """The `start_time` the connector sends for its `index`-th window (0-based)."""
    moment = datetime.fromtimestamp(start + index * window_days * DAY, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f%z")


def polyai_page_match(window: int, offset: int) -> dict:
    """A Fault.match for one PolyAI page: the `window`-th window, at `offset`."""
    return {"start_time": window_start(window), "offset": offset}


def vectara_page_keys(server: FakeApiServer, page_size: int = VECTARA_PAGE) -> List[str]:
    """The page keys of pages 2..n, learnt by walking the list once (the walk is then erased from the log)."""
    keys: List[str] = []
    body: dict = {"numResults": page_size}
    headers = {"customer-id": server.vectara_customer_id, "x-api-key": server.vectara_api_key}
    while True:
        page = requests.post(f"{server.base_url}/v1/list-conversations", json=body, headers=headers, timeout=10).json()
        key = page.get("pageKey")
        if not key:
            break
        keys.append(key)
        body = {"numResults": page_size, "pageKey": key}
    server.reset_log()
    return keys


def requests_for_page(server: FakeApiServer, stream: str, match: Mapping[str, Any]) -> int:
    """How many requests the fake received for one page (PolyAI: query values; Vectara: the body's pageKey)."""
    count = 0
    if stream == POLYAI:
        for entry in server.requests.entries("polyai"):
            query = {"offset": "0", **entry.query}
            if all(query.get(name) == str(value) for name, value in match.items()):
                count += 1
    else:
        for entry in server.requests.entries("vectara"):
            body = entry.body if isinstance(entry.body, dict) else {}
            if body.get("pageKey", "") == match.get("pageKey", ""):
                count += 1
    return count


def page_request_times(server: FakeApiServer, stream: str, match: Mapping[str, Any]) -> List[float]:
    endpoint = "polyai" if stream == POLYAI else "vectara"
    times = []
    for entry in server.requests.entries(endpoint):
        if stream == POLYAI:
            query = {"offset": "0", **entry.query}
            hit = all(query.get(name) == str(value) for name, value in match.items())
        else:
            hit = (entry.body or {}).get("pageKey", "") == match.get("pageKey", "")
        if hit:
            times.append(entry.received_at)
    return times


def parse_messages(stdout: str) -> List[dict]:
    """Airbyte messages, one per line. Splits on "\\n" only: `str.splitlines()` (which the shared harness
    uses) also splits on U+2028, U+2029, U+0085 and other characters that JSON leaves unescaped inside
    strings, and so silently drops records whose text holds them."""
    messages = []
    for line in stdout.split("\n"):
        line = line.strip(" \r\t")
        if line.startswith("{"):
            try:
                messages.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return messages


def stream_state(stream: str, blob: Mapping[str, Any]) -> List[dict]:
    return [{"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": dict(blob)}}]


# ------------------------------------------------------------------------------------------------
# Running the connector
# ------------------------------------------------------------------------------------------------


@dataclass
class Killed:
    """A run stopped with SIGKILL: the messages it printed before dying."""

    messages: List[dict]
    returncode: int
    stdout: str
    seconds: float

    def records(self, stream: str) -> List[dict]:
        return [m["record"]["data"] for m in self.messages if m["type"] == "RECORD" and m["record"]["stream"] == stream]

    def ids(self, stream: str) -> List[str]:
        return [record["id"] for record in self.records(stream)]

    def states(self, stream: str) -> List[dict]:
        return [
            m["state"]
            for m in self.messages
            if m["type"] == "STATE" and m["state"]["stream"]["stream_descriptor"]["name"] == stream
        ]


@dataclass
class Context:
    """What a scenario works with: its own folder, the servers it started, and the connector."""

    workdir: Path
    label: str
    servers: List[FakeApiServer] = field(default_factory=list)
    _runs: int = 0

    def serve(self, **overrides: Any) -> FakeApiServer:
        server = new_server(**overrides)
        self.servers.append(server)
        return server

    def _next_dir(self, name: str) -> Path:
        self._runs += 1
        path = self.workdir / f"{self._runs:02d}-{name}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _args(self, folder: Path, command: str, config, streams, state, debug: bool) -> List[str]:
        args = [connector_executable(), command]
        for flag, payload, name in (
            ("--config", config, "config.json"),
            ("--catalog", None if streams is None else configured_catalog(streams), "catalog.json"),
            ("--state", state, "state.json"),
        ):
            if payload is not None:
                (folder / name).write_text(json.dumps(payload), encoding="utf-8")
                args += [flag, str(folder / name)]
        if debug:
            args.append("--debug")
        return args

    def read(
        self,
        config: Mapping[str, Any],
        streams: Sequence[str],
        state: Optional[Sequence[Mapping[str, Any]]] = None,
        *,
        debug: bool = False,
        env: Optional[Mapping[str, str]] = None,
        timeout: float = RUN_TIMEOUT,
        name: str = "read",
        measure_memory: bool = False,
    ) -> ConnectorRun:
        """`source-conversations read`, killed after `timeout` seconds (I5). Sets `.seconds`, `.timed_out`
        and, when asked, `.peak_rss_mb` (the connector process's own peak, from wait4)."""
        folder = self._next_dir(name)
        args = self._args(folder, "read", config, streams, state, debug)
        started = time.monotonic()
        with open(folder / "stdout", "wb") as out, open(folder / "stderr", "wb") as err:
            process = subprocess.Popen(args, stdout=out, stderr=err, env={**os.environ, **(env or {})})
            rusage = None
            try:
                if measure_memory:
                    rusage = _wait4_with_timeout(process, timeout)
                else:
                    process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:  # I5: the test then fails on `timed_out`, with the output so far
                timed_out = True
                if process.poll() is None:
                    process.kill()
                    process.wait()
            else:
                timed_out = False
        stdout = (folder / "stdout").read_text(encoding="utf-8", errors="replace")
        stderr = (folder / "stderr").read_text(encoding="utf-8", errors="replace")
        run = ConnectorRun(returncode=process.returncode, stdout=stdout, stderr=stderr, messages=parse_messages(stdout))
        run.seconds = time.monotonic() - started  # type: ignore[attr-defined]
        run.timed_out = timed_out  # type: ignore[attr-defined]
        if rusage is not None:
            run.peak_rss_mb = rusage.ru_maxrss / 1024  # type: ignore[attr-defined]
        register_output(f"{self.label}/{folder.name}", run.output)
        return run

    def read_until_killed(
        self,
        config: Mapping[str, Any],
        streams: Sequence[str],
        stop_when: Callable[[List[dict]], bool],
        state: Optional[Sequence[Mapping[str, Any]]] = None,
        timeout: float = 60,
    ) -> Killed:
        """Starts a read, consumes its stdout until `stop_when(messages)` holds, then SIGKILLs it."""
        folder = self._next_dir("killed")
        args = self._args(folder, "read", config, streams, state, debug=False)
        started = time.monotonic()
        stderr_file = open(folder / "stderr", "w+", encoding="utf-8")  # noqa: SIM115 (closed below)
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr_file, text=True, encoding="utf-8")
        watchdog = threading.Timer(timeout, process.kill)  # I5: never wait forever for the condition
        watchdog.start()
        messages: List[dict] = []
        lines: List[str] = []
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                messages.extend(parse_messages(line))
                if stop_when(messages):
                    break
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr_file.seek(0)
        register_output(f"{self.label}/{folder.name}", "".join(lines) + stderr_file.read())
        stderr_file.close()
        return Killed(messages, process.returncode, "".join(lines), time.monotonic() - started)

    def stop(self) -> None:
        for server in self.servers:
            register_secrets(*server_secrets(server))
            server.stop()


def _wait4_with_timeout(process: subprocess.Popen, timeout: float):
    """Waits for the child with os.wait4, which returns that child's own resource usage (peak RSS)."""
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        process.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _, status, rusage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    if expired.is_set():
        raise subprocess.TimeoutExpired(process.args, timeout)
    return rusage


class Outcome(SimpleNamespace):
    """What a scenario hands to its test: the server (ground truth, request log), runs, and extras."""


def inject_all(server: FakeApiServer, faults: Iterable[Fault]) -> None:
    for fault in faults:
        server.inject(fault)


def uses(scenario: Callable[..., Any]):
    """Marks a test as asserting on `scenario`'s Outcome (see conftest.py)."""
    import pytest

    return pytest.mark.scenario.with_args(scenario)
