"""Faults that must be retried and then leave nothing behind: one run syncs both streams while one page of
each API misbehaves (faults 1-5 of the suite), and the sync still delivers every record exactly as served.

The misbehaving page is in the middle: PolyAI's third one-day window at its second page; Vectara's third
page. Retry-After: 0 keeps each retry at about 1 s (the CDK adds 1 s to every wait).
"""

from __future__ import annotations

import json
from email.utils import formatdate
from typing import Callable, Dict, List

import pytest
import requests

from fake_api import Fault
from reliability_tests.invariants import (
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
    STREAMS,
    VECTARA,
    VECTARA_PAGE,
    Context,
    Outcome,
    config_for,
    page_request_times,
    polyai_page_match,
    requests_for_page,
    server_secrets,
    uses,
    vectara_page_keys,
    window_start,
)

FaultMaker = Callable[[str, dict], List[Fault]]


def _status(*statuses: int, retry_after: str = "0") -> FaultMaker:
    return lambda endpoint, match: [
        Fault(endpoint, status=status, retry_after=retry_after, match=match) for status in statuses
    ]


def _kind(kind: str, **extra) -> FaultMaker:
    return lambda endpoint, match: [Fault(endpoint, kind=kind, match=match, **extra)]


def _vendor_error(endpoint: str, match: dict) -> List[Fault]:
    # PolyAI: {"error_message": ...} in a 200; Vectara: status.code UNAVAILABLE in a 200 (a retried code).
    return [Fault(endpoint, kind="vendor_error", code="UNAVAILABLE", detail="try again shortly", match=match)]


# name: (fault maker, requests expected for the faulty page, extra settings)
TRANSIENT: Dict[str, tuple] = {
    "429_retry_after_seconds": (_status(429, 429), 3, {"debug": True}),
    "429_retry_after_http_date_in_the_past": (_status(429, retry_after=formatdate(NOW - 3600, usegmt=True)), 2, {}),
    "500_502_503_then_success": (_status(500, 502, 503), 4, {"debug": True}),
    "connection_reset_mid_response": (_kind("reset"), 2, {}),
    "body_shorter_than_content_length": (_kind("short_body"), 2, {}),
    "read_stalls_past_the_read_timeout": (_kind("delay", delay_seconds=30), 2, {"read_timeout": 1}),
    "200_truncated_json": (_kind("truncated_json"), 2, {}),
    "200_invalid_json": (_kind("invalid_json"), 2, {}),
    "200_records_key_missing": (_kind("missing_key"), 2, {}),
    "200_vendor_error": (_vendor_error, 2, {}),
}


def _one_faulty_page_per_api(ctx: Context, fault: str) -> Outcome:
    make, _, extra = TRANSIENT[fault]
    server = ctx.serve()
    keys = vectara_page_keys(server)
    pages = {POLYAI: polyai_page_match(2, POLYAI_PAGE), VECTARA: {"pageKey": keys[1]}}
    for stream, endpoint in ((POLYAI, "polyai"), (VECTARA, "vectara")):
        for item in make(endpoint, pages[stream]):
            server.inject(item)
    config = config_for(server, read_timeout=extra.get("read_timeout", 2))
    run = ctx.read(config, STREAMS, debug=extra.get("debug", False))
    return Outcome(server=server, run=run, pages=pages)


@pytest.mark.parametrize("fault", list(TRANSIENT))
@uses(_one_faulty_page_per_api)
def test_given_a_transient_fault_on_a_middle_page_when_read_then_it_is_retried_and_every_record_arrives(
    outcome: Outcome, fault: str
) -> None:
    server, run = outcome.server, outcome.run
    assert_succeeded(run)
    expected_requests = TRANSIENT[fault][1]
    for stream in STREAMS:
        assert requests_for_page(server, stream, outcome.pages[stream]) == expected_requests, (
            f"{stream}: the faulty page should be asked {expected_requests} times (retried, not skipped, not read as empty)"
        )
    polyai_truth = server.polyai_records()
    assert_no_loss([run], POLYAI, [r["id"] for r in polyai_truth if not r["in_progress"]])
    assert_no_loss([run], VECTARA, server.vectara_ids())
    assert_no_over_advance(run, POLYAI, polyai_truth)
    assert_no_over_advance(run, VECTARA, server.vectara_records())
    assert_no_secrets(run.output, server_secrets(server))
    assert_took_less_than(run, 25)


