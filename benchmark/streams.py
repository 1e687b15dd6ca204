"""The CPU mode's streams: what differs between them, in one table.

Each reads one stream of one project or account, as a full refresh, from a fake API with no latency; the
connector at the CPU mode's ``num_workers`` and the ceiling (:mod:`benchmark.loop`) read with the same
page size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any, Mapping

from benchmark.scenarios import LONG_AGO, Minimum, pages, spec_default, window_count
from fake_api import FakeApiServer
from fake_api.data import PATTERN_PERIOD


@cache
def _live_among(total: int) -> int:
    """How many of the first ``total`` generated PolyAI conversations are ``live`` (the connector's default)."""
    return len(FakeApiServer(polyai_count=total, vectara_count=0, vectara_agent_count=0).polyai_ids())


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
class StreamSetup:
    """How the CPU mode serves, configures and reads one stream.

    ``section`` is the config section (``polyai_v3``...), ``job`` the ceiling's job, ``page_size`` the
    connector's default for that provider (the ceiling uses it too); ``windowed`` when the connector reads
    in ``window_days`` windows from ``start_date`` (one request at least per window, empty or not).
    """

    name: str
    stream: str
    section: str
    job: str
    warm: str
    windowed: bool = False

    @property
    def provider(self) -> str:
        return self.section.split("_")[0]

    @property
    def page_size(self) -> int:
        return spec_default("page_size", self.provider)

    def server(self, records: int) -> dict[str, Any]:
        """The fake API's arguments for exactly ``records`` records of the stream."""
        if self.provider == "polyai":
            total = polyai_total_for_live(records)
            # Spread over every window since start_date, at any size: then the connector reads num_workers
            # windows at once at 100k records as at 1M, and the memory check compares like with like.
            span = datetime.now(timezone.utc) - datetime.fromisoformat(LONG_AGO.replace("Z", "+00:00"))
            spacing = (span - timedelta(days=1)).total_seconds() / total
            return {
                "polyai_count": total,
                "polyai_spacing_seconds": spacing,
                "vectara_count": 0,
                "vectara_agent_count": 0,
            }
        return {"polyai_count": 0, "vectara_count": records, "vectara_agent_count": 0}

    def windows(self, now: datetime) -> dict[str, Any] | None:
        """The windows the ground truth counts rows in (two more than now has, in case a sync starts later)."""
        if not self.windowed:
            return None
        start = datetime.fromisoformat(LONG_AGO.replace("Z", "+00:00"))
        days = spec_default("window_days", "polyai")
        return {"start": LONG_AGO, "days": days, "count": window_count(start, now, days) + 2}

    def config(self, sections: Mapping[str, Any], num_workers: int) -> dict[str, Any]:
        """The connector's config (the ceiling reads the same one)."""
        return {"start_date": LONG_AGO, "num_workers": num_workers, self.provider: dict(sections[self.section])}

    def minimum(self, kind: str, truth: Mapping[str, Any], began: datetime) -> Minimum:
        """The fewest requests of the ceiling (one walk) or of the connector (windows, probes) for ``truth``."""
        facts = truth[self.stream]
        if self.provider == "vectara":
            rows = len(facts["keys"])
            return Minimum(pages(rows, self.page_size), f"ceil(rows/{self.page_size})")
        projects = facts["projects"].values()
        if kind == "ceiling" or not self.windowed:
            return Minimum(sum(pages(p["rows"], self.page_size) for p in projects), "ceil(rows/page) per project")
        start = datetime.fromisoformat(LONG_AGO.replace("Z", "+00:00"))
        n = window_count(start, began, spec_default("window_days", "polyai"))
        reads = sum(pages(k, self.page_size) for p in projects for k in p["rows_per_window"][:n])
        return Minimum(
            len(facts["projects"]) + reads, f"one probe per project + max(1, ceil(rows/page)) for each of {n} windows"
        )

    def window_total(self, began: datetime) -> int | None:
        if not self.windowed:
            return None
        start = datetime.fromisoformat(LONG_AGO.replace("Z", "+00:00"))
        return window_count(start, began, spec_default("window_days", "polyai"))


SETUPS: dict[str, StreamSetup] = {
    "polyai": StreamSetup("polyai", "polyai_conversations", "polyai_v3", "polyai", "polyai_v3", windowed=True),
    "vectara": StreamSetup("vectara", "vectara_chats", "vectara_v2", "vectara_v2_chats", "vectara_chats"),
    "polyai_v1": StreamSetup("polyai_v1", "polyai_conversations", "polyai_v1", "polyai", "polyai", windowed=True),
    "vectara_v1": StreamSetup("vectara_v1", "vectara_conversations", "vectara_v1", "vectara_v1_list", "vectara"),
}
"""The CPU mode's streams by name: the current API versions (the default), and v1 (the old figures' streams)."""
DEFAULT_STREAMS = ("polyai", "vectara")

OLD_RATIOS = {
    "polyai": {100_000: 0.40, 1_000_000: 0.59},
    "vectara": {100_000: 0.30, 1_000_000: 0.36},
}
"""records/s of the connector over the ceiling's before issue 13 (PolyAI v1 single project, Vectara v1
list-conversations; README, Performance). Issue 13: not below 90% of these."""
OLD_RATIO_FLOOR = 0.9


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
