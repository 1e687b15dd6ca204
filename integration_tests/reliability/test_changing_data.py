"""Data that changes while a sync pages through it (fault 9), and a connector killed mid-sync (fault 12).

Rows are inserted from a background thread while the fake holds one page back (a short delay fault), so
the insert lands between two page requests of the same walk.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Callable

import pytest

from fake_api import Fault
from reliability_tests.invariants import (
    assert_no_loss,
    assert_no_over_advance,
    assert_succeeded,
    parse_instant,
)
from reliability_tests.support import (
    POLYAI,
    START_DATE,
    VECTARA,
    Context,
    Outcome,
    config_for,
    uses,
)


def _when_request(server, endpoint: str, number: int, action: Callable[[], None]) -> threading.Thread:
    """Runs `action` once the fake has received `number` requests to `endpoint` (the number-th is held
    back by a delay fault meanwhile, so the action lands between two pages)."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while server.requests.count(endpoint) < number and time.monotonic() < deadline:
            time.sleep(0.01)
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _polyai_rows_inserted_while_paging(ctx: Context) -> Outcome:
    server = ctx.serve()
    config = config_for(server, window_days=3650, polyai_page=5)  # one window, seven pages
    before = server.polyai_records()
    inserted = {}

    def insert() -> None:
        # Behind the walk (offsets it has read): shifts every later row by three, so rows repeat.
        inserted["behind"] = server.add_polyai(3, started_at=parse_instant(before[2]["started_at"]).timestamp() + 0.001)
        # Ahead of the walk, inside the window: the walk should still meet them.
        inserted["ahead"] = server.add_polyai(3, started_at=parse_instant(before[-4]["started_at"]).timestamp() + 0.001)

    server.inject(Fault("polyai", kind="delay", delay_seconds=1.5, match={"page": 4}))
    watcher = _when_request(server, "polyai", 4, insert)
    first = ctx.read(config, [POLYAI], name="first")
    watcher.join(5)
    second = ctx.read(config, [POLYAI], state=first.last_states(), name="second")
    return Outcome(server=server, before=before, inserted=inserted, first=first, second=second)


@uses(_polyai_rows_inserted_while_paging)
def test_given_rows_inserted_while_paging_by_offset_when_read_then_nothing_is_lost_and_duplicates_are_allowed(
    outcome: Outcome,
) -> None:
    first, second = outcome.first, outcome.second
    assert_succeeded(first)
    assert_succeeded(second)
    assert len(outcome.inserted.get("behind", [])) == 3, "the insert did not happen during the walk"
    repeated = [record_id for record_id, count in Counter(first.ids(POLYAI)).items() if count > 1]
    assert repeated, "the rows inserted behind the walk should have shifted later rows back into view"
    existing = [r["id"] for r in outcome.before if not r["in_progress"]]
    assert_no_loss([first], POLYAI, existing)  # the shift repeats rows; it must not skip any
    assert_no_loss([first, second], POLYAI, outcome.inserted["ahead"])
    # Rows that appear behind a walk with an older started_at are not guaranteed (see
    # docs/reliability-notes.md): they are left out of I2 here.
    behind = set(outcome.inserted["behind"])
    truth = [r for r in outcome.server.polyai_records() if r["id"] not in behind]
    assert_no_over_advance(first, POLYAI, truth)


def _vectara_rows_added_during_the_walk(ctx: Context) -> Outcome:
    server = ctx.serve()
    config = config_for(server)
    added = {}

    def add() -> None:
        added["past"] = server.add_vectara(2, epoch_secs=int(time.time()) - 7200)  # older than the sync
        added["now"] = server.add_vectara(2, epoch_secs=int(time.time()) + 1)  # newer than the sync's end

    server.inject(Fault("vectara", kind="delay", delay_seconds=1.5, match={"page": 3}))
    watcher = _when_request(server, "vectara", 3, add)
    first = ctx.read(config, [VECTARA], name="first")
    watcher.join(5)
    time.sleep(1.1)  # the next sync's end (one second before it starts) must be past the "now" rows
    second = ctx.read(config, [VECTARA], state=first.last_states(), name="second")
    return Outcome(server=server, added=added, first=first, second=second)


@uses(_vectara_rows_added_during_the_walk)
def test_given_vectara_rows_added_during_the_walk_when_read_twice_then_every_row_arrives(outcome: Outcome) -> None:
    assert_succeeded(outcome.first)
    assert_succeeded(outcome.second)
    assert len(outcome.added.get("now", [])) == 2, "the rows were not added during the walk"
    assert_no_loss([outcome.first, outcome.second], VECTARA, outcome.server.vectara_ids())
    truth = outcome.server.vectara_records()
    assert_no_over_advance(outcome.first, VECTARA, truth)
    assert_no_over_advance(outcome.second, VECTARA, truth, delivered_before=set(outcome.first.ids(VECTARA)))


