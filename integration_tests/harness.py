"""Runs the installed `source-conversations` console script as Airbyte would, and reads its output.

Shared by the integration tests, the reliability suite, the demo and the benchmark.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Sequence

from test_support import leaks

STREAMS = ("polyai_conversations", "vectara_conversations")
CURSORS = {"polyai_conversations": ["started_at"], "vectara_conversations": ["epochSecs"]}


def connector_executable() -> str:
    """The console script installed next to this Python, else the one on PATH."""
    beside = Path(sys.executable).with_name("source-conversations")
    if beside.exists():
        return str(beside)
    found = shutil.which("source-conversations")
    if not found:
        raise RuntimeError("source-conversations is not installed: run `pip install .` first")
    return found


def configured_catalog(streams: Iterable[str] = STREAMS, sync_mode: str = "incremental") -> dict:
    """A configured catalog, as the platform sends it, for the given streams."""
    return {
        "streams": [
            {
                "stream": {
                    "name": name,
                    "json_schema": {},
                    "supported_sync_modes": ["full_refresh", "incremental"],
                    "source_defined_cursor": True,
                    "default_cursor_field": CURSORS[name],
                    "source_defined_primary_key": [["id"]],
                },
                "sync_mode": sync_mode,
                "destination_sync_mode": "append_dedup" if sync_mode == "incremental" else "overwrite",
                "cursor_field": CURSORS[name],
                "primary_key": [["id"]],
            }
            for name in streams
        ]
    }


@dataclass
class ConnectorRun:
    """One run of the connector: its exit code, parsed messages and raw output."""

    returncode: int
    stdout: str
    stderr: str
    messages: List[dict] = field(default_factory=list)

    def of_type(self, kind: str) -> List[dict]:
        return [message for message in self.messages if message.get("type") == kind]

    def records(self, stream: Optional[str] = None) -> List[dict]:
        return [
            message["record"]["data"]
            for message in self.of_type("RECORD")
            if stream is None or message["record"]["stream"] == stream
        ]

    def ids(self, stream: str) -> List[str]:
        return [record["id"] for record in self.records(stream)]

    def states(self, stream: Optional[str] = None) -> List[dict]:
        return [
            message["state"]
            for message in self.of_type("STATE")
            if stream is None or message["state"]["stream"]["stream_descriptor"]["name"] == stream
        ]

    def last_states(self) -> List[dict]:
        """The newest STATE per stream, in the shape `--state` takes."""
        newest = {}
        for state in self.states():
            newest[state["stream"]["stream_descriptor"]["name"]] = state
        return list(newest.values())

    def errors(self) -> List[dict]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"].get("type") == "ERROR"]

    @property
    def connection_status(self) -> dict:
        return self.of_type("CONNECTION_STATUS")[-1]["connectionStatus"]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_connector(
    command: str,
    workdir: Path,
    config: Optional[Mapping[str, Any]] = None,
    catalog: Optional[Mapping[str, Any]] = None,
    state: Optional[Sequence[Mapping[str, Any]]] = None,
    extra_args: Sequence[str] = (),
    timeout: float = 300,
    env: Optional[Mapping[str, str]] = None,
) -> ConnectorRun:
    """Runs `source-conversations <command>` with files written to `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = [connector_executable(), command]
    for flag, payload, name in (
        ("--config", config, "config.json"),
        ("--catalog", catalog, "catalog.json"),
        ("--state", state, "state.json"),
    ):
        if payload is not None:
            path = workdir / name
            path.write_text(json.dumps(payload), encoding="utf-8")
            args += [flag, str(path)]
    args += list(extra_args)
    completed = subprocess.run(
        args,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    leaks.record_output(f"source-conversations {command}", completed.stdout + completed.stderr)
    return ConnectorRun(
        returncode=completed.returncode,
        stdout=completed.stdout,
        stderr=completed.stderr,
        messages=list(parse_messages(completed.stdout)),
    )


def parse_messages(stdout: str) -> Iterable[dict]:
    # Split on "\n" only: str.splitlines() also splits on U+2028, U+2029 and U+0085 inside JSON strings.
    for line in stdout.split("\n"):
        line = line.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
