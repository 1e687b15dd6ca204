"""Deterministic, lazily generated synthetic data for the fake Vectara Agents API: agents, the sessions of
each agent and the events of each session.

Like the rest of the fake's data, everything is a pure function of the seed and a record's position, so
many sessions cost nothing until they are listed. Mutations (added sessions, appended events, deleted
sessions) are kept apart from the generated records.

Event types: every type Vectara's Agents API documents for session history (:data:`AGENT_EVENT_TYPES`),
plus :data:`UNKNOWN_EVENT_TYPE`, a type no client knows, as a newer API version could send. The first
generated session of the first agent is a "tour" that has every one of them (given enough events per
session); the others draw a realistic mix. A ``compaction`` event hides every earlier event that was not
hidden yet: those are listed only with ``include_hidden=true``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .data import (
    DEFAULT_SEED,
    _mix64,
    _stream_key,
    _unmix64,
    format_millis,
    to_epoch_us,
)
from .texts import LANGUAGES, Exchange, Language

AGENT_EVENT_TYPES: tuple[str, ...] = (
    "input_message",
    "artifact_upload",
    "image_read",
    "thinking",
    "skill_load",
    "step_transition",
    "tool_input",
    "tool_output",
    "agent_output",
    "structured_output",
    "context_limit_exceeded",
    "step_transition_limit_exceeded",
    "session_interrupted",
    "compaction",
)
"""The documented session event types (Vectara Agents API, 2026)."""
UNKNOWN_EVENT_TYPE = "future_event_type"
"""An event type the fake invents, so clients meet a type they do not know."""

_AGENT_STREAM = 11
_SESSION_STREAM = 12
_EVENT_STREAM = 13
_MASK64 = (1 << 64) - 1
_US_PER_SECOND = 1_000_000
_DAY_US = 86_400 * _US_PER_SECOND
_MAX_EVENT_GAP_US = 40 * _US_PER_SECOND
_SESSION_INDEX_BITS = 32

_TOUR: tuple[str, ...] = (
    "artifact_upload",
    "input_message",
    "image_read",
    "thinking",
    "skill_load",
    "tool_input",
    "tool_output",
    "agent_output",
    "input_message",
    "step_transition",
    "thinking",
    "tool_input",
    "tool_output",
    "structured_output",
    "context_limit_exceeded",
    "compaction",
    "input_message",
    "step_transition_limit_exceeded",
    "session_interrupted",
    UNKNOWN_EVENT_TYPE,
    "input_message",
    "agent_output",
)
"""Event types of the tour session (the first generated session of the first agent)."""


@dataclass(frozen=True)
class _Profile:
    """What an agent is for: its name, tools, steps and skills."""

    slug: str
    name: str
    description: str
    model: str
    tools: tuple[tuple[str, str], ...]  # (tool configuration name, tool name)
    steps: tuple[str, ...]
    skills: tuple[str, ...]
    schema: str


_PROFILES: tuple[_Profile, ...] = (
    _Profile(
        "concierge",
        "Bella Vista concierge",
        "Answers guests' questions about bookings, menus and opening times.",
        "gpt-4o",
        (("menu_search", "corpora_search"), ("bookings", "lambda"), ("web", "web_search")),
        ("greeting", "booking", "wrap_up"),
        ("booking_policy", "allergens"),
        "booking_summary",
    ),
    _Profile(
        "support",
        "Order support triage",
        "Sorts delivery and order problems and hands the hard ones to a person.",
        "claude-sonnet-4",
        (("orders_kb", "corpora_search"), ("order_status", "lambda"), ("doc_text", "get_document_text")),
        ("triage", "resolve", "handoff"),
        ("refund_rules",),
        "ticket",
    ),
    _Profile(
        "research",
        "Menu research assistant",
        "Compares suppliers and seasonal produce for the kitchen team.",
        "gpt-4.1-mini",
        (("suppliers", "corpora_search"), ("web", "web_search"), ("fetch", "web_get")),
        ("plan", "research", "report"),
        ("sourcing_checklist", "report_style"),
        "supplier_report",
    ),
)

_THOUGHTS: tuple[str, ...] = (
    "The guest wants a booking; I should check availability before confirming.",
    "This looks like a question the menu corpus can answer.",
    "I need the order number before I can look anything up.",
    "Two tools could help here; the corpus search is cheaper, so try it first.",
    "The user changed language mid-conversation; answer in their language.",
)
_FILES: tuple[tuple[str, str], ...] = (
    ("menu-autumn.pdf", "application/pdf"),
    ("receipt.jpg", "image/jpeg"),
    ("allergens.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("floor-plan.png", "image/png"),
)
_TOPICS: tuple[str, ...] = ("Booking", "Delivery issue", "Menu question", "Supplier check", "Refund", "Opening hours")
_CHANNELS: tuple[str, ...] = ("web", "slack", "api", "mobile")
_TTI_MINUTES: tuple[int | None, ...] = (None, None, None, 30, 60, 1440, 10080)


def _pick(rng: random.Random, items: Sequence[Any]) -> Any:
    return items[int(rng.random() * len(items))]


class StoredEvent(NamedTuple):
    """One event of a session as served, and whether a compaction hid it."""

    record: dict[str, Any]
    hidden: bool


@dataclass
class _AddedSession:
    created_us: int
    name: str | None
    events: int


def scan_page(size: int, position: int, limit: int, keep: Callable[[int], bool]) -> tuple[list[int], int | None]:
    """The first ``limit`` positions in ``[position, size)`` that ``keep`` accepts, and the position of the
    next accepted one after them (None when there is none): a page and where the next page starts."""
    found: list[int] = []
    for candidate in range(position, size):
        if keep(candidate):
            if len(found) == limit:
                return found, candidate
            found.append(candidate)
    return found, None


def _affine(count: int, key: int) -> tuple[int, int]:
    """Multiplier and shift of a bijection ``p -> (m * p + s) % count`` (an unsorted listing order)."""
    if count < 2:
        return 1, 0
    multiplier = max(1, round(count * 0.38196601125)) + key % 5
    while math.gcd(multiplier, count) != 1:
        multiplier += 1
    return multiplier, key % count


class AgentsDataset:
    """The agents of one Vectara account, their sessions and each session's events.

    Sessions of an agent are listed in a seeded, unsorted order (not by ``created_at``), then added ones
    in the order they were added; a deleted session leaves a gap that listings skip, so listing positions
    (and page keys) stay valid. Not thread-safe; the server serialises access.
    """

    def __init__(
        self,
        *,
        seed: int = DEFAULT_SEED,
        agent_count: int = 2,
        sessions_per_agent: int = 25,
        events_per_session: int = 22,
        end_us: int,
        session_spacing_us: int = 3600 * _US_PER_SECOND,
    ) -> None:
        if agent_count < 0 or sessions_per_agent < 0 or events_per_session < 0:
            raise ValueError("agent, session and event counts must not be negative")
        self.agent_count = agent_count
        self.sessions_per_agent = sessions_per_agent
        self.events_per_session = events_per_session
        self.session_spacing_us = max(1, session_spacing_us)
        self._agent_key = _stream_key(seed, _AGENT_STREAM)
        self._session_key = _stream_key(seed, _SESSION_STREAM)
        self._event_key = _stream_key(seed, _EVENT_STREAM)
        span_us = sessions_per_agent * self.session_spacing_us + (events_per_session + 2) * _MAX_EVENT_GAP_US
        self.origin_us = end_us - span_us
        self._agent_keys = [self._make_agent_key(a) for a in range(agent_count)]
        self._agent_index = {key: a for a, key in enumerate(self._agent_keys)}
        self._permutations = [_affine(sessions_per_agent, _mix64(self._session_key ^ a)) for a in range(agent_count)]
        self._added: list[list[_AddedSession]] = [[] for _ in range(agent_count)]
        self._deleted: set[tuple[int, int]] = set()
        self._appended: dict[tuple[int, int], list[tuple[str, int]]] = {}

    # -- agents -------------------------------------------------------------------------------------

    def _make_agent_key(self, a: int) -> str:
        profile = _PROFILES[a % len(_PROFILES)]
        return f"agt_{profile.slug}_{_mix64(self._agent_key + a) & 0xFFFFFF:06x}"

    @property
    def agent_keys(self) -> list[str]:
        """Every agent key, in listing order."""
        return list(self._agent_keys)

    def agent_index(self, key: str) -> int | None:
        """The index of the agent with this key, or None."""
        return self._agent_index.get(key)

    def agent(self, a: int) -> dict[str, Any]:
        """The agent record of agent ``a``."""
        profile = _PROFILES[a % len(_PROFILES)]
        bits = _mix64(self._agent_key + a)
        created_us = self.origin_us - (40 + a) * _DAY_US - bits % _DAY_US
        copy = a // len(_PROFILES)
        return {
            "key": self._agent_keys[a],
            "name": profile.name if copy == 0 else f"{profile.name} #{copy + 1}",
            "description": profile.description,
            "model": {"name": profile.model},
            "first_step_name": profile.steps[0],
            "tool_configurations": {name: {"type": tool} for name, tool in profile.tools},
            "metadata": {"team": profile.slug, "version": 1 + bits % 4},
            "enabled": a % 7 != 6,
            "created_at": format_millis(created_us),
            "updated_at": format_millis(created_us + (3 + bits % 20) * _DAY_US),
        }

    # -- sessions -----------------------------------------------------------------------------------

    def listing_size(self, a: int) -> int:
        """Listing positions of agent ``a``'s sessions, deleted ones included."""
        return self.sessions_per_agent + len(self._added[a])

    def session_at(self, a: int, position: int) -> int:
        """The session index at listing ``position`` of agent ``a``."""
        if position < self.sessions_per_agent:
            multiplier, shift = self._permutations[a]
            return (multiplier * position + shift) % self.sessions_per_agent
        return position

    def is_live(self, a: int, j: int) -> bool:
        """Whether session ``j`` of agent ``a`` exists and was not deleted."""
        return 0 <= j < self.listing_size(a) and (a, j) not in self._deleted

    def session_page(self, a: int, position: int, limit: int) -> tuple[list[int], int | None]:
        """Session indices of the next ``limit`` live sessions from listing ``position``, and the position
        the following page starts at (None on the last page)."""
        positions, next_position = scan_page(
            self.listing_size(a), position, limit, lambda p: (a, self.session_at(a, p)) not in self._deleted
        )
        return [self.session_at(a, p) for p in positions], next_position

    def live_sessions(self, a: int) -> list[int]:
        """Every live session index of agent ``a``, in listing order."""
        return self.session_page(a, 0, self.listing_size(a))[0]

    def session_key(self, a: int, j: int) -> str:
        """The ``ses_`` key of session ``j`` of agent ``a`` (it encodes both, so lookups are O(1))."""
        return f"ses_{_mix64((self._session_key + (a << _SESSION_INDEX_BITS) + j) & _MASK64):016x}"

    def session_index(self, a: int, key: str) -> int | None:
        """The index of agent ``a``'s live session with this key, or None (unknown, other agent, deleted)."""
        if not key.startswith("ses_") or len(key) != 20:
            return None
        try:
            bits = int(key[4:], 16)
        except ValueError:
            return None
        value = (_unmix64(bits) - self._session_key) & _MASK64
        if value >> _SESSION_INDEX_BITS != a:
            return None
        j = value & ((1 << _SESSION_INDEX_BITS) - 1)
        return j if self.is_live(a, j) else None

    def _session_bits(self, a: int, j: int) -> int:
        return _mix64((self._event_key + (a << _SESSION_INDEX_BITS) + j) & _MASK64)

    def _session_created_us(self, a: int, j: int) -> int:
        if j >= self.sessions_per_agent:
            return self._added[a][j - self.sessions_per_agent].created_us
        jitter = self._session_bits(a, j) % self.session_spacing_us
        return self.origin_us + j * self.session_spacing_us + jitter

    def _language(self, a: int, j: int) -> Language:
        return LANGUAGES[(self._session_bits(a, j) >> 8) % len(LANGUAGES)]

    def session(self, a: int, j: int) -> dict[str, Any]:
        """The session record of session ``j`` of agent ``a``."""
        rng = random.Random(self._session_bits(a, j))
        language = self._language(a, j)
        topic = _pick(rng, _TOPICS)
        user = f"usr_{rng.getrandbits(32):08x}"
        added = self._added[a][j - self.sessions_per_agent] if j >= self.sessions_per_agent else None
        metadata: dict[str, Any] = {} if rng.random() < 0.2 else {"channel": _pick(rng, _CHANNELS), "user_id": user}
        return {
            "key": self.session_key(a, j),
            "agent_key": self._agent_keys[a],
            "name": added.name if added is not None and added.name else f"{topic} ({language.code})",
            "description": "" if rng.random() < 0.3 else f"{topic} conversation with {user}",
            "metadata": metadata,
            "enabled": rng.random() >= 0.1,
            "tti_minutes": _pick(rng, _TTI_MINUTES),
            "created_at": format_millis(self._session_created_us(a, j)),
        }

    def add_session(self, a: int, created_us: int, name: str | None = None, events: int = 0) -> int:
        """Add a session to agent ``a`` (listed last) with ``events`` generated events; return its index."""
        self._added[a].append(_AddedSession(created_us, name, max(0, int(events))))
        return self.listing_size(a) - 1

    def delete_session(self, a: int, j: int) -> None:
        """Delete session ``j`` of agent ``a``: it leaves every listing and its key stops working."""
        if not self.is_live(a, j):
            raise KeyError("no such session")
        self._deleted.add((a, j))

    # -- events -------------------------------------------------------------------------------------

    def _generated_types(self, a: int, j: int, rng: random.Random) -> list[str]:
        if j >= self.sessions_per_agent:
            count = self._added[a][j - self.sessions_per_agent].events
        else:
            count = self.events_per_session
        types = list(_TOUR[:count]) if a == 0 and j == 0 else []
        while len(types) < count:
            types += _turn_types(rng, len(types))
        return types[:count]

    def events(self, a: int, j: int) -> list[StoredEvent]:
        """Every event of session ``j`` of agent ``a`` in chronological order, with its hidden flag."""
        bits = self._session_bits(a, j)
        rng = random.Random(bits ^ 0x5EED)
        session_key = self.session_key(a, j)
        writer = _EventWriter(_PROFILES[a % len(_PROFILES)], self._language(a, j), session_key, bits)
        moment = self._session_created_us(a, j)
        for event_type in self._generated_types(a, j, rng):
            moment += _US_PER_SECOND + int(rng.random() * (_MAX_EVENT_GAP_US - _US_PER_SECOND))
            writer.write(event_type, moment, rng)
        for k, (event_type, created_us) in enumerate(self._appended.get((a, j), ())):
            writer.write(event_type, created_us, random.Random(bits ^ (k + 1) * 0x9E3779B9))
        return writer.events

    def add_events(self, a: int, j: int, created_us: int, types: Sequence[str]) -> list[str]:
        """Append events of ``types`` to session ``j`` of agent ``a``, 1 ms apart from ``created_us`` (raised
        past the session's last event so the order stays chronological); return their ids."""
        if not self.is_live(a, j):
            raise KeyError("no such session")
        existing = self.events(a, j)
        last_us = _parse_millis(existing[-1].record["created_at"]) if existing else self._session_created_us(a, j)
        start = max(created_us, last_us + 1000)
        appended = self._appended.setdefault((a, j), [])
        appended.extend((str(event_type), start + k * 1000) for k, event_type in enumerate(types))
        return [stored.record["id"] for stored in self.events(a, j)[len(existing) :]]


