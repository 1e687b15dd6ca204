"""In-process tests with the CDK's HttpMocker, for pages the fake API cannot produce: timestamps with other
offsets and fractions, records without a primary key or cursor, an offset past the end, and JSON that
Python's parser reads but orjson refuses. They run through `test_support.inprocess.read_stream`.

freezegun freezes time process-wide, so these tests first wait for the scenario pool to drain
(`drained_scenario_pool`, conftest.py): no scenario thread runs while time is frozen.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Optional

import pytest
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse
from freezegun import freeze_time

from fake_api.data import polyai_conversation, polyai_page, polyai_v3_page, vectara_page, vectara_turn
from integration_tests.reliability.invariants import micros
from test_support import leaks
from test_support.inprocess import read_stream

pytestmark = pytest.mark.usefixtures("drained_scenario_pool")

POLYAI_KEY = "reliability-units-polyai-key-5d1f8a3c9e"
VECTARA_KEY = "reliability-units-vectara-key-8b2e6f4a1c"
leaks.register_secret(POLYAI_KEY, VECTARA_KEY)
POLYAI_BASE = "https://polyai.reliability.test"
VECTARA_BASE = "https://vectara.reliability.test"
ACCOUNT, PROJECT = "ws-units", "PROJECT-units"
PAGE = 5
POLYAI = "polyai_conversations"
VECTARA = "vectara_conversations"


def _iso(moment: datetime) -> str:
    """The connector's form of a window bound: `YYYY-MM-DDTHH:MM:SS.ffffff+0000`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def _config(version: str = "v3", start_date: str = "2026-01-01T00:00:00Z") -> Dict[str, Any]:
    return {
        "start_date": start_date,
        "polyai": {
            "api_key": POLYAI_KEY,
            "account_id": ACCOUNT,
            "project_ids": [PROJECT],
            "base_url": POLYAI_BASE,
            "api_version": version,
            "page_size": PAGE,
            "window_days": 30,
        },
    }


def _polyai_url(version: str) -> str:
    return f"{POLYAI_BASE}/{version}/{ACCOUNT}/{PROJECT}/conversations"


def _mock_no_conversation_in_progress(mocker: HttpMocker, now: str, version: str) -> None:
    """The per-project question asked before any window: which conversation is still in progress (none)."""
    moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    query = {
        "client_env": "live",
        "in_progress": "true",
        "limit": "2",
        "start_time": _iso(moment - timedelta(hours=24)),
        "end_time": _iso(moment),
    }
    body = polyai_v3_page([]) if version == "v3" else polyai_page([])
    mocker.get(HttpRequest(_polyai_url(version), query_params=query), HttpResponse(json.dumps(body), 200))


def _window(version: str, start: str, end: str, token: Optional[Any] = None) -> HttpRequest:
    query = {"client_env": "live", "limit": str(PAGE), "start_time": start, "end_time": end}
    if token is not None:
        query["cursor" if version == "v3" else "offset"] = str(token)
    return HttpRequest(_polyai_url(version), query_params=query)


def _page(version: str, records: list, token: Optional[Any] = None) -> str:
    if version == "v3":
        return json.dumps(polyai_v3_page(records, cursor=token))
    return json.dumps(polyai_page(records, next_offset=token))


def _polyai(index: int, **fields) -> dict:
    record = polyai_conversation(index, account_id=ACCOUNT, project_id=PROJECT, version="v3")
    record.update(in_progress=False, **fields)
    return record


def _project_state(output) -> str:
    blob = output.most_recent_state.stream_state.__dict__
    [entry] = [entry for entry in blob["states"] if entry["partition"]["project_id"] == PROJECT]
    return entry["cursor"]["started_at"]


# Written by different PolyAI regions / proxies: Z, +00:00, ±hh:mm, no fraction, 1, 3 and 6 digits,
# and the two sides of the US spring-forward (01:59:59 PST and 03:00:00 PDT are one second apart).
DST_AND_FORMATS = [
    "2026-03-08T01:59:59-08:00",  # 09:59:59Z
    "2026-03-08T03:00:00-07:00",  # 10:00:00Z
    "2026-03-08T10:00:00Z",
    "2026-03-08T15:30:00+05:30",  # 10:00:00Z, the largest string
    "2026-03-08T10:00:00.123Z",
    "2026-03-08T10:00:00.123456+00:00",
    "2026-03-08T02:00:00.5-08:00",  # 10:00:00.5Z, the latest instant
    "2026-03-07T23:59:59.999999-10:00",  # 09:59:59.999999Z
]


