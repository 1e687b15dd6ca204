"""The reliability suite's building blocks: one timeline for every fake API, configs for each API version,
fault targets in the middle of each list, and connector runs (bounded in time, recorded for the suite-wide
secret scan).

A *scenario* is the "given/when" half of a test: it starts a fake server, arms faults, runs the connector
(and re-runs it) and returns an :class:`Outcome`. The test itself is the "then" half and only asserts.
Scenarios are subprocess work, so the whole session's selected scenarios run on a few worker threads as
soon as the first test asks for an outcome (see ``conftest.py``), while the tests assert.

Runs go through ``test_support.harness.run_connector`` (which hands every output to the secret scan). Two
kinds of run cannot: one killed with SIGKILL mid-sync (its output is read while it runs) and one whose peak
memory is measured (``os.wait4``); those record their output with ``test_support.leaks`` themselves.
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
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import pytest
import requests

from fake_api import FakeApiServer, Fault
from source_conversations import registry
from test_support import leaks
from test_support.configs import connector_config, utc
from test_support.harness import ConnectorRun, configured_catalog, connector_executable, parse_messages, run_connector

# ------------------------------------------------------------------------------------------------
# The timeline every fake of the suite serves (small, so a sync takes about as long as the start-up)
# ------------------------------------------------------------------------------------------------

HOUR = 3600
DAY = 24 * HOUR
NOW = time.time()
DATA_END = NOW - 600  # every fake's data ends ten minutes before the session began
PROJECTS = {"PROJECT-alpha": 20, "PROJECT-beta": 14, "PROJECT-gamma": 8}
"""PolyAI projects and their conversation counts; each project's newest conversation is in progress."""
POLYAI_SPACING = 5 * HOUR  # alpha spans about four days: five one-day windows, most with two pages
VECTARA_COUNT = 15
VECTARA_SPACING = 6 * HOUR  # about four days of conversations (v1) / chats (v2), 1-6 turns each
AGENTS, SESSIONS_PER_AGENT, EVENTS_PER_SESSION = 2, 5, 3
START = int((DATA_END - max(PROJECTS.values()) * POLYAI_SPACING - HOUR) // HOUR * HOUR)
START_DATE = utc(START)
POLYAI_PAGE = 3
VECTARA_PAGE = 4  # four pages of chats or conversations
WINDOW_DAYS = 1
STRICT_LOOKBACK_DAYS = 0
"""`vectara.turns_lookback_days` of the fault scenarios: the turns and events streams then rely on the
parent state alone, so a parent state that passed a parent whose turns were not read would lose them."""
RUN_TIMEOUT = 150  # seconds: every connector subprocess is killed after this (I5)

WORKER_LEVELS = (1, 20)
"""`num_workers` of every invariant scenario: one request at a time, and the maximum."""

STREAM_ENDPOINTS = {
    "polyai_conversations": ("polyai",),
    "vectara_conversations": ("vectara",),
    "vectara_turns": ("vectara_read",),
    "vectara_chats": ("vectara_chats",),
    "vectara_chat_turns": ("vectara_turns",),
    "vectara_agent_sessions": ("vectara_agents", "vectara_sessions"),
    "vectara_agent_events": ("vectara_events",),
}
"""The fake's endpoint names (fault, request log) each stream reads."""
API_NAMES = {"polyai": "PolyAI", "vectara": "Vectara"}


@dataclass(frozen=True)
class Profile:
    """The API versions of one sync: PolyAI's and Vectara's (None leaves the provider out)."""

    polyai: Optional[str]
    vectara: Optional[str]

    @property
    def name(self) -> str:
        parts = [f"polyai_{self.polyai}" if self.polyai else "", f"vectara_{self.vectara}" if self.vectara else ""]
        return "+".join(part for part in parts if part)

    def __str__(self) -> str:  # the pytest id
        return self.name


CURRENT = Profile("v3", "v2")
LEGACY = Profile("v1", "v1")
PROFILES = (CURRENT, LEGACY)
"""Every version users run: PolyAI v3 (default) with Vectara v2 (default), and PolyAI v1 with Vectara v1."""


# ------------------------------------------------------------------------------------------------
# Secrets
# ------------------------------------------------------------------------------------------------


def register_secrets(*values: str) -> None:
    leaks.register_secret(*values)


def issued_tokens(server: FakeApiServer) -> List[str]:
    """Bearer tokens the fake's token endpoint issued.

    fake_api has no public accessor for them (and its request log masks the Authorization header), so this
    reads the token store's private table; if that ever moves, it degrades to "none".
    """
    store = getattr(server, "_tokens", None)
    table = getattr(store, "_expiry", None)
    return list(table) if isinstance(table, Mapping) else []


def server_secrets(server: FakeApiServer) -> List[str]:
    return [
        server.polyai_api_key,
        server.vectara_api_key,
        server.vectara_query_api_key,
        server.oauth_client_secret,
        *issued_tokens(server),
    ]


# ------------------------------------------------------------------------------------------------
# Fake API and configs
# ------------------------------------------------------------------------------------------------


def iso(seconds: float) -> str:
    """The connector's window form, `YYYY-MM-DDTHH:MM:SS.ffffff+0000`."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def new_server(**overrides: Any) -> FakeApiServer:
    """A started fake with the suite's timeline (see the constants above)."""
    settings: Dict[str, Any] = dict(
        polyai_projects=PROJECTS,
        polyai_spacing_seconds=POLYAI_SPACING,
        polyai_end=DATA_END,
        in_progress_count=1,
        vectara_count=VECTARA_COUNT,
        vectara_spacing_seconds=VECTARA_SPACING,
        vectara_end=DATA_END,
        vectara_agent_count=AGENTS,
        vectara_sessions_per_agent=SESSIONS_PER_AGENT,
        vectara_events_per_session=EVENTS_PER_SESSION,
    )
    settings.update(overrides)
    server = FakeApiServer(**settings).start()
    register_secrets(*server_secrets(server))
    return server


def config_for(
    server: FakeApiServer,
    profile: Profile = CURRENT,
    workers: Optional[int] = None,
    *,
    auth: str = "api_key",
    start_date: str = START_DATE,
    polyai: Optional[Mapping[str, Any]] = None,
    vectara: Optional[Mapping[str, Any]] = None,
) -> dict:
    """A config for `profile` (small pages, one-day PolyAI windows, every project of the fake), with
    `num_workers` when given and the sections' settings overridden by `polyai` / `vectara`."""
    extra = {} if workers is None else {"num_workers": workers}
    config = connector_config(server, start_date, profile.polyai, profile.vectara, auth, **extra)
    if profile.polyai:
        config["polyai"].update({"page_size": POLYAI_PAGE, "window_days": WINDOW_DAYS, **(polyai or {})})
    if profile.vectara:
        config["vectara"].update({"page_size": VECTARA_PAGE, **(vectara or {})})
    return config


def strict_config(server: FakeApiServer, profile: Profile, workers: int, **kwargs: Any) -> dict:
    """`config_for` with `vectara.turns_lookback_days` 0 (see STRICT_LOOKBACK_DAYS)."""
    vectara = {"turns_lookback_days": STRICT_LOOKBACK_DAYS, **(kwargs.pop("vectara", None) or {})}
    return config_for(server, profile, workers, vectara=vectara, **kwargs)


def streams_of(config: Mapping[str, Any]) -> Tuple[str, ...]:
    return registry.streams_for(config)


def endpoints_of(config: Mapping[str, Any]) -> List[str]:
    return [endpoint for stream in streams_of(config) for endpoint in STREAM_ENDPOINTS[stream]]


def stream_state(stream: str, blob: Mapping[str, Any]) -> List[dict]:
    return [{"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": dict(blob)}}]