def _parse_millis(text: str) -> int:
    """Epoch microseconds of a :func:`~fake_api.data.format_millis` timestamp."""
    return to_epoch_us(text.replace("Z", "+00:00"))


def _turn_types(rng: random.Random, so_far: int) -> list[str]:
    """The event types of one user turn of an ordinary session."""
    types: list[str] = []
    if rng.random() < 0.05:
        types.append("artifact_upload")
    types.append("input_message")
    if types[0] == "artifact_upload" and rng.random() < 0.5:
        types.append("image_read")
    if rng.random() < 0.05:
        types.append("skill_load")
    if rng.random() < 0.08:
        types.append("step_transition")
    if rng.random() < 0.5:
        types.append("thinking")
    for _ in range(int(rng.random() * 3)):
        types += ["tool_input", "tool_output"]
    roll = rng.random()
    if roll < 0.02:
        types.append("context_limit_exceeded")
    elif roll < 0.03:
        types.append("step_transition_limit_exceeded")
    elif roll < 0.05:
        types.append("session_interrupted")
    elif roll < 0.13:
        types.append("structured_output")
    else:
        types.append("agent_output")
    if rng.random() < 0.03:
        types.append(UNKNOWN_EVENT_TYPE)
    if so_far + len(types) >= 10 and rng.random() < 0.1:
        types.append("compaction")
    return types


