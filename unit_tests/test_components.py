"""The components' own rules, one at a time: pages, paging, retries, time, the client-side window and
saved states. Components come from the module the source registered (`test_support.inprocess.components`),
and filters from the resolved manifest, so what is tested is what runs."""

import copy
import functools
import json
from datetime import datetime, timezone
from typing import Any

import orjson
import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import ManifestComponentTransformer
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from fake_api.data import polyai_page, vectara_page
from source_conversations.source import manifest
from test_support import leaks
from test_support.inprocess import components

C = components()
leaks.register_secret("components-test-key-8b1f2c", "components-test-key-4d9e0a")


def response(status: int, body: Any, headers: dict | None = None) -> requests.Response:
    built = requests.Response()
    built.status_code = status
    built._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    built.headers.update({"Content-Type": "application/json", **(headers or {})})
    built.request = requests.Request("GET", "https://api.test/page").prepare()
    return built


# --------------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page, path, token, records, problem",
    [
        ({"conversation": [{"id": "a"}], "status": {"code": "OK"}}, "conversation", "pageKey", 1, None),
        ({"status": {"code": "OK", "statusDetail": ""}}, "conversation", "pageKey", 0, None),  # proto3 omits []
        ({"status": {"code": "OK"}, "pageKey": "a2V5"}, "conversation", "pageKey", 0, "no 'conversation' list"),
        ({"status": {"code": "FAILURE"}}, "conversation", "pageKey", 0, "no 'conversation' list"),
        ({}, "conversations", "cursor", 0, "no 'conversations' list"),
        ({"conversations": {"id": "x"}}, "conversations", "cursor", 0, "is a dict, not a list"),
        ({"conversations": [{"id": "x"}, None]}, "conversations", "cursor", 0, "not a JSON object"),
        (
            {"Conversation": [{"id": "c", "turn": [{"id": "c"}, {"id": "t2"}]}, {"id": "d", "turn": [{"id": "d"}]}]},
            "Conversation.*.turn",
            "",
            3,
            None,
        ),
        # read-conversations answers the ids it was asked for: a conversation or a list left out is broken
        ({"Conversation": [{"id": "d"}], "status": {"code": "OK"}}, "Conversation.*.turn", "", 0, "not a list of JSON"),
        (
            {"Conversation": [{"id": "c", "turn": "oops"}]},
            "Conversation.*.turn",
            "",
            0,
            "is not a list of JSON objects",
        ),
        ({"status": {"code": "OK"}}, "Conversation.*.turn", "", 0, "no 'Conversation' list"),
        ({"chats": [], "metadata": {"page_key": "x"}}, "chats", "metadata.page_key", 0, None),
        ({"metadata": {"page_key": ""}, "status": {"code": "OK"}}, "chats", "metadata.page_key", 0, None),
    ],
)
def test_given_a_body_when_read_as_a_page_then_its_records_or_what_is_wrong(page, path, token, records, problem):
    found, what = C.page_records(page, path, token)
    assert len(found) == records
    assert what == problem if problem is None else problem in what


def test_given_json_that_orjson_refuses_when_parsed_then_repaired_not_dropped():
    page = C.parsed_page(response(200, b'{"conversations": [{"id": "a", "score": NaN, "t": "\\ud83d"}]}'))
    assert page["conversations"][0]["score"] is None and page["conversations"][0]["t"] == "\ufffd"
    assert C.parsed_page(response(200, b"<html>busy</html>")) == {}


@functools.lru_cache(maxsize=1)
def _resolved() -> dict:
    document = ManifestReferenceResolver().preprocess_manifest(manifest())
    document = ManifestComponentTransformer().propagate_types_and_parameters("", document, {})
    return {stream["name"]: stream for group in document["streams"] for stream in group["streams"]}


def resolved_streams() -> dict:
    return copy.deepcopy(_resolved())


CONFIG = {
    "polyai": {
        "api_version": "v3",
        "region": "us-1",
        "account_id": "a",
        "project_ids": ["p"],
        "page_size": 10,
        "api_key": "components-test-key-8b1f2c",
        "base_url": "https://polyai.test",
    },
    "vectara": {
        "api_version": "v2",
        "base_url": "https://vectara.test",
        "page_size": 10,
        "request_timeout": 30,
        "credentials": {"auth_type": "api_key", "api_key": "components-test-key-4d9e0a"},
    },
}


