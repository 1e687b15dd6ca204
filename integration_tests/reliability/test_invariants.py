"""The invariants without faults, for every stream of every API version users run, at one request in
flight and at the maximum: a sync delivers exactly what the fake serves, no STATE passes a record it has
not emitted, and a sync resumed from the last state loses nothing and repeats nothing (but PolyAI's
boundary record: its windows start at the state, inclusive; and turns or events within the CDK's
`lookback_window` of the turns state). Then PolyAI windows that finish out of order
(several projects, one-day windows, the earliest ones slowed down), with and without a failure.
"""

from __future__ import annotations

import pytest

from fake_api import Fault
from integration_tests.reliability.invariants import (
    PARENTS,
    Truth,
    assert_clear_failure,
    assert_delivered_exactly,
    assert_no_secrets,
    assert_state_never_passes_unemitted,
    assert_states_sound,
    assert_succeeded,
    micros,
)
from integration_tests.reliability.support import (
    PROFILES,
    WORKER_LEVELS,
    Context,
    Outcome,
    Profile,
    config_for,
    iso,
    polyai_windows,
    server_secrets,
    strict_config,
    uses,
)
from source_conversations import registry

POLYAI = "polyai_conversations"


def _two_syncs(ctx: Context, profile: Profile, workers: int) -> Outcome:
    """A first sync with the settings users run (default look-back), then one from its last states."""
    server = ctx.serve()
    config = config_for(server, profile, workers)
    first = ctx.read(config, name="first")
    truth = Truth(server, config, now=first.started)
    second = ctx.read(config, state=first.last_states(), name="second")
    return Outcome(server=server, config=config, truth=truth, first=first, second=second)


@pytest.mark.parametrize("workers", WORKER_LEVELS)
@pytest.mark.parametrize("profile", PROFILES, ids=str)
@uses(_two_syncs)
def test_given_every_stream_when_synced_then_exactly_the_served_records_arrive_and_no_state_passes_an_unemitted_one(
    outcome: Outcome, profile: Profile, workers: int
) -> None:
    run, truth = outcome.first, outcome.truth
    assert_succeeded(run)
    assert sorted(truth.streams) == sorted({message["record"]["stream"] for message in run.of_type("RECORD")})
    for stream in truth.streams:
        assert_delivered_exactly([run], stream, truth)
        assert assert_state_never_passes_unemitted(run, stream, truth) >= 1, f"{stream} saved no state"
    held = [item.pk for item in truth.items[POLYAI] if item.held]
    assert len({pk.split("/")[0] for pk in held}) == 3, "each project's newest conversation is in progress (held)"
    assert_no_secrets(run.output, server_secrets(outcome.server))


@pytest.mark.parametrize("workers", WORKER_LEVELS)
@pytest.mark.parametrize("profile", PROFILES, ids=str)
@uses(_two_syncs)
def test_given_a_finished_sync_when_synced_again_from_its_state_then_only_polyais_boundary_records_repeat(
    outcome: Outcome, profile: Profile, workers: int
) -> None:
    first, second, truth = outcome.first, outcome.second, outcome.truth
    assert_succeeded(second)
    assert_states_sound([first, second], truth)
    for stream in truth.streams:
        repeated = set(second.ids(stream))
        saved = first.stream_states(stream)[-1]
        if stream == POLYAI:
            # The next window starts at the saved state, inclusive: the one record at it may come again.
            limits = {
                entry["partition"]["project_id"]: micros(entry["cursor"]["started_at"]) for entry in saved["states"]
            }
            allowed = {item.pk for item in truth.items[stream] if item.cursor == limits.get(item.partition)}
        elif stream in PARENTS:
            # The CDK starts a global substream cursor `lookback_window` seconds (the last sync's duration)
            # before its state: turns or events made in that span may come again (at least once, never lost).
            cursor = micros(saved["state"][registry.stream(stream).cursor_field])
            span = int(saved.get("lookback_window") or 0) * 1_000_000
            allowed = {item.pk for item in truth.items[stream] if cursor - span <= item.cursor <= cursor}
        else:
            allowed = set()
        assert repeated <= allowed, (
            f"{stream} emitted again {len(repeated - allowed)} record(s) it had delivered: {sorted(repeated - allowed)[:3]}"
        )


