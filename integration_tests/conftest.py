"""Everything under integration_tests/ runs the connector as a subprocess (the console script, the manifest
runner, the Connector Builder backend, PyAirbyte) against the project's fake API: it is marked `slow`, and
left out of the fast loop (`pytest -m "not slow"`)."""

from pathlib import Path
from typing import Iterator

import pytest

from fake_api import FakeApiServer

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    """A fresh fake API for one test: three PolyAI projects, Vectara v1/v2 data and two agents, some
    PolyAI conversations in progress."""
    with FakeApiServer(
        polyai_projects={"PROJECT-alpha": 300, "PROJECT-beta": 200, "PROJECT-gamma": 100},
        vectara_count=200,
        in_progress_count=2,
        vectara_sessions_per_agent=8,
        vectara_events_per_session=6,
    ) as fake:
        yield fake


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
