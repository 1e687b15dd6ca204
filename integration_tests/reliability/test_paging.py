"""Paging faults (fault 8): an empty page that still points to a next page must be followed; a pointer that
repeats (stuck offset, repeated page key, cycle A -> B -> A) must fail loudly in bounded requests, never
loop, and a re-run once the API is fixed loses nothing. (An offset past the end is in test_units.py.)
"""

from __future__ import annotations

import pytest

from fake_api import Fault
from reliability_tests.invariants import (
    assert_clear_failure,
    assert_no_loss,
    assert_no_over_advance,
    assert_succeeded,
    assert_took_less_than,
)
from reliability_tests.support import (
    POLYAI,
    POLYAI_PAGE,
    VECTARA,
    Context,
    Outcome,
    config_for,
    polyai_page_match,
    uses,
    vectara_page_keys,
)


def _truth_ids(server, stream):
    if stream == POLYAI:
        return [r["id"] for r in server.polyai_records() if not r["in_progress"]]
    return server.vectara_ids()


def _truth(server, stream):
    return server.polyai_records() if stream == POLYAI else server.vectara_records()


def _empty_page_with_next(ctx: Context, stream: str) -> Outcome:
    server = ctx.serve()
    if stream == POLYAI:  # the second page of the third window answers no records and next_offset = its own offset
        server.inject(Fault("polyai", kind="empty_page_with_next", match=polyai_page_match(2, POLYAI_PAGE)))
    else:  # the third page answers no records and a fresh key for the same position
        server.inject(Fault("vectara", kind="empty_page_with_next", match={"pageKey": vectara_page_keys(server)[1]}))
    run = ctx.read(config_for(server), [stream])
    return Outcome(server=server, run=run)


@pytest.mark.parametrize("stream", [POLYAI, VECTARA])
@uses(_empty_page_with_next)
def test_given_an_empty_page_that_still_points_to_a_next_page_when_read_then_paging_continues_and_nothing_is_lost(
    outcome: Outcome, stream: str
) -> None:
    assert_succeeded(outcome.run)
    assert_no_loss([outcome.run], stream, _truth_ids(outcome.server, stream))
    assert_no_over_advance(outcome.run, stream, _truth(outcome.server, stream))


LOOPS = {
    "polyai_offset_stuck": lambda server: Fault("polyai", kind="offset_stuck", match=polyai_page_match(2, POLYAI_PAGE)),
    "vectara_page_key_repeats": lambda server: Fault("vectara", kind="repeat_page_key", match={"page": 3}),
    "vectara_page_keys_cycle": lambda server: Fault("vectara", kind="cycle", times=None),
    # Pages that never come: empty, pointing at themselves again (PolyAI) or under a fresh key each time
    # (Vectara). Following a few is right (see above); following them forever is a loop.
    "polyai_empty_pages_forever": lambda server: Fault(
        "polyai", kind="empty_page_with_next", times=None, match=polyai_page_match(2, POLYAI_PAGE)
    ),
    "vectara_empty_pages_with_fresh_keys_forever": lambda server: Fault("vectara", kind="empty_page_with_next", times=None),
}


def _looping_pointer(ctx: Context, case: str) -> Outcome:
    server = ctx.serve()
    stream = POLYAI if case.startswith("polyai") else VECTARA
    server.inject(LOOPS[case](server))
    config = config_for(server)
    failed = ctx.read(config, [stream], timeout=20, name="looping")  # a loop ends here (I5)
    requests = server.requests.count("polyai" if stream == POLYAI else "vectara")
    server.clear_faults()
    resumed = ctx.read(config, [stream], state=failed.last_states() or None, name="resumed")
    return Outcome(server=server, stream=stream, failed=failed, resumed=resumed, requests=requests)


@pytest.mark.parametrize("case", list(LOOPS))
@uses(_looping_pointer)
def test_given_a_next_page_pointer_that_repeats_when_read_then_fails_loudly_instead_of_looping(
    outcome: Outcome, case: str
) -> None:
    stream = outcome.stream
    assert outcome.requests <= 30, f"{outcome.requests} requests: the connector followed the loop"
    assert_took_less_than(outcome.failed, 30)
    assert_clear_failure(outcome.failed, "system_error", ["loop", "PolyAI" if stream == POLYAI else "Vectara"])
    truth = _truth(outcome.server, stream)
    assert_no_over_advance(outcome.failed, stream, truth)
    assert_succeeded(outcome.resumed)
    assert_no_over_advance(outcome.resumed, stream, truth, delivered_before=set(outcome.failed.ids(stream)))
    assert_no_loss([outcome.failed, outcome.resumed], stream, _truth_ids(outcome.server, stream))
