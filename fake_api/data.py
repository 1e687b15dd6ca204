"""Deterministic, lazily generated synthetic data for the fake PolyAI and Vectara APIs.

Record ``i`` of a dataset is a pure function of ``(seed, i)`` and the dataset's fixed timeline, so a
dataset of a million records costs nothing until a page of it is asked for. Mutations made while a
server runs (added records, finished in-progress calls) are kept apart from the generated base records.

PolyAI base records start at ``origin + i * spacing + jitter`` with ``0 <= jitter < spacing``, so
``started_at`` strictly increases with ``i`` and a time window maps to an index range in O(1).
Environment and variant repeat with a seeded period of :data:`PATTERN_PERIOD` records, so filtered
counts and the n-th filtered record are O(1) as well.

The module-level helpers :func:`polyai_conversation`, :func:`vectara_turn`, :func:`polyai_page` and
:func:`vectara_page` let unit tests build realistic response bodies without a server.
"""

from __future__ import annotations

import bisect
import functools
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from .texts import DTMF_INPUTS, HANDOFF_DESTINATIONS, HANDOFF_REASONS, LANGUAGES, Exchange, Language

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_SEED = 42
DEFAULT_ORIGIN = datetime(2024, 1, 1, tzinfo=UTC)
"""Time of record 0 for the standalone helpers (a server anchors its data so it ends near "now")."""
DEFAULT_SPACING_SECONDS = 60.0
DEFAULT_ACCOUNT_ID = "ws-f4k3a1c0"
DEFAULT_PROJECT_ID = "PROJECT-9d2e7b41"
ENVIRONMENTS: tuple[str, ...] = ("live", "sandbox", "pre-release")
PATTERN_PERIOD = 100

Timestamp = datetime | str | int | float
"""A point in time: an aware or naive (= UTC) datetime, an ISO 8601 string or Unix seconds."""


@dataclass(frozen=True)
class Variant:
    """A PolyAI project variant."""

    id: str
    name: str


VARIANTS: tuple[Variant, ...] = (
    Variant("VARIANT-7f3a9c21", "Main line"),
    Variant("VARIANT-2b8e4d10", "Spanish pilot"),
    Variant("VARIANT-c41d0e77", "Black Friday promo"),
)

POLYAI_DESCRIPTIONS: dict[str, str] = {
    "id": "Unique conversation ID",
    "account_id": "Account ID",
    "project_id": "Project ID",
    "variant_id": "ID of the variant that handled the conversation",
    "variant_name": "Name of the variant that handled the conversation",
    "environment": "Client environment: sandbox, pre-release or live",
    "started_at": "Conversation start time (ISO 8601)",
    "channel": "Channel of the conversation, e.g. VOICE-SIP or WEBCHAT",
    "from_number": "Caller number",
    "to_number": "Number the caller dialled",
    "in_progress": "Whether the conversation is still in progress; its fields may still change",
    "num_turns": "Number of turns in the conversation",
    "total_duration": "Total duration of the conversation in seconds",
    "polyai_duration": "Duration handled by the PolyAI agent in seconds",
    "handoff": "Whether the conversation was handed off",
    "handoff_reason": "Reason for the handoff",
    "handoff_destination": "Destination of the handoff",
    "num_silences": "Number of user silences",
    "num_ood": "Number of out-of-domain user inputs",
    "metrics": "Project-configured metrics; values are strings or lists of strings",
    "state": "Conversation state key/values",
    "turns": "Transcript turns; empty when transcript access is disabled",
}

_MASK64 = (1 << 64) - 1
_POLYAI_STREAM = 1
_VECTARA_STREAM = 2
_PATTERN_STREAM = 3
_US_PER_SECOND = 1_000_000
_US_PER_MINUTE = 60 * _US_PER_SECOND


# --------------------------------------------------------------------------------------------------
# Randomness and time helpers
# --------------------------------------------------------------------------------------------------


