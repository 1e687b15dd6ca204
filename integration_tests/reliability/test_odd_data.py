"""Odd data through the real console script (fault 11): records arrive exactly as served (nulls kept, missing
fields not invented, Unicode, emoji, RTL and CRLF intact), and memory stays bounded for a huge page and for
one record with a multi-megabyte transcript. Records without a primary key or cursor are in test_units.py.
"""

from __future__ import annotations

import copy
import json

from fake_api import Fault, polyai_page, vectara_page
from reliability_tests.invariants import assert_no_loss, assert_no_secrets, assert_succeeded
from reliability_tests.support import (
    POLYAI,
    STREAMS,
    VECTARA,
    Context,
    Outcome,
    config_for,
    server_secrets,
    uses,
)

TEXTS = {
    "hebrew": "שלום! אני רוצה להזמין שולחן ל-4 אנשים בשעה 19:30",
    "arabic_with_direction_marks": "\u200fمرحبا، هل يمكنني تغيير الحجز؟\u200e (ref: ABC-123)",
    "emoji_zwj_flags_skin_tones": "👩‍👩‍👧‍👦 🇬🇧 🏳️‍🌈 👍🏽 😀",
    "crlf_cr_lf": "line one\r\nline two\rline three\nend\r\n",
    "nfd_and_nfc": "cafe\u0301 / caf\u00e9",
    "controls_and_separators": "tab\there nul\u0000 esc\u001b ls\u2028 ps\u2029 bom\ufeff",
    "astral_plane": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎𠜱",
    "json_and_html_specials": 'He said "hi" \\ back\\slash </script> &amp;',
}
ALL_TEXT = " | ".join(TEXTS.values())


def _odd_polyai_records(served: list) -> list:
    unicode_record, nulls_record = copy.deepcopy(served[0]), copy.deepcopy(served[1])
    unicode_record["turns"] = [dict(unicode_record["turns"][0], user_input=text, agent_response=text) for text in TEXTS.values()]
    unicode_record["state"] = dict(TEXTS)
    unicode_record["to_number"] = ALL_TEXT
    # Top-level nulls (optional fields the API left empty) and a nested one; two optional fields missing.
    nulls_record.update(from_number=None, total_duration=None, handoff_reason=None, variant_name=None)
    nulls_record["metrics"] = {"CSAT": None, "LANGUAGE": "en-GB"}
    del nulls_record["handoff_destination"], nulls_record["num_ood"]
    return [unicode_record, nulls_record]


def _odd_vectara_records(served: list) -> list:
    unicode_record, nulls_record = copy.deepcopy(served[0]), copy.deepcopy(served[1])
    unicode_record["query"], unicode_record["answer"] = ALL_TEXT, TEXTS["crlf_cr_lf"]
    nulls_record["answer"] = None
    del nulls_record["enabled"]
    return [unicode_record, nulls_record]


def _served_as_is(ctx: Context) -> Outcome:
    """Two syncs: the fake's own data, then a single page of hand-made odd records per API."""
    server = ctx.serve()
    plain = ctx.read(config_for(server, window_days=3650), STREAMS, debug=True, name="plain")
    polyai_odd = _odd_polyai_records(server.polyai_records(in_progress=False))
    vectara_odd = _odd_vectara_records(server.vectara_records())
    server.inject(Fault("polyai", status=200, body=polyai_page(polyai_odd), match={"page": 1}))
    server.inject(Fault("vectara", status=200, body=vectara_page(vectara_odd), match={"page": 1}))
    odd = ctx.read(config_for(server, window_days=3650), STREAMS, name="odd")
    return Outcome(server=server, plain=plain, odd=odd, polyai_odd=polyai_odd, vectara_odd=vectara_odd)


def _without_created_at(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "created_at"}


@uses(_served_as_is)
def test_given_the_fakes_data_when_read_then_every_record_is_emitted_exactly_as_served_nulls_included(
    outcome: Outcome,
) -> None:
    run, server = outcome.plain, outcome.server
    assert_succeeded(run)
    served = {r["id"]: r for r in server.polyai_records(in_progress=False)}
    assert any(value is None for record in served.values() for value in record.values()), "no top-level null to check"
    emitted = {r["id"]: r for r in run.records(POLYAI)}
    assert emitted.keys() == served.keys()
    different = [record_id for record_id in served if emitted[record_id] != served[record_id]]
    assert not different, f"{len(different)} PolyAI records differ from what the API sent, e.g. {different[0]}"
    served_v = {r["id"]: r for r in server.vectara_records()}
    emitted_v = {r["id"]: r for r in run.records(VECTARA)}
    assert emitted_v.keys() == served_v.keys()
    assert all(_without_created_at(emitted_v[i]) == served_v[i] for i in served_v)
    assert_no_secrets(run.output, server_secrets(server))


