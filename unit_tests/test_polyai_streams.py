"""PolyAI specifics, in-process with the CDK's `HttpMocker`: the settings each request carries, one
partition and one state per project, project failures named, the hold on conversations in progress,
v3 paging fallbacks and v3 error envelopes."""

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from fake_api.polyai_v3 import v3_error_body
from unit_tests.streams import (  # noqa: F401  (fixtures, used by name)
    DAY,
    HOUR,
    NOW,
    NOW_S,
    PROJECT,
    SAVED_S,
    assert_no_secret,
    cursor_us,
    emitted,
    error_messages,
    fast_source,
    final_state,
    iso_us,
    ok,
    polyai_body,
    polyai_config,
    polyai_partition_state,
    polyai_probe,
    polyai_record,
    polyai_request,
    read,
    record_time,
    retry_sleeps,
    the_error,
    warnings,
)

pytestmark = pytest.mark.usefixtures("fast_source", "retry_sleeps")
STREAM = "polyai_conversations"
OTHER = "PROJECT-8b3e0d57"
MINUTE = 60


def _ids(records: list) -> list:
    return [f"{record['project_id']}/{record['id']}" for record in records]


# -------------------------------------------------------------------------------------------------
# Settings on the wire
# -------------------------------------------------------------------------------------------------


@freeze_time(NOW)
def test_given_every_v3_setting_when_read_then_probe_and_windows_send_each_one_and_the_key_header() -> None:
    config = polyai_config(
        "v3",
        client_env="sandbox",
        variant_id="VARIANT-7f3a9c21",
        channels=["VOICE-SIP", "WEBCHAT"],
        include_latency=True,
    )
    settings = {
        "client_env": "sandbox",
        "variant_id": "VARIANT-7f3a9c21",
        "channel": ["VOICE-SIP", "WEBCHAT"],
        "include_latency": "true",
    }
    record = polyai_record(0, record_time(0), "v3")
    with HttpMocker() as mocker:
        probe = polyai_probe("v3", **settings)
        window = polyai_request("v3", **settings)
        mocker.get(probe, ok(polyai_body("v3", [])))
        mocker.get(window, ok(polyai_body("v3", [record])))
        output = read(config, STREAM)
        mocker.assert_number_of_calls(probe, 1)
        mocker.assert_number_of_calls(window, 1)
    assert emitted(output, STREAM) == _ids([record])
    assert error_messages(output) == []


@freeze_time(NOW)
def test_given_v1_with_variant_name_and_context_state_when_read_then_each_is_sent() -> None:
    config = polyai_config("v1", client_env="pre-release", variant_name="Main line", include_context_state=True)
    settings = {"client_env": "pre-release", "variant_name": "Main line", "include_context_state": "true"}
    record = polyai_record(0, record_time(0), "v1")
    with HttpMocker() as mocker:
        window = polyai_request("v1", **settings)
        mocker.get(polyai_probe("v1", **settings), ok(polyai_body("v1", [])))
        mocker.get(window, ok(polyai_body("v1", [record])))
        output = read(config, STREAM)
        mocker.assert_number_of_calls(window, 1)
    assert emitted(output, STREAM) == _ids([record])


# -------------------------------------------------------------------------------------------------
# Projects: one partition and one state each, failures named
# -------------------------------------------------------------------------------------------------


@freeze_time(NOW)
def test_given_two_projects_one_with_state_when_read_then_each_starts_from_its_own_state_and_keeps_its_own() -> None:
    config = polyai_config("v3", projects=[PROJECT, OTHER])
    resumed = polyai_record(0, SAVED_S + DAY, project=PROJECT)
    first_sync = [polyai_record(1, record_time(0), project=OTHER), polyai_record(2, record_time(1), project=OTHER)]
    with HttpMocker() as mocker:
        for project in (PROJECT, OTHER):
            mocker.get(polyai_probe("v3", project), ok(polyai_body("v3", [])))
        from_state = polyai_request("v3", project=PROJECT, since=SAVED_S)
        from_start = polyai_request("v3", project=OTHER)
        mocker.get(from_state, ok(polyai_body("v3", [resumed])))
        mocker.get(from_start, ok(polyai_body("v3", first_sync)))
        output = read(config, STREAM, state=polyai_partition_state({PROJECT: SAVED_S}))
        mocker.assert_number_of_calls(from_state, 1)
        mocker.assert_number_of_calls(from_start, 1)
    assert sorted(emitted(output, STREAM)) == sorted(_ids([resumed, *first_sync]))
    state = final_state(output)
    by_project = {entry["partition"]["project_id"]: entry["cursor"] for entry in state["states"]}
    assert len(state["states"]) == 2
    assert by_project == {
        PROJECT: {"started_at": cursor_us(SAVED_S + DAY)},
        OTHER: {"started_at": cursor_us(record_time(1))},
    }


