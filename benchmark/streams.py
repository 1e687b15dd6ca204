"""What differs between the streams, in one table, and what every run's output is checked against."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import orjson

from benchmark.ceiling import APIS
from fake_api import FakeApiServer
from fake_api.data import PATTERN_PERIOD


@lru_cache(maxsize=None)
def _live_among(total: int) -> int:
    """How many of the first ``total`` generated PolyAI conversations are ``live`` (the connector's default)."""
    return len(FakeApiServer(polyai_count=total, vectara_count=0).polyai_ids())


def polyai_total_for_live(live: int) -> int:
    """The smallest PolyAI count whose ``live`` conversations number exactly ``live``.

    Environments repeat every ``PATTERN_PERIOD`` records, so only one period is ever generated here.
    """
    if live == 0:
        return 0
    per_period = _live_among(PATTERN_PERIOD)
    periods, rest = divmod(live - 1, per_period)
    extra = next(n for n in range(1, PATTERN_PERIOD + 1) if _live_among(n) == rest + 1)
    return periods * PATTERN_PERIOD + extra


@dataclass(frozen=True)
class Windows:
    """The connector's incremental windows: ``[start + k*step, start + (k+1)*step]`` up to the sync's start."""

    cursor_field: str
    default_start: datetime
    default_days: int

    def of(self, config: Mapping[str, Any], vendor: str, sync_started: datetime) -> tuple[datetime, timedelta, int]:
        """``(first start, step, number of windows)`` of a sync with ``config`` that began at ``sync_started``."""
        start_text = config.get("start_date")
        start = datetime.fromisoformat(start_text.replace("Z", "+00:00")) if start_text else self.default_start
        step = timedelta(days=config[vendor].get("window_days") or self.default_days)
        return start, step, max(1, math.ceil((sync_started - start) / step))


@dataclass(frozen=True)
class StreamSetup:
    """How the benchmark serves, configures and checks one stream.

    ``page_size`` is used by the connector and the ceiling alike; ``server_count`` turns the number of
    records the stream must yield into the fake API's record count; ``windows`` is set when the connector
    reads the stream in time windows (one request at least per window, empty or not).
    """

    vendor: str
    page_size: int
    server_count: Callable[[int], int]
    windows: Windows | None = None

    @property
    def stream(self) -> str:
        return APIS[self.vendor].stream

    def config(self, server_config: Mapping[str, Any], **settings: Any) -> dict[str, Any]:
        """The connector config reading only this stream from the fake API."""
        return {self.vendor: {**server_config[self.vendor], "page_size": self.page_size, **settings}}

    def server_args(self, records: int) -> dict[str, int]:
        """Keyword arguments of :class:`~benchmark.process.ServerProcess` for ``records`` records."""
        return {self.vendor: self.server_count(records)}


SETUPS: dict[str, StreamSetup] = {
    # PolyAI: the connector's default page size; the stream is read in started_at windows (30 days, since 2017).
    "polyai": StreamSetup(
        "polyai",
        page_size=1000,
        server_count=polyai_total_for_live,
        windows=Windows("started_at", datetime(2017, 1, 1, tzinfo=timezone.utc), 30),
    ),
    # Vectara: the connector's default page size (numResults), what a sync with default settings sends.
    "vectara": StreamSetup("vectara", page_size=100, server_count=lambda records: records),
}


@dataclass
class Output:
    """The RECORD messages of one run for one stream: how many, their distinct ids, their cursor values."""

    records: int
    ids: frozenset[str]
    cursors: list[str]


def read_output(path: Path, stream: str, cursor_field: str | None = None) -> Output:
    """Parse the RECORD lines of ``stream`` in an output file (other messages are skipped)."""
    count, ids, cursors = 0, set(), []
    with open(path, "rb") as lines:
        for line in lines:
            if b'"RECORD"' not in line:
                continue
            message = orjson.loads(line)
            if message.get("type") != "RECORD" or message["record"]["stream"] != stream:
                continue
            data = message["record"]["data"]
            count += 1
            ids.add(data["id"])
            if cursor_field is not None:
                cursors.append(data[cursor_field])
    return Output(count, frozenset(ids), cursors)


def pages(rows: int, page_size: int) -> int:
    """Requests that read ``rows`` rows at ``page_size`` a page, with no empty trailing page (one if none)."""
    return max(1, math.ceil(rows / page_size))


def windowed_minimum(cursors: Iterable[str], start: datetime, step: timedelta, windows: int, page_size: int) -> int:
    """The fewest requests a windowed reader needs: ``pages(rows in window)`` for every window, empty or not."""
    per_window = Counter(
        int((datetime.fromisoformat(value.replace("Z", "+00:00")) - start) / step) for value in cursors
    )
    return sum(pages(per_window.get(k, 0), page_size) for k in range(windows))
