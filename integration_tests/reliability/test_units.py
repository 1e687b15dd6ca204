"""In-process tests with the CDK's HttpMocker, for pages the fake API cannot produce: timestamps with other
offsets and fractions (fault 10), records without a primary key or cursor (fault 11), an offset past the
end (fault 8), and a lone surrogate in a transcript. Configs and the runner come from unit_tests/conftest.py.

This module holds no subprocess scenarios: freezegun freezes time process-wide, so no worker thread of the
scenario pool may run while these tests do (conftest.py drains each module's pool at its teardown).
"""

from __future__ import annotations

import json
from typing import Optional

import pytest
from freezegun import freeze_time

from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse

from fake_api.data import polyai_conversation, polyai_page, vectara_page, vectara_turn
from reliability_tests.invariants import parse_instant
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

POLYAI = "polyai_conversations"
VECTARA = "vectara_conversations"
PAGE = 5


def _polyai_request(start: str, end: str, offset: Optional[int] = None) -> HttpRequest:
    query = {"client_env": "live", "limit": str(PAGE), "start_time": start, "end_time": end}
    if offset is not None:
        query["offset"] = str(offset)
    return HttpRequest(f"{POLYAI_BASE}/v1/ws-unit/PROJECT-unit/conversations", query_params=query)


def _polyai(index: int, **fields) -> dict:
    record = polyai_conversation(index)
    record["in_progress"] = False
    record.update(fields)
    return record


def _final_state(output) -> dict:
    return output.most_recent_state.stream_state.__dict__


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


@freeze_time("2026-03-20T12:00:00Z")
def test_given_started_at_with_z_offsets_fractions_and_a_dst_change_when_read_then_records_are_unchanged_and_state_is_the_latest_instant() -> None:
    records = [_polyai(i, started_at=stamp) for i, stamp in enumerate(DST_AND_FORMATS)]
    cfg = config(polyai=polyai_settings(page_size=PAGE, window_days=30))
    cfg["start_date"] = "2026-03-01T00:00:00Z"
    first = _polyai_request("2026-03-01T00:00:00.000000+0000", "2026-03-20T12:00:00.000000+0000")
    with HttpMocker() as mocker:
        mocker.get(first, [HttpResponse(json.dumps(polyai_page(records[:PAGE], next_offset=PAGE)), 200)])
        mocker.get(
            _polyai_request("2026-03-01T00:00:00.000000+0000", "2026-03-20T12:00:00.000000+0000", PAGE),
            HttpResponse(json.dumps(polyai_page(records[PAGE:])), 200),
        )
        output = run_read(cfg, POLYAI)
    assert not output.errors
    emitted = [message.record.data["started_at"] for message in output.records]
    assert emitted == DST_AND_FORMATS, "started_at must reach the destination exactly as the API wrote it"
    latest = max(DST_AND_FORMATS, key=parse_instant)
    assert parse_instant(_final_state(output)["started_at"]) == parse_instant(latest)
    assert _final_state(output)["started_at"] == "2026-03-08T10:00:00.500000Z"


@freeze_time(FROZEN_NOW)
def test_given_polyai_records_without_id_or_started_at_when_read_then_they_are_emitted_and_the_state_does_not_jump() -> None:
    valid = [_polyai(0, started_at="2026-01-05T10:00:00Z"), _polyai(1, started_at="2026-01-07T10:00:00Z")]
    no_cursor = _polyai(2)
    del no_cursor["started_at"]
    null_cursor = _polyai(3, started_at=None)
    garbage_cursor = _polyai(4, started_at="yesterday at noon")
    no_id = _polyai(5, started_at="2026-01-06T10:00:00Z")
    del no_id["id"]
    page = [valid[0], no_cursor, null_cursor, garbage_cursor, no_id]
    cfg = config(polyai=polyai_settings(page_size=PAGE, window_days=30))
    start, end = "2026-01-01T00:00:00.000000+0000", "2026-01-15T12:00:00.000000+0000"
    with HttpMocker() as mocker:
        mocker.get(_polyai_request(start, end), HttpResponse(json.dumps(polyai_page(page, next_offset=PAGE)), 200))
        mocker.get(_polyai_request(start, end, PAGE), HttpResponse(json.dumps(polyai_page([valid[1]])), 200))
        output = run_read(cfg, POLYAI)
    assert not output.errors, [e.trace.error.message for e in output.errors]
    # Policy (docs/reliability-notes.md): at-least-once. Every record is passed on, even one the
    # destination cannot dedupe (no id) or place (no started_at); only readable cursors move the state.
    assert len(output.records) == 6
    assert _final_state(output)["started_at"] == "2026-01-07T10:00:00.000000Z"


