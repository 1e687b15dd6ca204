"""Time and saved state through the real console script: epochSecs across DST changes with the process in
a DST time zone, a state in the future for every stream, malformed states of every form, and states the
connector wrote itself when a stream had nothing to read yet. Timestamp formats PolyAI might send (Z,
+05:30, -08:00, fractions) are in test_units.py: fake_api only writes `Z` and `+00:00`.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from integration_tests.reliability.invariants import (
    Truth,
    assert_clear_failure,
    assert_delivered_exactly,
    assert_state_never_passes_unemitted,
    assert_states_sound,
    assert_succeeded,
    micros,
)
from integration_tests.reliability.support import (
    PROFILES,
    Context,
    Outcome,
    Profile,
    config_for,
    stream_state,
    uses,
)
from source_conversations import registry


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
DST_PROFILE = Profile("v3", "v1")


def _epochs_across_dst(ctx: Context) -> Outcome:
    server = ctx.serve(vectara_count=0)
    ids = {}
    for epoch in DST_EPOCHS:
        if epoch < time.time() - 5:
            ids[server.add_vectara(1, epoch_secs=epoch)[0]] = epoch
    config = config_for(server, DST_PROFILE, 8, start_date="2026-03-01T00:00:00Z", polyai={"window_days": 30})
    state = stream_state("vectara_conversations", {"epochSecs": str(US_SPRING - 1)})
    run = ctx.read(config, state=state, env={"TZ": "America/Los_Angeles"})
    return Outcome(server=server, run=run, ids=ids, truth=Truth(server, config, now=run.started))


@uses(_epochs_across_dst)
def test_given_epoch_secs_across_dst_changes_when_read_in_a_dst_time_zone_then_created_at_and_state_stay_utc(
    outcome: Outcome,
) -> None:
    run = outcome.run
    assert_succeeded(run)
    emitted = {record["id"]: record for record in run.records("vectara_conversations")}
    expected = {record_id for record_id, epoch in outcome.ids.items() if epoch > US_SPRING - 1}
    assert set(emitted) == expected, "exactly the records after the state, the second after it included"
    for record_id, record in emitted.items():
        epoch = outcome.ids[record_id]
        assert record["created_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
        assert int(record["epochSecs"]) == epoch
    final = run.stream_states("vectara_conversations")[-1]["epochSecs"]
    assert int(final) == max(outcome.ids.values())
    # The turns (no state given: every turn from the start date) and PolyAI's windows, in the same process
    # and time zone: UTC throughout, nothing lost.
    for turn in run.records("vectara_turns"):
        assert turn["created_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(turn["epochSecs"])))
    for stream in ("vectara_turns", "polyai_conversations"):
        assert_delivered_exactly([run], stream, outcome.truth)
        assert_state_never_passes_unemitted(run, stream, outcome.truth)


# ---------------------------------------------------------------------------------------------
# A state in the future
# ---------------------------------------------------------------------------------------------

FUTURE_ISO, FUTURE_EPOCH = "2099-01-01T00:00:00.000000Z", "4102444800"


def _future_states(server, config) -> list:
    per_project = {
        "states": [
            {"partition": {"project_id": p}, "cursor": {"started_at": FUTURE_ISO}}
            for p in config.get("polyai", {}).get("project_ids", [])
        ]
    }
    per_agent = {
        "states": [
            {"partition": {"agent_key": a}, "cursor": {"created_at": FUTURE_ISO}} for a in server.vectara_agent_keys()
        ]
    }
    blobs = {
        "polyai_conversations": per_project,
        "vectara_conversations": {"epochSecs": FUTURE_EPOCH},
        "vectara_turns": {
            "use_global_cursor": True,
            "state": {"epochSecs": FUTURE_EPOCH},
            "parent_state": {"vectara_conversations": {"epochSecs": FUTURE_EPOCH}},
        },
        "vectara_chats": {"created_at": FUTURE_ISO},
        "vectara_chat_turns": {
            "use_global_cursor": True,
            "state": {"created_at": FUTURE_ISO},
            "parent_state": {"vectara_chats": {"created_at": FUTURE_ISO}},
        },
        "vectara_agent_sessions": per_agent,
        "vectara_agent_events": {
            "use_global_cursor": True,
            "state": {"created_at": FUTURE_ISO},
            "parent_state": {"vectara_agent_sessions": per_agent},
        },
    }
    return [message for stream in registry.streams_for(config) for message in stream_state(stream, blobs[stream])]


def _future_state(ctx: Context, profile: Profile) -> Outcome:
    server = ctx.serve()
    config = config_for(server, profile, 20)
    run = ctx.read(config, state=_future_states(server, config))
    return Outcome(server=server, run=run)


@pytest.mark.parametrize("profile", PROFILES, ids=str)
@uses(_future_state)
def test_given_a_state_in_the_future_when_read_then_nothing_is_read_and_no_state_moves_backwards(
    outcome: Outcome, profile: Profile
) -> None:
    run = outcome.run
    assert_succeeded(run)
    assert run.records() == []
    future = micros(FUTURE_ISO)
    for state in run.states():
        name = state["stream"]["stream_descriptor"]["name"]
        blob = state["stream"]["stream_state"]
        field = registry.stream(name).cursor_field
        values = (
            [entry["cursor"][field] for entry in blob["states"]]
            if "states" in blob
            else [(blob.get("state") or blob).get(field)]
        )
        assert all(micros(value) >= future for value in values if value is not None), (
            f"{name} moved its state back: {blob}"
        )


# ---------------------------------------------------------------------------------------------
# Malformed states
# ---------------------------------------------------------------------------------------------

MALFORMED = {
    "polyai_partition_not_a_date": (
        "polyai_conversations",
        {"states": [{"partition": {"project_id": "PROJECT-alpha"}, "cursor": {"started_at": "not-a-date"}}]},
    ),
    "polyai_bare_not_a_date": ("polyai_conversations", {"started_at": "not-a-date"}),
    "polyai_no_cursor_key": ("polyai_conversations", {"last_sync": "2026-01-01T00:00:00Z"}),
    "vectara_v1_epoch_secs_not_a_number": ("vectara_conversations", {"epochSecs": "yesterday"}),
    "vectara_v1_turns_not_a_number": ("vectara_turns", {"use_global_cursor": True, "state": {"epochSecs": "soon"}}),
    "vectara_v2_chats_not_a_date": ("vectara_chats", {"created_at": "yesterday"}),
    "vectara_v2_sessions_not_a_date": (
        "vectara_agent_sessions",
        {"states": [{"partition": {"agent_key": "agt_x"}, "cursor": {"created_at": "soon"}}]},
    ),
    "vectara_v2_events_no_cursor_key": (
        "vectara_agent_events",
        {"use_global_cursor": True, "state": {"last": "2026-01-01T00:00:00Z"}},
    ),
}


def _malformed_state(ctx: Context, case: str) -> Outcome:
    stream, blob = MALFORMED[case]
    profile = Profile("v3", "v1") if stream in ("vectara_conversations", "vectara_turns") else Profile("v3", "v2")
    server = ctx.serve()
    run = ctx.read(config_for(server, profile), streams=[stream], state=stream_state(stream, blob))
    return Outcome(server=server, run=run, stream=stream)


@pytest.mark.parametrize("case", list(MALFORMED))
@uses(_malformed_state)
def test_given_a_malformed_state_when_read_then_config_error_naming_the_state_not_a_silent_full_resync(
    outcome: Outcome, case: str
) -> None:
    assert_clear_failure(
        outcome.run, "config_error", ["state", outcome.stream, registry.stream(outcome.stream).cursor_field]
    )
    assert outcome.run.records() == [], "a malformed state must not start a full resync"


# ---------------------------------------------------------------------------------------------
# States the connector wrote when a stream had nothing to read yet
# ---------------------------------------------------------------------------------------------


def _nothing_to_read_yet(ctx: Context, version: str) -> Outcome:
    """A Vectara account with no conversations yet (and, v2, agents with no sessions yet), synced twice."""
    server = ctx.serve(vectara_count=0, vectara_sessions_per_agent=0)
    config = config_for(server, Profile(None, version), 8)
    first = ctx.read(config, name="first")
    server.add_vectara(2, epoch_secs=int(time.time()) - 60)
    second = ctx.read(config, state=first.last_states(), name="second")
    return Outcome(server=server, first=first, second=second, truth=Truth(server, config, now=second.started))


@pytest.mark.parametrize("version", ["v1", "v2"])
@uses(_nothing_to_read_yet)
def test_given_a_first_sync_with_no_turns_or_events_yet_when_synced_again_then_its_states_are_accepted(
    outcome: Outcome, version: str
) -> None:
    assert_succeeded(outcome.first)
    # Bug 18 (docs/reliability-notes.md): the turns or events state without a cursor of its own,
    # written by the first sync, is refused by the next one as a config_error.
    assert_succeeded(outcome.second)
    assert_states_sound([outcome.first, outcome.second], outcome.truth)
    for stream in outcome.truth.streams:
        assert_delivered_exactly([outcome.first, outcome.second], stream, outcome.truth)