@pytest.mark.parametrize(
    "missing", [["PROJECT-gone0001"], ["PROJECT-gone0001", "PROJECT-gone0002"]], ids=["one", "two"]
)
@freeze_time(NOW)
def test_given_projects_that_answer_404_when_read_then_one_config_error_names_every_missing_project(
    missing: list,
) -> None:
    config = polyai_config("v3", projects=[PROJECT, *missing])
    with HttpMocker() as mocker:
        mocker.get(polyai_probe("v3", PROJECT), ok(polyai_body("v3", [])))
        for project in missing:
            body = v3_error_body(404, "PROJECT_NOT_FOUND", f"Project {project!r} not found in account")
            mocker.get(polyai_probe("v3", project), ok(body, 404))
        output = read(config, STREAM, expect_failure=True)
    error = the_error(output)
    assert error.failure_type == FailureType.config_error
    for project in missing:
        assert f"'{project}'" in error.message
    assert f"'{PROJECT}'" not in error.message
    assert "PROJECT_NOT_FOUND" in error.message and "polyai.project_ids" in error.message
    assert output.records == []


@freeze_time(NOW)
def test_given_key_refused_on_the_probe_when_read_then_config_error_names_the_project_and_the_settings() -> None:
    with HttpMocker() as mocker:
        body = v3_error_body(401, "AUTH_INVALID_API_KEY", "Missing or invalid API key (x-api-key)")
        mocker.get(polyai_probe("v3"), ok(body, 401))
        output = read(polyai_config("v3"), STREAM, expect_failure=True)
    error = the_error(output)
    assert error.failure_type == FailureType.config_error
    assert f"'{PROJECT}'" in error.message and "polyai.api_key" in error.message and "polyai.region" in error.message
    assert_no_secret(output)


# -------------------------------------------------------------------------------------------------
# The hold on conversations in progress
# -------------------------------------------------------------------------------------------------


@freeze_time(NOW)
def test_given_a_conversation_in_progress_since_t_when_read_then_nothing_from_t_on_is_emitted_and_state_stays_before_t() -> (
    None
):
    live_since = NOW_S - 3 * HOUR
    live = polyai_record(9, live_since, in_progress=True)
    before, at, after = (polyai_record(i, live_since + offset) for i, offset in enumerate((-HOUR, 0, HOUR)))
    with HttpMocker() as mocker:
        mocker.get(polyai_probe("v3"), ok(polyai_body("v3", [live])))
        mocker.get(polyai_request("v3"), ok(polyai_body("v3", [before, at, after])))
        output = read(polyai_config("v3"), STREAM)
    assert emitted(output, STREAM) == _ids([before])
    assert final_state(output)["states"] == [
        {"partition": {"project_id": PROJECT}, "cursor": {"started_at": cursor_us(live_since - HOUR)}}
    ]


@freeze_time(NOW)
def test_given_nothing_in_progress_when_read_then_the_last_five_minutes_are_left_for_the_next_sync() -> None:
    settled, fresh = polyai_record(0, NOW_S - 10 * MINUTE), polyai_record(1, NOW_S - 4 * MINUTE)
    with HttpMocker() as mocker:
        mocker.get(polyai_probe("v3"), ok(polyai_body("v3", [])))
        mocker.get(polyai_request("v3"), ok(polyai_body("v3", [settled, fresh])))
        output = read(polyai_config("v3"), STREAM)
    assert emitted(output, STREAM) == _ids([settled])
    assert final_state(output)["states"][0]["cursor"] == {"started_at": cursor_us(NOW_S - 10 * MINUTE)}