def error_handler(stream: str):
    definition = resolved_streams()[stream]["retriever"]["requester"]["error_handler"]
    factory = ModelToComponentFactory()
    return factory.create_component(factory.TYPE_NAME_TO_MODEL[definition["type"]], definition, CONFIG)


CLEAN = {
    "polyai_conversations": polyai_page([{"id": "CA1"}], next_offset=1) | {"cursor": "abc"},
    "vectara_conversations": vectara_page([{"id": "t1", "epochSecs": "1767225600"}], page_key="a2V5"),
    "vectara_turns": {"Conversation": [{"id": "t1", "turn": [{"id": "t1"}]}], "status": {"code": "OK"}},
    "vectara_chats": {"chats": [{"id": "cht_1"}], "metadata": {"page_key": "a2V5"}},
    "vectara_chat_turns": {"turns": [{"id": "trn_1"}]},
    "vectara_agent_sessions": {"sessions": [{"key": "ses_1"}], "metadata": {"page_key": ""}},
    "vectara_agent_events": {"events": [{"id": "aev_1", "type": "thinking"}], "metadata": {}},
}


@pytest.mark.parametrize("stream", sorted(CLEAN))
def test_given_a_clean_page_when_every_filter_of_the_stream_is_applied_then_none_matches(stream):
    # The handler's fast path skips the filters on such a page; this keeps that safe as filters change.
    handler = error_handler(stream)
    page = response(200, CLEAN[stream])
    assert handler.response_filters
    assert [f for f in handler.response_filters if f.matches(page) is not None] == []
    assert handler.interpret_response(page).response_action == ResponseAction.SUCCESS


@pytest.mark.parametrize("stream", sorted(CLEAN))
@pytest.mark.parametrize("body", [b"<html>busy</html>", {"unexpected": True}, {"conversations": "oops", "chats": 1}])
def test_given_a_2xx_that_is_not_a_page_when_interpreted_then_retried_as_transient(stream, body):
    resolution = error_handler(stream).interpret_response(response(200, body))
    assert resolution.response_action == ResponseAction.RETRY
    assert resolution.failure_type == FailureType.transient_error
    assert "not a page of records" in resolution.error_message


@pytest.mark.parametrize("stream", sorted(CLEAN))
@pytest.mark.parametrize("status", [409, 501, 520])
def test_given_an_error_status_no_filter_names_when_interpreted_then_not_called_a_broken_page(stream, status):
    resolution = error_handler(stream).interpret_response(response(status, {"code": 2, "message": "backend XYZ"}))
    assert resolution.response_action != ResponseAction.SUCCESS
    assert "not a page" not in (resolution.error_message or "")


@pytest.mark.parametrize(
    "stream, body",
    [
        (
            "polyai_conversations",
            {"success": False, "error_code": "INTERNAL", "error_message": "backend exploded XYZ", "data": None},
        ),
        ("vectara_conversations", {"code": 13, "message": "backend exploded XYZ"}),
        ("vectara_chats", {"messages": ["backend exploded XYZ"], "request_id": "r1"}),
    ],
)
@pytest.mark.parametrize("status", [429, 503])
def test_given_a_5xx_or_429_with_the_vendors_message_when_interpreted_then_it_reaches_the_user(stream, body, status):
    resolution = error_handler(stream).interpret_response(response(status, body))
    assert resolution.response_action in (ResponseAction.RETRY, ResponseAction.RATE_LIMITED)
    assert resolution.failure_type == FailureType.transient_error
    assert "backend exploded XYZ" in resolution.error_message


def test_given_the_polyai_v3_error_envelope_for_a_bad_cursor_when_interpreted_then_a_system_error_that_says_so():
    body = {
        "success": False,
        "error": "Bad Request",
        "error_code": "GET_CONVERSATIONS_FILTER_PARSE_ERROR",
        "error_message": "Invalid cursor",
        "error_id": "e1",
        "data": None,
    }
    resolution = error_handler("polyai_conversations").interpret_response(response(400, body))
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.FAIL, FailureType.system_error)
    assert "paging cursor" in resolution.error_message and "Invalid cursor" in resolution.error_message


