"""Vectara specifics: OAuth client credentials, the status object of a 200, and page keys."""

from __future__ import annotations

import json
from typing import Optional

import pytest
import requests_mock
from freezegun import freeze_time

from airbyte_cdk.models import FailureType
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse

from fake_api.data import vectara_page, vectara_turn
from source_conversations.components import ClientCredentialsAuthenticator
from test_support import leaks
from unit_tests.conftest import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    FROZEN_NOW,
    TOKEN_URL,
    VECTARA_BASE,
    assert_no_secret,
    config,
    run_read,
    vectara_settings,
)

STREAM = "vectara_conversations"
OAUTH = config(vectara=vectara_settings(auth="oauth2"))
TOKEN_REQUEST = HttpRequest(
    TOKEN_URL,
    body=f"grant_type=client_credentials&client_id=unit-client&client_secret={CLIENT_SECRET}",
)


def _list_request(page_key: Optional[str] = None, token: Optional[str] = ACCESS_TOKEN) -> HttpRequest:
    body: dict = {"numResults": 2}
    if page_key is not None:
        body["pageKey"] = page_key
    headers = {"customer-id": "1234567"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return HttpRequest(f"{VECTARA_BASE}/v1/list-conversations", headers=headers, body=body)


def _page(first: int, page_key: Optional[str] = None, **status) -> HttpResponse:
    records = [vectara_turn(first)]
    records[0]["epochSecs"] = "1767312000"  # 2026-01-02, inside the window
    return HttpResponse(json.dumps(vectara_page(records, page_key=page_key, **status)), 200)


def _token(token: str = ACCESS_TOKEN, expires_in: int = 1800) -> HttpResponse:
    return HttpResponse(json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": expires_in}), 200)


@freeze_time(FROZEN_NOW)
def test_given_oauth_when_reading_many_pages_then_fetches_one_token() -> None:
    with HttpMocker() as mocker:
        first, second, third = _list_request(), _list_request("a+b/c="), _list_request("d+e/f==")
        mocker.post(first, _page(0, "a+b/c="))
        mocker.post(second, _page(1, "d+e/f=="))
        mocker.post(third, _page(2))
        # Registered last so it is matched first: the JSON-body matchers can't read a form body.
        mocker.post(TOKEN_REQUEST, _token())
        output = run_read(OAUTH, STREAM)
        mocker.assert_number_of_calls(TOKEN_REQUEST, 1)
        for request in (first, second, third):
            mocker.assert_number_of_calls(request, 1)
    assert len(output.records) == 3
    assert_no_secret(output)


def test_given_token_close_to_expiry_when_token_requested_then_fetches_a_fresh_one() -> None:
    fresh = "unit-access-token-second-8b1e5d2c7a9f"
    with freeze_time(FROZEN_NOW) as clock, requests_mock.Mocker() as mocked:
        token_calls = mocked.post(
            TOKEN_URL,
            [{"json": {"access_token": ACCESS_TOKEN, "expires_in": 600}}, {"json": {"access_token": fresh, "expires_in": 600}}],
        )
        authenticator = ClientCredentialsAuthenticator(
            config={}, parameters={}, client_id="unit-client", client_secret=CLIENT_SECRET, token_url=TOKEN_URL
        )
        assert authenticator.token == f"Bearer {ACCESS_TOKEN}"
        clock.tick(200)
        assert authenticator.token == f"Bearer {ACCESS_TOKEN}"  # cached
        clock.tick(200)  # 400 s: within refresh_before_seconds (300) of the 600 s expiry
        assert authenticator.token == f"Bearer {fresh}"
        assert token_calls.call_count == 2


@freeze_time(FROZEN_NOW)
def test_given_token_endpoint_rejects_client_when_read_then_config_error_says_so() -> None:
    with HttpMocker() as mocker:
        mocker.post(TOKEN_REQUEST, HttpResponse(json.dumps({"error": "invalid_client"}), 400))
        output = run_read(OAUTH, STREAM, expect_failure=True)
        mocker.assert_number_of_calls(TOKEN_REQUEST, 1)  # not retried: the user must fix it
    errors = [m.trace.error for m in output.errors]
    assert len(errors) == 1
    assert errors[0].failure_type == FailureType.config_error
    assert "rejected the OAuth client" in errors[0].message
    assert_no_secret(output)


@pytest.mark.parametrize(
    "code, failure_type",
    [
        ("INVALID_API_KEY", FailureType.config_error),
        ("DISABLED_CUSTOMER", FailureType.config_error),
        ("PERMISSION_DENIED", FailureType.config_error),
        ("INTERNAL", FailureType.system_error),
        ("QRY__DOCUMENT_DB_FAILURE", FailureType.system_error),
    ],
)
@freeze_time(FROZEN_NOW)
def test_given_non_ok_status_in_200_when_read_then_fails_with_its_detail(code: str, failure_type: FailureType) -> None:
    detail = f"injected {code.lower()} detail"
    with HttpMocker() as mocker:
        mocker.post(_list_request(token=None), _page(0, status_code=code, detail=detail))
        output = run_read(config(vectara=vectara_settings()), STREAM, expect_failure=True)
    errors = [m.trace.error for m in output.errors]
    assert len(errors) == 1
    assert errors[0].failure_type == failure_type
    assert code in errors[0].message and detail in errors[0].message
    assert output.records == []


@pytest.mark.parametrize("code", ["TOO_MANY_REQUESTS", "RESOURCE_EXHAUSTED", "UNAVAILABLE"])
@freeze_time(FROZEN_NOW)
def test_given_busy_status_in_200_when_read_then_retried(code: str) -> None:
    request = _list_request(token=None)
    busy = _page(0, status_code=code, detail="slow down")
    with HttpMocker() as mocker:
        mocker.post(request, [HttpResponse(busy.body, 200, headers={"Retry-After": "0"}), _page(0)])
        output = run_read(config(vectara=vectara_settings()), STREAM)
        mocker.assert_number_of_calls(request, 2)
    assert len(output.records) == 1


@freeze_time(FROZEN_NOW)
def test_given_epoch_secs_string_or_number_when_read_then_string_epoch_secs_and_utc_created_at() -> None:
    records = [vectara_turn(0), vectara_turn(1)]
    records[0]["epochSecs"] = "1767312000"
    records[1]["epochSecs"] = 1767312001
    with HttpMocker() as mocker:
        mocker.post(_list_request(token=None), HttpResponse(json.dumps(vectara_page(records)), 200))
        output = run_read(config(vectara=vectara_settings()), STREAM)
    assert [m.record.data["created_at"] for m in output.records] == ["2026-01-02T00:00:00Z", "2026-01-02T00:00:01Z"]
    assert [m.record.data["epochSecs"] for m in output.records] == ["1767312000", "1767312001"]


@freeze_time(FROZEN_NOW)
def test_given_page_key_that_looks_like_a_number_when_next_page_then_sent_back_as_the_same_string() -> None:
    first, second = _list_request(token=None), _list_request("00123", token=None)
    with HttpMocker() as mocker:
        mocker.post(first, _page(0, "00123"))
        mocker.post(second, _page(1))
        output = run_read(config(vectara=vectara_settings()), STREAM)
        mocker.assert_number_of_calls(second, 1)
    assert len(output.records) == 2


@freeze_time(FROZEN_NOW)
def test_given_empty_page_key_when_read_then_paging_stops() -> None:
    request = _list_request(token=None)
    with HttpMocker() as mocker:
        mocker.post(request, _page(0, ""))
        output = run_read(config(vectara=vectara_settings()), STREAM)
        mocker.assert_number_of_calls(request, 1)
    assert len(output.records) == 1


@freeze_time("2026-01-15T12:00:00.900Z")
def test_given_conversation_made_in_the_second_the_sync_began_when_read_then_delivered_and_state_stays_a_second_earlier() -> None:
    now = 1768478400  # 12:00:00, 0.9 s before the sync
    cfg = config(vectara=vectara_settings())
    cfg["start_date"] = "2026-01-01T00:00:00Z"
    old, fresh = vectara_turn(0), vectara_turn(1)
    old["epochSecs"], fresh["epochSecs"] = str(now - 3600), str(now)
    with HttpMocker() as mocker:
        mocker.post(_list_request(token=None), HttpResponse(json.dumps(vectara_page([old, fresh])), 200))
        output = run_read(cfg, STREAM)
    assert [m.record.data["id"] for m in output.records] == [old["id"], fresh["id"]]
    # A conversation made later in 12:00:00 may not have been listed: the next sync reads that second again.
    assert output.most_recent_state.stream_state.__dict__ == {"epochSecs": str(now - 1)}


@freeze_time("2026-01-15T12:00:00Z")
def test_given_saved_state_in_the_future_when_read_then_state_is_not_moved_back() -> None:
    future = "1900000000"
    with HttpMocker() as mocker:
        mocker.post(_list_request(token=None), HttpResponse(json.dumps(vectara_page([vectara_turn(0)])), 200))
        output = run_read(config(vectara=vectara_settings()), STREAM, stream_state={"epochSecs": future})
    assert output.records == []
    assert output.most_recent_state.stream_state.__dict__ == {"epochSecs": future}


@freeze_time(FROZEN_NOW)
def test_given_oauth_without_token_url_when_read_then_token_comes_from_the_customers_cognito_endpoint() -> None:
    settings = vectara_settings(auth="oauth2")
    del settings["credentials"]["token_url"]
    cognito = HttpRequest(
        "https://vectara-prod-1234567.auth.us-west-2.amazoncognito.com/oauth2/token",
        body=f"grant_type=client_credentials&client_id=unit-client&client_secret={CLIENT_SECRET}",
    )
    with HttpMocker() as mocker:
        mocker.post(_list_request(), _page(0))
        mocker.post(cognito, _token())
        output = run_read(config(vectara=settings), STREAM)
        mocker.assert_number_of_calls(cognito, 1)
    assert len(output.records) == 1
    assert_no_secret(output)


@freeze_time(FROZEN_NOW)
def test_given_api_refuses_a_cached_token_mid_sync_when_read_then_one_fresh_token_and_the_sync_completes() -> None:
    fresh = "unit-access-token-renewed-3f9c1a7e5b2d"
    leaks.register_secret(fresh)
    with HttpMocker() as mocker:
        mocker.post(_list_request(), _page(0, "a+b/c="))
        mocker.post(_list_request("a+b/c="), HttpResponse(json.dumps({"code": 16, "message": "token revoked"}), 401))
        mocker.post(_list_request("a+b/c=", token=fresh), _page(1))
        mocker.post(TOKEN_REQUEST, [_token(), _token(fresh)])
        output = run_read(OAUTH, STREAM)
        mocker.assert_number_of_calls(TOKEN_REQUEST, 2)
    assert len(output.records) == 2
    assert output.errors == []
    assert_no_secret(output)
    assert fresh not in "\n".join(str(message) for message in output.get_message_iterator())


@freeze_time(FROZEN_NOW)
def test_given_api_refuses_the_fresh_token_too_when_read_then_config_error_after_one_renewal() -> None:
    fresh = "unit-access-token-refused-too-8d2e6b4a1c"
    leaks.register_secret(fresh)
    refused = HttpResponse(json.dumps({"code": 16, "message": "no access"}), 401)
    with HttpMocker() as mocker:
        mocker.post(_list_request(), refused)
        mocker.post(_list_request(token=fresh), refused)
        mocker.post(TOKEN_REQUEST, [_token(), _token(fresh)])
        output = run_read(OAUTH, STREAM, expect_failure=True)
        mocker.assert_number_of_calls(TOKEN_REQUEST, 2)
    errors = [m.trace.error for m in output.errors]
    assert len(errors) == 1
    assert errors[0].failure_type == FailureType.config_error
    assert "vectara.credentials" in errors[0].message
