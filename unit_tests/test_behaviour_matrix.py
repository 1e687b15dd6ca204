"""The behaviour matrix every stream must pass, with the CDK's HttpMocker.

Each stream is described once by a `StreamCase` (how its requests and pages look); every test runs
against both. Record bodies come from the project's fake API data (`fake_api.data`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional

import pytest
from freezegun import freeze_time

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse

from fake_api.data import polyai_conversation, polyai_page, vectara_page, vectara_turn
from unit_tests.conftest import (
    FROZEN_NOW,
    POLYAI_BASE,
    VECTARA_BASE,
    assert_no_secret,
    config,
    polyai_settings,
    run_read,
    vectara_settings,
)

WINDOW_START = 1767225600  # 2026-01-01T00:00:00Z, the configured start_date
NOW = 1768478400  # FROZEN_NOW


@dataclass(frozen=True)
class StreamCase:
    """How one stream's requests, pages and cursor look, so one test body serves both streams."""

    stream: str
    cfg: Mapping[str, Any]
    request: Callable[[Optional[Any], Optional[Mapping[str, Any]]], HttpRequest]
    page: Callable[[List[dict], Optional[Any]], str]
    record: Callable[[int, int], dict]  # (index, epoch seconds) -> record
    tokens: List[Any]  # the next-page tokens the API hands out, in order
    state_for: Callable[[int], Mapping[str, Any]]  # epoch seconds -> stream state
    mock: str  # HttpMocker method
    emitted_state_for: Callable[[int], Mapping[str, Any]]  # the state after a record of `record(_, seconds)`
    auth_hints: tuple  # what a 401's message must name

    def respond(self, mocker: HttpMocker, request: HttpRequest, *responses: HttpResponse) -> None:
        getattr(mocker, self.mock)(request, list(responses))


def _iso(seconds: int) -> str:
    return f"{_utc(seconds)}.000000+0000"