# ---------------------------------------------------------------------------------------------
# PolyAI windows that finish out of order
# ---------------------------------------------------------------------------------------------

POLYAI_ONLY = Profile("v3", None)


def _earliest_windows(server, config) -> dict:
    """Each project's earliest window that holds conversations: project -> its start_time."""
    firsts = {}
    for project in config["polyai"]["project_ids"]:
        for start, end in polyai_windows():
            if server.polyai_ids(iso(start), iso(end), project_id=project):
                firsts[project] = iso(start)
                break
    return firsts


def _windows_out_of_order(ctx: Context, workers: int) -> Outcome:
    """Every project's earliest window is answered slowly, so later windows finish first; then the same
    with the earliest window of the first project failing for good, and a sync resumed from there."""
    server = ctx.serve()
    config = strict_config(server, POLYAI_ONLY, workers)
    firsts = _earliest_windows(server, config)
    slow = [
        Fault(
            "polyai",
            kind="delay",
            delay_seconds=(2.0 + 0.5 * index) if workers > 1 else 0.1,  # one worker reads windows in order anyway
            times=None,
            match={"project_id": project, "start_time": start},
        )
        for index, (project, start) in enumerate(firsts.items())
    ]
    for fault in slow:
        server.inject(fault)
    slowed = ctx.read(config, name="slowed")
    truth = Truth(server, config, now=slowed.started)
    server.clear_faults()
    broken, failing_start = next(iter(firsts.items()))
    server.inject(
        Fault(
            "polyai", status=500, retry_after="0", times=None, match={"project_id": broken, "start_time": failing_start}
        )
    )
    for fault in slow[1:]:
        server.inject(fault)
    failed = ctx.read(config, name="failed")
    server.clear_faults()
    resumed = ctx.read(config, state=failed.last_states(), name="resumed")
    return Outcome(
        server=server,
        config=config,
        truth=truth,
        firsts=firsts,
        broken=broken,
        slowed=slowed,
        failed=failed,
        resumed=resumed,
    )


@pytest.mark.parametrize("workers", WORKER_LEVELS)
@uses(_windows_out_of_order)
def test_given_windows_that_finish_out_of_order_when_read_then_no_state_passes_a_record_of_an_unfinished_window(
    outcome: Outcome, workers: int
) -> None:
    run, truth = outcome.slowed, outcome.truth
    assert_succeeded(run)
    assert_delivered_exactly([run], POLYAI, truth)
    assert assert_state_never_passes_unemitted(run, POLYAI, truth) >= 2
    if workers > 1:  # the scenario really had windows finish out of order
        order = run.ids(POLYAI)
        project = outcome.broken
        firsts = [pk for pk in order if pk.startswith(project + "/")]
        earliest = min(truth.items[POLYAI], key=lambda item: item.cursor if item.partition == project else 10**20)
        assert firsts[0] != earliest.pk, "the slowed window was read first: the windows did not finish out of order"


@pytest.mark.parametrize("workers", WORKER_LEVELS)
@uses(_windows_out_of_order)
def test_given_an_early_window_that_fails_while_later_ones_finish_when_resumed_then_nothing_is_lost(
    outcome: Outcome, workers: int
) -> None:
    failed, resumed, truth = outcome.failed, outcome.resumed, outcome.truth
    assert_clear_failure(failed, "transient_error", ["PolyAI"])
    assert_state_never_passes_unemitted(failed, POLYAI, truth)
    saved = {
        entry["partition"]["project_id"]: micros(entry["cursor"]["started_at"])
        for state in failed.stream_states(POLYAI)
        for entry in state.get("states", [])
    }
    earliest = min(item.cursor for item in truth.items[POLYAI] if item.partition == outcome.broken)
    assert saved.get(outcome.broken, 0) < earliest, "the failed project's state passed its failed window"
    assert_succeeded(resumed)
    assert_state_never_passes_unemitted(resumed, POLYAI, truth, before=failed.ids(POLYAI))
    assert_delivered_exactly([failed, resumed], POLYAI, truth)
