"""The suite-wide secret scan: every output a test run produced is searched for every credential.

Credentials come from two places: every one the fake API made or was given in this process
(`fake_api.credentials`), and those tests register themselves (`register_secret`: the unit tests'
fixed keys, wrong keys a test configures on purpose). Outputs come from pytest's capture of each
test (stdout, stderr and log records of every phase) and from `record_output`, which the harnesses
call with the stdout and stderr of every connector subprocess and in-process read.

The root `conftest.py` runs the scan after each test and fails that test if anything leaked. A leak
report names the output and the secret's position in the list, never the secret itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterable, List, Tuple

from fake_api.credentials import handed_out

MIN_SECRET_LENGTH = 12
"""Shorter values are not searched: they would match ordinary text (and tests use long fake secrets)."""

_lock = threading.Lock()
_registered: set[str] = set()
_pending: List[Tuple[str, str]] = []


@dataclass
class ScanTotals:
    """What the scan has searched in this session, for the summary line."""

    outputs: int = 0
    characters: int = 0
    secrets: int = 0
    leaks: List[str] = field(default_factory=list)


TOTALS = ScanTotals()


def register_secret(*values: str) -> None:
    with _lock:
        _registered.update(value for value in values if value)


def record_output(label: str, text: str) -> None:
    """Queues one output (a subprocess's stdout and stderr, a read's messages) for the next scan."""
    with _lock:
        _pending.append((label, text))


def secrets() -> List[str]:
    with _lock:
        values = _registered | handed_out()
    return sorted(value for value in values if len(value) >= MIN_SECRET_LENGTH)


def take_outputs() -> List[Tuple[str, str]]:
    with _lock:
        taken = list(_pending)
        _pending.clear()
    return taken


def find_leaks(outputs: Iterable[Tuple[str, str]]) -> List[str]:
    """`label: secret #i` for every known secret found in an output (never the secret itself)."""
    known = secrets()
    return [
        f"{label}: secret #{index}" for label, text in outputs for index, secret in enumerate(known) if secret in text
    ]


def scan(outputs: List[Tuple[str, str]]) -> List[str]:
    """`find_leaks`, counted in `TOTALS` for the session's summary line."""
    found = find_leaks(outputs)
    TOTALS.outputs += len(outputs)
    TOTALS.characters += sum(len(text) for _, text in outputs)
    TOTALS.secrets = max(TOTALS.secrets, len(secrets()))
    TOTALS.leaks.extend(found)
    return found