@pytest.mark.parametrize("status", [401, 403])
def test_given_the_agents_api_refuses_the_key_when_interpreted_then_the_message_says_which_key_works(status):
    resolution = error_handler("vectara_agent_sessions").interpret_response(
        response(status, {"messages": ["no"], "request_id": "r"})
    )
    assert resolution.failure_type == FailureType.config_error
    if status == 403:
        assert "Personal API key" in resolution.error_message and "`vectara.sync_agents`" in resolution.error_message


def test_given_a_deleted_session_when_its_events_answer_404_then_ignored_but_a_missing_chat_fails():
    assert (
        error_handler("vectara_agent_events").interpret_response(response(404, {"messages": ["gone"]})).response_action
        == ResponseAction.IGNORE
    )
    assert (
        error_handler("vectara_chat_turns").interpret_response(response(404, {"messages": ["gone"]})).response_action
        == ResponseAction.FAIL
    )


# --------------------------------------------------------------------------------------------------
# Paging
# --------------------------------------------------------------------------------------------------


def pagination(paths, records_path="conversations"):
    strategy = C.GuardedNextTokenPagination(
        token_paths=paths, records_path=records_path, config={}, parameters={}, api_name="PolyAI"
    )
    assert strategy.initial_token is None
    return strategy


def test_given_a_cursor_then_an_offset_only_body_when_paging_then_the_cursor_first_and_the_offset_after():
    strategy = pagination(["cursor", "next_offset"])
    assert strategy.next_page_token(response(200, {"conversations": [{}], "cursor": "Zm9v+/="}), 1, None) == "Zm9v+/="
    assert strategy.next_page_token(response(200, {"conversations": [{}], "next_offset": 20}), 1, None) == 20
    for last in (
        {"conversations": [{}], "cursor": None, "next_offset": 30},
        {"conversations": [{}], "cursor": ""},
        {"conversations": [{}]},
    ):
        assert strategy.next_page_token(response(200, last), 1, None) is None


@pytest.mark.parametrize(
    "bodies",
    [
        [{"conversations": [{}], "cursor": "A"}, {"conversations": [{}], "cursor": "A"}],
        [
            {"conversations": [{}], "cursor": "A"},
            {"conversations": [{}], "cursor": "B"},
            {"conversations": [{}], "cursor": "A"},
        ],
        [{"conversations": [{}], "next_offset": 10}, {"conversations": [{}], "next_offset": 10}],
        [{"conversations": [{}], "next_offset": 10}, {"conversations": [{}], "next_offset": 5}],
        [{"conversations": [], "cursor": str(n)} for n in range(7)],
    ],
    ids=["repeat", "cycle", "stuck offset", "offset back", "empty pages"],
)
def test_given_tokens_that_loop_when_paging_then_a_system_error_instead_of_reading_forever(bodies):
    strategy = pagination(["cursor", "next_offset"])
    with pytest.raises(AirbyteTracedException) as raised:
        for body in bodies:
            strategy.next_page_token(response(200, body), len(body["conversations"]), None)
    assert raised.value.failure_type == FailureType.system_error and "loop" in raised.value.message


def test_given_a_new_walk_when_a_token_of_the_last_walk_comes_back_then_it_is_followed():
    strategy = pagination(["metadata.page_key"], "chats")
    assert strategy.next_page_token(response(200, {"chats": [{}], "metadata": {"page_key": "A"}}), 1, None) == "A"
    assert strategy.initial_token is None
    assert strategy.next_page_token(response(200, {"chats": [{}], "metadata": {"page_key": "A"}}), 1, None) == "A"


# --------------------------------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, seconds",
    [
        ("7", 7.0),
        ("0", 0.0),
        ("-3", 0.0),
        ("Thu, 15 Jan 2026 12:00:42 GMT", 42.0),
        ("Thu, 15 Jan 2026 11:00:00 GMT", 0.0),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
    ],
)
def test_given_a_retry_after_header_when_read_then_the_seconds_to_wait(header, seconds):
    assert C.retry_after_seconds(header, now=datetime(2026, 1, 15, 12, tzinfo=timezone.utc)) == seconds