@freeze_time(NOW)
def test_given_a_conversation_in_progress_longer_than_the_limit_when_read_then_emitted_with_a_warning_naming_it() -> (
    None
):
    stuck = polyai_record(0, NOW_S - 30 * HOUR, in_progress=True)  # in_progress_max_hours defaults to 24
    later = polyai_record(1, NOW_S - 2 * HOUR)
    with HttpMocker() as mocker:
        mocker.get(polyai_probe("v3"), ok(polyai_body("v3", [])))  # asks only for the last 24 hours
        mocker.get(polyai_request("v3"), ok(polyai_body("v3", [stuck, later])))
        output = read(polyai_config("v3"), STREAM)
    assert emitted(output, STREAM) == _ids([stuck, later])
    assert output.records[0].record.data["in_progress"] is True
    assert any(stuck["id"] in line and "in_progress_max_hours" in line for line in warnings(output)), warnings(output)


@freeze_time(NOW)
def test_given_in_progress_limit_setting_when_read_then_the_probe_looks_back_that_many_hours() -> None:
    probe = polyai_probe("v3", max_hours=6)
    with HttpMocker() as mocker:
        mocker.get(probe, ok(polyai_body("v3", [])))
        mocker.get(polyai_request("v3"), ok(polyai_body("v3", [])))
        output = read(polyai_config("v3", in_progress_max_hours=6), STREAM)
        mocker.assert_number_of_calls(probe, 1)
    assert error_messages(output) == []


# -------------------------------------------------------------------------------------------------
# v3 paging and errors
# -------------------------------------------------------------------------------------------------


@freeze_time(NOW)
def test_given_v3_body_without_cursor_but_with_next_offset_when_read_then_next_request_sends_that_offset() -> None:
    first, second = polyai_record(0, record_time(0)), polyai_record(1, record_time(1))
    with HttpMocker() as mocker:
        mocker.get(polyai_probe("v3"), ok(polyai_body("v3", [])))
        mocker.get(polyai_request("v3"), ok({"conversations": [first], "next_offset": 1}))
        by_offset = polyai_request("v3", 1)
        mocker.get(by_offset, ok(polyai_body("v3", [second])))
        output = read(polyai_config("v3"), STREAM)
        mocker.assert_number_of_calls(by_offset, 1)
    assert emitted(output, STREAM) == _ids([first, second])


@freeze_time(NOW)
def test_given_v3_refuses_its_own_cursor_when_read_then_system_error_says_so() -> None:
    cursor = "eyJvIjoyfQ-_x"
    with HttpMocker() as mocker:
        mocker.get(polyai_probe("v3"), ok(polyai_body("v3", [])))
        mocker.get(polyai_request("v3"), ok(polyai_body("v3", [polyai_record(0, record_time(0))], cursor)))
        body = v3_error_body(400, "GET_CONVERSATIONS_FILTER_PARSE_ERROR", "Invalid cursor: bad mac")
        refused = polyai_request("v3", cursor)
        mocker.get(refused, ok(body, 400))
        output = read(polyai_config("v3"), STREAM, expect_failure=True)
        mocker.assert_number_of_calls(refused, 1)
    error = the_error(output)
    assert error.failure_type == FailureType.system_error
    assert "GET_CONVERSATIONS_FILTER_PARSE_ERROR" in error.message and "cursor" in error.message


@pytest.mark.parametrize(
    "status, code, headers",
    [
        (500, "INTERNAL_SERVER_ERROR", {}),
        (503, "SERVICE_UNAVAILABLE", {}),
        (429, "RATE_LIMIT_EXCEEDED", {"Retry-After": "1"}),
    ],
    ids=["500", "503", "429"],
)
@freeze_time(NOW)
def test_given_v3_error_envelope_until_retries_run_out_when_read_then_its_code_and_message_reach_the_user(
    status: int, code: str, headers: dict
) -> None:
    body = v3_error_body(status, code, "conversation store timed out XQ7")
    with HttpMocker() as mocker:
        mocker.get(polyai_probe("v3"), ok(polyai_body("v3", [])))
        mocker.get(polyai_request("v3"), ok(body, status, **headers))
        output = read(polyai_config("v3"), STREAM, expect_failure=True)
    error = the_error(output)
    assert error.failure_type == FailureType.transient_error
    assert "conversation store timed out XQ7" in error.message
    assert code in error.message, f"the error_code {code} is not in: {error.message}"