@uses(_served_as_is)
def test_given_unicode_emoji_rtl_and_crlf_when_read_then_they_survive_byte_for_byte(outcome: Outcome) -> None:
    run = outcome.odd
    assert_succeeded(run)
    polyai = {r["id"]: r for r in run.records(POLYAI)}
    sent = outcome.polyai_odd[0]
    assert polyai[sent["id"]] == sent
    assert polyai[sent["id"]]["state"] == TEXTS
    vectara = {r["id"]: r for r in run.records(VECTARA)}
    sent_v = outcome.vectara_odd[0]
    assert _without_created_at(vectara[sent_v["id"]]) == sent_v
    # On the wire: raw UTF-8, one message per line (CR and LF inside strings are escaped).
    raw = run.stdout.encode("utf-8")
    assert TEXTS["hebrew"].encode("utf-8") in raw or json.dumps(TEXTS["hebrew"]).encode() in raw
    assert all(json.loads(line) for line in run.stdout.split("\n") if line.startswith("{"))


@uses(_served_as_is)
def test_given_nulls_and_missing_optional_fields_when_read_then_nulls_stay_null_and_missing_stay_missing(
    outcome: Outcome,
) -> None:
    run = outcome.odd
    polyai = {r["id"]: r for r in run.records(POLYAI)}
    sent = outcome.polyai_odd[1]
    got = polyai[sent["id"]]
    for field in ("from_number", "total_duration", "handoff_reason", "variant_name"):
        assert field in got and got[field] is None, f"top-level null {field} was dropped or changed"
    assert got["metrics"] == {"CSAT": None, "LANGUAGE": "en-GB"}
    assert "handoff_destination" not in got and "num_ood" not in got, "a missing field must not be invented"
    assert got == sent
    vectara = {r["id"]: r for r in run.records(VECTARA)}
    sent_v = outcome.vectara_odd[1]
    assert "answer" in vectara[sent_v["id"]] and vectara[sent_v["id"]]["answer"] is None
    assert "enabled" not in vectara[sent_v["id"]]


# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------

TRANSCRIPT_MB = 8
MARKER = "transcript-start-7c1e0f52a9b34d6e "
MEMORY_FACTOR = 30  # peak RSS may grow by at most this many times the payload (measured: ~9x for a page, ~20x for one 8 MB transcript)


def _big_payloads(ctx: Context) -> Outcome:
    small = ctx.serve()
    baseline = ctx.read(config_for(small, window_days=3650), [POLYAI], measure_memory=True, name="baseline")

    huge = ctx.serve(polyai_count=5000, polyai_spacing_seconds=1)
    page = huge.polyai_records()
    huge_page = ctx.read(config_for(huge, window_days=3650, polyai_page=4999), [POLYAI], measure_memory=True, name="huge")
    page_bytes = len(json.dumps(polyai_page(page)).encode())

    big = copy.deepcopy(small.polyai_records(in_progress=False)[0])
    unit = "A caller said: ¿Dónde está mi pedido? 📦 Then waited.\r\n"
    transcript = MARKER + unit * (TRANSCRIPT_MB * 1024 * 1024 // len(unit.encode()))
    big["turns"] = [dict(big["turns"][0], user_input=transcript, agent_response="ok")]
    small.inject(Fault("polyai", status=200, body=polyai_page([big]), match={"page": 1}))
    big_record = ctx.read(config_for(small, window_days=3650), [POLYAI], measure_memory=True, name="transcript")
    return Outcome(
        baseline=baseline, huge=huge, huge_page=huge_page, page_bytes=page_bytes, page=page,
        big=big, transcript=transcript, big_record=big_record,
    )


@uses(_big_payloads)
def test_given_a_huge_page_when_read_then_every_record_arrives_and_peak_memory_stays_bounded(outcome: Outcome) -> None:
    run = outcome.huge_page
    assert_succeeded(run)
    assert_no_loss([run], POLYAI, [r["id"] for r in outcome.page if not r["in_progress"]])
    growth = run.peak_rss_mb - outcome.baseline.peak_rss_mb
    allowed = MEMORY_FACTOR * outcome.page_bytes / 2**20
    assert growth < allowed, f"a {outcome.page_bytes / 2**20:.1f} MB page raised peak RSS by {growth:.0f} MB (> {allowed:.0f} MB)"


@uses(_big_payloads)
def test_given_a_record_with_a_multi_megabyte_transcript_when_read_then_it_arrives_intact_with_bounded_memory(
    outcome: Outcome,
) -> None:
    run = outcome.big_record
    assert_succeeded(run)
    [record] = run.records(POLYAI)
    assert record["turns"][0]["user_input"] == outcome.transcript
    assert record == outcome.big
    growth = run.peak_rss_mb - outcome.baseline.peak_rss_mb
    allowed = MEMORY_FACTOR * TRANSCRIPT_MB
    assert growth < allowed, f"an {TRANSCRIPT_MB} MB transcript raised peak RSS by {growth:.0f} MB (> {allowed} MB)"
    # The transcript is data, not log material: it appears in its RECORD and nowhere else.
    assert run.output.count(MARKER) == 1
