"""Reading a run's output and checking it against the ground truth: every key exactly as the fake API
holds them, none missing, none extra."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import AbstractSet, Any

import orjson

from source_conversations import registry


@dataclass
class Output:
    """The RECORD messages of one stream in one run: how many, and their distinct primary keys."""

    records: int
    keys: frozenset[str]

    @property
    def duplicates(self) -> int:
        return self.records - len(self.keys)


def read_output(path: Path, stream: str) -> Output:
    """Parse the RECORD lines of ``stream`` in an output file (other messages are skipped). A key is the
    primary key's fields joined with ``/``, as ``test_support.harness.ConnectorRun.ids`` joins them."""
    fields = registry.stream(stream).primary_key
    count, keys = 0, set()
    with open(path, "rb") as lines:
        for line in lines:
            if b'"RECORD"' not in line:
                continue
            message = orjson.loads(line)
            if message.get("type") != "RECORD" or message["record"]["stream"] != stream:
                continue
            data = message["record"]["data"]
            count += 1
            keys.add("/".join(str(data.get(field)) for field in fields))
    return Output(count, frozenset(keys))


def last_error(path: Path) -> str:
    """The message of the last error TRACE in an output file ('' if none)."""
    found = ""
    with open(path, "rb") as lines:
        for line in lines:
            if b'"TRACE"' in line and b'"ERROR"' in line:
                try:
                    error = orjson.loads(line)["trace"]["error"]
                except (ValueError, KeyError, TypeError):
                    continue
                found = f"{error.get('failure_type')}: {error.get('message')}"
    return found


def check_exact(output: Output, expected: AbstractSet[str], what: str, kept: Path) -> None:
    """Raise AssertionError unless ``output`` read exactly the keys ``expected`` (duplicates are allowed and
    reported elsewhere)."""
    if output.keys == expected:
        return
    missing, extra = len(expected - output.keys), len(output.keys - expected)
    example = sorted(expected - output.keys)[:3] or sorted(output.keys - expected)[:3]
    error = last_error(kept)
    raise AssertionError(
        f"{what} read {len(output.keys):,} distinct keys ({output.records:,} records), expected {len(expected):,}: "
        f"{missing:,} missing, {extra:,} not in the API (for example {example}); output kept in {kept}"
        + (f"; last error: {error}" if error else "")
    )


def last_state(path: Path) -> dict[str, Any]:
    """The last STATE message's ``state`` in an output file."""
    found: dict[str, Any] = {}
    with open(path, "rb") as lines:
        for line in lines:
            if b'"STATE"' in line:
                message = orjson.loads(line)
                if message.get("type") == "STATE":
                    found = message["state"]
    if not found:
        raise AssertionError(f"no STATE in {path}")
    return found


def turn_times(path: Path) -> list[float]:
    """The times (Unix seconds) of the vectara_chat_turns records in an output file."""
    times = []
    with open(path, "rb") as lines:
        for line in lines:
            if b'"RECORD"' in line:
                record = orjson.loads(line)["record"]
                if record["stream"] == "vectara_chat_turns":
                    moment = datetime.fromisoformat(record["data"]["created_at"].replace("Z", "+00:00"))
                    times.append(moment.timestamp())
    return times