@pytest.mark.parametrize("version", ["v3", "v1"])
def test_given_started_at_with_z_offsets_fractions_and_a_dst_change_when_read_then_records_are_unchanged_and_state_is_the_latest_instant(
    version: str,
) -> None:
    now = "2026-03-20T12:00:00Z"
    records = [_polyai(i, started_at=stamp) for i, stamp in enumerate(DST_AND_FORMATS)]
    config = _config(version, start_date="2026-03-01T00:00:00Z")
    start, end = "2026-03-01T00:00:00.000000+0000", "2026-03-20T12:00:00.000000+0000"
    token = "c2-units" if version == "v3" else PAGE
    with freeze_time(now), HttpMocker() as mocker:
        _mock_no_conversation_in_progress(mocker, now, version)
        mocker.get(_window(version, start, end), HttpResponse(_page(version, records[:PAGE], token), 200))
        mocker.get(_window(version, start, end, token), HttpResponse(_page(version, records[PAGE:]), 200))
        output = read_stream(config, POLYAI)
    assert not output.errors, [e.trace.error.message for e in output.errors]
    emitted = [message.record.data["started_at"] for message in output.records]
    assert emitted == DST_AND_FORMATS, "started_at must reach the destination exactly as the API wrote it"
    latest = max(DST_AND_FORMATS, key=micros)
    assert micros(_project_state(output)) == micros(latest)
    # the state is that instant written in UTC, as every date-time the connector writes (README, PolyAI)
    assert _project_state(output) == "2026-03-08T10:00:00.500000+0000", "the latest instant, in UTC"


def test_given_a_started_at_with_a_positive_offset_when_the_next_sync_resumes_then_a_conversation_held_after_it_arrives() -> (
    None
):
    """Bug 17 (docs/reliability-notes.md). The saved state must be the instant the record names. A state written as the record's local time
    with a `Z` (15:30Z for 15:30+05:30, which is 10:00Z) is 5.5 hours ahead: the next sync starts there, and
    a conversation that started at 12:00Z, held back while in progress, is never read."""
    first_now, second_now = "2026-03-08T12:30:00Z", "2026-03-08T20:00:00Z"
    at_ten = _polyai(0, started_at="2026-03-08T15:30:00+05:30")  # 10:00Z, written by a proxy in India
    held = _polyai(1, started_at="2026-03-08T12:00:00Z")
    config = _config("v3", start_date="2026-03-08T00:00:00Z")
    with freeze_time(first_now), HttpMocker() as mocker:
        moment = datetime(2026, 3, 8, 12, 30, tzinfo=timezone.utc)
        hold_query = {
            "client_env": "live",
            "in_progress": "true",
            "limit": "2",
            "start_time": _iso(moment - timedelta(hours=24)),
            "end_time": _iso(moment),
        }
        mocker.get(
            HttpRequest(_polyai_url("v3"), query_params=hold_query),
            HttpResponse(json.dumps(polyai_v3_page([dict(held, in_progress=True)])), 200),
        )
        window = _window("v3", "2026-03-08T00:00:00.000000+0000", "2026-03-08T12:30:00.000000+0000")
        mocker.get(window, HttpResponse(json.dumps(polyai_v3_page([at_ten, dict(held, in_progress=True)])), 200))
        first = read_stream(config, POLYAI)
    assert [m.record.data["id"] for m in first.records] == [at_ten["id"]], "the conversation in progress is held back"
    saved = _project_state(first)
    with freeze_time(second_now), HttpMocker() as mocker:
        _mock_no_conversation_in_progress(mocker, second_now, "v3")
        window = _window("v3", saved, "2026-03-08T20:00:00.000000+0000")  # the window starts at the state
        served = [record for record in (at_ten, held) if micros(record["started_at"]) >= micros(saved)]
        mocker.get(window, HttpResponse(json.dumps(polyai_v3_page(served)), 200))
        second = read_stream(config, POLYAI, stream_state=first.most_recent_state.stream_state.__dict__)
    assert held["id"] in [m.record.data["id"] for m in second.records], (
        f"the held conversation (12:00Z) was never read: the state {saved} passed it, for {at_ten['started_at']}"
    )
    assert micros(saved) == micros(at_ten["started_at"])


def test_given_polyai_records_without_id_or_started_at_when_read_then_they_are_emitted_and_the_state_does_not_jump() -> (
    None
):
    now = "2026-01-15T12:00:00Z"
    valid = [_polyai(0, started_at="2026-01-05T10:00:00Z"), _polyai(1, started_at="2026-01-07T10:00:00Z")]
    no_cursor = _polyai(2)
    del no_cursor["started_at"]
    null_cursor = _polyai(3, started_at=None)
    garbage_cursor = _polyai(4, started_at="yesterday at noon")
    no_id = _polyai(5, started_at="2026-01-06T10:00:00Z")
    del no_id["id"]
    page = [valid[0], no_cursor, null_cursor, garbage_cursor, no_id]
    start, end = "2026-01-01T00:00:00.000000+0000", "2026-01-15T12:00:00.000000+0000"
    with freeze_time(now), HttpMocker() as mocker:
        _mock_no_conversation_in_progress(mocker, now, "v3")
        mocker.get(_window("v3", start, end), HttpResponse(_page("v3", page, "c2-units"), 200))
        mocker.get(_window("v3", start, end, "c2-units"), HttpResponse(_page("v3", [valid[1]]), 200))
        output = read_stream(_config(), POLYAI)
    assert not output.errors, [e.trace.error.message for e in output.errors]
    # Policy (docs/reliability-notes.md): at-least-once. Every record is passed on, even one the
    # destination cannot dedupe (no id) or place (no started_at); only readable cursors move the state.
    assert len(output.records) == 6
    assert _project_state(output) == "2026-01-07T10:00:00.000000+0000"


