"""Child processes of the benchmark: the fake API server, and measured runs with their own resource usage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.request import Request, urlopen

import orjson

from benchmark.outputs import last_error

REPO_ROOT = Path(__file__).resolve().parent.parent
MEASURED_SCRIPT = Path(__file__).with_name("measured.py")


@dataclass(frozen=True)
class Usage:
    """What one child process cost: wall seconds from spawn to exit, CPU seconds and peak RSS (its own)."""

    wall_seconds: float
    user_seconds: float
    system_seconds: float
    peak_rss_mb: float

    @property
    def cpu_seconds(self) -> float:
        return self.user_seconds + self.system_seconds


def run_measured(argv: Sequence[str], stdout_path: Path, timeout: float, env: Mapping[str, str] | None = None) -> Usage:
    """Run ``argv`` with stdout to ``stdout_path`` and return its own usage (through :mod:`benchmark.measured`).

    Raises RuntimeError, with the end of its stderr, when it fails or outlives ``timeout`` seconds.
    """
    stderr_path, usage_path = stdout_path.with_suffix(".stderr"), stdout_path.with_suffix(".usage.json")
    wrapped = [sys.executable, str(MEASURED_SCRIPT), str(usage_path), *argv]
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        child = subprocess.Popen(
            wrapped, stdout=out, stderr=err, cwd=REPO_ROOT, env={**os.environ, **(env or {})}, start_new_session=True
        )
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # the wrapper and the command it runs
            child.wait()
        except BaseException:  # Ctrl-C: the command runs in its own session, so end it here
            os.killpg(child.pid, signal.SIGKILL)
            raise
    if child.returncode != 0:
        tail = stderr_path.read_text(errors="replace")[-3000:]
        error = last_error(stdout_path)
        raise RuntimeError(
            f"{argv[:3]} exited with {child.returncode} (timeout {timeout:.0f} s); output in {stdout_path}"
            + (f"; last error: {error}" if error else "")
            + f"\n{tail}"
        )
    usage = orjson.loads(usage_path.read_bytes())
    usage_path.unlink()
    return Usage(usage["wall_seconds"], usage["user_seconds"], usage["system_seconds"], usage["peak_rss_kib"] / 1024)


def connector_revision() -> str:
    """The git commit the connector's source is at, with the files that differ from it (``?`` outside git)."""

    def git(*args: str) -> str:
        completed = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
        return completed.stdout.strip() if completed.returncode == 0 else "?"

    changed = git("status", "--porcelain", "--", "source_conversations").splitlines()
    edits = f" + uncommitted changes to {', '.join(line.split(maxsplit=1)[1] for line in changed)}" if changed else ""
    return git("rev-parse", "--short", "HEAD") + edits


class ServerProcess:
    """``python -m benchmark.serve`` in its own process (so it never shares an interpreter with what is
    measured), started from a spec (see :mod:`benchmark.serve`) written to ``workdir``."""

    def __init__(self, spec: Mapping[str, Any], workdir: Path, start_timeout: float = 1800) -> None:
        self.spec_path = workdir / "server-spec.json"
        self.spec_path.write_bytes(orjson.dumps(spec))
        self.argv = [sys.executable, "-m", "benchmark.serve", str(self.spec_path)]
        self.start_timeout = start_timeout
        self._child: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.sections: dict[str, Any] = {}

    def __enter__(self) -> ServerProcess:
        self._child = subprocess.Popen(self.argv, stdout=subprocess.PIPE, cwd=REPO_ROOT)
        timer = threading.Timer(self.start_timeout, self._child.kill)
        timer.start()
        try:
            line = self._child.stdout.readline() if self._child.stdout else b""
        finally:
            timer.cancel()
        if not line:
            self.__exit__()
            raise RuntimeError(f"the fake API did not start: {self.argv}")
        started = orjson.loads(line)
        self.base_url, self.sections = started["base_url"], started["sections"]
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()
            try:
                self._child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
        self._child = None

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call a ``/_fake/`` control endpoint and return its JSON answer."""
        data = None if body is None else orjson.dumps(body)
        request = Request(f"{self.base_url}/_fake/{path}", data=data, method=method)
        with urlopen(request, timeout=60) as response:
            return orjson.loads(response.read())

    def reset(self) -> None:
        """Empty the request log and its counters and restart the in-flight maxima (``DELETE /_fake/log``)."""
        self.control("DELETE", "log")

    def counts(self) -> ServerCounts:
        """Requests per endpoint and the most in flight at once since the last :meth:`reset`, and the
        server's busy seconds so far."""
        stats = self.control("GET", "stats")
        requests = {name: int(count) for name, count in stats["requests"].items() if name != "control"}
        return ServerCounts(
            requests, int(stats["max_in_flight"].get("total", 0)), float(stats["served"]["busy_seconds"])
        )


@dataclass(frozen=True)
class ServerCounts:
    """What the fake API counted: requests per endpoint name, the most handled at once, its busy seconds
    (time between reading a request and finishing its response, latency waits included)."""

    requests: dict[str, int]
    max_in_flight: int
    busy_seconds: float

    @property
    def total(self) -> int:
        return sum(self.requests.values())
