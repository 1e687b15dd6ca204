"""Runs the connector as Airbyte does, in a subprocess, and reads its output. Three runners:

- `console`: the package's console script `source-conversations` (also the Docker image's entrypoint);
- `manifest`: the CDK's `source-declarative-manifest` with the manifest, `components.py` and its checksum
  injected in the config, as Airbyte Cloud and the Connector Builder run custom connectors, in a process
  where `source_conversations` cannot be imported;
- `builder`: the Connector Builder backend (`airbyte_cdk.connector_builder.main`), same conditions.

Shared by the integration tests, the reliability suite, the demo and the benchmark. Every run's output goes
to the suite-wide secret scan (`test_support.leaks`).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from source_conversations import registry
from source_conversations.source import components_text, manifest
from test_support import leaks

RUNNERS = ("console", "manifest")
"""The runners a sync can use; `builder` only answers `resolve_manifest` and `test_read`."""

CONSOLE_SCRIPT = "source-conversations"
PLAIN_ENV = {"SOURCE_CONVERSATIONS_EXTRAS": "off"}
"""The console script without its process-level extras (source_conversations/extras.py)."""

# Runs a CDK entrypoint with `source_conversations` made unimportable: if components.py imported the
# package, the run would fail, as it would in Airbyte Cloud.
_BLOCKED = "import sys, runpy; sys.modules['source_conversations'] = None; sys.argv[0] = {name!r}; "
_MANIFEST_RUNNER = _BLOCKED + "from airbyte_cdk.cli.source_declarative_manifest import run; run()"
_BUILDER = _BLOCKED + "runpy.run_module('airbyte_cdk.connector_builder.main', run_name='__main__')"


def connector_executable() -> str:
    """The console script installed next to this Python, else the one on PATH."""
    beside = Path(sys.executable).with_name(CONSOLE_SCRIPT)
    if beside.exists():
        return str(beside)
    found = shutil.which(CONSOLE_SCRIPT)
    if not found:
        raise RuntimeError("source-conversations is not installed: run `pip install .` first")
    return found


def injected(config: Mapping[str, Any]) -> dict:
    """`config` with the manifest, components.py and its checksum injected, as the Builder sends them."""
    text = components_text()
    return {
        **config,
        "__injected_declarative_manifest": manifest(),
        "__injected_components_py": text,
        "__injected_components_py_checksums": {"md5": hashlib.md5(text.encode()).hexdigest()},
    }


def configured_catalog(streams: Iterable[str], sync_mode: str = "incremental") -> dict:
    """A configured catalog, as the platform sends it, for the given streams (facts from the registry)."""
    entries = []
    for name in streams:
        info = registry.stream(name)
        entries.append(
            {
                "stream": {
                    "name": name,
                    "json_schema": {},
                    "supported_sync_modes": ["full_refresh", "incremental"],
                    "source_defined_cursor": True,
                    "default_cursor_field": [info.cursor_field],
                    "source_defined_primary_key": [[key] for key in info.primary_key],
                },
                "sync_mode": sync_mode,
                "destination_sync_mode": "append_dedup" if sync_mode == "incremental" else "overwrite",
                "cursor_field": [info.cursor_field],
                "primary_key": [[key] for key in info.primary_key],
            }
        )
    return {"streams": entries}


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
        """Each record's primary key, joined with `/` when it has several fields."""
        keys = registry.stream(stream).primary_key
        return ["/".join(str(record.get(key)) for key in keys) for record in self.records(stream)]

    def states(self, stream: Optional[str] = None) -> List[dict]:
        return [
            message["state"]
            for message in self.of_type("STATE")
            if stream is None or message["state"]["stream"]["stream_descriptor"]["name"] == stream
        ]

    def stream_states(self, stream: str) -> List[dict]:
        """The `stream_state` blob of each STATE of `stream`, in order."""
        return [state["stream"]["stream_state"] for state in self.states(stream)]

    def last_states(self) -> List[dict]:
        """The newest STATE per stream, in the shape `--state` takes."""
        newest = {}
        for state in self.states():
            newest[state["stream"]["stream_descriptor"]["name"]] = state
        return list(newest.values())

    def errors(self) -> List[dict]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"].get("type") == "ERROR"]

    def logs(self, level: Optional[str] = None) -> List[str]:
        return [m["log"]["message"] for m in self.of_type("LOG") if level is None or m["log"]["level"] == level]

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
    runner: str = "console",
    inject: bool = True,
) -> ConnectorRun:
    """Runs `command` with the given runner (`console` or `manifest`), files written to `workdir`.

    The manifest runner gets the manifest and components.py injected in `config`, unless `inject` is
    false (the config already carries what to inject)."""
    prefix, runner_env = runner_command(runner)
    if runner == "manifest" and inject and command != "spec":
        config = injected(config or {})
    env = {**runner_env, **(env or {})}
    return _run(prefix + [command], workdir, config, catalog, state, extra_args, timeout, env, f"{runner} {command}")


def runner_command(runner: str) -> Tuple[List[str], Dict[str, str]]:
    """The command line before the Airbyte command (`spec`, `read`...) and the environment a runner needs.
    The manifest runner's config must carry the manifest and components.py (`injected`)."""
    if runner == "console":
        return [connector_executable()], {}
    if runner == "manifest":
        prefix = [sys.executable, "-c", _MANIFEST_RUNNER.format(name="source-declarative-manifest")]
        return prefix, {"AIRBYTE_ENABLE_UNSAFE_CODE": "true"}
    raise ValueError(f"unknown runner {runner!r}; use one of {RUNNERS}")


def run_builder(
    command: str,
    workdir: Path,
    config: Mapping[str, Any],
    catalog: Optional[Mapping[str, Any]] = None,
    test_read_limits: Optional[Mapping[str, int]] = None,
    timeout: float = 300,
) -> ConnectorRun:
    """The Connector Builder backend: `command` is `resolve_manifest` or `test_read`."""
    body = {**injected(config), "__command": command}
    if test_read_limits:
        body["__test_read_config"] = dict(test_read_limits)
    prefix = [sys.executable, "-c", _BUILDER.format(name="connector-builder")]
    env = {"AIRBYTE_ENABLE_UNSAFE_CODE": "true"}
    return _run(
        prefix + ["read"], workdir, body, catalog or {"streams": []}, None, (), timeout, env, f"builder {command}"
    )


def _run(
    args: List[str],
    workdir: Path,
    config: Optional[Mapping[str, Any]],
    catalog: Optional[Mapping[str, Any]],
    state: Optional[Sequence[Mapping[str, Any]]],
    extra_args: Sequence[str],
    timeout: float,
    env: Optional[Mapping[str, str]],
    label: str,
) -> ConnectorRun:
    workdir.mkdir(parents=True, exist_ok=True)
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
        cwd=workdir,
        env={**os.environ, **(env or {})},
    )
    leaks.record_output(label, completed.stdout + completed.stderr)
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