def test_given_vectara_records_without_id_or_epoch_secs_when_read_then_they_are_emitted_and_the_state_does_not_jump() -> (
    None
):
    def turn(index: int, epoch) -> dict:
        record = vectara_turn(index)
        record["epochSecs"] = epoch
        return record

    valid = turn(0, "1767300000")
    no_cursor = vectara_turn(1)
    del no_cursor["epochSecs"]
    unreadable, null_cursor, no_id = turn(2, "soon"), turn(3, None), turn(4, 1767400000)
    del no_id["id"]
    config = {
        "start_date": "2026-01-01T00:00:00Z",
        "vectara": {
            "api_version": "v1",
            "customer_id": "1234567",
            "base_url": VECTARA_BASE,
            "page_size": PAGE,
            "credentials": {"auth_type": "api_key", "api_key": VECTARA_KEY},
        },
    }
    request = HttpRequest(f"{VECTARA_BASE}/v1/list-conversations", body={"numResults": PAGE})
    with freeze_time("2026-01-15T12:00:00Z"), HttpMocker() as mocker:
        mocker.post(
            request, HttpResponse(json.dumps(vectara_page([valid, no_cursor, unreadable, null_cursor, no_id])), 200)
        )
        output = read_stream(config, VECTARA)
    assert not output.errors, [e.trace.error.message for e in output.errors]
    emitted = [message.record.data for message in output.records]
    assert [record.get("created_at") for record in emitted] == [
        "2026-01-01T20:40:00Z",
        None,
        None,
        None,
        "2026-01-03T00:26:40Z",
    ]
    assert emitted[4]["epochSecs"] == "1767400000", "a numeric epochSecs is written as the string the API documents"
    assert output.most_recent_state.stream_state.__dict__["epochSecs"] == "1767400000"


def test_given_a_next_offset_past_the_end_when_read_then_the_empty_page_ends_the_walk_cleanly() -> None:
    now = "2026-01-15T12:00:00Z"
    records = [_polyai(i, started_at=f"2026-01-0{i + 2}T10:00:00Z") for i in range(2)]
    start, end = "2026-01-01T00:00:00.000000+0000", "2026-01-15T12:00:00.000000+0000"
    past_the_end = _window("v1", start, end, 1000)
    with freeze_time(now), HttpMocker() as mocker:
        _mock_no_conversation_in_progress(mocker, now, "v1")
        mocker.get(_window("v1", start, end), HttpResponse(_page("v1", records, 1000), 200))
        mocker.get(past_the_end, HttpResponse(_page("v1", []), 200))
        output = read_stream(_config("v1"), POLYAI)
        mocker.assert_number_of_calls(past_the_end, 1)
    assert not output.errors
    assert [m.record.data["id"] for m in output.records] == [r["id"] for r in records]
    assert _project_state(output) == "2026-01-03T10:00:00.000000+0000"


NON_STANDARD_JSON = {
    # A cut emoji: legal JSON text (RFC 8259 §8.2 leaves unpaired surrogates to the parser).
    "lone_surrogate": ("user_input", "I love it \ud83d", "I love it \ufffd"),
    # What Python's json.dumps writes for float("nan") by default, e.g. a latency that was never measured.
    "nan": ("latency", float("nan"), None),
}


@pytest.mark.parametrize("case", list(NON_STANDARD_JSON))
def test_given_json_that_pythons_parser_reads_but_orjson_refuses_when_read_then_the_page_is_repaired_not_dropped(
    case: str,
) -> None:
    now = "2026-01-15T12:00:00Z"
    field, value, repaired = NON_STANDARD_JSON[case]
    odd = _polyai(0, started_at="2026-01-05T10:00:00Z")
    odd["turns"][0][field] = value
    fine = _polyai(1, started_at="2026-01-06T10:00:00Z")
    start, end = "2026-01-01T00:00:00.000000+0000", "2026-01-15T12:00:00.000000+0000"
    with freeze_time(now), HttpMocker() as mocker:
        _mock_no_conversation_in_progress(mocker, now, "v3")
        mocker.get(_window("v3", start, end), HttpResponse(json.dumps(polyai_v3_page([odd, fine])), 200))
        output = read_stream(_config(), POLYAI)
    assert output.errors == []
    emitted = {m.record.data["id"]: m.record.data for m in output.records}
    assert set(emitted) == {odd["id"], fine["id"]}, "the page was read as an empty last page: its records are lost"
    assert emitted[odd["id"]]["turns"][0][field] == repaired