def _mix64(x: int) -> int:
    """SplitMix64 finaliser: a fast, well-distributed 64-bit hash of ``x``."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _stream_key(seed: int, stream: int) -> int:
    """A per-(seed, dataset kind) key; record hashes are ``_mix64(key + i)``."""
    return _mix64(_mix64(seed & _MASK64) ^ stream)


def to_epoch_us(moment: Timestamp) -> int:
    """Convert a :data:`Timestamp` to integer microseconds since the Unix epoch (naive means UTC).

    Raises ``ValueError`` for a string that is not ISO 8601.
    """
    if isinstance(moment, (int, float)):
        return round(moment * _US_PER_SECOND)
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US_PER_SECOND + delta.microseconds


@functools.lru_cache(maxsize=8192)
def _minute_text(minute: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))


def format_timestamp(epoch_us: int, suffix: str = "Z") -> str:
    """Format epoch microseconds as ISO 8601 UTC with microseconds, e.g. ``2024-01-01T00:00:00.000000Z``.

    ``suffix`` is the UTC designator: ``"Z"`` or ``"+00:00"``.
    """
    minute, of_minute = divmod(epoch_us, _US_PER_MINUTE)
    return f"{_minute_text(minute)}{of_minute // _US_PER_SECOND:02d}.{of_minute % _US_PER_SECOND:06d}{suffix}"


def json_copy(value: Any) -> Any:
    """A deep copy of ``value`` made of plain JSON types, exactly as a client would parse it."""
    return orjson.loads(orjson.dumps(value))


def _pick(rng: random.Random, items: Sequence[Any]) -> Any:
    return items[int(rng.random() * len(items))]


# --------------------------------------------------------------------------------------------------
# Filterable attributes: environment and variant, periodic so filtered counts are O(1)
# --------------------------------------------------------------------------------------------------

AttributeKey = tuple[str | None, int | None]
"""(environment or None for any, variant index or None for any; -1 matches nothing)."""


class _AttributePattern:
    """Environment and variant of base record ``i``: a seeded shuffle repeated every PATTERN_PERIOD records."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(_stream_key(seed, _PATTERN_STREAM))
        environments = ["live"] * 90 + ["sandbox"] * 6 + ["pre-release"] * 4
        variants = [0] * 60 + [1] * 30 + [2] * 10
        rng.shuffle(environments)
        rng.shuffle(variants)
        self.slots: list[tuple[str, int]] = list(zip(environments, variants, strict=True))
        self._positions: dict[AttributeKey, list[int]] = {}

    def attributes(self, i: int) -> tuple[str, int]:
        return self.slots[i % PATTERN_PERIOD]

    def _matching(self, key: AttributeKey) -> list[int]:
        positions = self._positions.get(key)
        if positions is None:
            environment, variant = key
            positions = [
                p for p, (env, var) in enumerate(self.slots) if environment in (None, env) and variant in (None, var)
            ]
            self._positions[key] = positions
        return positions

    def count(self, key: AttributeKey, end: int) -> int:
        """How many indices in ``[0, end)`` match ``key``."""
        positions = self._matching(key)
        cycles, rest = divmod(end, PATTERN_PERIOD)
        return cycles * len(positions) + bisect.bisect_left(positions, rest)

    def nth(self, key: AttributeKey, rank: int) -> int:
        """The index of the ``rank``-th (0-based) match of ``key``."""
        positions = self._matching(key)
        cycles, rest = divmod(rank, len(positions))
        return cycles * PATTERN_PERIOD + positions[rest]


@functools.lru_cache(maxsize=16)
def _pattern(seed: int) -> _AttributePattern:
    return _AttributePattern(seed)


def variant_index(variant_id: str | None = None, variant_name: str | None = None) -> int | None:
    """Index into :data:`VARIANTS` for a variant filter; None without filter, -1 for an unknown variant."""
    if variant_id is None and variant_name is None:
        return None
    for index, variant in enumerate(VARIANTS):
        if variant.id == variant_id or variant.name == variant_name:
            return index
    return -1


