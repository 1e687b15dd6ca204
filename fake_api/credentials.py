"""Every credential the fake API has made or been given in this process: API keys, OAuth client
secrets and the bearer tokens its token endpoint issued.

The fake records them so that a test suite can search everything the connector printed for each one
(see ``test_support.leaks``). Nothing here is served over HTTP.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_handed_out: set[str] = set()


def hand_out(*values: str) -> None:
    """Remembers credential values (empty ones are ignored)."""
    with _lock:
        _handed_out.update(value for value in values if value)


def handed_out() -> frozenset[str]:
    """Every credential value remembered so far."""
    with _lock:
        return frozenset(_handed_out)