def test_given_retry_after_within_budget_when_backing_off_then_that_long_and_past_it_a_fast_transient_error():
    backoff = C.RetryAfterBackoff(config={}, parameters={}, api_name="Vectara")
    assert backoff.backoff_time(response(429, {}, {"Retry-After": "12"}), attempt_count=1) == 12.0
    assert backoff.backoff_time(response(429, {}, {"Retry-After": "0"}), attempt_count=1) == 0.001
    with pytest.raises(AirbyteTracedException) as raised:
        backoff.backoff_time(response(429, {}, {"Retry-After": "86400"}), attempt_count=1)
    assert raised.value.failure_type == FailureType.transient_error and "86400 s" in raised.value.message
    assert [backoff.backoff_time(response(503, {}), attempt_count=n) for n in (1, 2, 3, 7)] == [2.0, 4.0, 8.0, 60.0]


# --------------------------------------------------------------------------------------------------
# Time, the client-side window, epoch seconds
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("1767225600", 1767225600.0),
        (1767225600, 1767225600.0),
        ("2026-01-01T00:00:00Z", 1767225600.0),
        ("2026-01-01T00:00:00.250000Z", 1767225600.25),
        ("2026-01-01T05:30:00+05:30", 1767225600.0),
        ("2026-01-01T00:00:00", 1767225600.0),
        ("2026-01-01T00:00:00.000000+0000", 1767225600.0),
        ("", None),
        (None, None),
        (True, None),
        (float("nan"), None),
        ("soon", None),
    ],
)
def test_given_a_time_in_any_form_the_apis_use_when_parsed_then_one_instant(value, seconds):
    assert C.to_seconds(value) == seconds


@pytest.mark.parametrize(
    "text, micros",
    [
        ("2026-01-01T00:00:00Z", 1767225600_000000),
        ("2026-01-01T00:00:00.000001Z", 1767225600_000001),
        ("2026-01-01T00:00:00.250Z", 1767225600_250000),
        ("2026-01-01T05:30:00.999999+05:30", 1767225600_999999),
        ("2026-01-01T00:00:00.000000+0000", 1767225600_000000),
        ("2026-01-01T00:00:00", 1767225600_000000),
    ],
)
def test_given_a_date_time_cursor_text_when_read_as_a_number_then_its_exact_microseconds_since_the_epoch(text, micros):
    value = C.CursorText(text)
    assert int(value) == micros
    assert value == text and isinstance(value, str)


@pytest.mark.parametrize("text", ["", "soon", "1767225600", "2026-13-01T00:00:00Z"])
def test_given_a_cursor_text_that_is_not_a_date_time_when_read_as_a_number_then_value_error_as_strptime_would(
    text,
):
    with pytest.raises(ValueError):
        int(C.CursorText(text))


def test_given_a_cursor_text_in_a_record_when_serialised_then_the_same_json_string_as_the_text():
    record = {"started_at": C.CursorText("2026-01-01T00:00:00.000000Z")}
    assert orjson.dumps(record) == orjson.dumps({"started_at": "2026-01-01T00:00:00.000000Z"})
    assert json.dumps(record) == json.dumps({"started_at": "2026-01-01T00:00:00.000000Z"})
    assert copy.deepcopy(record) == record


def test_given_a_date_time_cursor_stream_when_its_page_is_extracted_then_only_its_cursor_texts_are_cursor_texts():
    extractor = C.RecordsExtractor(
        records_path="conversations", config={}, parameters={}, token_path="cursor", date_time_field="started_at"
    )
    body = {"conversations": [{"id": "a", "started_at": "2026-01-01T00:00:00Z"}, {"id": "b", "started_at": None}]}
    records = list(extractor.extract_records(response(200, body)))
    assert type(records[0]["started_at"]) is C.CursorText and records[1]["started_at"] is None
    assert type(records[0]["id"]) is str


def window_filter(start_date="2026-01-01T00:00:00Z", cursor="epochSecs"):
    return C.ClientSideWindowFilter(config={"start_date": start_date}, parameters={}, cursor_field=cursor)