def _utc(seconds: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _polyai_request(offset: Optional[int], state: Optional[Mapping[str, Any]] = None) -> HttpRequest:
    start = _iso(WINDOW_START)
    if state:
        start = state["started_at"].replace("Z", "+0000")
    query = {"client_env": "live", "limit": "2", "start_time": start, "end_time": _iso(NOW)}
    if offset is not None:
        query["offset"] = str(offset)
    return HttpRequest(f"{POLYAI_BASE}/v1/ws-unit/PROJECT-unit/conversations", query_params=query)


def _polyai_record(index: int, seconds: int) -> dict:
    record = polyai_conversation(index)
    record.update(started_at=f"{_utc(seconds)}.250000Z", in_progress=False)
    return record


def _vectara_request(page_key: Optional[str], state: Optional[Mapping[str, Any]] = None) -> HttpRequest:
    body: dict = {"numResults": 2}
    if page_key is not None:
        body["pageKey"] = page_key
    return HttpRequest(
        f"{VECTARA_BASE}/v1/list-conversations",
        headers={"customer-id": "1234567", "timeout": "30S"},
        body=body,
    )


def _vectara_record(index: int, seconds: int) -> dict:
    record = vectara_turn(index)
    record["epochSecs"] = str(seconds)
    return record


POLYAI = StreamCase(
    stream="polyai_conversations",
    cfg=config(polyai=polyai_settings()),
    request=_polyai_request,
    page=lambda records, token: json.dumps(polyai_page(records, next_offset=token)),
    record=_polyai_record,
    tokens=[2, 4],
    state_for=lambda seconds: {"started_at": f"{_utc(seconds)}.000000Z"},
    mock="get",
    emitted_state_for=lambda seconds: {"started_at": f"{_utc(seconds)}.250000Z"},
    auth_hints=("polyai.api_key", "polyai.region", "us-1"),
)
VECTARA = StreamCase(
    stream="vectara_conversations",
    cfg=config(vectara=vectara_settings()),
    request=_vectara_request,
    page=lambda records, token: json.dumps(vectara_page(records, page_key=token)),
    record=_vectara_record,
    # Opaque base64 keys with the characters a careless encoder would mangle.
    tokens=["Q2F+/Zm9v=", "YmFy+/2=="],
    state_for=lambda seconds: {"epochSecs": str(seconds)},
    mock="post",
    emitted_state_for=lambda seconds: {"epochSecs": str(seconds)},
    auth_hints=("vectara.customer_id", "vectara.credentials"),
)
CASES = pytest.mark.parametrize("case", [POLYAI, VECTARA], ids=["polyai", "vectara"])
DAY = 86400


def _ok(case: StreamCase, records: List[dict], token: Optional[Any] = None) -> HttpResponse:
    return HttpResponse(case.page(records, token), 200)


def _ids(output) -> List[str]:
    return [message.record.data["id"] for message in output.records]


def _error(output):
    traces = [m.trace.error for m in output.errors]
    assert len(traces) == 1, f"expected one error trace, got {len(traces)}"
    return traces[0]


@CASES
@freeze_time(FROZEN_NOW)
def test_given_one_page_when_read_then_emits_every_record_and_state(case: StreamCase) -> None:
    records = [case.record(i, WINDOW_START + DAY * (i + 1)) for i in range(2)]
    with HttpMocker() as mocker:
        case.respond(mocker, case.request(None, None), _ok(case, records))
        output = run_read(case.cfg, case.stream)
    assert _ids(output) == [r["id"] for r in records]
    assert output.most_recent_state is not None
    assert not output.errors
    assert_no_secret(output)


@CASES
@freeze_time(FROZEN_NOW)
def test_given_next_token_when_read_then_requests_next_page_with_that_token(case: StreamCase) -> None:
    pages = [[case.record(i, WINDOW_START + DAY * (i + 1))] for i in range(3)]
    requests = [case.request(token, None) for token in [None, *case.tokens]]
    with HttpMocker() as mocker:
        case.respond(mocker, requests[0], _ok(case, pages[0], case.tokens[0]))
        case.respond(mocker, requests[1], _ok(case, pages[1], case.tokens[1]))
        case.respond(mocker, requests[2], _ok(case, pages[2]))
        output = run_read(case.cfg, case.stream)
        for request in requests:
            mocker.assert_number_of_calls(request, 1)
    assert _ids(output) == [page[0]["id"] for page in pages]


@CASES
@freeze_time(FROZEN_NOW)
def test_given_empty_response_when_read_then_no_records_and_no_error(case: StreamCase) -> None:
    with HttpMocker() as mocker:
        case.respond(mocker, case.request(None, None), _ok(case, []))
        output = run_read(case.cfg, case.stream)
    assert output.records == []
    assert not output.errors


@CASES
@freeze_time(FROZEN_NOW)
def test_given_state_when_read_then_resumes_after_it(case: StreamCase) -> None:
    saved = case.state_for(WINDOW_START + 5 * DAY)
    older = case.record(0, WINDOW_START + 5 * DAY)  # at the state: already delivered
    newer = case.record(1, WINDOW_START + 6 * DAY)
    # PolyAI filters on the server (the request carries the state as start_time); Vectara can't,
    # so the connector drops records at or before the state itself.
    served = [newer] if case is POLYAI else [older, newer]
    with HttpMocker() as mocker:
        case.respond(mocker, case.request(None, saved), _ok(case, served))
        output = run_read(case.cfg, case.stream, stream_state=saved)
    assert _ids(output) == [newer["id"]]
    assert output.most_recent_state.stream_state.__dict__ == case.emitted_state_for(WINDOW_START + 6 * DAY)


@CASES
@freeze_time(FROZEN_NOW)
def test_given_401_when_read_then_fails_with_config_error(case: StreamCase) -> None:
    body = json.dumps({"error_message": "invalid api key"} if case is POLYAI else {"code": 16, "message": "unauthenticated"})
    with HttpMocker() as mocker:
        case.respond(mocker, case.request(None, None), HttpResponse(body, 401))
        output = run_read(case.cfg, case.stream, expect_failure=True)
    error = _error(output)
    assert error.failure_type == FailureType.config_error
    assert all(hint in error.message for hint in case.auth_hints), error.message
    assert_no_secret(output)


@CASES
@freeze_time(FROZEN_NOW)
def test_given_429_with_retry_after_when_read_then_retries_and_succeeds(case: StreamCase) -> None:
    records = [case.record(0, WINDOW_START + DAY)]
    first = case.request(None, None)
    with HttpMocker() as mocker:
        case.respond(
            mocker,
            first,
            HttpResponse("{}", 429, headers={"Retry-After": "0"}),
            _ok(case, records),
        )
        output = run_read(case.cfg, case.stream)
        mocker.assert_number_of_calls(first, 2)
    assert _ids(output) == [records[0]["id"]]
    assert not output.errors


@CASES
@freeze_time(FROZEN_NOW)
def test_given_5xx_then_success_when_read_then_retries(case: StreamCase) -> None:
    records = [case.record(0, WINDOW_START + DAY)]
    first = case.request(None, None)
    with HttpMocker() as mocker:
        case.respond(
            mocker,
            first,
            HttpResponse("<html>bad gateway</html>", 502, headers={"Retry-After": "0"}),
            HttpResponse("{}", 503, headers={"Retry-After": "0"}),
            _ok(case, records),
        )
        output = run_read(case.cfg, case.stream)
        mocker.assert_number_of_calls(first, 3)
    assert _ids(output) == [records[0]["id"]]


@CASES
@freeze_time(FROZEN_NOW)
def test_given_5xx_forever_when_read_then_fails_after_retry_budget(case: StreamCase) -> None:
    first = case.request(None, None)
    with HttpMocker() as mocker:
        case.respond(mocker, first, HttpResponse("{}", 500, headers={"Retry-After": "0"}))
        output = run_read(case.cfg, case.stream, expect_failure=True)
        mocker.assert_number_of_calls(first, 6)  # first try + 5 retries
    assert output.records == []
    assert _error(output).failure_type == FailureType.transient_error


@CASES
@freeze_time(FROZEN_NOW)
def test_given_200_with_unparseable_body_when_read_then_retried_not_read_as_empty(case: StreamCase) -> None:
    records = [case.record(0, WINDOW_START + DAY)]
    first = case.request(None, None)
    with HttpMocker() as mocker:
        case.respond(
            mocker,
            first,
            HttpResponse('{"conversations": [{"id": "trunc', 200, headers={"Retry-After": "0"}),
            HttpResponse(json.dumps({"unexpected": True}), 200, headers={"Retry-After": "0"}),
            HttpResponse(json.dumps({"conversations": "oops", "conversation": "oops"}), 200, headers={"Retry-After": "0"}),
            _ok(case, records),
        )
        output = run_read(case.cfg, case.stream)
        mocker.assert_number_of_calls(first, 4)
    assert _ids(output) == [records[0]["id"]]


@CASES
@freeze_time(FROZEN_NOW)
def test_given_repeating_token_when_read_then_fails_instead_of_looping(case: StreamCase) -> None:
    records = [case.record(0, WINDOW_START + DAY)]
    token = case.tokens[0]
    stuck = token if case is VECTARA else 0
    with HttpMocker() as mocker:
        case.respond(mocker, case.request(None, None), _ok(case, records, token))
        case.respond(mocker, case.request(token, None), _ok(case, records, stuck))
        output = run_read(case.cfg, case.stream, expect_failure=True)
    error = _error(output)
    assert "loop" in error.message
    assert error.failure_type == FailureType.system_error


@CASES
@freeze_time(FROZEN_NOW)
def test_given_full_refresh_when_read_then_reads_from_start_date(case: StreamCase) -> None:
    records = [case.record(i, WINDOW_START + DAY * (i + 1)) for i in range(2)]
    with HttpMocker() as mocker:
        case.respond(mocker, case.request(None, None), _ok(case, records))
        output = run_read(case.cfg, case.stream, sync_mode=SyncMode.full_refresh)
    assert _ids(output) == [r["id"] for r in records]


@freeze_time(FROZEN_NOW)
def test_given_polyai_settings_when_read_then_every_setting_and_the_key_header_are_sent() -> None:
    from unit_tests.conftest import POLYAI_KEY

    cfg = config(polyai=polyai_settings(variant_name="Main line", include_context_state=True, client_env="sandbox"))
    record = _polyai_record(0, WINDOW_START + DAY)
    query = {
        "client_env": "sandbox",
        "variant_name": "Main line",
        "include_context_state": "true",
        "limit": "2",
        "start_time": _iso(WINDOW_START),
        "end_time": _iso(NOW),
    }
    request = HttpRequest(
        f"{POLYAI_BASE}/v1/ws-unit/PROJECT-unit/conversations", query_params=query, headers={"x-api-key": POLYAI_KEY}
    )
    with HttpMocker() as mocker:
        mocker.get(request, HttpResponse(POLYAI.page([record], None), 200))
        output = run_read(cfg, POLYAI.stream)
        mocker.assert_number_of_calls(request, 1)
    assert _ids(output) == [record["id"]]


@freeze_time(FROZEN_NOW)
def test_given_vectara_api_key_when_read_then_key_customer_and_timeout_headers_are_sent() -> None:
    from unit_tests.conftest import VECTARA_KEY

    cfg = config(vectara=vectara_settings(request_timeout=45))
    record = _vectara_record(0, WINDOW_START + DAY)
    request = HttpRequest(
        f"{VECTARA_BASE}/v1/list-conversations",
        headers={"customer-id": "1234567", "timeout": "45S", "x-api-key": VECTARA_KEY},
        body={"numResults": 2},
    )
    with HttpMocker() as mocker:
        mocker.post(request, HttpResponse(VECTARA.page([record], None), 200))
        output = run_read(cfg, VECTARA.stream)
        mocker.assert_number_of_calls(request, 1)
    assert _ids(output) == [record["id"]]
