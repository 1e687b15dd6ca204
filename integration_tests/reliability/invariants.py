"""The invariants every fault test checks where they apply.

I1 no loss          assert_no_loss: the union of records over all attempts covers the ground truth.
I2 no over-advance  assert_no_over_advance: no STATE is ahead of a record not yet emitted.
I3 clear failure    assert_clear_failure: one TRACE error, the right failure_type, an actionable message.
I4 no secrets       assert_no_secrets: no key, client secret or bearer token in stdout or stderr.
I5 bounded time     every run has a subprocess timeout (support.Context); assert_took_less_than.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Optional, Sequence

from reliability_tests.support import POLYAI, VECTARA

CURSOR = {POLYAI: "started_at", VECTARA: "epochSecs"}


def parse_instant(value: Any) -> Optional[datetime]:
    """A PolyAI started_at (Z, ±hh:mm, ±hhmm, 0-6 fraction digits) as an aware datetime; None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_epoch(value: Any) -> Optional[int]:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def cursor_value(stream: str, value: Any) -> Any:
    return parse_instant(value) if stream == POLYAI else parse_epoch(value)


def _state_value(stream: str, state: Mapping[str, Any]) -> Any:
    return cursor_value(stream, state["stream"]["stream_state"].get(CURSOR[stream]))


def _messages(run: Any) -> Sequence[dict]:
    return run.messages


# ------------------------------------------------------------------------------------------------
# I1
# ------------------------------------------------------------------------------------------------


def assert_no_loss(runs: Iterable[Any], stream: str, expected_ids: Iterable[str]) -> None:
    """I1: every id of the ground truth was emitted by at least one of the runs (duplicates allowed)."""
    delivered: set[str] = set()
    for run in runs:
        delivered.update(run.ids(stream))
    expected = set(expected_ids)
    missing = sorted(expected - delivered)
    assert not missing, f"I1: {len(missing)} of {len(expected)} {stream} records were never delivered, e.g. {missing[:3]}"


# ------------------------------------------------------------------------------------------------
# I2
# ------------------------------------------------------------------------------------------------


def assert_no_over_advance(
    run: Any,
    stream: str,
    truth: Iterable[Mapping[str, Any]],
    delivered_before: Iterable[str] = (),
) -> None:
    """I2: walking the run's messages in order, no STATE of `stream` passes a ground-truth record that was
    not emitted yet (by this run, or by an earlier attempt: `delivered_before`).

    PolyAI's next window starts *at* the state (inclusive), so a state equal to a pending record's
    started_at is fine. Vectara keeps only records strictly newer than the state (EpochWindowFilter), so
    there the state must stay strictly below every pending record.
    """
    done = set(delivered_before)
    pending = {}
    for record in truth:
        value = cursor_value(stream, record.get(CURSOR[stream]))
        if record.get("id") not in done and value is not None:
            pending[record["id"]] = value
    for message in _messages(run):
        if message.get("type") == "RECORD" and message["record"]["stream"] == stream:
            pending.pop(message["record"]["data"].get("id"), None)
        elif message.get("type") == "STATE" and message["state"]["stream"]["stream_descriptor"]["name"] == stream:
            value = _state_value(stream, message["state"])
            assert value is not None, f"I2: unreadable {stream} state {message['state']['stream']['stream_state']}"
            if not pending:
                continue
            first_id, first = min(pending.items(), key=lambda item: item[1])
            ok = value <= first if stream == POLYAI else value < first
            assert ok, (
                f"I2: {stream} STATE {message['state']['stream']['stream_state']} is ahead of record {first_id} "
                f"({first}), which had not been emitted yet: a resume from this state would lose it"
            )


# ------------------------------------------------------------------------------------------------
# I3
# ------------------------------------------------------------------------------------------------

_UNACTIONABLE = (
    "Traceback (most recent call last)",
    "Something went wrong in the connector",
    "See the logs for more details",
)


def assert_clear_failure(
    run: Any,
    failure_types: str | Sequence[str],
    mentions: Sequence[str] = (),
) -> dict:
    """I3: non-zero exit, exactly one TRACE error of the expected type(s), whose message names what
    happened (`mentions`, case-insensitive), is not a traceback or a generic "something went wrong",
    and does not repeat itself. Returns the error."""
    expected = (failure_types,) if isinstance(failure_types, str) else tuple(failure_types)
    assert_finished_in_time(run)
    assert run.returncode != 0, "I3: a failed sync must exit non-zero"
    errors = run.errors()
    assert len(errors) == 1, f"I3: expected exactly one TRACE error, got {len(errors)}: {[e.get('message') for e in errors]}"
    error = errors[0]
    message = error.get("message") or ""
    assert error.get("failure_type") in expected, f"I3: failure_type {error.get('failure_type')} not in {expected}: {message}"
    for phrase in _UNACTIONABLE:
        assert phrase not in message, f"I3: the error message is not actionable ({phrase!r}): {message[:300]}"
    parts = [part.strip() for part in message.split(" | ")]
    assert len(parts) == len(set(parts)), f"I3: the error message repeats itself {len(parts)} times: {message[:300]}"
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
    assert_finished_in_time(run)
    assert run.returncode == 0 and not run.errors(), f"the sync failed: rc={run.returncode} {[e.get('message') for e in run.errors()]}"
    assert_no_bare_traceback(run)


# ------------------------------------------------------------------------------------------------
# I4, I5
# ------------------------------------------------------------------------------------------------


def assert_no_secrets(text: str, secrets: Iterable[str]) -> None:
    """I4: none of the secret values appears (secrets are long, so a hit is never a coincidence)."""
    leaked = [secret[:4] + "…" for secret in secrets if secret and secret in text]
    assert not leaked, f"I4: {len(leaked)} secret value(s) appear in the output: {leaked}"


def assert_finished_in_time(run: Any) -> None:
    assert not getattr(run, "timed_out", False), f"I5: the connector was still running after {run.seconds:.0f} s and was killed"


def assert_took_less_than(run: Any, seconds: float) -> None:
    assert_finished_in_time(run)
    assert run.seconds < seconds, f"I5: the run took {run.seconds:.1f} s, more than {seconds} s"