def _conversations_in_progress(ctx: Context) -> Outcome:
    server = ctx.serve(in_progress_count=4)
    records = server.polyai_records()
    # A long call that started in the second window and is still going while later windows complete.
    long_call = server.add_polyai(1, in_progress=True, started_at=parse_instant(records[8]["started_at"]).timestamp() + 0.001)
    config = config_for(server)
    in_progress = server.polyai_ids(in_progress=True)
    first = ctx.read(config, [POLYAI], name="first")
    truth_then = server.polyai_records()
    server.finish_polyai_in_progress()
    second = ctx.read(config, [POLYAI], state=first.last_states(), name="second")
    return Outcome(server=server, long_call=long_call, in_progress=in_progress, first=first, second=second, truth_then=truth_then)


@uses(_conversations_in_progress)
def test_given_conversations_in_progress_during_a_sync_when_they_finish_then_the_next_sync_delivers_them(
    outcome: Outcome,
) -> None:
    first, second = outcome.first, outcome.second
    assert_succeeded(first)
    assert_succeeded(second)
    assert set(outcome.long_call) < set(outcome.in_progress), "the long call and the newest calls are in progress"
    assert not set(outcome.in_progress) & set(first.ids(POLYAI)), "in-progress conversations must be held back"
    assert_no_over_advance(first, POLYAI, outcome.truth_then)  # the state waits at the long call
    finished = {record["id"]: record for record in second.records(POLYAI)}
    assert set(outcome.in_progress) <= set(finished)
    assert all(finished[record_id]["in_progress"] is False for record_id in outcome.in_progress)
    truth = outcome.server.polyai_records()
    assert_no_over_advance(second, POLYAI, truth, delivered_before=set(first.ids(POLYAI)))
    assert_no_loss([first, second], POLYAI, [r["id"] for r in truth])


# ---------------------------------------------------------------------------------------------
# SIGKILL mid-sync
# ---------------------------------------------------------------------------------------------


def _killed_mid_sync(ctx: Context, stream: str) -> Outcome:
    server = ctx.serve()
    config = config_for(server)
    endpoint = "polyai" if stream == POLYAI else "vectara"
    server.inject(Fault(endpoint, kind="delay", delay_seconds=0.3, times=None))  # slow enough to stop midway
    cursor = "started_at" if stream == POLYAI else "epochSecs"

    def progressed(messages) -> bool:
        records = sum(1 for m in messages if m["type"] == "RECORD")
        if stream == VECTARA:  # Vectara saves no state until the walk ends: kill after a few records
            return records >= 8
        states = [m["state"]["stream"]["stream_state"][cursor] for m in messages if m["type"] == "STATE"]
        return records > 0 and any(parse_instant(value) > parse_instant(START_DATE) for value in states)

    killed = ctx.read_until_killed(config, [stream], progressed)
    server.clear_faults()
    rerun = ctx.read(config, [stream], state=[killed.states(stream)[-1]] if killed.states(stream) else None, name="rerun")
    return Outcome(server=server, killed=killed, rerun=rerun)


@pytest.mark.parametrize("stream", [POLYAI, VECTARA])
@uses(_killed_mid_sync)
def test_given_the_connector_is_killed_mid_sync_when_rerun_from_the_last_state_then_everything_after_it_arrives(
    outcome: Outcome, stream: str
) -> None:
    killed, rerun = outcome.killed, outcome.rerun
    assert killed.returncode == -9, "the connector finished before it could be killed: slow it down more"
    assert killed.records(stream), "killed before any record: not mid-sync"
    assert_succeeded(rerun)
    server = outcome.server
    truth = server.polyai_records() if stream == POLYAI else server.vectara_records()
    assert_no_over_advance(killed, stream, truth)
    assert_no_over_advance(rerun, stream, truth, delivered_before=set(killed.ids(stream)))
    expected = [r["id"] for r in truth if not r.get("in_progress")]
    assert_no_loss([killed, rerun], stream, expected)
    states = killed.states(stream)
    if stream == POLYAI:
        assert states, "the killed run should have saved a state"
        saved = parse_instant(states[-1]["stream"]["stream_state"]["started_at"])
        after = [r["id"] for r in truth if not r["in_progress"] and parse_instant(r["started_at"]) >= saved]
        assert_no_loss([rerun], stream, after)  # everything from the saved state on, from the re-run alone
