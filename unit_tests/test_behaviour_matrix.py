"""The behaviour matrix: the same rows for every stream, in-process with the CDK's `HttpMocker`.

Each stream is described once in `unit_tests/streams.py` (`CASES`): its requests, pages, records, page
tokens and states, and what it requests before its own requests (PolyAI's per-project probe for
conversations in progress, a substream's parent lists). The mocks match a request's query exactly, so
a request that carried a stray parameter (an `offset` next to a v3 `cursor`, a token re-encoded) would
match none and fail the read. Time is frozen at `NOW`; retry waits are recorded instead of slept.
"""

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.streams import (  # noqa: F401  (fixtures, used by name)
    CASES,
    DAY,
    HOUR,
    NOW,
    SAVED_S,
    StreamCase,
    assert_no_secret,
    emitted,
    error_messages,
    fast_source,
    final_state,
    ok,
    read,
    record_time,
    retry_sleeps,
    the_error,
)

pytestmark = pytest.mark.usefixtures("fast_source", "retry_sleeps")
EVERY_STREAM = pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])


def _records(case: StreamCase, count: int, partition: int = 0) -> list:
    return [case.record(i, record_time(i), partition) for i in range(count)]


@EVERY_STREAM
@freeze_time(NOW)
def test_given_one_page_when_read_then_every_record_and_the_state_are_emitted_without_error(case: StreamCase) -> None:
    records = _records(case, 2)
    with HttpMocker() as mocker:
        case.partitions(mocker)
        case.mock(mocker, case.request(), case.page(records))
        output = read(case.config(), case.stream)
    assert emitted(output, case.stream) == [case.key(record) for record in records]
    assert final_state(output) == case.state_after(record_time(1))
    assert error_messages(output) == []
    assert_no_secret(output)


@EVERY_STREAM
@freeze_time(NOW)
def test_given_more_to_read_when_read_then_each_next_request_carries_the_token_exactly_as_received(
    case: StreamCase,
) -> None:
    """Paged streams: each page's token goes back unchanged (v3 `cursor` without `offset`, v1 `offset`,
    Vectara v1 `pageKey` in the body, v2 `page_key` in the query; base64 `+/=` and a numeric-looking cursor
    included). Streams that do not page (chat turns, v1 turn batches): the next partition's request."""
    with HttpMocker() as mocker:
        if case.paged:
            case.partitions(mocker)
            tokens = [None, *case.tokens]
            records = _records(case, len(tokens))
            requests = [case.request(token) for token in tokens]
            for request, record, next_token in zip(requests, records, [*case.tokens, None]):
                case.mock(mocker, request, case.page([record], next_token))
        else:
            case.partitions(mocker, n=3)
            records = [case.record(k, record_time(k), partition=k) for k in range(3)]
            requests = [case.request(partition=k) for k in range(3)]
            for request, record in zip(requests, records):
                case.mock(mocker, request, case.page([record]))
        output = read(case.config(), case.stream)
        for request in requests:
            mocker.assert_number_of_calls(request, 1)
    expected = [case.key(record) for record in records]
    if case.paged:
        assert emitted(output, case.stream) == expected
    else:  # partitions are read concurrently
        assert sorted(emitted(output, case.stream)) == sorted(expected)
    assert error_messages(output) == []


@EVERY_STREAM
@freeze_time(NOW)
def test_given_empty_response_when_read_then_no_record_and_no_error(case: StreamCase) -> None:
    with HttpMocker() as mocker:
        case.partitions(mocker)
        request = case.request()
        case.mock(mocker, request, case.page([]))
        output = read(case.config(), case.stream)
        mocker.assert_number_of_calls(request, 1)
    assert output.records == []
    assert error_messages(output) == []


@EVERY_STREAM
@freeze_time(NOW)
def test_given_saved_state_when_read_then_only_newer_records_and_the_exact_new_state(case: StreamCase) -> None:
    """Substreams' parents were made a day before the saved state (inside the turns lookback), so they are
    read again; of their children only those newer than the child's state are emitted."""
    older, at_state, newer = (
        case.record(i, moment) for i, moment in enumerate((SAVED_S - 12 * HOUR, SAVED_S, SAVED_S + DAY))
    )
    # PolyAI filters on the server: the request carries the state as start_time. Vectara lists everything.
    served = [newer] if case.server_filters_time else [older, at_state, newer]
    with HttpMocker() as mocker:
        case.partitions(mocker, made_at=SAVED_S - DAY)
        request = case.request(since=SAVED_S)
        case.mock(mocker, request, case.page(served))
        output = read(case.config(), case.stream, state=case.saved_state(SAVED_S))
        mocker.assert_number_of_calls(request, 1)
    assert emitted(output, case.stream) == [case.key(newer)]
    assert final_state(output) == case.state_after(SAVED_S + DAY, parents=SAVED_S)
    assert error_messages(output) == []


