"""Deterministic, lazily generated synthetic data for the fake PolyAI and Vectara APIs.

Record ``i`` of a dataset is a pure function of ``(seed, i)`` and the dataset's fixed timeline, so a
dataset of a million records costs nothing until a page of it is asked for. Mutations made while a
server runs (added records, finished in-progress calls) are kept apart from the generated base records.

PolyAI base records start at ``origin + i * spacing + jitter`` with ``0 <= jitter < spacing``, so
``started_at`` strictly increases with ``i`` and a time window maps to an index range in O(1).
Environment and variant repeat with a seeded period of :data:`PATTERN_PERIOD` records, so filtered
counts and the n-th filtered record are O(1) as well.

Several PolyAI projects each get their own dataset, seeded from the server seed and the project id
(:func:`project_seed`). A PolyAI v3 record is the v1 record passed through :func:`polyai_v3_conversation`.

A Vectara conversation has 1-6 turns (:meth:`VectaraDataset.turns`); the v1 list shows its first turn, and
the v2 chat (:meth:`VectaraDataset.chat`) is the same conversation under ``cht_`` / ``trn_`` ids.

The module-level helpers :func:`polyai_conversation`, :func:`vectara_turn`, :func:`polyai_page`,
:func:`polyai_v3_page` and :func:`vectara_page` let unit tests build realistic response bodies without a
server.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from .texts import (
    DTMF_INPUTS,
    HANDOFF_DESTINATIONS,
    HANDOFF_REASONS,
    LANGUAGES,
    Exchange,
    Language,
)

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
_VECTARA_TURN_STREAM = 4
_VECTARA_CHAT_STREAM = 5
_GOLDEN64 = 0x9E3779B97F4A7C15
_MIX_MULTIPLIERS = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
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


def _unxorshift(x: int, shift: int) -> int:
    """Inverse of ``x ^ (x >> shift)`` on 64-bit values."""
    result = x
    for _ in range(64 // shift + 1):
        result = x ^ (result >> shift)
    return result


def _unmix64(x: int) -> int:
    """Inverse of :func:`_mix64` (every step of SplitMix64's finaliser is a bijection)."""
    x = _unxorshift(x, 31)
    x = (x * pow(_MIX_MULTIPLIERS[1], -1, 1 << 64)) & _MASK64
    x = _unxorshift(x, 27)
    x = (x * pow(_MIX_MULTIPLIERS[0], -1, 1 << 64)) & _MASK64
    x = _unxorshift(x, 30)
    return (x - _GOLDEN64) & _MASK64


def project_seed(seed: int, project_id: str, default_project_id: str = DEFAULT_PROJECT_ID) -> int:
    """The data seed of PolyAI project ``project_id``: ``seed`` itself for the default project (so a
    single-project server serves the same records as always), else a hash of both."""
    if project_id == default_project_id:
        return seed
    digest = hashlib.blake2b(f"{seed}:{project_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def numbered_project_ids(n: int, first: str = DEFAULT_PROJECT_ID) -> list[str]:
    """``n`` PolyAI project ids: ``first``, then ``PROJECT-<8 hex>`` ids derived from their number."""
    ids = [first][:n]
    for k in range(1, n):
        ids.append(f"PROJECT-{hashlib.blake2b(f'project-{k}'.encode(), digest_size=4).hexdigest()}")
    return ids


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


def format_millis(epoch_us: int) -> str:
    """Format epoch microseconds as ISO 8601 UTC with milliseconds, e.g. ``2024-01-01T00:00:00.000Z``
    (the Vectara v2 ``created_at`` style)."""
    minute, of_minute = divmod(epoch_us, _US_PER_MINUTE)
    millis = of_minute // 1000
    return f"{_minute_text(minute)}{millis // 1000:02d}.{millis % 1000:03d}Z"


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


PolyaiSortKey = tuple[int, int, int]
"""A record's place in a PolyAI listing: ``(started_us, 0 generated / 1 added, record_index)``.

Listings are ordered by this key (a generated record comes before an added one that starts in the same
microsecond), which is what makes keyset (v3 cursor) paging stable while records are added.
"""


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


def _polyai_opening(rng: random.Random) -> tuple[str, _Script, str, str]:
    """The first draws of a record's generator: its id, script, UTC suffix and channel (in this order)."""
    conversation_id = _polyai_id(rng)
    script: _Script = _pick(rng, _SCRIPT_TABLE)
    suffix = "Z" if rng.random() < 0.5 else "+00:00"
    if script.language.chat:
        channel = "WEBCHAT" if rng.random() < 0.7 else "CHAT"
    else:
        channel = "VOICE-SIP"
    return conversation_id, script, suffix, channel


def _polyai_content(
    record_hash: int,
    slot: PolyaiSlot,
    account_id: str,
    project_id: str,
    include_context_state: bool,
) -> dict[str, Any]:
    """Generate the conversation for ``slot`` from its record hash (pure; nested values may be shared)."""
    rng = random.Random(record_hash)
    conversation_id, script, suffix, channel = _polyai_opening(rng)
    language = script.language
    from_number = None if language.chat else f"{language.phone_prefix}{rng.getrandbits(40) % 10**9:09d}"
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

    def _base_range(self, query: PolyaiFilter) -> tuple[int, int]:
        """The base index range ``[lo, hi)`` the time window and ``in_progress`` filter leave."""
        lo = 0 if query.start_us is None else self._first_at_or_after(query.start_us)
        hi = self.base_count if query.end_us is None else self._first_at_or_after(query.end_us)
        if query.in_progress is True:
            lo = max(lo, self._in_progress_from)
        elif query.in_progress is False:
            hi = min(hi, self._in_progress_from)
        return lo, max(lo, hi)

    def sort_key(self, slot: PolyaiSlot) -> PolyaiSortKey:
        """Where ``slot`` sits in every listing (see :data:`PolyaiSortKey`)."""
        return slot.started_us, int(slot.record_index >= self.base_count), slot.record_index

    def position_after(self, query: PolyaiFilter, key: PolyaiSortKey) -> int:
        """How many records matching ``query`` sort at or before ``key``: the offset of the first record
        after ``key`` (the record named by ``key`` need not exist or match any more)."""
        started_us, added, index = key
        pattern_key: AttributeKey = (query.environment, query.variant)
        lo, hi = self._base_range(query)
        bound = self._first_at_or_after(started_us + 1) if added else min(index + 1, self.base_count)
        base = self._pattern.count(pattern_key, min(hi, max(lo, bound))) - self._pattern.count(pattern_key, lo)
        added_before = sum(
            1 for slot in self._added if query.admits(slot) and self.sort_key(slot) <= (started_us, added, index)
        )
        return base + added_before

    def channel(self, slot: PolyaiSlot) -> str:
        """The ``channel`` of the record in ``slot``, without generating the rest of it."""
        return _polyai_opening(random.Random(_mix64(self._key + slot.record_index)))[3]

    def page(self, query: PolyaiFilter, offset: int, limit: int) -> tuple[list[PolyaiSlot], int]:
        """Slots ``[offset, offset + limit)`` of the records matching ``query``, by ``started_at``; and the total."""
        key: AttributeKey = (query.environment, query.variant)
        lo, hi = self._base_range(query)
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
    version: str = "v1",
    include_latency: bool = False,
) -> dict[str, Any]:
    """Record ``i`` of a PolyAI dataset, as the fake server would send it (a fresh, mutable dict).

    A server built with the same seed, ids and timeline serves the identical record. ``version="v3"``
    gives the v3 form (see :func:`polyai_v3_conversation`; ``include_context_state`` is then ignored).
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
    if version == "v3":
        return json_copy(polyai_v3_conversation(dataset.conversation(slot), include_latency))
    if version != "v1":
        raise ValueError("version must be 'v1' or 'v3'")
    conversation: dict[str, Any] = json_copy(dataset.conversation(slot, include_context_state))
    return conversation


POLYAI_V3_TEXT_FIELDS: tuple[str, ...] = (
    "variant_id",
    "variant_name",
    "environment",
    "started_at",
    "channel",
    "from_number",
    "to_number",
    "handoff_reason",
    "handoff_destination",
)
"""Conversation text fields that v3 sends as ``""`` when v1 sends ``null``."""
POLYAI_V3_TURN_TEXT_FIELDS: tuple[str, ...] = (
    "user_input",
    "user_input_dtmf",
    "user_input_datetime",
    "agent_response",
    "agent_response_datetime",
    "translated_user_input",
    "english_agent_response",
)
"""Turn text fields (timestamps included) that v3 sends as ``""`` when v1 sends ``null``."""


def polyai_v3_conversation(conversation: dict[str, Any], include_latency: bool = False) -> dict[str, Any]:
    """The v3 form of a v1 conversation record: empty text is ``""`` instead of ``null`` (numbers stay
    ``null``), no ``context_state``, and each turn's ``latency`` only with ``include_latency``.

    Builds new dicts for the conversation and its turns; deeper values are shared with the input.
    """
    record = {name: value for name, value in conversation.items() if name != "context_state"}
    for name in POLYAI_V3_TEXT_FIELDS:
        if record.get(name) is None:
            record[name] = ""
    turns = []
    for turn in conversation["turns"]:
        v3_turn = dict(turn)
        for name in POLYAI_V3_TURN_TEXT_FIELDS:
            if v3_turn.get(name) is None:
                v3_turn[name] = ""
        if not include_latency:
            v3_turn.pop("latency", None)
        turns.append(v3_turn)
    record["turns"] = turns
    return record


# --------------------------------------------------------------------------------------------------
# Vectara first turns
# --------------------------------------------------------------------------------------------------


def _uuid_text(bits: int) -> str:
    """A UUID-shaped id whose first 16 hex digits are ``bits`` (so the id can be mapped back to them)."""
    hex_id = f"{bits:016x}{_mix64(bits):016x}"
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


def _vectara_content(record_hash: int, epoch_secs: int, epoch_as_number_ratio: float) -> dict[str, Any]:
    """Generate a Vectara first turn from its record hash (pure, and cheap: plain bit slicing, no RNG)."""
    bits = _mix64(record_hash)
    conversation_id = _uuid_text(bits)
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


def _vectara_later_turn(
    conversation_id: str, exchanges: Sequence[Exchange], turn_hash: int, epoch_secs: int, enabled: bool, as_number: bool
) -> dict[str, Any]:
    """A follow-up turn (not the first) of a Vectara conversation."""
    asked = exchanges[(turn_hash >> 16) % len(exchanges)]
    return {
        "id": _uuid_text(turn_hash),
        "conversationId": conversation_id,
        "query": asked.user,
        "answer": f"{asked.agent} [1]",
        "enabled": enabled,
        "epochSecs": epoch_secs if as_number else str(epoch_secs),
    }


MAX_VECTARA_GENERATED_TURNS = 6
"""A generated Vectara conversation has 1 to this many turns (appended turns come on top)."""
_VECTARA_TURN_GAP_SECS = (5, 100)
"""Seconds between consecutive generated turns: at least the first, below the sum of both."""


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
        self._turn_key = _stream_key(seed, _VECTARA_TURN_STREAM)
        self._chat_key = _stream_key(seed, _VECTARA_CHAT_STREAM)
        self._multiplier, self._shift = self._affine_permutation(count, self._key)
        self._added_epochs: list[int] = []
        self._added_turns: dict[int, list[int]] = {}  # conversation index -> epochs of appended turns

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

    # -- whole conversations (v1 read-conversations) ------------------------------------------------

    def index_of(self, conversation_id: str) -> int | None:
        """The index of the conversation with this id, or None (O(1): the id encodes its index)."""
        hex_id = conversation_id.replace("-", "")
        if len(hex_id) != 32:
            return None
        try:
            bits = int(hex_id[:16], 16)
        except ValueError:
            return None
        index = (_unmix64(_unmix64(bits)) - self._key) & _MASK64
        if index >= self.size or self.conversation_id(index) != conversation_id:
            return None
        return index

    def _generated_turns(self, index: int) -> int:
        if index >= self.base_count:
            return 1
        return 1 + _mix64(self._turn_key + index) % MAX_VECTARA_GENERATED_TURNS

    def turn_count(self, index: int) -> int:
        """How many turns conversation ``index`` has, appended ones included."""
        return self._generated_turns(index) + len(self._added_turns.get(index, ()))

    def turns(self, index: int) -> list[dict[str, Any]]:
        """Every turn of conversation ``index`` in ascending ``epochSecs``; the first is :meth:`turn`.

        A conversation whose first turn is disabled has every turn disabled; some others are disabled
        from a later turn onward (as the v1 ``disable-turns`` call leaves them).
        """
        first = self.turn(index)
        conversation_hash = _mix64(self._turn_key + index)
        bits = _mix64(_mix64(self._key + index))
        exchanges = _SCRIPT_TABLE[(bits >> 8) % len(_SCRIPT_TABLE)].language.exchanges
        as_number = not isinstance(first["epochSecs"], str)
        disabled_from = 1 + (conversation_hash >> 44) % 5 if (conversation_hash >> 40) % 10 == 0 else None
        epoch = self._epoch_secs(index)
        generated = self._generated_turns(index)
        epochs = []
        for k in range(1, generated):
            gap_min, gap_span = _VECTARA_TURN_GAP_SECS
            epoch += gap_min + (_mix64(conversation_hash ^ k) >> 8) % gap_span
            epochs.append(epoch)
        epochs += self._added_turns.get(index, [])
        turns = [first]
        for k, turn_epoch in enumerate(epochs, start=1):
            enabled = bool(first["enabled"]) and (disabled_from is None or k < disabled_from)
            turn_hash = _mix64(conversation_hash ^ (k * _GOLDEN64 & _MASK64))
            turns.append(_vectara_later_turn(first["id"], exchanges, turn_hash, turn_epoch, enabled, as_number))
        return turns

    def add_turns(self, index: int, n: int, epoch_secs: int) -> list[int]:
        """Append ``n`` turns to conversation ``index``, one second apart from ``epoch_secs`` (raised to its last
        turn's time, so turns stay in ascending order); return the new turns' positions in :meth:`turns`."""
        last = self.turns(index)[-1]["epochSecs"]
        epoch = max(int(epoch_secs), int(last))
        first = self.turn_count(index)
        self._added_turns.setdefault(index, []).extend(epoch + k for k in range(n))
        return list(range(first, first + n))

    # -- v2 chats: the same conversations under v2 ids and field names -------------------------------

    def chat_id(self, index: int) -> str:
        """The v2 ``cht_`` id of conversation ``index``."""
        return f"cht_{_mix64((self._chat_key + index) & _MASK64):016x}"

    def index_of_chat(self, chat_id: str) -> int | None:
        """The index of the conversation with this v2 chat id, or None (O(1))."""
        if not chat_id.startswith("cht_") or len(chat_id) != 20:
            return None
        try:
            bits = int(chat_id[4:], 16)
        except ValueError:
            return None
        index = (_unmix64(bits) - self._chat_key) & _MASK64
        return index if index < self.size else None

    def chat(self, index: int) -> dict[str, Any]:
        """The v2 chat record of conversation ``index`` (its first turn under v2 names)."""
        first = self.turn(index)
        return {
            "id": self.chat_id(index),
            "first_query": first["query"],
            "first_answer": first["answer"],
            "enabled": first["enabled"],
            "created_at": format_millis(self._epoch_secs(index) * _US_PER_SECOND),
        }

    def chat_turns(self, index: int) -> list[dict[str, Any]]:
        """The v2 turn records of conversation ``index``: :meth:`turns` under ``trn_`` ids and v2 names."""
        chat_id = self.chat_id(index)
        chat_bits = _mix64((self._chat_key + index) & _MASK64)
        return [
            {
                "id": f"trn_{_mix64((chat_bits + k + 1) & _MASK64):016x}",
                "chat_id": chat_id,
                "query": turn["query"],
                "answer": turn["answer"],
                "enabled": turn["enabled"],
                "created_at": format_millis(int(turn["epochSecs"]) * _US_PER_SECOND),
            }
            for k, turn in enumerate(self.turns(index))
        ]


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


def polyai_v3_page(
    records: Iterable[dict[str, Any]], cursor: str | None = None, next_offset: int | None = None
) -> dict[str, Any]:
    """A PolyAI v3 list response body: ``cursor`` is always there (``None`` on the last page),
    ``next_offset`` only when given, and there is no ``descriptions``."""
    page: dict[str, Any] = {"conversations": list(records), "cursor": cursor}
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