def kept(flt, records, start, end):
    return [
        r["id"]
        for r in flt.filter_records(
            records, {}, StreamSlice(partition={}, cursor_slice={"start_time": start, "end_time": end})
        )
    ]


def test_given_a_saved_state_when_filtered_then_records_after_it_up_to_the_windows_end_are_kept():
    records = [
        {"id": i, "epochSecs": str(t)}
        for i, t in (("at", 1767300000), ("after", 1767300001), ("end", 1767400000), ("late", 1767400001))
    ]
    records.append({"id": "no cursor"})
    assert kept(window_filter(), records, "1767300000", "1767400000") == ["after", "end", "no cursor"]


def test_given_the_first_sync_when_filtered_then_the_start_date_itself_is_included():
    records = [
        {"id": "start", "created_at": "2026-01-01T00:00:00Z"},
        {"id": "before", "created_at": "2025-12-31T23:59:59.999Z"},
    ]
    assert kept(
        window_filter(cursor="created_at"), records, "2026-01-01T00:00:00.000000Z", "2026-02-01T00:00:00.000000Z"
    ) == ["start"]


def test_given_epoch_secs_as_a_number_when_transformed_then_a_string_and_an_utc_created_at():
    record = {"epochSecs": 1767225600}
    C.CreatedAtFromEpoch(parameters={}).transform(record)
    assert record == {"epochSecs": "1767225600", "created_at": "2026-01-01T00:00:00Z"}
    odd = {"epochSecs": "soon"}
    C.CreatedAtFromEpoch(parameters={}).transform(odd)
    assert odd == {"epochSecs": "soon", "created_at": None}


# --------------------------------------------------------------------------------------------------
# Saved states
# --------------------------------------------------------------------------------------------------


class Stream:
    name = "the_stream"


def state_check(form, cursor):
    return C.StateCheck(config={}, parameters={}, cursor_field=cursor, state_form=form, declarative_stream=Stream())


@pytest.mark.parametrize(
    "form, cursor, state",
    [
        ("single", "epochSecs", {"epochSecs": "1767225600"}),
        ("single", "created_at", {"created_at": "2026-01-01T00:00:00.000000Z"}),
        (
            "per_partition",
            "started_at",
            {"states": [{"partition": {"project_id": "p"}, "cursor": {"started_at": "2026-01-01T00:00:00Z"}}]},
        ),
        (
            "global",
            "created_at",
            {"use_global_cursor": True, "state": {"created_at": "2026-01-01T00:00:00Z"}, "lookback_window": 3},
        ),
        ("global", "epochSecs", {"epochSecs": "1767225600"}),
    ],
)
def test_given_a_state_of_the_right_form_when_checked_then_it_is_accepted(form, cursor, state):
    check = state_check(form, cursor)
    if check.should_migrate(state):
        check.migrate(state)


@pytest.mark.parametrize(
    "form, cursor, state",
    [
        ("single", "epochSecs", {"epochSecs": "soon"}),
        ("single", "epochSecs", {"created_at": "2026-01-01T00:00:00Z"}),
        ("per_partition", "started_at", {"started_at": "yesterday"}),
        ("per_partition", "started_at", {"states": [{"partition": {"project_id": "p"}, "cursor": {}}]}),
        ("global", "created_at", {"state": {"created_at": "yesterday"}}),
    ],
)
def test_given_a_state_the_connector_cannot_read_when_checked_then_a_config_error_names_the_stream_and_the_form(
    form, cursor, state
):
    with pytest.raises(AirbyteTracedException) as raised:
        state_check(form, cursor).should_migrate(state)
    assert raised.value.failure_type == FailureType.config_error
    assert "the_stream" in raised.value.message and cursor in raised.value.message and "Reset" in raised.value.message


@pytest.mark.parametrize(
    "state, migrated",
    [
        ({"started_at": "2026-01-01T00:00:00Z"}, {"states": []}),
        ({"states": [{"partition": {"p": 1}, "cursor": {"started_at": "2026-01-01T00:00:00Z"}}]}, None),
    ],
)
def test_given_a_per_partition_stream_when_its_state_is_bare_then_every_partition_starts_at_the_start_date(
    state, migrated
):
    check = state_check("per_partition", "started_at")
    assert check.should_migrate(state) is (migrated is not None)
    if migrated is not None:
        assert check.migrate(state) == migrated


