"""What the error handler takes for a page, and that its fast path decides as the manifest's filters would."""

from __future__ import annotations

import json
from typing import Any, Mapping

import pytest
import requests
from freezegun import freeze_time

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.test.mock_http import HttpMocker, HttpResponse

from fake_api.data import polyai_page, vectara_page
from source_conversations import SourceConversations
from source_conversations.components import SharedParseErrorHandler, page_problem
from unit_tests.conftest import FROZEN_NOW, config, polyai_settings, run_read, vectara_settings
from unit_tests.test_behaviour_matrix import VECTARA

STREAMS = {
    "polyai_conversations": config(polyai=polyai_settings()),
    "vectara_conversations": config(vectara=vectara_settings()),
}


def _response(status: int, body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    response.request = requests.Request("GET", "https://api.test/page").prepare()
    return response


@freeze_time(FROZEN_NOW)
def _error_handler(stream_name: str) -> SharedParseErrorHandler:
    cfg = STREAMS[stream_name]
    stream = next(s for s in SourceConversations(config=cfg).streams(cfg) if s.name == stream_name)
    partition = next(iter(stream.generate_partitions()))
    handler = partition._retriever.requester.error_handler
    assert isinstance(handler, SharedParseErrorHandler)
    return handler


def _clean_page(stream_name: str) -> Mapping[str, Any]:
    if stream_name == "polyai_conversations":
        return polyai_page([{"id": "CA1"}], next_offset=1)
    return vectara_page([{"id": "t1", "epochSecs": "1767225600"}], page_key="a2V5")


@pytest.mark.parametrize("stream_name", sorted(STREAMS))
def test_given_clean_page_when_every_manifest_filter_is_applied_then_none_matches(stream_name: str) -> None:
    # The handler's fast path skips the filters for such a page; this keeps that safe as filters change.
    handler = _error_handler(stream_name)
    response = _response(200, _clean_page(stream_name))
    assert handler.response_filters, "the manifest gives each stream its filters"
    matched = [f for f in handler.response_filters if f.matches(response) is not None]
    assert matched == []
    assert handler.interpret_response(response).response_action == ResponseAction.SUCCESS


@pytest.mark.parametrize("stream_name", sorted(STREAMS))
@pytest.mark.parametrize(
    "body",
    [b"<html>busy</html>", {"unexpected": True}, {"conversations": "oops", "conversation": "oops"}, {"conversations": [1, 2], "conversation": [1, 2]}],
    ids=["html", "no records key", "records not a list", "records not objects"],
)
def test_given_2xx_that_is_not_a_page_when_interpreted_then_retried_with_what_is_wrong(stream_name: str, body: Any) -> None:
    resolution = _error_handler(stream_name).interpret_response(_response(200, body))
    assert resolution.response_action == ResponseAction.RETRY
    assert resolution.failure_type == FailureType.transient_error
    assert "not a page of conversations" in resolution.error_message


@pytest.mark.parametrize("stream_name", sorted(STREAMS))
@pytest.mark.parametrize("status", [409, 501, 520])
def test_given_unmapped_error_status_when_interpreted_then_not_called_a_broken_page(stream_name: str, status: int) -> None:
    resolution = _error_handler(stream_name).interpret_response(_response(status, {"code": 2, "message": "backend said XYZ"}))
    assert resolution.response_action != ResponseAction.SUCCESS
    assert "not a page" not in (resolution.error_message or "")


@pytest.mark.parametrize("stream_name", sorted(STREAMS))
def test_given_5xx_with_vendor_message_when_interpreted_then_message_reaches_user(stream_name: str) -> None:
    body = {"code": 13, "message": "backend exploded XYZ"} if stream_name.startswith("vectara") else {"error_message": "backend exploded XYZ"}
    resolution = _error_handler(stream_name).interpret_response(_response(503, body))
    assert resolution.response_action == ResponseAction.RETRY
    assert "backend exploded XYZ" in resolution.error_message


@pytest.mark.parametrize(
    "page, problem",
    [
        ({"conversation": [], "status": {"code": "OK"}}, None),
        ({"status": {"code": "OK", "statusDetail": ""}}, None),  # proto3 JSON omits an empty list
        ({"status": {"code": "OK"}, "pageKey": "a2V5"}, "no 'conversation' list"),  # broken, not empty
        ({"status": {"code": "FAILURE"}}, "no 'conversation' list"),
        ({}, "no 'conversation' list"),
        ({"conversation": {"id": "x"}}, "is a dict, not a list"),
        ({"conversation": [{"id": "x"}, None]}, "not a JSON object"),
    ],
)
def test_given_body_when_checked_then_page_problem_says_what_is_wrong(page: Mapping[str, Any], problem: Any) -> None:
    found = page_problem(page, "conversation", "pageKey")
    assert found == problem if problem is None else problem in found


@freeze_time(FROZEN_NOW)
def test_given_vectara_answers_ok_without_conversation_key_when_read_then_empty_sync_without_error() -> None:
    with HttpMocker() as mocker:
        VECTARA.respond(mocker, VECTARA.request(None, None), HttpResponse(json.dumps({"status": {"code": "OK", "statusDetail": ""}}), 200))
        output = run_read(VECTARA.cfg, VECTARA.stream)
    assert output.records == []
    assert output.errors == []


@pytest.mark.parametrize(
    "header, seconds",
    [
        ("7", 7.0),
        ("0", 0.0),
        ("-3", 0.0),
        ("Thu, 15 Jan 2026 12:00:42 GMT", 42.0),  # an HTTP date, 42 s after `now`
        ("Thu, 15 Jan 2026 11:00:00 GMT", 0.0),  # a date in the past: retry now
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
    ],
)
def test_given_retry_after_header_when_read_then_seconds_to_wait(header: str, seconds: Any) -> None:
    from datetime import datetime, timezone

    from source_conversations.components import retry_after_seconds

    now = datetime(2026, 1, 15, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds(header, now=now) == seconds


def test_given_retry_after_within_budget_when_backing_off_then_waits_that_long_and_past_it_fails_fast() -> None:
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException

    from source_conversations.components import RetryAfterBackoff

    backoff = RetryAfterBackoff(config={}, parameters={}, api_name="Vectara")
    response = _response(429, {})
    response.headers["Retry-After"] = "12"
    assert backoff.backoff_time(response, attempt_count=1) == 12.0
    response.headers["Retry-After"] = "86400"
    with pytest.raises(AirbyteTracedException) as raised:
        backoff.backoff_time(response, attempt_count=1)
    assert raised.value.failure_type == FailureType.transient_error
    assert "86400 s" in raised.value.message
    del response.headers["Retry-After"]
    assert [backoff.backoff_time(response, attempt_count=n) for n in (1, 2, 3, 7)] == [2.0, 4.0, 8.0, 60.0]
