"""The latency mode's scenarios: what the fake API holds, what the connector and the sequential loop read,
and the fewest requests that reading can take.

Every size is multiplied by ``scale`` (``--scale``), never below one window's worth of data or one page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from fake_api.data import numbered_project_ids
from source_conversations.source import manifest

AGENTS_PAGE_LIMIT = 100
"""The Agents lists' page size (the manifest's ``page_size: 100`` for agents, sessions, events)."""
READ_CONVERSATIONS_BATCH = 10
"""Vectara v1 read-conversations: at most 10 ids a request (the manifest's ``group_size``)."""
LONG_AGO = "2017-01-01T00:00:00Z"


def spec_default(name: str, section: str | None = None) -> Any:
    """The default of a spec property, read from the manifest (``section`` is ``polyai`` or ``vectara``)."""
    properties = manifest()["spec"]["connection_specification"]["properties"]
    if section:
        properties = properties[section]["properties"]
    return properties[name]["default"]


def pages(rows: int, page_size: int) -> int:
    """Requests that read ``rows`` rows at ``page_size`` a page, with no empty trailing page (one if none)."""
    return max(1, math.ceil(rows / page_size))


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def window_count(start: datetime, now: datetime, days: int) -> int:
    """How many windows of ``days`` the connector reads from ``start`` to ``now`` (the last one partial)."""
    return max(1, math.ceil((now - start) / timedelta(days=days)))


@dataclass(frozen=True)
class Minimum:
    """The fewest requests a reader can make, and how that number is made up."""

    requests: int
    formula: str


@dataclass
class Scenario:
    """One latency scenario.

    ``server`` are the fake API's arguments, ``section`` the config section (``polyai_v3``, ``vectara_v2``,
    ``vectara_v1``) the connector and the loop read with, ``stream`` the one stream of the catalog, ``job``
    the loop's job (:mod:`benchmark.loop`). ``connector_minimum`` and ``loop_minimum`` take the ground
    truth (:func:`benchmark.serve.ground_truth`) and the moment the run began.
    """

    name: str
    title: str
    stream: str
    section: str
    job: str
    server: dict[str, Any]
    settings: dict[str, Any]
    page_size: int
    target: float | None
    connector_minimum: Callable[[Mapping[str, Any], datetime], Minimum]
    loop_minimum: Callable[[Mapping[str, Any], datetime], Minimum]
    start_date: str = LONG_AGO
    polyai_windows: dict[str, Any] | None = None
    warm: tuple[str, ...] = ()

    def config(self, sections: Mapping[str, Any], num_workers: int) -> dict[str, Any]:
        """The connector's config (the loop reads the same one)."""
        provider = self.section.split("_")[0]
        return {
            "start_date": self.start_date,
            "num_workers": num_workers,
            provider: {**sections[self.section], "page_size": self.page_size, **self.settings},
        }


def polyai_backfill(scale: float, projects: int = 3, months: float = 12.5, per_project: int = 20_000) -> Scenario:
    """A first sync of ``projects`` PolyAI v3 projects over ``months`` 30-day windows (13 by default: 12
    full and the current one), cursor paging, the default page size."""
    window_days = 30
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(days=months * window_days)
    count = max(10, round(per_project * scale))
    span = (now - start - timedelta(days=1)).total_seconds()  # the data starts a day after start_date
    page_size = spec_default("page_size", "polyai")
    ids = numbered_project_ids(projects)
    windows = {"start": iso(start), "days": window_days, "count": window_count(start, now, window_days) + 2}

    def connector_minimum(truth: Mapping[str, Any], began: datetime) -> Minimum:
        n = window_count(start, began, window_days)
        per_project = truth["polyai_conversations"]["projects"].values()
        rows = sum(project["rows"] for project in per_project)
        reads = sum(pages(k, page_size) for project in per_project for k in project["rows_per_window"][:n])
        bound = math.ceil(rows / page_size) + n * projects
        return Minimum(
            projects + reads,
            f"{projects} in-progress probes + max(1, ceil(rows/{page_size})) for each of {n} windows x {projects} "
            f"projects (within the issue's bound, ceil(rows/page) + windows x projects: {bound})",
        )

    def loop_minimum(truth: Mapping[str, Any], began: datetime) -> Minimum:
        per_project = truth["polyai_conversations"]["projects"].values()
        return Minimum(
            sum(pages(project["rows"], page_size) for project in per_project),
            f"max(1, ceil(rows/{page_size})) per project, one walk each",
        )

    return Scenario(
        name="polyai_backfill",
        title=(
            f"PolyAI v3 backfill: {projects} projects x {count:,} conversations (90% live), "
            f"{windows['count'] - 2} windows of {window_days} days, cursor paging, page size {page_size}"
        ),
        stream="polyai_conversations",
        section="polyai_v3",
        job="polyai",
        server={
            "polyai_projects": dict.fromkeys(ids, count),
            "polyai_spacing_seconds": span / count,
            "vectara_count": 0,
            "vectara_agent_count": 0,
        },
        settings={"window_days": window_days},
        page_size=page_size,
        target=0.4,
        connector_minimum=connector_minimum,
        loop_minimum=loop_minimum,
        start_date=iso(start),
        polyai_windows=windows,
        warm=("polyai_v3",),
    )


def _vectara_server(chats: int, **agents: int) -> dict[str, Any]:
    return {"polyai_count": 0, "vectara_count": chats, "vectara_agent_count": 0, **agents}


def vectara_list(scale: float, chats: int = 10_000) -> Scenario:
    """A walk of the v2 chats list: one page after the other (the next page key comes with each page)."""
    count = max(10, round(chats * scale))
    page_size = spec_default("page_size", "vectara")

    def minimum(truth: Mapping[str, Any], began: datetime) -> Minimum:
        return Minimum(pages(truth["vectara_chats"]["chats"], page_size), f"ceil(chats/{page_size})")

    return Scenario(
        name="vectara_list_v2",
        title=f"Vectara v2 list walk: vectara_chats, {count:,} chats, page size {page_size}",
        stream="vectara_chats",
        section="vectara_v2",
        job="vectara_v2_chats",
        server=_vectara_server(count),
        settings={"sync_agents": False},
        page_size=page_size,
        target=1.1,
        connector_minimum=minimum,
        loop_minimum=minimum,
        warm=("vectara_chats",),
    )


def vectara_turns_v1(scale: float, conversations: int = 1_000) -> Scenario:
    """vectara_turns: the v1 list, and read-conversations for 10 conversations a request."""
    count = max(10, round(conversations * scale))
    page_size = spec_default("page_size", "vectara")

    def minimum(truth: Mapping[str, Any], began: datetime) -> Minimum:
        n = truth["vectara_turns"]["conversations"]
        return Minimum(
            pages(n, page_size) + math.ceil(n / READ_CONVERSATIONS_BATCH),
            f"ceil(conversations/{page_size}) list pages + ceil(conversations/{READ_CONVERSATIONS_BATCH}) reads",
        )

    return Scenario(
        name="vectara_turns_v1",
        title=f"Vectara v1 turns: vectara_turns, {count:,} conversations (1-6 turns each), read 10 a request",
        stream="vectara_turns",
        section="vectara_v1",
        job="vectara_v1_turns",
        server=_vectara_server(count),
        settings={},
        page_size=page_size,
        target=0.25,
        connector_minimum=minimum,
        loop_minimum=minimum,
        warm=("vectara",),
    )


def vectara_turns_v2(scale: float, chats: int = 200) -> Scenario:
    """vectara_chat_turns: the v2 chats list, and one turns request per chat."""
    count = max(10, round(chats * scale))
    page_size = spec_default("page_size", "vectara")

    def minimum(truth: Mapping[str, Any], began: datetime) -> Minimum:
        n = truth["vectara_chat_turns"]["chats"]
        return Minimum(pages(n, page_size) + n, f"ceil(chats/{page_size}) list pages + one turns request per chat")

    return Scenario(
        name="vectara_turns_v2",
        title=f"Vectara v2 turns: vectara_chat_turns, {count:,} chats (1-6 turns each), one request per chat",
        stream="vectara_chat_turns",
        section="vectara_v2",
        job="vectara_v2_turns",
        server=_vectara_server(count),
        settings={"sync_agents": False},
        page_size=page_size,
        target=0.25,
        connector_minimum=minimum,
        loop_minimum=minimum,
        warm=("vectara_chats",),
    )


def vectara_agent_events(scale: float, agents: int = 2, sessions: int = 40, events: int = 22) -> Scenario:
    """vectara_agent_events: the agents list, each agent's sessions, each session's events."""
    per_agent = max(2, round(sessions * scale))
    page_size = spec_default("page_size", "vectara")

    def minimum(truth: Mapping[str, Any], began: datetime) -> Minimum:
        per_session = truth["vectara_agent_events"]["events_per_session"]
        requests = (
            pages(len(per_session), AGENTS_PAGE_LIMIT)
            + sum(pages(len(counts), AGENTS_PAGE_LIMIT) for counts in per_session)
            + sum(pages(n, AGENTS_PAGE_LIMIT) for counts in per_session for n in counts)
        )
        return Minimum(
            requests, f"agents list + sessions pages per agent + events pages per session ({AGENTS_PAGE_LIMIT} a page)"
        )

    return Scenario(
        name="vectara_agent_events",
        title=(
            f"Vectara Agents events: vectara_agent_events, {agents} agents x {per_agent} sessions x about {events} events"
        ),
        stream="vectara_agent_events",
        section="vectara_v2",
        job="vectara_agent_events",
        server={
            "polyai_count": 0,
            "vectara_count": 0,
            "vectara_agent_count": agents,
            "vectara_sessions_per_agent": per_agent,
            "vectara_events_per_session": events,
        },
        settings={"sync_agents": True},
        page_size=page_size,
        target=None,
        connector_minimum=minimum,
        loop_minimum=minimum,
    )


SCENARIOS: dict[str, Callable[[float], Scenario]] = {
    "polyai_backfill": polyai_backfill,
    "vectara_list_v2": vectara_list,
    "vectara_turns_v1": vectara_turns_v1,
    "vectara_turns_v2": vectara_turns_v2,
    "vectara_agent_events": vectara_agent_events,
}
"""Every latency scenario, by name, in the order they run."""
