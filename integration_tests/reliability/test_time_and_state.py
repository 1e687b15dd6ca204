"""Time (fault 10) through the real console script: epochSecs across DST changes with the process in a DST
time zone, a state in the future, and malformed states. Timestamp formats PolyAI might send (Z, +05:30,
-08:00, fractions) are in test_units.py: fake_api only writes `Z` and `+00:00`.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from reliability_tests.invariants import (
    assert_clear_failure,
    assert_no_loss,
    assert_no_over_advance,
    assert_succeeded,
    parse_epoch,
    parse_instant,
)
from reliability_tests.support import (
    POLYAI,
    STREAMS,
    VECTARA,
    Context,
    Outcome,
    config_for,
    stream_state,
    uses,
)


def _utc(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


# The instants clocks change (2026), and the seconds around them.
US_SPRING = _utc("2026-03-08T10:00:00Z")  # 02:00 PST -> 03:00 PDT
EU_SPRING = _utc("2026-03-29T01:00:00Z")
EU_AUTUMN = _utc("2026-10-25T01:00:00Z")
US_AUTUMN = _utc("2026-11-01T09:00:00Z")  # 02:00 PDT -> 01:00 PST: 01:30 local happens twice
DST_EPOCHS = sorted(
    {t + d for t in (US_SPRING, EU_SPRING, EU_AUTUMN) for d in (-1, 0, 1)}
    | {US_AUTUMN - 1800, US_AUTUMN - 1, US_AUTUMN, US_AUTUMN + 1800}
)


def _epochs_across_dst(ctx: Context) -> Outcome:
    server = ctx.serve(vectara_count=0)
    ids = {}
    for epoch in DST_EPOCHS:
        if epoch < time.time() - 5:
            ids[server.add_vectara(1, epoch_secs=epoch)[0]] = epoch
    config = config_for(server, start_date="2026-03-01T00:00:00Z", window_days=30)
    state = stream_state(VECTARA, {"epochSecs": str(US_SPRING - 1)})
    run = ctx.read(config, STREAMS, state=state, env={"TZ": "America/Los_Angeles"})
    return Outcome(server=server, run=run, ids=ids)


@uses(_epochs_across_dst)
def test_given_epoch_secs_across_dst_changes_when_read_in_a_dst_time_zone_then_created_at_and_state_stay_utc(
    outcome: Outcome,
) -> None:
    run = outcome.run
    assert_succeeded(run)
    emitted = {record["id"]: record for record in run.records(VECTARA)}
    expected = {record_id for record_id, epoch in outcome.ids.items() if epoch > US_SPRING - 1}
    assert set(emitted) == expected, "exactly the records after the state, the second after it included"
    for record_id, record in emitted.items():
        epoch = outcome.ids[record_id]
        assert record["created_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
        assert parse_epoch(record["epochSecs"]) == epoch
    final = run.states(VECTARA)[-1]["stream"]["stream_state"]["epochSecs"]
    assert parse_epoch(final) == max(outcome.ids.values())
    # PolyAI in the same process and time zone: windows are UTC, nothing is lost.
    truth = outcome.server.polyai_records()
    assert_no_loss([run], POLYAI, [r["id"] for r in truth if not r["in_progress"]])
    assert_no_over_advance(run, POLYAI, truth)


FUTURE = {POLYAI: {"started_at": "2099-01-01T00:00:00.000000Z"}, VECTARA: {"epochSecs": "4102444800"}}


def _future_state(ctx: Context) -> Outcome:
    server = ctx.serve()
    state = stream_state(POLYAI, FUTURE[POLYAI]) + stream_state(VECTARA, FUTURE[VECTARA])
    run = ctx.read(config_for(server), STREAMS, state=state)
    return Outcome(server=server, run=run)


@uses(_future_state)
def test_given_a_state_in_the_future_when_read_then_nothing_is_read_and_the_state_does_not_move_backwards(
    outcome: Outcome,
) -> None:
    run = outcome.run
    assert_succeeded(run)
    assert run.records() == []
    for state in run.states(POLYAI):
        assert parse_instant(state["stream"]["stream_state"]["started_at"]) >= parse_instant(FUTURE[POLYAI]["started_at"])
    for state in run.states(VECTARA):
        assert parse_epoch(state["stream"]["stream_state"]["epochSecs"]) >= parse_epoch(FUTURE[VECTARA]["epochSecs"])


MALFORMED = {
    "polyai_started_at_not_a_date": (POLYAI, {"started_at": "not-a-date"}),
    "polyai_started_at_a_number": (POLYAI, {"started_at": 1767225600}),
    "polyai_no_cursor_key": (POLYAI, {"last_sync": "2026-01-01T00:00:00Z"}),
    "vectara_epoch_secs_not_a_number": (VECTARA, {"epochSecs": "yesterday"}),
}


def _malformed_state(ctx: Context, case: str) -> Outcome:
    server = ctx.serve()
    stream, blob = MALFORMED[case]
    run = ctx.read(config_for(server), [stream], state=stream_state(stream, blob))
    return Outcome(server=server, run=run, stream=stream)


@pytest.mark.parametrize("case", list(MALFORMED))
@uses(_malformed_state)
def test_given_a_malformed_state_when_read_then_config_error_naming_the_state_not_a_silent_full_resync(
    outcome: Outcome, case: str
) -> None:
    cursor = "started_at" if outcome.stream == POLYAI else "epochSecs"
    assert_clear_failure(outcome.run, "config_error", ["state", cursor])
    assert outcome.run.records() == [], "a malformed state must not start a full resync"