@pytest.mark.parametrize("fault", ["429_retry_after_http_date_in_the_past"])
@uses(_one_faulty_page_per_api)
def test_given_retry_after_as_an_http_date_when_rate_limited_then_the_date_is_honoured_not_exponential_backoff(
    outcome: Outcome, fault: str
) -> None:
    # A date in the past means "retry now": about 1 s (the CDK's added second). Exponential backoff
    # (what the CDK does with a date it can't read) would wait 2 s + 1 s or more.
    for stream in STREAMS:
        first, retry = page_request_times(outcome.server, stream, outcome.pages[stream])[:2]
        assert retry - first < 2.5, f"{stream}: retried after {retry - first:.1f} s"


@pytest.mark.parametrize("fault", ["read_stalls_past_the_read_timeout"])
@uses(_one_faulty_page_per_api)
def test_given_a_read_that_stalls_for_30_s_when_read_timeout_is_1_s_then_the_request_is_abandoned_in_time(
    outcome: Outcome, fault: str
) -> None:
    assert_succeeded(outcome.run)
    assert_took_less_than(outcome.run, 20)  # the stalled answer would have taken 30 s


# ---------------------------------------------------------------------------------------------
# A page that Python's json reads but orjson refuses
# ---------------------------------------------------------------------------------------------


def _real_page_bodies(server, keys) -> dict:
    """The bodies the fake would send for the two middle pages, fetched directly."""
    polyai = requests.get(
        f"{server.base_url}/v1/{server.polyai_config()['account_id']}/{server.polyai_config()['project_id']}/conversations",
        params={"client_env": "live", "limit": POLYAI_PAGE, "offset": POLYAI_PAGE, "start_time": window_start(2), "end_time": window_start(3)},
        headers={"x-api-key": server.polyai_api_key},
        timeout=10,
    ).json()
    vectara = requests.post(
        f"{server.base_url}/v1/list-conversations",
        json={"numResults": VECTARA_PAGE, "pageKey": keys[1]},
        headers={"customer-id": server.vectara_customer_id, "x-api-key": server.vectara_api_key},
        timeout=10,
    ).json()
    server.reset_log()
    return {POLYAI: polyai, VECTARA: vectara}


def _non_standard_json_page(ctx: Context, case: str) -> Outcome:
    """The real middle page of each API, once, with a NaN or a lone surrogate in one record: JSON that
    Python's parser reads (and Python's json.dumps writes) but orjson refuses."""
    server = ctx.serve()
    keys = vectara_page_keys(server)
    bodies = _real_page_bodies(server, keys)
    assert bodies[POLYAI]["conversations"] and bodies[VECTARA]["conversation"]
    if case == "nan":
        bodies[POLYAI]["conversations"][0]["turns"][0]["latency"] = float("nan")
        bodies[VECTARA]["conversation"][0]["score"] = float("nan")
    else:
        bodies[POLYAI]["conversations"][0]["turns"][0]["agent_response"] += "\ud83d"
        bodies[VECTARA]["conversation"][0]["answer"] += "\ud83d"
    pages = {POLYAI: polyai_page_match(2, POLYAI_PAGE), VECTARA: {"pageKey": keys[1]}}
    server.inject(Fault("polyai", status=200, body=json.dumps(bodies[POLYAI]).encode(), match=pages[POLYAI]))
    server.inject(Fault("vectara", status=200, body=json.dumps(bodies[VECTARA]).encode(), match=pages[VECTARA]))
    run = ctx.read(config_for(server), STREAMS)
    resumed = ctx.read(config_for(server), STREAMS, state=run.last_states(), name="resumed")
    return Outcome(server=server, run=run, resumed=resumed)


@pytest.mark.parametrize("case", ["nan", "lone_surrogate"])
@uses(_non_standard_json_page)
def test_given_a_page_with_json_that_orjson_refuses_when_read_then_it_is_never_taken_as_an_empty_last_page(
    outcome: Outcome, case: str
) -> None:
    server, run = outcome.server, outcome.run
    polyai_truth = server.polyai_records()
    # Whether the page is parsed leniently or retried, nothing may be lost: not in this run (I1), and
    # not for good by a state that moved past the page's records (I2).
    assert_no_over_advance(run, POLYAI, polyai_truth)
    assert_no_over_advance(run, VECTARA, server.vectara_records())
    assert_no_loss([run, outcome.resumed], POLYAI, [r["id"] for r in polyai_truth if not r["in_progress"]])
    assert_no_loss([run, outcome.resumed], VECTARA, server.vectara_ids())
