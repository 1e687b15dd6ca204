"""The invariant checks themselves, on hand-made message sequences: a check that could never fail would make
every scenario of the suite pass for nothing. No connector run here."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Dict, List

import pytest

from integration_tests.reliability.invariants import (
    Item,
    Truth,
    assert_delivered_exactly,
    assert_state_never_passes_unemitted,
    micros,
)

T0 = "2026-01-01T00:00:00Z"


def _at(minutes: int) -> str:
    return f"2026-01-01T{minutes // 60:02d}:{minutes % 60:02d}:00.000000Z"


def _truth(items: Dict[str, List[Item]], lookback_days: int = 0) -> Truth:
    truth = Truth.__new__(Truth)
    truth.config = {"start_date": T0, "vectara": {"turns_lookback_days": lookback_days}}
    truth.items = items
    truth.by_pk = {stream: {item.pk: item for item in found} for stream, found in items.items()}
    return truth


def _run(*messages: dict) -> SimpleNamespace:
    def ids(stream: str) -> List[str]:
        return [
            m["record"]["data"]["id"] for m in messages if m["type"] == "RECORD" and m["record"]["stream"] == stream
        ]

    return SimpleNamespace(messages=list(messages), ids=ids)


def _record(stream: str, **data) -> dict:
    return {"type": "RECORD", "record": {"stream": stream, "data": data}}


def _state(stream: str, blob: dict) -> dict:
    return {"type": "STATE", "state": {"stream": {"stream_descriptor": {"name": stream}, "stream_state": blob}}}


CHATS = [Item("c1", micros(_at(10))), Item("c2", micros(_at(20)))]


def test_given_a_state_past_a_record_not_emitted_yet_when_checked_then_it_fails() -> None:
    truth = _truth({"vectara_chats": CHATS})
    fine = _run(_record("vectara_chats", id="c1"), _state("vectara_chats", {"created_at": _at(10)}))
    assert assert_state_never_passes_unemitted(fine, "vectara_chats", truth) == 1
    early = _run(_state("vectara_chats", {"created_at": _at(10)}), _record("vectara_chats", id="c1"))
    with pytest.raises(AssertionError, match="passes 1 record"):
        assert_state_never_passes_unemitted(early, "vectara_chats", truth)


def test_given_per_partition_states_when_checked_then_each_partition_is_held_to_its_own_records() -> None:
    items = [Item("A/a1", micros(_at(10)), partition="A"), Item("B/b1", micros(_at(5)), partition="B")]
    truth = _truth({"polyai_conversations": items})
    states = {"states": [{"partition": {"project_id": "A"}, "cursor": {"started_at": _at(10)}}]}
    fine = _run(_record("polyai_conversations", project_id="A", id="a1"), _state("polyai_conversations", states))
    assert_state_never_passes_unemitted(fine, "polyai_conversations", truth)  # B's older record: B has no state
    states["states"].append({"partition": {"project_id": "B"}, "cursor": {"started_at": _at(5)}})
    with pytest.raises(AssertionError, match="B/b1"):
        assert_state_never_passes_unemitted(_run(_state("polyai_conversations", states)), "polyai_conversations", truth)


def test_given_a_parent_state_past_a_parent_whose_turns_were_not_emitted_when_checked_then_it_fails() -> None:
    turns = [Item("t1", micros(_at(11)), parent="c1"), Item("t2", micros(_at(21)), parent="c2")]
    truth = _truth({"vectara_chats": CHATS, "vectara_chat_turns": turns})
    # The child's own cursor is behind both turns, but the parent state has left chat c1 behind.
    blob = {"use_global_cursor": True, "parent_state": {"vectara_chats": {"created_at": _at(15)}}}
    with pytest.raises(AssertionError, match="t1"):
        assert_state_never_passes_unemitted(_run(_state("vectara_chat_turns", blob)), "vectara_chat_turns", truth)
    # With a day of look-back, chat c1 will be read again: nothing is passed yet.
    assert_state_never_passes_unemitted(
        _run(_state("vectara_chat_turns", blob)), "vectara_chat_turns", _truth(truth.items, lookback_days=1)
    )


def test_given_records_missing_held_or_invented_when_delivery_is_checked_then_it_fails() -> None:
    items = [Item("A/a1", 1, partition="A"), Item("A/a2", 2, partition="A", held=True)]
    truth = _truth({"polyai_conversations": items})

    def run(*ids: str) -> SimpleNamespace:
        return SimpleNamespace(ids=lambda stream: list(ids))

    assert_delivered_exactly([run("A/a1", "A/a1")], "polyai_conversations", truth)  # duplicates are allowed
    for wrong, message in (
        (run(), "never arrived"),
        (run("A/a1", "A/a2"), "hold back"),
        (run("A/a1", "A/zz"), "does not serve"),
    ):
        with pytest.raises(AssertionError, match=message):
            assert_delivered_exactly([wrong], "polyai_conversations", truth)
