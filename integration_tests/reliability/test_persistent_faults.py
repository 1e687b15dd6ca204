"""Faults that do not go away: the sync must fail clearly, in bounded time, without saving a state past what
it emitted; and a re-run from the last emitted STATE (once the API behaves) must lose nothing (I1).

PolyAI runs in six one-day windows, so a failure in the third one leaves intermediate states behind.
Vectara saves its state only once a walk has finished, so its scenarios first sync once (state S0), add
new conversations, fail the second sync, and check a third sync from the last state gets the new ones.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Optional

import pytest

from fake_api import Fault
from reliability_tests.invariants import (
    assert_clear_failure,
    assert_no_loss,
    assert_no_over_advance,
    assert_no_secrets,
    assert_succeeded,
    assert_took_less_than,
)
from reliability_tests.support import (
    NOW,
    POLYAI,
    POLYAI_PAGE,
    VECTARA,
    Context,
    Outcome,
    config_for,
    polyai_page_match,
    requests_for_page,
    server_secrets,
    stream_state,
    uses,
    vectara_page_keys,
)

API = {POLYAI: "PolyAI", VECTARA: "Vectara"}


def _fail_then_resume(ctx: Context, stream: str, make_faults, debug: bool = False) -> Outcome:
    """Given one faulty middle page, when read, then read again from the last emitted state with the
    fault cleared.

    Vectara starts from a state S0 (as if an earlier sync had read every base record) and has three new
    conversations at the end of its list, after the faulty page: the failed walk must not save a state
    past S0, and the re-run must deliver them.
    """
    server = ctx.serve()
    config = config_for(server)
    state: Optional[list] = None
    delivered_before: set = set()
    if stream == POLYAI:
        page = polyai_page_match(2, POLYAI_PAGE)
    else:
        page = {"pageKey": vectara_page_keys(server)[2]}
        base = server.vectara_records()
        state = stream_state(VECTARA, {"epochSecs": str(max(int(r["epochSecs"]) for r in base))})
        delivered_before = {r["id"] for r in base}
        server.add_vectara(3, epoch_secs=int(time.time()) - 30)
    for fault in make_faults("polyai" if stream == POLYAI else "vectara", page):
        server.inject(fault)
    failed = ctx.read(config, [stream], state=state, debug=debug, name="failed")
    page_requests = requests_for_page(server, stream, page)
    server.clear_faults()
    resumed = ctx.read(config, [stream], state=failed.last_states() or state, name="resumed")
    return Outcome(
        server=server, failed=failed, resumed=resumed, page_requests=page_requests, delivered_before=delivered_before
    )


def _check_resume(outcome: Outcome, stream: str) -> None:
    """I1 over both attempts, I2 in the failed run and in the re-run, I4 in both."""
    server = outcome.server
    truth = server.polyai_records() if stream == POLYAI else server.vectara_records()
    earlier = outcome.delivered_before
    expected = [r["id"] for r in truth if not r.get("in_progress") and r["id"] not in earlier]
    assert expected, "the scenario must leave something to deliver"
    assert_no_over_advance(outcome.failed, stream, truth, delivered_before=earlier)
    assert_succeeded(outcome.resumed)
    assert_no_over_advance(outcome.resumed, stream, truth, delivered_before=earlier | set(outcome.failed.ids(stream)))
    assert_no_loss([outcome.failed, outcome.resumed], stream, expected)
    for run in (outcome.failed, outcome.resumed):
        assert_no_secrets(run.output, server_secrets(server))


# ---------------------------------------------------------------------------------------------
# 429
# ---------------------------------------------------------------------------------------------

RETRY_AFTER_FAR = {"seconds": "100000", "http_date": formatdate(NOW + 2 * 86400, usegmt=True)}


def _retry_after_far_too_long(ctx: Context, stream: str, form: str) -> Outcome:
    faults = lambda endpoint, page: [Fault(endpoint, status=429, retry_after=RETRY_AFTER_FAR[form], times=None, match=page)]
    return _fail_then_resume(ctx, stream, faults)


# Both forms go through the same backoff component: one form per stream keeps the suite short.
@pytest.mark.parametrize(("stream", "form"), [(POLYAI, "seconds"), (VECTARA, "http_date")])
@uses(_retry_after_far_too_long)
def test_given_429_with_a_retry_after_far_too_long_when_read_then_fails_fast_with_a_clear_transient_error(
    outcome: Outcome, stream: str, form: str
) -> None:
    assert outcome.page_requests == 1, "a wait of more than 600 s must not be retried (nor slept)"
    assert_took_less_than(outcome.failed, 30)  # not 100000 s, not 2 days
    assert_clear_failure(outcome.failed, "transient_error", [API[stream], "Retry-After", "later"])
    _check_resume(outcome, stream)


def _429_forever(ctx: Context, stream: str) -> Outcome:
    faults = lambda endpoint, page: [Fault(endpoint, status=429, retry_after="0", times=None, match=page)]
    return _fail_then_resume(ctx, stream, faults, debug=True)


@pytest.mark.parametrize("stream", [POLYAI, VECTARA])
@uses(_429_forever)
def test_given_429_forever_when_read_then_gives_up_after_the_retry_budget_naming_the_rate_limit(
    outcome: Outcome, stream: str
) -> None:
    assert outcome.page_requests == 6, "one request and 5 retries, then give up"
    assert_clear_failure(outcome.failed, "transient_error", [API[stream], "429"])
    _check_resume(outcome, stream)


# ---------------------------------------------------------------------------------------------
# 5xx forever on a middle page
# ---------------------------------------------------------------------------------------------


def _5xx_forever(ctx: Context, stream: str, status: int) -> Outcome:
    faults = lambda endpoint, page: [Fault(endpoint, status=status, retry_after="0", times=None, match=page)]
    return _fail_then_resume(ctx, stream, faults)


@pytest.mark.parametrize(("stream", "status"), [(POLYAI, 500), (VECTARA, 503)])
@uses(_5xx_forever)
def test_given_5xx_forever_on_a_middle_page_when_read_then_fails_and_a_rerun_from_the_last_state_loses_nothing(
    outcome: Outcome, stream: str, status: int
) -> None:
    assert outcome.page_requests == 6
    assert_clear_failure(outcome.failed, "transient_error", [API[stream]])
    if stream == POLYAI:
        states = [s["stream"]["stream_state"]["started_at"] for s in outcome.failed.states(POLYAI)]
        assert len(set(states)) >= 2, "windows before the faulty one should have saved intermediate states"
    _check_resume(outcome, stream)


# ---------------------------------------------------------------------------------------------
# Errors inside a 200
# ---------------------------------------------------------------------------------------------


def _polyai_error_body_forever(ctx: Context) -> Outcome:
    body = {"error_message": "start_time must be within the last 2 years"}
    faults = lambda endpoint, page: [Fault(endpoint, status=200, body=body, retry_after="0", times=None, match=page)]
    return _fail_then_resume(ctx, POLYAI, faults)


@uses(_polyai_error_body_forever)
def test_given_a_polyai_error_message_in_a_200_forever_when_read_then_fails_showing_the_vendor_message(
    outcome: Outcome,
) -> None:
    assert outcome.page_requests == 6, "retried like any page that is not a page, then given up"
    assert_clear_failure(
        outcome.failed, "transient_error", ["PolyAI", "start_time must be within the last 2 years"]
    )
    _check_resume(outcome, POLYAI)


VECTARA_CODES = {
    # code: (failure_type, phrases the message must hold)
    "INVALID_API_KEY": ("config_error", ["INVALID_API_KEY", "vectara.credentials"]),
    "INTERNAL": ("system_error", ["INTERNAL", "corpus index is rebuilding"]),
}


def _vectara_status_code(ctx: Context, code: str) -> Outcome:
    faults = lambda endpoint, page: [
        Fault(endpoint, kind="vendor_error", code=code, detail="corpus index is rebuilding", times=None, match=page)
    ]
    return _fail_then_resume(ctx, VECTARA, faults)


@pytest.mark.parametrize("code", list(VECTARA_CODES))
@uses(_vectara_status_code)
def test_given_a_vectara_non_ok_status_code_in_a_200_when_read_then_fails_with_its_type_without_retrying(
    outcome: Outcome, code: str
) -> None:
    failure_type, mentions = VECTARA_CODES[code]
    assert outcome.page_requests == 1, "a non-retryable vendor code is not retried"
    assert_clear_failure(outcome.failed, failure_type, mentions)
    _check_resume(outcome, VECTARA)