# ------------------------------------------------------------------------------------------------
# Fault targets: one request in the middle of what each endpoint serves
# ------------------------------------------------------------------------------------------------


def _get(server: FakeApiServer, path: str, params: Mapping[str, Any], headers: Mapping[str, str]) -> dict:
    response = requests.get(server.base_url + path, params=params, headers=headers, timeout=10)
    response.raise_for_status()
    return response.json()


def polyai_windows(now: Optional[float] = None) -> List[Tuple[float, float]]:
    """The connector's PolyAI windows from START_DATE (closed, one day each, the last one ending now)."""
    now = time.time() if now is None else now
    windows, start = [], float(START)
    while start < now:
        windows.append((start, min(start + WINDOW_DAYS * DAY, now)))
        start += WINDOW_DAYS * DAY
    return windows


def polyai_second_page(server: FakeApiServer, version: str, project: str) -> Dict[str, str]:
    """A Fault.match for the second page of `project`'s fullest complete window (learnt by asking the fake
    for the first page, as the connector does; the walk is then erased from the log)."""
    complete = polyai_windows()[:-1]
    counts = [len(server.polyai_ids(iso(start), iso(end), project_id=project)) for start, end in complete]
    start, end = complete[max(range(len(counts)), key=counts.__getitem__)]
    assert max(counts) > POLYAI_PAGE, "the fault target needs a window with two pages"
    params = {"client_env": "live", "limit": POLYAI_PAGE, "start_time": iso(start), "end_time": iso(end)}
    path = f"/{version}/{server.polyai_config('v3')['account_id']}/{project}/conversations"
    page = _get(server, path, params, {"x-api-key": server.polyai_api_key})
    server.reset_log()
    match = {"version": version, "project_id": project, "start_time": iso(start)}
    if version == "v3":
        match["cursor"] = page["cursor"]
    else:
        match["offset"] = str(page["next_offset"])
    return match


