"""PolyAI incremental windows: no conversation is lost at a window edge, whatever the API's bounds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from fake_api import FakeApiServer
from integration_tests.harness import configured_catalog, run_connector

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
EDGE = START + timedelta(days=1)  # the first window edge with window_days = 1


@pytest.mark.parametrize("bounds", ["closed", "half_open"])
def test_given_conversations_around_a_window_edge_when_synced_then_each_arrives(tmp_path: Path, bounds: str) -> None:
    with FakeApiServer(polyai_count=0, vectara_count=0, polyai_window=bounds) as server:
        around_edge = {
            "half a second before": EDGE - timedelta(seconds=0.5),
            "a microsecond before": EDGE - timedelta(microseconds=1),
            "exactly on": EDGE,
            "a microsecond after": EDGE + timedelta(microseconds=1),
        }
        expected = {name: server.add_polyai(1, started_at=moment)[0] for name, moment in around_edge.items()}
        config = {"start_date": "2026-01-01T00:00:00Z", "polyai": {**server.polyai_config(), "window_days": 1}}
        run = run_connector("read", tmp_path, config=config, catalog=configured_catalog(["polyai_conversations"]))
    assert run.returncode == 0, run.errors()
    emitted = set(run.ids("polyai_conversations"))
    missing = [name for name, conversation in expected.items() if conversation not in emitted]
    assert not missing, f"lost at the window edge: {missing}"


def test_given_sparse_account_when_synced_in_windows_then_one_request_per_window_and_no_empty_trailing_page(
    tmp_path: Path,
) -> None:
    with FakeApiServer(polyai_count=0, vectara_count=0) as server:
        server.add_polyai(3, started_at=START + timedelta(days=2, hours=1))
        config = {"start_date": "2026-01-01T00:00:00Z", "polyai": {**server.polyai_config(), "window_days": 3650}}
        run = run_connector("read", tmp_path, config=config, catalog=configured_catalog(["polyai_conversations"]))
        requests = server.stats()["requests"]["polyai"]
    assert run.returncode == 0
    assert len(run.ids("polyai_conversations")) == 3
    assert requests == 1  # one window, one page: no trailing empty request