# --------------------------------------------------------------------------------------------------
# PolyAI conversations
# --------------------------------------------------------------------------------------------------


class PolyaiSlot(NamedTuple):
    """What places a PolyAI record in listings: everything but its generated content."""

    record_index: int
    started_us: int
    environment: str
    variant: int
    in_progress: bool


@dataclass(frozen=True)
class PolyaiFilter:
    """A listing filter. Times are epoch microseconds; ``end_us`` is exclusive."""

    start_us: int | None = None
    end_us: int | None = None
    environment: str | None = "live"
    variant: int | None = None
    in_progress: bool | None = None

    def admits(self, slot: PolyaiSlot) -> bool:
        """Whether ``slot`` passes this filter."""
        return (
            (self.start_us is None or slot.started_us >= self.start_us)
            and (self.end_us is None or slot.started_us < self.end_us)
            and self.environment in (None, slot.environment)
            and self.variant in (None, slot.variant)
            and self.in_progress in (None, slot.in_progress)
        )


def _turn_template(
    agent: tuple[str, str | None], exchange: Exchange | None = None, *, is_silence: bool = False
) -> dict[str, Any]:
    """A turn with its static text filled in; timestamps, latency and DTMF are set per record."""
    return {
        "user_input": exchange.user if exchange else None,
        "user_input_dtmf": None,
        "user_input_datetime": None,
        "agent_response": agent[0],
        "agent_response_datetime": None,
        "latency": None,
        "translated_user_input": exchange.user_en if exchange else None,
        "english_agent_response": agent[1],
        "intents": [exchange.intent] if exchange and exchange.intent else [],
        "entities": list(exchange.entities) if exchange else [],
        "is_ood": bool(exchange and exchange.out_of_domain),
        "is_silence": is_silence,
    }


@dataclass(frozen=True)
class _Script:
    """Precomputed turn templates of one language (shared between records: copy before changing)."""

    language: Language
    greeting: dict[str, Any]
    reprompt: dict[str, Any]
    closing: dict[str, Any]
    exchanges: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, language: Language) -> _Script:
        return cls(
            language=language,
            greeting=_turn_template(language.greeting),
            reprompt=_turn_template(language.reprompt, is_silence=True),
            closing=_turn_template(language.closing),
            exchanges=tuple(_turn_template((e.agent, e.agent_en), e) for e in language.exchanges),
        )


_SCRIPTS: dict[str, _Script] = {language.code: _Script.of(language) for language in LANGUAGES}
# English is the most common language, then Spanish; the rest appear now and then.
_SCRIPT_TABLE: tuple[_Script, ...] = tuple(
    _SCRIPTS[code] for code in ("en-GB",) * 4 + ("en-US",) * 3 + ("es-ES",) * 2 + tuple(_SCRIPTS)[2:]
)
_AGENT_SPEAKING_US_PER_CHAR = 60_000


def _transcript(rng: random.Random, script: _Script, start_us: int, suffix: str) -> tuple[list[dict[str, Any]], int]:
    """Generate the turns of one conversation; return them and the time the last agent reply ended."""
    # Each planned turn: (template, the user was heard, DTMF keys pressed instead of speaking).
    plan: list[tuple[dict[str, Any], bool, str | None]] = [(script.greeting, False, None)]
    length_roll = rng.random()  # 10% hang up after the greeting, 60% ask one thing, 30% two
    for _ in range(0 if length_roll < 0.1 else 1 if length_roll < 0.7 else 2):
        roll = rng.random()
        if roll < 0.08:
            plan.append((script.reprompt, True, None))
        elif roll < 0.13 and not script.language.chat:
            plan.append((_pick(rng, script.exchanges), True, _pick(rng, DTMF_INPUTS)))
        else:
            plan.append((_pick(rng, script.exchanges), True, None))
    if rng.random() < 0.2:
        plan.append((script.closing, False, None))

    turns = []
    now_us = start_us
    for template, heard_user, dtmf in plan:
        turn = template.copy()
        if heard_user:
            latency = round(0.25 + rng.random() * 1.2, 3)
            turn["user_input_datetime"] = format_timestamp(now_us, suffix)
            turn["latency"] = latency
            now_us += round(latency * _US_PER_SECOND)
        if dtmf is not None:
            turn["user_input"] = turn["translated_user_input"] = None
            turn["user_input_dtmf"] = dtmf
        turn["agent_response_datetime"] = format_timestamp(now_us, suffix)
        turns.append(turn)
        now_us += len(turn["agent_response"]) * _AGENT_SPEAKING_US_PER_CHAR + int(rng.random() * 4 * _US_PER_SECOND)
    return turns, now_us