@pytest.mark.parametrize(
    "state, migrated",
    [
        (
            {"state": {"created_at": "2026-01-01T00:00:00Z"}, "parent_state": {"x": {}}},
            {"state": {"created_at": "2026-01-01T00:00:00Z"}, "parent_state": {"x": {}}, "use_global_cursor": True},
        ),
        (
            {
                "use_global_cursor": False,
                "states": [
                    {"partition": {"c": 1}, "cursor": {"created_at": "2026-01-02T00:00:00Z"}},
                    {"partition": {"c": 2}, "cursor": {"created_at": "2026-01-01T00:00:00Z"}},
                ],
            },
            {"use_global_cursor": True, "state": {"created_at": "2026-01-01T00:00:00Z"}},
        ),
        ({"created_at": "2026-01-01T00:00:00Z"}, None),
        ({"use_global_cursor": True, "state": {"created_at": "2026-01-01T00:00:00Z"}}, None),
    ],
)
def test_given_a_turns_or_events_state_when_checked_then_the_cdk_keeps_one_global_cursor(state, migrated):
    check = state_check("global", "created_at")
    assert check.should_migrate(state) is (migrated is not None)
    if migrated is not None:
        assert check.migrate(state) == migrated


def test_given_a_per_partition_state_with_the_cdks_global_cursor_when_migrated_then_new_partitions_start_at_the_start_date():
    state = {
        "use_global_cursor": False,
        "states": [{"partition": {"project_id": "p"}, "cursor": {"started_at": "2026-01-01T00:00:00Z"}}],
        "state": {"started_at": "2026-01-01T00:00:00Z"},
        "lookback_window": 40,
    }
    check = state_check("per_partition", "started_at")
    assert check.should_migrate(state)
    assert check.migrate(state) == {"use_global_cursor": False, "states": state["states"]}


def _no_conversation_in_progress() -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = orjson.dumps({"conversations": [], "cursor": None})
    return response


class _BarrierRequester:
    """A requester whose answers wait until `parties` requests are in flight at once (or fail after 5 s)."""

    def __init__(self, parties: int) -> None:
        import threading

        self.barrier = threading.Barrier(parties, timeout=5)

    def send_request(self, stream_slice: Any, request_params: Any) -> requests.Response:
        self.barrier.wait()
        return _no_conversation_in_progress()


def test_given_three_projects_when_slicing_then_their_in_progress_questions_are_asked_at_once():
    projects = ["p1", "p2", "p3"]
    config = {"num_workers": 8, "polyai": {"project_ids": projects, "in_progress_max_hours": 24}}
    router = components().PolyAIProjects(requester=_BarrierRequester(3), config=config, parameters={})
    slices = list(router.stream_slices())  # a BrokenBarrierError if the three were asked one after another
    assert [s.partition["project_id"] for s in slices] == projects
    assert all(s.extra_fields["hold_from"] for s in slices)


class _CountingRequester:
    """Counts the most requests in flight at once; each answer takes 50 ms."""

    def __init__(self) -> None:
        import threading

        self.lock, self.in_flight, self.most = threading.Lock(), 0, 0

    def send_request(self, stream_slice: Any, request_params: Any) -> requests.Response:
        import time

        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(0.05)
        with self.lock:
            self.in_flight -= 1
        return _no_conversation_in_progress()


@pytest.mark.parametrize("num_workers, most", [(1, 1), (2, 2), (8, 3)])
def test_given_num_workers_when_slicing_then_at_most_that_many_projects_are_asked_at_once(num_workers, most):
    projects = ["p1", "p2", "p3"]
    config = {"num_workers": num_workers, "polyai": {"project_ids": projects, "in_progress_max_hours": 24}}
    requester = _CountingRequester()
    router = components().PolyAIProjects(requester=requester, config=config, parameters={})
    assert [s.partition["project_id"] for s in router.stream_slices()] == projects
    assert requester.most == most
