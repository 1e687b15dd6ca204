"""The fake API server that the acceptance-test files (`integration_tests/sample_config*.json`,
`invalid_config.json`) point at.

One definition, shared by the CDK standard suite (`test_standard_suite.py`), the acceptance-file tests
(`test_acceptance_files.py`) and the generator of `expected_records*.jsonl`, so all three see exactly
the same seeded dataset:

* a fixed loopback port (:data:`PORT`), because the acceptance-test configs are static files;
* seed 42, no PolyAI conversation in progress, small counts: two PolyAI projects
  (:data:`POLYAI_PROJECTS`), :data:`VECTARA_COUNT` Vectara conversations (v1 conversations and turns,
  the same data as v2 chats and chat turns), :data:`AGENT_COUNT` Vectara agents with
  :data:`SESSIONS_PER_AGENT` sessions of :data:`EVENTS_PER_SESSION` events each;
* data anchored at a fixed instant (:data:`DATA_END`) instead of the server's default "10 minutes
  before now", so the records (ids, timestamps, ``epochSecs``) never depend on the wall clock;
* a start date (:data:`START_DATE`) inside every stream's data, so the expected records show that what
  was made before it is left out.

Run the same server by hand with ``python -m integration_tests.fixtures_standard`` (serves until
Ctrl-C), then point the connector at ``integration_tests/sample_config.json``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from fake_api import FakeApiServer, numbered_project_ids
from test_support import leaks

PORT = 18765
"""Below Linux's ephemeral range (32768+), so servers on port 0 never take it, and not the README's
manual 8765, so a fake server left running by hand does not clash with the tests."""
BASE_URL = f"http://127.0.0.1:{PORT}"
SEED = 42
POLYAI_PROJECTS = dict(zip(numbered_project_ids(2), (24, 16), strict=True))
"""PolyAI project id -> conversations (every environment; most are `live`), the fake's default project first."""
POLYAI_SPACING_SECONDS = 900
VECTARA_COUNT = 12
VECTARA_SPACING_SECONDS = 1500
AGENT_COUNT = 2
SESSIONS_PER_AGENT = 4
EVENTS_PER_SESSION = 6
DATA_END = "2026-01-01T00:00:00Z"
"""Every vendor's generated data ends just before this instant (turns and events of the newest
conversations and sessions may follow it by minutes). It is in the past, so every sync's end bound,
"now", is after all of it."""
START_DATE = "2025-12-31T21:00:00Z"
"""`start_date` of the sample configs: three hours before :data:`DATA_END`, inside the data of every
stream (PolyAI's spans six hours per project, Vectara's five, each agent's sessions four)."""


def dataset_kwargs() -> dict[str, Any]:
    """The `FakeApiServer` arguments of the acceptance-test dataset (everything but the port)."""
    return {
        "seed": SEED,
        "polyai_projects": dict(POLYAI_PROJECTS),
        "polyai_spacing_seconds": POLYAI_SPACING_SECONDS,
        "vectara_count": VECTARA_COUNT,
        "vectara_spacing_seconds": VECTARA_SPACING_SECONDS,
        "vectara_agent_count": AGENT_COUNT,
        "vectara_sessions_per_agent": SESSIONS_PER_AGENT,
        "vectara_events_per_session": EVENTS_PER_SESSION,
        "in_progress_count": 0,
        "polyai_end": DATA_END,
        "vectara_end": DATA_END,
    }


INVALID_CONFIG = Path(__file__).with_name("invalid_config.json")


def invalid_config_keys() -> list[str]:
    """The wrong keys of `invalid_config.json`: the fake refuses them, and no output may show them."""
    config = json.loads(INVALID_CONFIG.read_text(encoding="utf-8"))
    return [config["polyai"]["api_key"], config["vectara"]["credentials"]["api_key"]]


def build_server(port: int = PORT) -> FakeApiServer:
    """The acceptance-test server, not started (ground truth works without starting it)."""
    return FakeApiServer(port=port, **dataset_kwargs())


class PortTakenError(RuntimeError):
    """The fixed acceptance-test port is in use by another process."""


def start_server(port: int = PORT) -> FakeApiServer:
    """Start the acceptance-test server on `port`, or fail saying which port is taken and why it matters."""
    message = (
        f"127.0.0.1:{port} is already in use, so the fake API server for the acceptance-test configs "
        f"cannot start. integration_tests/sample_config*.json and invalid_config.json point at {BASE_URL}; "
        f"stop whatever listens there (`ss -ltnp 'sport = :{port}'`), for example a fake server left "
        "running by `python -m integration_tests.fixtures_standard`, and run the tests again."
    )
    server = build_server(port)
    try:
        server.start()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PortTakenError(message) from error
        raise
    return server


PORT_LOCK_WAIT_SECONDS = 240.0
"""How long a test session waits for another one (on this machine) to release :data:`PORT`."""


@contextlib.contextmanager
def _port_lock(port: int, wait_seconds: float) -> Iterator[bool]:
    """Hold a machine-wide lock on `port` for the block; yields False if it stayed busy for `wait_seconds`.

    Two test sessions on one machine (say, two checkouts, or a developer's run beside CI) both need
    the fixed port: with the lock, the second waits for the first's server to stop instead of
    failing. The lock is an advisory `flock`, released by the kernel even if the holder dies.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, a clash fails at once with PortTakenError
        yield True
        return
    path = Path(tempfile.gettempdir()) / f"source-conversations-fake-api-{port}.lock"
    with open(path, "a+") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.2)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def acceptance_server(wait_seconds: float = PORT_LOCK_WAIT_SECONDS) -> Iterator[FakeApiServer]:
    """Fixture body: the acceptance-test server on :data:`PORT` for the fixture's scope.

    Waits (up to `wait_seconds`) while another test session on this machine holds the port, and fails
    at once, naming the port, if anything else listens on it. The keys of `invalid_config.json` join
    the suite-wide secret scan (the fake's own keys are in it already).
    """
    leaks.register_secret(*invalid_config_keys())
    with _port_lock(PORT, wait_seconds) as locked:
        if not locked:
            pytest.fail(
                f"another test session has held 127.0.0.1:{PORT} (the fake API of the acceptance-test configs) "
                f"for over {wait_seconds:.0f} s; run the tests again once it has finished",
                pytrace=False,
            )
        try:
            server = start_server()
        except PortTakenError as error:
            taken = str(error)
        else:
            taken = ""
        if taken:
            pytest.fail(taken, pytrace=False)
        try:
            yield server
        finally:
            server.stop()


def main() -> int:
    """Serve the acceptance-test dataset on :data:`PORT` until SIGINT (Ctrl-C) or SIGTERM."""
    import signal
    import threading

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server = start_server()
    print(f"fake API for integration_tests/sample_config.json on {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