def _polyai_id(rng: random.Random) -> str:
    """A Twilio-call-SID-like id, the first draw of a record's generator."""
    return f"CA{rng.getrandbits(128):032x}"


def _polyai_content(
    record_hash: int,
    slot: PolyaiSlot,
    account_id: str,
    project_id: str,
    include_context_state: bool,
) -> dict[str, Any]:
    """Generate the conversation for ``slot`` from its record hash (pure; nested values may be shared)."""
    rng = random.Random(record_hash)
    conversation_id = _polyai_id(rng)
    script: _Script = _pick(rng, _SCRIPT_TABLE)
    language = script.language
    suffix = "Z" if rng.random() < 0.5 else "+00:00"
    if language.chat:
        channel = "WEBCHAT" if rng.random() < 0.7 else "CHAT"
        from_number = None
    else:
        channel = "VOICE-SIP"
        from_number = f"{language.phone_prefix}{rng.getrandbits(40) % 10**9:09d}"
    to_number = f"{language.phone_prefix}80055501{slot.variant:02d}"

    turns, ended_us = _transcript(rng, script, slot.started_us + int(rng.random() * 2 * _US_PER_SECOND), suffix)
    if slot.in_progress:
        turns = turns[: (len(turns) + 1) // 2]
    intents = [intent for turn in turns for intent in turn["intents"]]
    random_handoff = rng.random() < 0.05
    handoff = not slot.in_progress and ("request_human" in intents or random_handoff)
    total_duration = max(1, math.ceil((ended_us - slot.started_us) / _US_PER_SECOND))
    metrics: dict[str, str | list[str]] = {
        "LANGUAGE": language.code,
        "CALL_TURN": [turn["agent_response_datetime"] for turn in turns],
    }
    if not slot.in_progress:
        metrics["CALL_DURATION"] = str(total_duration)
    if rng.random() < 0.3:
        metrics["CSAT"] = str(1 + int(rng.random() * 5))
    state: dict[str, Any] = {
        "from_": from_number,
        "to": to_number,
        "call_sid": conversation_id,
        "language": language.code,
        "attempts": 1 + int(rng.random() * 3),
    }
    if "book_table" in intents:
        state["booking_reference"] = f"BV-{rng.getrandbits(24):06X}"
    variant = VARIANTS[slot.variant]
    conversation: dict[str, Any] = {
        "id": conversation_id,
        "account_id": account_id,
        "project_id": project_id,
        "variant_id": variant.id,
        "variant_name": variant.name,
        "environment": slot.environment,
        "started_at": format_timestamp(slot.started_us, suffix),
        "channel": channel,
        "from_number": from_number,
        "to_number": to_number,
        "in_progress": slot.in_progress,
        "num_turns": len(turns),
        "total_duration": None if slot.in_progress else total_duration,
        "polyai_duration": None if slot.in_progress else (total_duration * 3 // 4 if handoff else total_duration),
        "handoff": handoff,
        "handoff_reason": _pick(rng, HANDOFF_REASONS) if handoff else None,
        "handoff_destination": _pick(rng, HANDOFF_DESTINATIONS) if handoff else None,
        "num_silences": sum(turn["is_silence"] for turn in turns),
        "num_ood": sum(turn["is_ood"] for turn in turns),
        "metrics": metrics,
        "state": state,
        # Transcript access switched off for the project: turns hidden, num_turns still real.
        "turns": [] if rng.random() < 0.03 else turns,
    }
    if include_context_state:
        conversation["context_state"] = {
            "turn_count": len(turns),
            "language": language.code,
            "intent_history": intents,
            "slots": {"party_size": None, "booking_confirmed": "confirm" in intents},
            "flags": {"authenticated": rng.random() < 0.5, "handoff_requested": handoff},
        }
    return conversation


class PolyaiDataset:
    """The PolyAI conversations of one project: generated base records plus mutations.

    Not thread-safe; :class:`~fake_api.server.FakeApiServer` serialises access with its lock.
    """

    def __init__(
        self,
        *,
        seed: int = DEFAULT_SEED,
        count: int,
        origin_us: int,
        spacing_us: int,
        in_progress_count: int = 0,
        account_id: str = DEFAULT_ACCOUNT_ID,
        project_id: str = DEFAULT_PROJECT_ID,
    ) -> None:
        if spacing_us < 1:
            raise ValueError("spacing must be at least one microsecond")
        self.base_count = count
        self.origin_us = origin_us
        self.spacing_us = spacing_us
        self.account_id = account_id
        self.project_id = project_id
        self._key = _stream_key(seed, _POLYAI_STREAM)
        self._pattern = _pattern(seed)
        self._in_progress_from = max(0, count - in_progress_count)
        self._added: list[PolyaiSlot] = []  # sorted by (started_us, index)

    @property
    def size(self) -> int:
        """Number of records, all environments, added ones included."""
        return self.base_count + len(self._added)

    def _started_us(self, i: int) -> int:
        return self.origin_us + i * self.spacing_us + _mix64(self._key + i) % self.spacing_us

    def _first_at_or_after(self, moment_us: int) -> int:
        """Lowest base index whose start is at or after ``moment_us`` (``base_count`` if none)."""
        if moment_us <= self.origin_us:
            return 0
        candidate = (moment_us - self.origin_us) // self.spacing_us
        if candidate >= self.base_count:
            return self.base_count
        return candidate if self._started_us(candidate) >= moment_us else candidate + 1

    def _base_slot(self, i: int) -> PolyaiSlot:
        environment, variant = self._pattern.attributes(i)
        return PolyaiSlot(i, self._started_us(i), environment, variant, i >= self._in_progress_from)

    def page(self, query: PolyaiFilter, offset: int, limit: int) -> tuple[list[PolyaiSlot], int]:
        """Slots ``[offset, offset + limit)`` of the records matching ``query``, by ``started_at``; and the total."""
        key: AttributeKey = (query.environment, query.variant)
        lo = 0 if query.start_us is None else self._first_at_or_after(query.start_us)
        hi = self.base_count if query.end_us is None else self._first_at_or_after(query.end_us)
        if query.in_progress is True:
            lo = max(lo, self._in_progress_from)
        elif query.in_progress is False:
            hi = min(hi, self._in_progress_from)
        hi = max(lo, hi)
        pattern = self._pattern
        rank_lo = pattern.count(key, lo)
        base_total = pattern.count(key, hi) - rank_lo

        added = [slot for slot in self._added if query.admits(slot)]
        # Merged position of each added record: base records starting at the same microsecond come first.
        positions = [
            j + pattern.count(key, min(hi, max(lo, self._first_at_or_after(slot.started_us + 1)))) - rank_lo
            for j, slot in enumerate(added)
        ]
        total = base_total + len(added)
        j = bisect.bisect_left(positions, offset)
        base_rank = rank_lo + offset - j
        slots = []
        for position in range(offset, min(offset + limit, total)):
            if j < len(added) and positions[j] == position:
                slots.append(added[j])
                j += 1
            else:
                slots.append(self._base_slot(pattern.nth(key, base_rank)))
                base_rank += 1
        return slots, total

    def conversation(self, slot: PolyaiSlot, include_context_state: bool = False) -> dict[str, Any]:
        """The full conversation record for ``slot``, ready to serialise.

        Nested values are shared between records: pass the result through :func:`json_copy` before changing it.
        """
        return _polyai_content(
            _mix64(self._key + slot.record_index), slot, self.account_id, self.project_id, include_context_state
        )

    def conversation_id(self, index: int) -> str:
        """The ``id`` of record ``index``, without generating the rest of the record."""
        return _polyai_id(random.Random(_mix64(self._key + index)))

    def add(self, n: int, started_us: int, in_progress: bool = False) -> list[PolyaiSlot]:
        """Add ``n`` live conversations starting at ``started_us``, one millisecond apart."""
        new = []
        for k in range(n):
            index = self.size
            _, variant = self._pattern.attributes(index)
            slot = PolyaiSlot(index, started_us + k * 1000, "live", variant, in_progress)
            bisect.insort(self._added, slot, key=lambda s: (s.started_us, s.record_index))
            new.append(slot)
        return new

    def finish_in_progress(self) -> int:
        """Mark every in-progress conversation finished; return how many were in progress."""
        finished = self.base_count - self._in_progress_from + sum(slot.in_progress for slot in self._added)
        self._in_progress_from = self.base_count
        self._added = [slot._replace(in_progress=False) for slot in self._added]
        return finished


def polyai_conversation(
    i: int,
    seed: int = DEFAULT_SEED,
    *,
    account_id: str = DEFAULT_ACCOUNT_ID,
    project_id: str = DEFAULT_PROJECT_ID,
    origin: Timestamp = DEFAULT_ORIGIN,
    spacing_seconds: float = DEFAULT_SPACING_SECONDS,
    in_progress: bool = False,
    include_context_state: bool = False,
) -> dict[str, Any]:
    """Record ``i`` of a PolyAI dataset, as the fake server would send it (a fresh, mutable dict).

    A server built with the same seed, ids and timeline serves the identical record.
    """
    dataset = PolyaiDataset(
        seed=seed,
        count=i + 1,
        origin_us=to_epoch_us(origin),
        spacing_us=round(spacing_seconds * _US_PER_SECOND),
        account_id=account_id,
        project_id=project_id,
    )
    slot = dataset._base_slot(i)._replace(in_progress=in_progress)
    conversation: dict[str, Any] = json_copy(dataset.conversation(slot, include_context_state))
    return conversation


# --------------------------------------------------------------------------------------------------
# Vectara first turns
# --------------------------------------------------------------------------------------------------


def _vectara_content(record_hash: int, epoch_secs: int, epoch_as_number_ratio: float) -> dict[str, Any]:
    """Generate a Vectara first turn from its record hash (pure, and cheap: plain bit slicing, no RNG)."""
    bits = _mix64(record_hash)
    hex_id = f"{bits:016x}{_mix64(bits):016x}"
    conversation_id = f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"
    exchanges = _SCRIPT_TABLE[(bits >> 8) % len(_SCRIPT_TABLE)].language.exchanges
    asked = exchanges[(bits >> 16) % len(exchanges)]
    follow_up = exchanges[(bits >> 24) % len(exchanges)]
    as_number = ((bits >> 40) & 0xFFFF) < epoch_as_number_ratio * 0x10000
    return {
        "id": conversation_id,
        "conversationId": conversation_id,
        "query": asked.user,
        "answer": f"{asked.agent} {follow_up.agent} [1]" + (f" {asked.agent} [2]" if bits >> 63 else ""),
        "enabled": (bits >> 32) % 100 >= 5,
        "epochSecs": epoch_secs if as_number else str(epoch_secs),
    }


class VectaraDataset:
    """The Vectara conversations of one customer, listed in a deterministic, non-chronological order.

    Base record ``i`` was created at ``origin + i * spacing + jitter``. The listing visits base records in
    a seeded affine permutation of their indices, then the added records in the order they were added.
    Not thread-safe; the server serialises access.
    """

    def __init__(
        self,
        *,
        seed: int = DEFAULT_SEED,
        count: int,
        origin_secs: int,
        spacing_secs: int,
        epoch_as_number_ratio: float = 0.0,
    ) -> None:
        self.base_count = count
        self.origin_secs = origin_secs
        self.spacing_secs = max(1, spacing_secs)
        self.epoch_as_number_ratio = epoch_as_number_ratio
        self._key = _stream_key(seed, _VECTARA_STREAM)
        self._multiplier, self._shift = self._affine_permutation(count, self._key)
        self._added_epochs: list[int] = []

    @staticmethod
    def _affine_permutation(count: int, key: int) -> tuple[int, int]:
        """Multiplier and shift of ``position -> (multiplier * position + shift) % count``, a bijection."""
        if count < 2:
            return 1, 0
        multiplier = max(1, round(count * 0.6180339887)) + key % 7
        while math.gcd(multiplier, count) != 1:
            multiplier += 1
        return multiplier, key % count

    @property
    def size(self) -> int:
        """Number of records, added ones included."""
        return self.base_count + len(self._added_epochs)

    def _index_at(self, position: int) -> int:
        if position < self.base_count:
            return (self._multiplier * position + self._shift) % self.base_count
        return position

    def _epoch_secs(self, index: int) -> int:
        if index >= self.base_count:
            return self._added_epochs[index - self.base_count]
        return self.origin_secs + index * self.spacing_secs + _mix64(self._key + index) % self.spacing_secs

    def turn(self, index: int) -> dict[str, Any]:
        """The first turn of conversation ``index``."""
        return _vectara_content(_mix64(self._key + index), self._epoch_secs(index), self.epoch_as_number_ratio)

    def listing(self, offset: int, count: int) -> list[int]:
        """Record indices at listing positions ``[offset, offset + count)``."""
        return [self._index_at(position) for position in range(offset, min(offset + count, self.size))]

    def conversation_id(self, index: int) -> str:
        """The conversation id of record ``index``, without generating the rest."""
        return str(self.turn(index)["id"])

    def add(self, n: int, epoch_secs: int) -> None:
        """Append ``n`` conversations created at ``epoch_secs`` to the end of the listing."""
        self._added_epochs.extend([epoch_secs] * n)


def vectara_turn(
    i: int,
    seed: int = DEFAULT_SEED,
    *,
    origin: Timestamp = DEFAULT_ORIGIN,
    spacing_seconds: int = round(DEFAULT_SPACING_SECONDS),
    epoch_as_number_ratio: float = 0.0,
) -> dict[str, Any]:
    """First turn of Vectara conversation ``i`` (camelCase, ``epochSecs`` a string unless the ratio says otherwise)."""
    dataset = VectaraDataset(
        seed=seed,
        count=i + 1,
        origin_secs=to_epoch_us(origin) // _US_PER_SECOND,
        spacing_secs=spacing_seconds,
        epoch_as_number_ratio=epoch_as_number_ratio,
    )
    return dataset.turn(i)


# --------------------------------------------------------------------------------------------------
# Response bodies
# --------------------------------------------------------------------------------------------------


def polyai_page(records: Iterable[dict[str, Any]], next_offset: int | None = None) -> dict[str, Any]:
    """A PolyAI v1 list response body; ``next_offset`` is included only when given."""
    page: dict[str, Any] = {
        "conversations": list(records),
        "descriptions": {"conversations": dict(POLYAI_DESCRIPTIONS)},
    }
    if next_offset is not None:
        page["next_offset"] = next_offset
    return page


def vectara_page(
    records: Iterable[dict[str, Any]],
    page_key: str | None = None,
    status_code: str = "OK",
    detail: str = "",
) -> dict[str, Any]:
    """A Vectara ``/v1/list-conversations`` response body; ``pageKey`` is included only when given."""
    page: dict[str, Any] = {
        "conversation": list(records),
        "status": {"code": status_code, "statusDetail": detail},
    }
    if page_key is not None:
        page["pageKey"] = page_key
    return page