class _EventWriter:
    """Builds a session's events one after another, keeping what later events refer back to (the open
    tool call, the last uploaded artifact, the current step) and applying compactions."""

    def __init__(self, profile: _Profile, language: Language, session_key: str, bits: int) -> None:
        self.profile = profile
        self.language = language
        self.session_key = session_key
        self.bits = bits
        self.events: list[StoredEvent] = []
        self.exchange: Exchange = language.exchanges[0]
        self.tool: tuple[str, str] = profile.tools[0]
        self.call_id: str | None = None
        self.artifact_id: str | None = None
        self.step = 0

    def _id(self, prefix: str, salt: int) -> str:
        return f"{prefix}_{_mix64((self.bits + len(self.events) * 0x100 + salt) & _MASK64):016x}"

    def write(self, event_type: str, created_us: int, rng: random.Random) -> None:
        record: dict[str, Any] = {
            "id": self._id("aev", 0),
            "session_key": self.session_key,
            "type": event_type,
            "created_at": format_millis(created_us),
        }
        record.update(self._fields(event_type, rng))
        self.events.append(StoredEvent(record, False))

    def _fields(self, event_type: str, rng: random.Random) -> dict[str, Any]:
        profile = self.profile
        if event_type == "input_message":
            self.exchange = _pick(rng, self.language.exchanges)
            return {"messages": [{"type": "text", "text": self.exchange.user}]}
        if event_type == "thinking":
            return {"content": _pick(rng, _THOUGHTS)}
        if event_type == "tool_input":
            self.tool = _pick(rng, profile.tools)
            self.call_id = self._id("call", 1)
            return {
                "tool_call_id": self.call_id,
                "tool_configuration_name": self.tool[0],
                "tool_name": self.tool[1],
                "tool_input": {
                    "query": self.exchange.user_en or self.exchange.user,
                    "limit": 1 + int(rng.random() * 9),
                },
            }
        if event_type == "tool_output":
            call_id = self.call_id or self._id("call", 1)
            self.call_id = None
            return {
                "tool_call_id": call_id,
                "tool_configuration_name": self.tool[0],
                "tool_name": self.tool[1],
                "tool_output": {
                    "status": "ok" if rng.random() >= 0.05 else "error",
                    "results": [
                        {"text": self.exchange.agent_en or self.exchange.agent, "score": round(rng.random(), 3)}
                    ],
                },
            }
        if event_type == "agent_output":
            return {"content": self.exchange.agent}
        if event_type == "structured_output":
            return {
                "schema_name": profile.schema,
                "content": {
                    "intent": self.exchange.intent,
                    "resolved": rng.random() < 0.7,
                    "entities": [dict(entity) for entity in self.exchange.entities],
                },
            }
        if event_type == "artifact_upload":
            filename, mime_type = _pick(rng, _FILES)
            self.artifact_id = self._id("art", 2)
            artifact = {
                "artifact_id": self.artifact_id,
                "filename": filename,
                "mime_type": mime_type,
                "size_bytes": 2_000 + int(rng.random() * 2_000_000),
            }
            return {"artifacts": [artifact]}
        if event_type == "image_read":
            return {
                "artifact_id": self.artifact_id or self._id("art", 2),
                "detail": _pick(rng, ("auto", "low", "high")),
            }
        if event_type == "skill_load":
            skill = _pick(rng, profile.skills)
            return {"skill_name": skill, "content": f"Guidance loaded from the {skill.replace('_', ' ')} skill."}
        if event_type == "step_transition":
            steps = profile.steps
            from_step, self.step = steps[self.step], (self.step + 1) % len(steps)
            return {"from_step": from_step, "to_step": steps[self.step], "content": f"Moving on to {steps[self.step]}."}
        if event_type == "context_limit_exceeded":
            limit = 128_000
            return {
                "context_limit": limit,
                "actual_tokens": limit + 1 + int(rng.random() * 20_000),
                "message": "The request exceeded the model's context window.",
            }
        if event_type == "step_transition_limit_exceeded":
            return {"transition_limit": 10, "message": "Too many step transitions; the agent may be looping."}
        if event_type == "session_interrupted":
            return {}
        if event_type == "compaction":
            return self._compact()
        return {"payload": {"note": "an event type this client may not know", "level": 1 + int(rng.random() * 5)}}

    def _compact(self) -> dict[str, Any]:
        """Hide every event so far that is not hidden yet; describe what was hidden."""
        hidden = 0
        turns = 0
        for k, stored in enumerate(self.events):
            if not stored.hidden:
                self.events[k] = stored._replace(hidden=True)
                hidden += 1
                turns += stored.record["type"] == "input_message"
        return {
            "turns_compacted": turns,
            "events_compacted": hidden,
            "summary_text": f"Summary of {turns} earlier turn(s): the user asked about {self.exchange.intent or 'the menu'}.",
            "summary_key": self._id("sum", 3),
        }
