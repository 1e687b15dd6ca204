"""Fixtures for tests that drive the installed console script against the project's fake API server."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from fake_api import FakeApiServer


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    """A fresh fake API for one test: a few hundred conversations per vendor, some in progress."""
    with FakeApiServer(polyai_count=400, vectara_count=300, in_progress_count=3) as fake:
        yield fake


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def small_pages(config: dict) -> dict:
    """Small pages, so every sync walks many of them."""
    if "polyai" in config:
        config["polyai"]["page_size"] = 50
    if "vectara" in config:
        config["vectara"]["page_size"] = 40
    return config
