"""Paging faults: an empty page that still points to a next page is followed; a pointer that repeats (a
stuck offset, a repeated cursor or page key, a cycle A -> B -> A, empty pages forever) fails loudly with a
`system_error` naming the loop, in bounded requests, and a resume once the API is fixed loses nothing.
(An offset past the end is in test_units.py.)
"""

from __future__ import annotations

import pytest

from fake_api import Fault
from fake_api.faults import KINDS_BY_ENDPOINT
from integration_tests.reliability.invariants import (
    Truth,
    assert_clear_failure,
    assert_delivered_exactly,
    assert_resume_loses_nothing,
    assert_state_never_passes_unemitted,
    assert_succeeded,
    assert_took_less_than,
)
from integration_tests.reliability.support import (
    PROFILES,
    WORKER_LEVELS,
    Context,
    Outcome,
    Profile,
    middle_targets,
    strict_config,
    uses,
)


def _empty_page_with_next(ctx: Context, profile: Profile, workers: int) -> Outcome:
    """One page in the middle of every list answers no records and a pointer to the same position (PolyAI
    v1 its own offset, v3 a cursor for the same position, Vectara a fresh page key). Bug 19
    (docs/reliability-notes.md): v3's cursor for the same position is the request's own, and fails as a loop."""
    server = ctx.serve()
    config = strict_config(server, profile, workers)
    armed = []
    for endpoint, match in middle_targets(server, config).items():
        if "empty_page_with_next" in KINDS_BY_ENDPOINT[endpoint]:
            server.inject(Fault(endpoint, kind="empty_page_with_next", match=match))
            armed.append(endpoint)
    run = ctx.read(config)
    return Outcome(
        server=server, run=run, armed=armed, left=server.stats()["faults"], truth=Truth(server, config, now=run.started)
    )


@pytest.mark.parametrize("workers", WORKER_LEVELS)
@pytest.mark.parametrize("profile", PROFILES, ids=str)
@uses(_empty_page_with_next)
def test_given_an_empty_page_that_still_points_to_a_next_page_when_read_then_paging_continues_and_nothing_is_lost(
    outcome: Outcome, profile: Profile, workers: int
) -> None:
    assert_succeeded(outcome.run)
    assert not outcome.left, f"faults never served: {outcome.left}"
    for stream in outcome.truth.streams:
        assert_delivered_exactly([outcome.run], stream, outcome.truth)
        assert_state_never_passes_unemitted(outcome.run, stream, outcome.truth)


LOOPS = {
    # case: (profile, endpoint, fault kind, every time); matched on the middle page, but for the Vectara v1
    # list's cycle and fresh keys (each answer names another page: every list request gets the fault)
    "polyai_v1_offset_stuck": (Profile("v1", None), "polyai", "offset_stuck", True),
    "polyai_v3_cursor_repeats": (Profile("v3", None), "polyai", "cursor_repeat", True),
    "polyai_v3_empty_pages_forever": (Profile("v3", None), "polyai", "empty_page_with_next", True),
    "vectara_v1_page_keys_cycle": (Profile(None, "v1"), "vectara", "cycle", True),
    "vectara_v1_empty_pages_with_fresh_keys_forever": (Profile(None, "v1"), "vectara", "empty_page_with_next", True),
    "vectara_v2_chats_page_key_repeats": (Profile(None, "v2"), "vectara_chats", "repeat_page_key", False),
    "vectara_v2_events_empty_pages_forever": (Profile(None, "v2"), "vectara_events", "empty_page_with_next", True),
}


def _looping_pointer(ctx: Context, workers: int, case: str) -> Outcome:
    profile, endpoint, kind, forever = LOOPS[case]
    server = ctx.serve()
    config = strict_config(server, profile, workers)
    match = {} if endpoint == "vectara" else middle_targets(server, config)[endpoint]
    server.inject(Fault(endpoint, kind=kind, times=None if forever else 1, match=match))
    failed = ctx.read(config, timeout=60, name="looping")  # a loop ends here (I5)
    truth = Truth(server, config, now=failed.started)
    requests = server.requests.count(endpoint)
    server.clear_faults()
    resumed = ctx.read(config, state=failed.last_states(), name="resumed")
    return Outcome(server=server, truth=truth, failed=failed, resumed=resumed, requests=requests)


@pytest.mark.parametrize("case", list(LOOPS))
@pytest.mark.parametrize("workers", WORKER_LEVELS)
@uses(_looping_pointer)
def test_given_a_next_page_pointer_that_repeats_when_read_then_fails_loudly_instead_of_looping(
    outcome: Outcome, workers: int, case: str
) -> None:
    profile = LOOPS[case][0]
    failed, resumed, truth = outcome.failed, outcome.resumed, outcome.truth
    assert outcome.requests <= 40, f"{outcome.requests} requests: the connector followed the loop"
    assert_took_less_than(failed, 45)
    assert_clear_failure(failed, "system_error", ["loop", "PolyAI" if profile.polyai else "Vectara"])
    assert_resume_loses_nothing(failed, resumed, truth)