def vectara_second_page_key(server: FakeApiServer, version: str) -> str:
    """The page key of the second page of Vectara's conversations (v1) or chats (v2)."""
    if version == "v1":
        headers = {"customer-id": server.vectara_customer_id, "x-api-key": server.vectara_api_key}
        body = requests.post(
            f"{server.base_url}/v1/list-conversations", json={"numResults": VECTARA_PAGE}, headers=headers, timeout=10
        ).json()
        key = body["pageKey"]
    else:
        key = _get(server, "/v2/chats", {"limit": VECTARA_PAGE}, {"x-api-key": server.vectara_api_key})["metadata"][
            "page_key"
        ]
    server.reset_log()
    return key


def middle_targets(server: FakeApiServer, config: Mapping[str, Any]) -> Dict[str, Dict[str, str]]:
    """For each endpoint the config reads, a Fault.match selecting one request in the middle of it: the
    second page of a PolyAI window (project beta), of Vectara's list (v1) or chats (v2), the first batch
    of ten conversations read, one chat's turns, the agents list, the second agent's sessions, and the
    events of a session in the middle of the first agent's."""
    targets: Dict[str, Dict[str, str]] = {}
    endpoints = endpoints_of(config)
    if "polyai" in endpoints:
        projects = config["polyai"]["project_ids"]
        project = projects[1] if len(projects) > 1 else projects[0]
        targets["polyai"] = polyai_second_page(server, config["polyai"]["api_version"], project)
    if "vectara" in endpoints:
        targets["vectara"] = {"pageKey": vectara_second_page_key(server, "v1")}
    if "vectara_read" in endpoints:
        targets["vectara_read"] = {"count": "10"}
    if "vectara_chats" in endpoints:
        targets["vectara_chats"] = {"page_key": vectara_second_page_key(server, "v2")}
    if "vectara_turns" in endpoints:
        chats = server.vectara_chat_ids()
        targets["vectara_turns"] = {"chat_id": chats[len(chats) // 2]}
    if "vectara_agents" in endpoints:
        targets["vectara_agents"] = {"limit": "100"}
    if "vectara_sessions" in endpoints:
        targets["vectara_sessions"] = {"agent_key": server.vectara_agent_keys()[-1]}
    if "vectara_events" in endpoints:
        sessions = server.vectara_session_keys(server.vectara_agent_keys()[0])
        targets["vectara_events"] = {"session_key": sessions[len(sessions) // 2]}
    return targets


def entry_params(entry: Any) -> Dict[str, str]:
    """The parameters a logged request is matched on, as `Fault.match` sees them."""
    parts = entry.path.strip("/").split("/")
    if entry.endpoint == "polyai":
        return {
            "offset": "0",
            "client_env": "live",
            **entry.query,
            "version": parts[0],
            "account_id": parts[1],
            "project_id": parts[2],
        }
    body = entry.body if isinstance(entry.body, dict) else {}
    if entry.endpoint == "vectara":
        return {"pageKey": str(body.get("pageKey") or ""), "numResults": str(body.get("numResults") or 0)}
    if entry.endpoint == "vectara_read":
        ids = body.get("conversationId") or []
        return {"conversationId": ",".join(ids), "count": str(len(ids))}
    params = dict(entry.query)
    if entry.endpoint == "vectara_turns":
        params["chat_id"] = parts[2]
    if entry.endpoint in ("vectara_sessions", "vectara_events"):
        params["agent_key"] = parts[2]
    if entry.endpoint == "vectara_events":
        params["session_key"] = parts[4]
    return params


def requests_matching(server: FakeApiServer, endpoint: str, match: Mapping[str, str]) -> List[Any]:
    """The logged requests to `endpoint` that `match` (no `page` key) selects."""
    found = []
    for entry in server.requests.entries(endpoint):
        params = entry_params(entry)
        if all(params.get(name, "") == str(value) for name, value in match.items()):
            found.append(entry)
    return found


def inject_all(server: FakeApiServer, faults: Iterable[Fault]) -> None:
    for fault in faults:
        server.inject(fault)


# ------------------------------------------------------------------------------------------------
# Running the connector
# ------------------------------------------------------------------------------------------------


@dataclass
class Killed:
    """A run stopped with SIGKILL: what it printed before dying (the same accessors as ConnectorRun)."""

    run: ConnectorRun
    seconds: float

    def __getattr__(self, name: str) -> Any:
        return getattr(self.run, name)


@dataclass
class Context:
    """What a scenario works with: its own folder, the servers it started, and the connector."""

    workdir: Path
    label: str
    servers: List[FakeApiServer] = field(default_factory=list)
    runs: int = 0

    def serve(self, **overrides: Any) -> FakeApiServer:
        server = new_server(**overrides)
        self.servers.append(server)
        return server

    def _next_dir(self, name: str) -> Path:
        self.runs += 1
        path = self.workdir / f"{self.runs:02d}-{name}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def read(
        self,
        config: Mapping[str, Any],
        streams: Optional[Sequence[str]] = None,
        state: Optional[Sequence[Mapping[str, Any]]] = None,
        *,
        debug: bool = False,
        env: Optional[Mapping[str, str]] = None,
        timeout: float = RUN_TIMEOUT,
        name: str = "read",
    ) -> ConnectorRun:
        """`source-conversations read` of `streams` (default: every stream the config shows) through the
        shared harness, killed after `timeout` seconds (I5). Sets `.seconds` and `.started` (Unix time)."""
        folder = self._next_dir(name)
        catalog = configured_catalog(streams if streams is not None else streams_of(config))
        started = time.time()
        try:
            run = run_connector(
                "read", folder, config, catalog, state or None, ["--debug"] if debug else [], timeout, env
            )
        except subprocess.TimeoutExpired as expired:
            raise AssertionError(
                f"I5: {self.label}/{folder.name}: the connector was still running after {timeout:.0f} s"
            ) from expired
        run.seconds = time.time() - started  # type: ignore[attr-defined]
        run.started = started  # type: ignore[attr-defined]
        return run

    def _popen(
        self, folder: Path, config: Mapping[str, Any], streams: Sequence[str], state: Optional[Sequence]
    ) -> List[str]:
        args = [connector_executable(), "read"]
        for flag, payload, name in (
            ("--config", config, "config.json"),
            ("--catalog", configured_catalog(streams), "catalog.json"),
            ("--state", state, "state.json"),
        ):
            if payload:
                (folder / name).write_text(json.dumps(payload), encoding="utf-8")
                args += [flag, str(folder / name)]
        return args

    def read_until_killed(
        self,
        config: Mapping[str, Any],
        stop_when: Callable[[List[dict]], bool],
        state: Optional[Sequence[Mapping[str, Any]]] = None,
        timeout: float = 90,
    ) -> Killed:
        """Starts a read of every stream, consumes its stdout until `stop_when(messages)` holds, then
        SIGKILLs it. Its output goes to the secret scan."""
        folder = self._next_dir("killed")
        args = self._popen(folder, config, streams_of(config), state)
        started = time.monotonic()
        with open(folder / "stderr", "w+", encoding="utf-8") as stderr_file:
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
                        process.send_signal(signal.SIGKILL)
                        break
                process.wait(timeout=10)
            finally:
                watchdog.cancel()
                if process.poll() is None:
                    process.kill()
                    process.wait()
            stderr_file.seek(0)
            stderr = stderr_file.read()
        stdout = "".join(lines)
        leaks.record_output(f"{self.label}/{folder.name}", stdout + stderr)
        run = ConnectorRun(returncode=process.returncode, stdout=stdout, stderr=stderr, messages=messages)
        return Killed(run, time.monotonic() - started)

    def read_measuring_memory(self, config: Mapping[str, Any], streams: Sequence[str], name: str) -> ConnectorRun:
        """A read whose peak RSS (the connector process's own, from `os.wait4`) is set as `.peak_rss_mb`."""
        folder = self._next_dir(name)
        args = self._popen(folder, config, streams, None)
        with open(folder / "stdout", "wb") as out, open(folder / "stderr", "wb") as err:
            process = subprocess.Popen(args, stdout=out, stderr=err)
            timer = threading.Timer(RUN_TIMEOUT, process.kill)
            timer.start()
            try:
                _, status, usage = os.wait4(process.pid, 0)
            finally:
                timer.cancel()
        stdout = (folder / "stdout").read_text(encoding="utf-8", errors="replace")
        stderr = (folder / "stderr").read_text(encoding="utf-8", errors="replace")
        leaks.record_output(f"{self.label}/{folder.name}", stdout + stderr)
        run = ConnectorRun(os.waitstatus_to_exitcode(status), stdout, stderr, list(parse_messages(stdout)))
        run.peak_rss_mb = usage.ru_maxrss / 1024  # type: ignore[attr-defined]
        return run

    def stop(self) -> None:
        for server in self.servers:
            register_secrets(*server_secrets(server))  # tokens issued during the scenario
            server.stop()


class Outcome(SimpleNamespace):
    """What a scenario hands to its test: the server (ground truth, request log), runs, and extras."""


def uses(scenario: Callable[..., Any]):
    """Marks a test as asserting on `scenario`'s Outcome (see conftest.py)."""
    return pytest.mark.scenario.with_args(scenario)


def idle(scenario: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a scenario that mostly waits (a stalled read, Retry-After periods): it runs on a thread of its
    own from the start, instead of taking one of the pool's workers."""
    scenario.idle = True  # type: ignore[attr-defined]
    return scenario
