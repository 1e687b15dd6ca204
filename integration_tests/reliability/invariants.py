"""The invariants every scenario checks, for every stream the config shows, from the fake's ground truth.

I1 no loss            assert_delivered_exactly: over the runs of a scenario (a failed or killed run, then
                      runs from its last STATE), the primary keys emitted are exactly those the fake serves.
I2 no over-advance    assert_state_never_passes_unemitted: at every STATE, every record at or before the
                      state's cursor value (per partition, and for turns and events also every record of a
                      parent the parent state has left behind) was emitted before that STATE.
I3 clear failure      assert_clear_failure: one TRACE error, the expected failure_type, a message that names
                      the cause, no traceback.
I4 no secrets         assert_no_secrets per run; the root conftest.py scans every output of the session.
I5 bounded time       every run has a subprocess timeout (support.Context); assert_took_less_than.

The ground truth (:class:`Truth`) is a snapshot of what the fake serves, taken when a scenario asks for it,
in the same terms for every stream: primary key (as `ConnectorRun.ids` joins it), cursor value in
microseconds, partition (PolyAI project, Vectara agent) and parent (the conversation, chat or session of a
turn or event).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set

from fake_api import FakeApiServer
from source_conversations import registry

SETTLE_SECONDS = 300
"""PolyAI conversations that started less than this before a sync are left for a later sync (the
connector's `PolyAIProjects.settle_seconds`)."""
IN_PROGRESS_MAX_HOURS_DEFAULT = 24
PARENTS = {
    "vectara_turns": "vectara_conversations",
    "vectara_chat_turns": "vectara_chats",
    "vectara_agent_events": "vectara_agent_sessions",
}


def micros(value: Any) -> Optional[int]:
    """A cursor value (Unix seconds as a number or digits, or an ISO 8601 date-time; no offset means UTC)
    as integer microseconds; None when unreadable. Written apart from the connector's parser on purpose."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(round(value * 1_000_000))
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text) * 1_000_000
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class Item:
    """One record the fake serves, in the invariants' terms."""

    pk: str
    cursor: int  # microseconds
    partition: Optional[str] = None  # the PolyAI project or Vectara agent of a per-partition stream
    parent: Optional[str] = None  # the pk of the conversation, chat or session of a turn or event
    held: bool = False  # a PolyAI conversation the connector must leave for a later sync (InProgressHold)


class Truth:
    """What the fake serves for every stream of a config's provider versions, at one moment.

    PolyAI: each project's conversations (the live environment) from `start_date`; those at or after the
    project's hold (its oldest conversation in progress, or SETTLE_SECONDS before `now`) are `held`. Vectara:
    every conversation (v1) or chat (v2) with its turns, and every agent's live sessions with their visible
    events, each from `start_date`. The config's `start_date` applies to every stream.
    """

    def __init__(self, server: FakeApiServer, config: Mapping[str, Any], now: Optional[float] = None) -> None:
        self.config = config
        self.now = time.time() if now is None else now
        self.start = micros(config.get("start_date", "2017-01-01T00:00:00Z"))
        self.items: Dict[str, List[Item]] = {}
        polyai, vectara = config.get("polyai"), config.get("vectara")
        if polyai:
            self.items["polyai_conversations"] = self._polyai(server, polyai)
        if vectara and vectara.get("api_version", "v2") == "v1":
            self._vectara_v1(server)
        elif vectara:
            self._vectara_v2(server)
        self.items = {
            stream: [item for item in items if item.cursor >= self.start] for stream, items in self.items.items()
        }
        for child, parent in PARENTS.items():  # a parent made before start_date is not read, nor its children
            if child in self.items:
                kept = {item.pk for item in self.items[parent]}
                self.items[child] = [item for item in self.items[child] if item.parent in kept]
        self.by_pk = {stream: {item.pk: item for item in items} for stream, items in self.items.items()}

    # -- building -------------------------------------------------------------------------------

    def _polyai(self, server: FakeApiServer, settings: Mapping[str, Any]) -> List[Item]:
        version = settings.get("api_version", "v3")
        max_hours = settings.get("in_progress_max_hours", IN_PROGRESS_MAX_HOURS_DEFAULT)
        items = []
        for project in settings["project_ids"]:
            records = server.polyai_records(project_id=project, version=version)
            recent = [
                micros(record["started_at"])
                for record in records
                if record["in_progress"] and micros(record["started_at"]) >= (self.now - max_hours * 3600) * 1e6
            ]
            hold = min(recent) if recent else int((self.now - SETTLE_SECONDS) * 1e6)
            for record in records:
                cursor = micros(record["started_at"])
                items.append(Item(f"{project}/{record['id']}", cursor, partition=project, held=cursor >= hold))
        return items

    def _vectara_v1(self, server: FakeApiServer) -> None:
        conversations, turns = [], []
        for conversation in server.vectara_records():
            conversations.append(Item(conversation["id"], micros(conversation["epochSecs"])))
            for turn in server.vectara_conversation(conversation["id"])["turn"]:
                turns.append(Item(turn["id"], micros(turn["epochSecs"]), parent=conversation["id"]))
        self.items["vectara_conversations"], self.items["vectara_turns"] = conversations, turns

    def _vectara_v2(self, server: FakeApiServer) -> None:
        chats, turns = [], []
        for chat in server.vectara_chats():
            chats.append(Item(chat["id"], micros(chat["created_at"])))
            for turn in server.vectara_chat_turns(chat["id"]):
                turns.append(Item(turn["id"], micros(turn["created_at"]), parent=chat["id"]))
        self.items["vectara_chats"], self.items["vectara_chat_turns"] = chats, turns
        if self.config["vectara"].get("sync_agents", True) is False:
            return
        sessions, events = [], []
        for agent in server.vectara_agent_keys():
            for session in server.vectara_sessions(agent):
                pk = f"{agent}/{session['key']}"
                sessions.append(Item(pk, micros(session["created_at"]), partition=agent))
                for event in server.vectara_events(agent, session["key"]):
                    events.append(Item(event["id"], micros(event["created_at"]), parent=pk))
        self.items["vectara_agent_sessions"], self.items["vectara_agent_events"] = sessions, events

    # -- questions ------------------------------------------------------------------------------

    @property
    def streams(self) -> List[str]:
        return list(self.items)

    def expected(self, stream: str, exclude: Iterable[str] = ()) -> Set[str]:
        """The primary keys a complete sync of `stream` delivers: all but the held ones and `exclude`."""
        excluded = set(exclude)
        return {item.pk for item in self.items[stream] if not item.held and item.pk not in excluded}

    def pks(self, stream: str) -> Set[str]:
        return {item.pk for item in self.items[stream]}

    def lookback_micros(self) -> int:
        days = (self.config.get("vectara") or {}).get("turns_lookback_days", 7)
        return int(days) * 86400 * 1_000_000


# ------------------------------------------------------------------------------------------------
# I1
# ------------------------------------------------------------------------------------------------


def delivered(runs: Iterable[Any], stream: str) -> Set[str]:
    found: Set[str] = set()
    for run in runs:
        found.update(run.ids(stream))
    return found


def assert_delivered_exactly(
    runs: Iterable[Any],
    stream: str,
    truth: Truth,
    exclude: Iterable[str] = (),
    before: Iterable[str] = (),
) -> None:
    """I1: the primary keys `runs` emitted (duplicates allowed), with those delivered `before` them, are
    exactly what the fake serves for `stream` (`truth.expected`): nothing lost, nothing held back
    emitted, nothing invented. `exclude`d keys (documented limitations) may or may not arrive."""
    runs = list(runs)
    excluded = set(exclude)
    got = delivered(runs, stream) | set(before)
    expected = truth.expected(stream, excluded)
    missing = sorted(expected - got)
    extra = sorted((got - expected) - excluded)
    assert not missing, f"I1: {len(missing)} of {len(expected)} {stream} records never arrived, e.g. {missing[:3]}"
    held = sorted(pk for pk in extra if pk in truth.by_pk[stream])
    assert not held, f"I1: {stream} emitted {len(held)} record(s) it had to hold back (in progress), e.g. {held[:3]}"
    assert not extra, f"I1: {stream} emitted {len(extra)} record(s) the fake does not serve, e.g. {extra[:3]}"


def assert_every_stream_delivered(runs: Iterable[Any], truth: Truth, exclude: Mapping[str, Iterable[str]] = {}) -> None:
    runs = list(runs)
    for stream in truth.streams:
        assert_delivered_exactly(runs, stream, truth, exclude.get(stream, ()))


# ------------------------------------------------------------------------------------------------
# I2
# ------------------------------------------------------------------------------------------------


def _state_limits(blob: Mapping[str, Any], cursor_field: str) -> Dict[Optional[str], int]:
    """The cursor value a state holds, per partition value (None: every partition)."""
    if isinstance(blob.get("states"), list) and not blob.get("use_global_cursor"):
        limits: Dict[Optional[str], int] = {}
        for entry in blob["states"]:
            partition = entry.get("partition") or {}
            value = micros((entry.get("cursor") or {}).get(cursor_field))
            assert value is not None, f"I2: unreadable partition state {entry}"
            (key,) = partition.values()
            limits[str(key)] = value
        return limits
    if "state" not in blob and "parent_state" in blob:
        return {}  # no cursor of its own yet: a resume reads the children from the start date
    inner = blob.get("state") if isinstance(blob.get("state"), Mapping) else blob
    value = micros(inner.get(cursor_field))
    assert value is not None, f"I2: a state without a readable '{cursor_field}': {blob}"
    return {None: value}


def _passed(items: Iterable[Item], limits: Mapping[Optional[str], int]) -> List[Item]:
    """The items at or before the state's cursor value of their partition."""
    found = []
    for item in items:
        limit = limits.get(None, limits.get(item.partition))
        if limit is not None and item.cursor <= limit:
            found.append(item)
    return found


def passed_by_state(stream: str, blob: Mapping[str, Any], truth: Truth) -> List[Item]:
    """Every record of `stream` a resume from `blob` would never read again: those at or before its cursor
    value (per partition). For turns and events, a resume reads again every parent made after the parent
    state less the turns look-back, and of those, every turn (event) newer than the child's cursor and
    every turn of a parent made after the parent state itself (ClientSideWindowFilter): the rest is passed."""
    cursor_field = registry.stream(stream).cursor_field
    child_limits = _state_limits(blob, cursor_field)
    parent_stream = PARENTS.get(stream)
    if not parent_stream:
        return _passed(truth.items[stream], child_limits)
    parent_blob = (blob.get("parent_state") or {}).get(parent_stream)
    parent_limits = _state_limits(parent_blob, registry.stream(parent_stream).cursor_field) if parent_blob else {}
    parents = {parent.pk: parent for parent in truth.items[parent_stream]}
    passed = []
    for item in truth.items[stream]:
        parent = parents.get(item.parent)
        parent_limit = parent_limits.get(None, parent_limits.get(parent.partition)) if parent else None
        read_again = parent is None or parent_limit is None or parent.cursor > parent_limit - truth.lookback_micros()
        new_parent = parent is None or parent_limit is None or parent.cursor > parent_limit
        child_limit = child_limits.get(None, child_limits.get(item.partition))
        if not (read_again and (new_parent or child_limit is None or item.cursor > child_limit)):
            passed.append(item)
    return passed


def assert_state_never_passes_unemitted(
    run: Any,
    stream: str,
    truth: Truth,
    before: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> int:
    """I2: at every STATE of `stream` in `run`, every record the state passes (`passed_by_state`) was
    emitted before that STATE, by this run or (`before`) an earlier one. `exclude`d keys (documented
    limitations, such as rows that appeared behind the walk with an older cursor) are not checked.
    Returns how many STATE messages were checked."""
    emitted = set(before)
    excluded = set(exclude)
    keys = registry.stream(stream).primary_key
    checked = 0
    for message in run.messages:
        kind = message.get("type")
        if kind == "RECORD" and message["record"]["stream"] == stream:
            data = message["record"]["data"]
            emitted.add("/".join(str(data.get(key)) for key in keys))
        elif kind == "STATE" and message["state"]["stream"]["stream_descriptor"]["name"] == stream:
            blob = message["state"]["stream"]["stream_state"]
            checked += 1
            lost = sorted(item.pk for item in passed_by_state(stream, blob, truth) if item.pk not in emitted | excluded)
            assert not lost, (
                f"I2: STATE #{checked} of {stream} passes {len(lost)} record(s) not emitted yet, e.g. {lost[:3]}: "
                f"a sync resumed from it would never read them. State: {str(blob)[:400]}"
            )
    return checked


def assert_states_sound(runs: Sequence[Any], truth: Truth, exclude: Mapping[str, Iterable[str]] = {}) -> None:
    """I2 for every stream of `truth` over consecutive runs (each resumed from the one before)."""
    for stream in truth.streams:
        before: Set[str] = set()
        for run in runs:
            assert_state_never_passes_unemitted(run, stream, truth, before, exclude.get(stream, ()))
            before |= set(run.ids(stream))


# ------------------------------------------------------------------------------------------------
# I3
# ------------------------------------------------------------------------------------------------

_UNACTIONABLE = (
    "Traceback (most recent call last)",
    "Something went wrong in the connector",
    "See the logs for more details",
)


def assert_clear_failure(run: Any, failure_types: str | Sequence[str], mentions: Sequence[str] = ()) -> dict:
    """I3: non-zero exit, exactly one TRACE error of the expected type(s), whose message names what
    happened (`mentions`, case-insensitive), is not a traceback or a generic "something went wrong", and
    does not repeat itself. Returns the error."""
    expected = (failure_types,) if isinstance(failure_types, str) else tuple(failure_types)
    assert run.returncode != 0, "I3: a failed sync must exit non-zero"
    errors = run.errors()
    assert len(errors) == 1, (
        f"I3: expected exactly one TRACE error, got {len(errors)}: {[e.get('message') for e in errors]}"
    )
    error = errors[0]
    message = error.get("message") or ""
    assert error.get("failure_type") in expected, (
        f"I3: failure_type {error.get('failure_type')} not in {expected}: {message}"
    )
    for phrase in _UNACTIONABLE:
        assert phrase not in message, f"I3: the error message is not actionable ({phrase!r}): {message[:300]}"
    parts = [part.strip() for part in message.split(" | ")]
    assert len(parts) == len(set(parts)), f"I3: the error message repeats itself: {message[:300]}"
    for mention in mentions:
        assert mention.lower() in message.lower(), f"I3: the error message should mention {mention!r}: {message}"
    assert_no_bare_traceback(run)
    return error


def assert_no_bare_traceback(run: Any) -> None:
    """Everything on stdout is an Airbyte message, and stderr holds no raw traceback."""
    stray = [line for line in run.stdout.split("\n") if line.strip() and not line.lstrip().startswith("{")]
    assert not stray, f"non-protocol lines on stdout: {stray[:3]}"
    assert "Traceback (most recent call last)" not in run.stderr, f"a bare traceback on stderr: {run.stderr[-800:]}"


def assert_succeeded(run: Any) -> None:
    assert run.returncode == 0 and not run.errors(), (
        f"the sync failed: rc={run.returncode} {[e.get('message') for e in run.errors()]} {run.stderr[-500:]}"
    )
    assert_no_bare_traceback(run)


# ------------------------------------------------------------------------------------------------
# I4, I5
# ------------------------------------------------------------------------------------------------


def assert_no_secrets(text: str, secrets: Iterable[str]) -> None:
    """I4: none of the secret values appears (secrets are long, so a hit is never a coincidence)."""
    leaked = [secret[:4] + "…" for secret in secrets if secret and secret in text]
    assert not leaked, f"I4: {len(leaked)} secret value(s) appear in the output: {leaked}"


def assert_took_less_than(run: Any, seconds: float) -> None:
    assert run.seconds < seconds, f"I5: the run took {run.seconds:.1f} s, more than {seconds} s"


def assert_resume_loses_nothing(
    failed: Any, resumed: Any, truth: Truth, exclude: Mapping[str, Iterable[str]] = {}
) -> None:
    """After a failed (or killed) run: I2 at every STATE the failed run saved, then the run resumed from its
    last states succeeds, I2 there, and I1 over both runs, for every stream of `truth`."""
    for stream in truth.streams:
        assert_state_never_passes_unemitted(failed, stream, truth, exclude=exclude.get(stream, ()))
    assert_succeeded(resumed)
    for stream in truth.streams:
        assert_state_never_passes_unemitted(
            resumed, stream, truth, before=failed.ids(stream), exclude=exclude.get(stream, ())
        )
        assert_delivered_exactly([failed, resumed], stream, truth, exclude.get(stream, ()))
