"""No retry storm: with `num_workers` 20 and every request answered HTTP 429 `Retry-After: 2` for a few
seconds, the request rate stays bounded by the workers and the wait the API asked for, and the sync then
completes with every record.
"""

from __future__ import annotations

import threading
import time

from fake_api import Fault
from integration_tests.reliability.invariants import (
    Truth,
    assert_delivered_exactly,
    assert_state_never_passes_unemitted,
    assert_succeeded,
)
from integration_tests.reliability.support import (
    CURRENT,
    Context,
    Outcome,
    endpoints_of,
    idle,
    strict_config,
    uses,
)

WORKERS = 20
RETRY_AFTER = 2  # seconds
PERIOD = 6  # seconds of 429s
STARTED_AFTER = 12  # requests: the 429s start once the sync is under way, with many partitions in flight


@idle
def _rate_limited_for_a_while(ctx: Context) -> Outcome:
    """Every request is slowed (latency 150 ms) so that many partitions are in flight at once; after the
    first requests, every endpoint answers 429 with `Retry-After: 2` for PERIOD seconds, then recovers."""
    server = ctx.serve(latency_ms=150)
    config = strict_config(server, CURRENT, WORKERS)
    window = {}

    def rate_limit() -> None:
        deadline = time.monotonic() + 60
        while len(server.requests) < STARTED_AFTER and time.monotonic() < deadline:
            time.sleep(0.005)
        window["start"] = time.time()
        for endpoint in endpoints_of(config):
            server.inject(Fault(endpoint, status=429, retry_after=str(RETRY_AFTER), times=None))
        time.sleep(PERIOD)
        server.clear_faults()
        window["end"] = time.time()

    thread = threading.Thread(target=rate_limit, daemon=True)
    thread.start()
    run = ctx.read(config)
    thread.join(PERIOD + 5)
    truth = Truth(server, config, now=run.started)
    limited = [entry for entry in server.requests.entries() if entry.status == 429]
    return Outcome(
        server=server, truth=truth, run=run, window=window, limited=limited, in_flight=server.max_in_flight()
    )


@uses(_rate_limited_for_a_while)
def test_given_20_workers_and_429_with_retry_after_on_every_request_when_read_then_the_request_rate_stays_bounded(
    outcome: Outcome,
) -> None:
    """The bound. The connector has `num_workers` threads, and a thread sends one request at a time. A
    thread answered 429 waits what `Retry-After` asks (RetryAfterBackoff: 2 s; the CDK adds a second)
    before it sends anything else, retry or other request. So in a 429 period of T seconds each thread
    sends at most T / Retry-After + 1 requests (one at the start, then one per wait; counting 2 s, not 3,
    keeps the bound loose), and the whole connector at most

        num_workers * (T / Retry-After + 1)  =  20 * (6 / 2 + 1)  =  80 requests,

    where a client that ignored Retry-After (or backed off per request while other workers keep going)
    would send hundreds or thousands. T is measured from the moment the faults were armed to the moment
    they were cleared.
    """
    run, window = outcome.run, outcome.window
    assert "end" in window, "the 429 period never ended: the sync finished before it began"
    period = window["end"] - window["start"]
    bound = WORKERS * (period / RETRY_AFTER + 1)
    during = [entry for entry in outcome.limited if window["start"] <= entry.received_at <= window["end"] + 0.5]
    assert len(during) == len(outcome.limited)
    assert len(during) >= 10, f"only {len(during)} requests met the 429s: the scenario did not load the workers"
    assert len(during) <= bound, (
        f"{len(during)} requests in {period:.1f} s of 429s, more than the {bound:.0f} that {WORKERS} workers "
        f"waiting Retry-After: {RETRY_AFTER} can send: a retry storm"
    )
    assert outcome.in_flight["total"] <= WORKERS, f"{outcome.in_flight['total']} requests in flight at once"
    # Then the sync completes, with every record and no state past an unemitted one.
    assert_succeeded(run)
    for stream in outcome.truth.streams:
        assert_delivered_exactly([run], stream, outcome.truth)
        assert_state_never_passes_unemitted(run, stream, outcome.truth)