@EVERY_STREAM
@freeze_time(NOW)
def test_given_401_when_read_then_one_config_error_naming_the_settings_to_check(case: StreamCase) -> None:
    with HttpMocker() as mocker:
        case.partitions(mocker)
        request = case.request()
        case.mock(mocker, request, ok(case.error(401, "invalid credentials"), 401))
        output = read(case.config(), case.stream, expect_failure=True)
        mocker.assert_number_of_calls(request, 1)  # not retried: the user must fix it
    error = the_error(output)
    assert error.failure_type == FailureType.config_error
    missing = [hint for hint in case.auth_hints if hint not in error.message]
    assert not missing, f"{missing} not named in: {error.message}"
    assert output.records == []
    assert_no_secret(output)


@EVERY_STREAM
@freeze_time(NOW)
def test_given_429_with_retry_after_then_success_when_read_then_waits_retries_and_emits_every_record(
    case: StreamCase,
    retry_sleeps: list,  # noqa: F811  (the fixture)
) -> None:
    records = _records(case, 2)
    with HttpMocker() as mocker:
        case.partitions(mocker)
        request = case.request()
        limited = ok(case.error(429, "slow down"), 429, **{"Retry-After": "7"})
        case.mock(mocker, request, limited, case.page(records))
        output = read(case.config(), case.stream)
        mocker.assert_number_of_calls(request, 2)
    assert emitted(output, case.stream) == [case.key(record) for record in records]
    assert error_messages(output) == []
    assert any(wait >= 7 for wait in retry_sleeps), f"Retry-After: 7 was not honoured: {retry_sleeps}"


@EVERY_STREAM
@freeze_time(NOW)
def test_given_5xx_then_success_when_read_then_retried_and_every_record_emitted(case: StreamCase) -> None:
    records = _records(case, 2)
    with HttpMocker() as mocker:
        case.partitions(mocker)
        request = case.request()
        case.mock(
            mocker,
            request,
            ok("<html><body>502 Bad Gateway</body></html>", 502),
            ok(case.error(503, "backend unavailable"), 503),
            case.page(records),
        )
        output = read(case.config(), case.stream)
        mocker.assert_number_of_calls(request, 3)
    assert emitted(output, case.stream) == [case.key(record) for record in records]
    assert error_messages(output) == []


@EVERY_STREAM
@freeze_time(NOW)
def test_given_5xx_forever_when_read_then_transient_error_after_the_retry_budget(case: StreamCase) -> None:
    with HttpMocker() as mocker:
        case.partitions(mocker)
        request = case.request()
        case.mock(mocker, request, ok(case.error(500, "backend exploded"), 500))
        output = read(case.config(), case.stream, expect_failure=True)
        mocker.assert_number_of_calls(request, 6)  # the first try and 5 retries
    assert output.records == []
    error = the_error(output)
    assert error.failure_type == FailureType.transient_error
    assert "backend exploded" in error.message


@EVERY_STREAM
@freeze_time(NOW)
def test_given_200_whose_body_is_not_a_page_when_read_then_retried_and_never_read_as_empty(case: StreamCase) -> None:
    records = _records(case, 2)
    with HttpMocker() as mocker:
        case.partitions(mocker)
        request = case.request()
        case.mock(
            mocker,
            request,
            ok('{"' + case.records_key + '": [{"id": "trunc'),  # cut mid-body
            ok({"unexpected": True}),
            ok({case.records_key: "oops"}),
            case.page(records),
        )
        output = read(case.config(), case.stream)
        assert error_messages(output) == []
        assert emitted(output, case.stream) == [case.key(record) for record in records]
        mocker.assert_number_of_calls(request, 4)


@EVERY_STREAM
@freeze_time(NOW)
def test_given_a_page_token_that_repeats_when_read_then_system_error_about_a_loop(case: StreamCase) -> None:
    """Streams that do not page meet the repeating token in their parent's list."""
    with HttpMocker() as mocker:
        case.mock_repeating_token(mocker)
        output = read(case.config(), case.stream, expect_failure=True)
    error = the_error(output)
    assert error.failure_type == FailureType.system_error
    assert "loop" in error.message
