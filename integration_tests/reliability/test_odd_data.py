"""Odd data through the real console script: every record of every stream arrives exactly as served (nulls
kept, missing fields not invented; the connector adds only `created_at` to Vectara v1 records and
`agent_key` to agent events), Unicode, emoji, RTL and CRLF intact, and memory stays bounded for a huge page
and for one record with a multi-megabyte transcript. Records without a primary key or cursor are in
test_units.py.
"""

from __future__ import annotations

import copy
import json
import time

import pytest

from fake_api import Fault, polyai_page, polyai_v3_page, vectara_page
from integration_tests.reliability.invariants import (
    Truth,
    assert_delivered_exactly,
    assert_no_secrets,
    assert_succeeded,
)
from integration_tests.reliability.support import (
    PROFILES,
    Context,
    Outcome,
    Profile,
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
ONE_PROJECT = ["PROJECT-alpha"]


def _served(server, config) -> dict:
    """Every record the fake serves per stream, by primary key, as the connector should emit it."""
    version = config["polyai"]["api_version"]
    served = {"polyai_conversations": {}}
    for project in config["polyai"]["project_ids"]:
        for record in server.polyai_records(project_id=project, version=version):
            served["polyai_conversations"][f"{project}/{record['id']}"] = record
    if config["vectara"]["api_version"] == "v1":
        served["vectara_conversations"], served["vectara_turns"] = {}, {}
        for record in server.vectara_records():
            served["vectara_conversations"][record["id"]] = {**record, "created_at": _utc(record["epochSecs"])}
            for turn in server.vectara_conversation(record["id"])["turn"]:
                served["vectara_turns"][turn["id"]] = {**turn, "created_at": _utc(turn["epochSecs"])}
        return served
    served["vectara_chats"] = {chat["id"]: chat for chat in server.vectara_chats()}
    served["vectara_chat_turns"] = {
        turn["id"]: turn for chat in server.vectara_chat_ids() for turn in server.vectara_chat_turns(chat)
    }
    served["vectara_agent_sessions"], served["vectara_agent_events"] = {}, {}
    for agent in server.vectara_agent_keys():
        for session in server.vectara_sessions(agent):
            served["vectara_agent_sessions"][f"{agent}/{session['key']}"] = session
            for event in server.vectara_events(agent, session["key"]):
                served["vectara_agent_events"][event["id"]] = {**event, "agent_key": agent}
    return served


def _utc(epoch) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def _odd_polyai_records(served: list) -> list:
    unicode_record, nulls_record = copy.deepcopy(served[0]), copy.deepcopy(served[1])
    unicode_record["turns"] = [
        dict(unicode_record["turns"][0], user_input=text, agent_response=text) for text in TEXTS.values()
    ]
    unicode_record["state"] = dict(TEXTS)
    unicode_record["to_number"] = ALL_TEXT
    # Top-level nulls (optional fields the API left empty) and a nested one; two optional fields missing.
    nulls_record.update(from_number=None, total_duration=None, handoff_reason=None, variant_name=None)
    nulls_record["metrics"] = {"CSAT": None, "LANGUAGE": "en-GB"}
    del nulls_record["handoff_destination"], nulls_record["num_ood"]
    return [unicode_record, nulls_record]


def _odd_vectara_records(served: list, text_fields: tuple) -> list:
    unicode_record, nulls_record = copy.deepcopy(served[0]), copy.deepcopy(served[1])
    unicode_record[text_fields[0]], unicode_record[text_fields[1]] = ALL_TEXT, TEXTS["crlf_cr_lf"]
    nulls_record[text_fields[1]] = None
    del nulls_record["enabled"]
    return [unicode_record, nulls_record]


def _served_as_is(ctx: Context, profile: Profile) -> Outcome:
    """Two syncs: the fake's own data, then one page of hand-made odd records per API (one PolyAI project,
    one window: its first page; Vectara's first list page)."""
    server = ctx.serve()
    config = config_for(server, profile, 20)
    plain = ctx.read(config, debug=True, name="plain")
    served = _served(server, config)
    truth = Truth(server, config, now=plain.started)
    odd_config = config_for(server, profile, 20, polyai={"window_days": 3650, "project_ids": ONE_PROJECT})
    polyai_odd = _odd_polyai_records(
        server.polyai_records(project_id=ONE_PROJECT[0], in_progress=False, version=profile.polyai)
    )
    body = polyai_v3_page(polyai_odd) if profile.polyai == "v3" else polyai_page(polyai_odd)
    server.inject(Fault("polyai", status=200, body=body, match={"page": 2}))  # request 1 asks where the hold starts
    if profile.vectara == "v1":
        vectara_odd = _odd_vectara_records(server.vectara_records(), ("query", "answer"))
        server.inject(Fault("vectara", status=200, body=vectara_page(vectara_odd), times=None, match={"pageKey": ""}))
    else:
        vectara_odd = _odd_vectara_records(server.vectara_chats(), ("first_query", "first_answer"))
        server.inject(
            Fault(
                "vectara_chats",
                status=200,
                body={"chats": vectara_odd, "metadata": {}},
                times=None,
                match={"page_key": ""},
            )
        )
    odd = ctx.read(odd_config, name="odd")
    return Outcome(
        server=server, truth=truth, served=served, plain=plain, odd=odd, polyai_odd=polyai_odd, vectara_odd=vectara_odd
    )


VECTARA_LIST = {"v1": "vectara_conversations", "v2": "vectara_chats"}


@pytest.mark.parametrize("profile", PROFILES, ids=str)
@uses(_served_as_is)
def test_given_the_fakes_data_when_read_then_every_record_of_every_stream_is_emitted_exactly_as_served(
    outcome: Outcome, profile: Profile
) -> None:
    run = outcome.plain
    assert_succeeded(run)
    assert any(
        value is None for record in outcome.served["polyai_conversations"].values() for value in record.values()
    ), "no top-level null to check"
    for stream, served in outcome.served.items():
        assert_delivered_exactly([run], stream, outcome.truth)
        keys = run.ids(stream)
        emitted = dict(zip(keys, run.records(stream), strict=True))
        different = [pk for pk in emitted if emitted[pk] != served[pk]]
        assert not different, (
            f"{len(different)} {stream} records differ from what the API sent, e.g. {different[0]}: {emitted[different[0]]} != {served[different[0]]}"
        )
    assert_no_secrets(run.output, server_secrets(outcome.server))


@pytest.mark.parametrize("profile", PROFILES, ids=str)
@uses(_served_as_is)
def test_given_unicode_emoji_rtl_and_crlf_when_read_then_they_survive_byte_for_byte(
    outcome: Outcome, profile: Profile
) -> None:
    run = outcome.odd
    assert_succeeded(run)
    polyai = {r["id"]: r for r in run.records("polyai_conversations")}
    sent = outcome.polyai_odd[0]
    assert polyai[sent["id"]] == sent
    assert polyai[sent["id"]]["state"] == TEXTS
    vectara = {r["id"]: r for r in run.records(VECTARA_LIST[profile.vectara])}
    sent_v = outcome.vectara_odd[0]
    assert {k: v for k, v in vectara[sent_v["id"]].items() if k != "created_at" or "created_at" in sent_v} == sent_v
    # On the wire: one message per line (CR and LF inside strings are escaped), every line valid JSON.
    assert all(json.loads(line) for line in run.stdout.split("\n") if line.startswith("{"))


@pytest.mark.parametrize("profile", PROFILES, ids=str)
@uses(_served_as_is)
def test_given_nulls_and_missing_optional_fields_when_read_then_nulls_stay_null_and_missing_stay_missing(
    outcome: Outcome, profile: Profile
) -> None:
    run = outcome.odd
    polyai = {r["id"]: r for r in run.records("polyai_conversations")}
    sent = outcome.polyai_odd[1]
    got = polyai[sent["id"]]
    for field in ("from_number", "total_duration", "handoff_reason", "variant_name"):
        assert field in got and got[field] is None, f"top-level null {field} was dropped or changed"
    assert got["metrics"] == {"CSAT": None, "LANGUAGE": "en-GB"}
    assert "handoff_destination" not in got and "num_ood" not in got, "a missing field must not be invented"
    assert got == sent
    vectara = {r["id"]: r for r in run.records(VECTARA_LIST[profile.vectara])}
    sent_v = outcome.vectara_odd[1]
    answer = "answer" if profile.vectara == "v1" else "first_answer"
    assert answer in vectara[sent_v["id"]] and vectara[sent_v["id"]][answer] is None
    assert "enabled" not in vectara[sent_v["id"]]


# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------

TRANSCRIPT_MB = 8
MARKER = "transcript-start-7c1e0f52a9b34d6e "
MEMORY_FACTOR = 30  # peak RSS may grow by at most this many times the payload (measured: ~9x for a page, ~20x for one 8 MB transcript)
POLYAI_ONLY = Profile("v3", None)


def _big_payloads(ctx: Context) -> Outcome:
    small = ctx.serve()
    one_window = {"window_days": 3650, "project_ids": ONE_PROJECT}
    baseline = ctx.read_measuring_memory(
        config_for(small, POLYAI_ONLY, 8, polyai=one_window), ["polyai_conversations"], "baseline"
    )

    # The largest page a user can ask for: v1 and page_size 4999.
    huge = ctx.serve(polyai_projects={"PROJECT-alpha": 5000}, polyai_spacing_seconds=1)
    page = huge.polyai_records(project_id="PROJECT-alpha")
    config = config_for(huge, Profile("v1", None), 8, polyai={**one_window, "page_size": 4999})
    huge_page = ctx.read_measuring_memory(config, ["polyai_conversations"], "huge")
    page_bytes = len(json.dumps(polyai_page(page[:4999])).encode())

    big = copy.deepcopy(small.polyai_records(project_id=ONE_PROJECT[0], in_progress=False, version="v3")[0])
    unit = "A caller said: ¿Dónde está mi pedido? 📦 Then waited.\r\n"
    transcript = MARKER + unit * (TRANSCRIPT_MB * 1024 * 1024 // len(unit.encode()))
    big["turns"] = [dict(big["turns"][0], user_input=transcript, agent_response="ok")]
    small.inject(Fault("polyai", status=200, body=polyai_v3_page([big]), match={"page": 2}))
    big_record = ctx.read_measuring_memory(
        config_for(small, POLYAI_ONLY, 8, polyai=one_window), ["polyai_conversations"], "transcript"
    )
    return Outcome(
        baseline=baseline,
        huge=huge,
        huge_page=huge_page,
        page_bytes=page_bytes,
        page=page,
        big=big,
        transcript=transcript,
        big_record=big_record,
        truth=Truth(huge, config),
    )


@uses(_big_payloads)
def test_given_a_huge_page_when_read_then_every_record_arrives_and_peak_memory_stays_bounded(outcome: Outcome) -> None:
    run = outcome.huge_page
    assert_succeeded(run)
    assert_delivered_exactly([run], "polyai_conversations", outcome.truth)
    growth = run.peak_rss_mb - outcome.baseline.peak_rss_mb
    allowed = MEMORY_FACTOR * outcome.page_bytes / 2**20
    assert growth < allowed, (
        f"a {outcome.page_bytes / 2**20:.1f} MB page raised peak RSS by {growth:.0f} MB (> {allowed:.0f} MB)"
    )


@uses(_big_payloads)
def test_given_a_record_with_a_multi_megabyte_transcript_when_read_then_it_arrives_intact_with_bounded_memory(
    outcome: Outcome,
) -> None:
    run = outcome.big_record
    assert_succeeded(run)
    [record] = run.records("polyai_conversations")
    assert record["turns"][0]["user_input"] == outcome.transcript
    assert record == outcome.big
    growth = run.peak_rss_mb - outcome.baseline.peak_rss_mb
    allowed = MEMORY_FACTOR * TRANSCRIPT_MB
    assert growth < allowed, f"an {TRANSCRIPT_MB} MB transcript raised peak RSS by {growth:.0f} MB (> {allowed} MB)"
    # The transcript is data, not log material: it appears in its RECORD and nowhere else.
    assert run.output.count(MARKER) == 1