@freeze_time(FROZEN_NOW)
def test_given_vectara_records_without_id_or_epoch_secs_when_read_then_they_are_emitted_and_the_state_does_not_jump() -> None:
    def turn(index: int, epoch) -> dict:
        record = vectara_turn(index)
        record["epochSecs"] = epoch
        return record

    valid = turn(0, "1767300000")
    no_cursor = vectara_turn(1)
    del no_cursor["epochSecs"]
    unreadable = turn(2, "soon")
    null_cursor = turn(3, None)
    no_id = turn(4, 1767400000)
    del no_id["id"]
    records = [valid, no_cursor, unreadable, null_cursor, no_id]
    cfg = config(vectara=vectara_settings(page_size=PAGE))
    request = HttpRequest(f"{VECTARA_BASE}/v1/list-conversations", body={"numResults": PAGE})
    with HttpMocker() as mocker:
        mocker.post(request, HttpResponse(json.dumps(vectara_page(records)), 200))
        output = run_read(cfg, VECTARA)
    assert not output.errors
    emitted = [message.record.data for message in output.records]
    assert len(emitted) == 5
    assert [record.get("created_at") for record in emitted] == [
        "2026-01-01T20:40:00Z", None, None, None, "2026-01-03T00:26:40Z"
    ]
    assert _final_state(output)["epochSecs"] == "1767400000"
    assert_no_secret(output)


@freeze_time(FROZEN_NOW)
def test_given_a_next_offset_past_the_end_when_read_then_the_empty_page_ends_the_walk_cleanly() -> None:
    records = [_polyai(i, started_at=f"2026-01-0{i + 2}T10:00:00Z") for i in range(2)]
    cfg = config(polyai=polyai_settings(page_size=PAGE, window_days=30))
    start, end = "2026-01-01T00:00:00.000000+0000", "2026-01-15T12:00:00.000000+0000"
    past_the_end = _polyai_request(start, end, 1000)
    with HttpMocker() as mocker:
        mocker.get(_polyai_request(start, end), HttpResponse(json.dumps(polyai_page(records, next_offset=1000)), 200))
        mocker.get(past_the_end, HttpResponse(json.dumps(polyai_page([])), 200))
        output = run_read(cfg, POLYAI)
        mocker.assert_number_of_calls(past_the_end, 1)
    assert not output.errors
    assert [m.record.data["id"] for m in output.records] == [r["id"] for r in records]
    assert _final_state(output)["started_at"] == "2026-01-03T10:00:00.000000Z"


NON_STANDARD_JSON = {
    # A cut emoji: legal JSON text (RFC 8259 §8.2 leaves unpaired surrogates to the parser).
    "lone_surrogate": ("user_input", "I love it \ud83d"),
    # What Python's json.dumps writes for float("nan") by default, e.g. a latency that was never measured.
    "nan": ("latency", float("nan")),
}


@pytest.mark.parametrize("case", list(NON_STANDARD_JSON))
@freeze_time(FROZEN_NOW)
def test_given_json_that_pythons_parser_reads_but_orjson_refuses_when_read_then_the_page_is_never_silently_dropped(
    case: str,
) -> None:
    field, value = NON_STANDARD_JSON[case]
    odd = _polyai(0, started_at="2026-01-05T10:00:00Z")
    odd["turns"][0][field] = value
    fine = _polyai(1, started_at="2026-01-06T10:00:00Z")
    body = json.dumps(polyai_page([odd, fine]))
    cfg = config(polyai=polyai_settings(page_size=PAGE, window_days=30))
    request = _polyai_request("2026-01-01T00:00:00.000000+0000", "2026-01-15T12:00:00.000000+0000")
    with HttpMocker() as mocker:
        mocker.get(request, HttpResponse(body, 200, headers={"Retry-After": "0"}))
        output = run_read(cfg, POLYAI)
    emitted = {m.record.data["id"] for m in output.records}
    # The page is delivered (the odd value repaired); reading it as an empty last page would lose it.
    assert output.errors == []
    assert emitted == {odd["id"], fine["id"]}, "the page was read as an empty last page: its records are lost"
