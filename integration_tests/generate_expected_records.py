"""Writes `integration_tests/expected_records*.jsonl`: the records a sync of each sample config returns.

Regenerate (from the repository root, with the dev environment's Python):

    python -m integration_tests.generate_expected_records           # rewrite the files
    python -m integration_tests.generate_expected_records --check   # exit 1 if one is out of date

The records come from the fake API server's ground truth, not from running the connector, so
`test_acceptance_files.py` really compares the connector's output with an independent expectation.
They are the seeded dataset of `fixtures_standard.py` (two PolyAI projects, Vectara conversations
and chats, two agents; data anchored at a fixed instant), which the tests serve on 127.0.0.1:18765,
so the files are the same on every machine and every day. No server is started: the dataset is
generated in memory.

Two acceptance sets, one per generation of the vendors' APIs (:data:`ACCEPTANCE_SETS`):

* `sample_config.json` (PolyAI v3, Vectara v2 with the Agents API) -> `expected_records.jsonl`;
* `sample_config_v1.json` (PolyAI v1, Vectara REST v1) -> `expected_records_v1.jsonl`.

What a first sync of a sample config returns, per stream (the connector's rules, from its manifest):

* `polyai_conversations`: each configured project's finished `live` conversations (the default
  `client_env`), exactly as the config's API version serves them, that started at or after
  `start_date` (the first window's `start_time` is inclusive);
* `vectara_chats` / `vectara_conversations`: every chat (v2) or conversation's first turn (v1) made at
  or after `start_date` (the configured start date itself is included), as served; v1 records get the
  connector's derived field `created_at` (`epochSecs` as an ISO 8601 UTC date-time, whole seconds);
* `vectara_chat_turns` / `vectara_turns`: every turn, as served (v1 with `created_at`), of the chats
  or conversations above (the parent stream gives the partitions, so a turn of an older chat is not
  read), made at or after `start_date`;
* `vectara_agent_sessions`: every agent's sessions made at or after `start_date`, as served (each
  carries its `agent_key`);
* `vectara_agent_events`: the events (hidden ones left out, the default) of the sessions above, made at
  or after `start_date`, with the `agent_key` the connector adds.

The end of every window (now, or one second before the sync began) is after all of the data.

Each line is `{"stream", "data", "emitted_at"}` as in Airbyte's expected-records files; `emitted_at` is
fixed (the dataset's end, in milliseconds) and is not compared.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

from fake_api import FakeApiServer
from fake_api.data import to_epoch_us
from integration_tests.fixtures_standard import DATA_END, build_server
from source_conversations import registry

HERE = Path(__file__).resolve().parent
EMITTED_AT = to_epoch_us(DATA_END) // 1000


@dataclass(frozen=True)
class AcceptanceSet:
    """The files of one acceptance-test scenario: a config, its catalog, a far-future state, its records."""

    name: str
    config: Path
    catalog: Path
    abnormal_state: Path
    expected_records: Path

    def load_config(self) -> dict[str, Any]:
        return json.loads(self.config.read_text(encoding="utf-8"))


ACCEPTANCE_SETS = (
    AcceptanceSet(
        "v3-v2",
        HERE / "sample_config.json",
        HERE / "configured_catalog.json",
        HERE / "abnormal_state.json",
        HERE / "expected_records.jsonl",
    ),
    AcceptanceSet(
        "v1-v1",
        HERE / "sample_config_v1.json",
        HERE / "configured_catalog_v1.json",
        HERE / "abnormal_state_v1.json",
        HERE / "expected_records_v1.jsonl",
    ),
)

# The settings the rules above model. Any other setting (a channel filter, hidden events, a variant...)
# changes what a sync returns, so the generator refuses a config that sets one instead of ignoring it.
MODELLED_SETTINGS = {
    "": {"start_date", "polyai", "vectara"},
    "polyai": {"api_version", "api_key", "account_id", "project_ids", "base_url"},
    "vectara": {"api_version", "customer_id", "base_url", "credentials", "sync_agents"},
}


def _check_modelled(config: Mapping[str, Any]) -> None:
    for section, allowed in MODELLED_SETTINGS.items():
        settings = config if not section else config.get(section) or {}
        unknown = set(settings) - allowed
        if unknown:
            where = f"`{section}`" if section else "the top level"
            raise ValueError(f"the generator does not model {sorted(unknown)} in {where} of the config")


def created_at(epoch_secs: Any) -> str:
    """`created_at` as the connector derives it from `epochSecs` (a JSON string or number)."""
    return datetime.fromtimestamp(int(epoch_secs), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _us(value: Any) -> int:
    return to_epoch_us(str(value).replace("Z", "+00:00"))


class _Expectation:
    """The expected records of each stream, for one config against the fake's ground truth."""

    def __init__(self, server: FakeApiServer, config: Mapping[str, Any]) -> None:
        _check_modelled(config)
        self.server = server
        self.config = config
        self.start_us = _us(config["start_date"])

    def _since_start(self, moment_us: int) -> bool:
        return moment_us >= self.start_us

    # ---- PolyAI ----

    def polyai_conversations(self) -> Iterator[dict]:
        polyai = self.config["polyai"]
        for project in polyai["project_ids"]:
            records = self.server.polyai_records(
                in_progress=False, client_env="live", project_id=project, version=polyai["api_version"]
            )
            yield from (record for record in records if self._since_start(_us(record["started_at"])))

    # ---- Vectara REST v1 ----

    def _v1_conversations(self) -> list[dict]:
        return [turn for turn in self.server.vectara_records() if self._since_start(int(turn["epochSecs"]) * 1_000_000)]

    def vectara_conversations(self) -> Iterator[dict]:
        for turn in self._v1_conversations():
            yield {**turn, "created_at": created_at(turn["epochSecs"])}

    def vectara_turns(self) -> Iterator[dict]:
        for conversation in self._v1_conversations():
            for turn in self.server.vectara_conversation(conversation["id"])["turn"]:
                if self._since_start(int(turn["epochSecs"]) * 1_000_000):
                    yield {**turn, "created_at": created_at(turn["epochSecs"])}

    # ---- Vectara v2 chats ----

    def vectara_chats(self) -> Iterator[dict]:
        yield from (chat for chat in self.server.vectara_chats() if self._since_start(_us(chat["created_at"])))

    def vectara_chat_turns(self) -> Iterator[dict]:
        for chat in self.vectara_chats():
            turns = self.server.vectara_chat_turns(chat["id"])
            yield from (turn for turn in turns if self._since_start(_us(turn["created_at"])))

    # ---- Vectara Agents API ----

    def vectara_agent_sessions(self) -> Iterator[dict]:
        for agent_key in self.server.vectara_agent_keys():
            for session in self.server.vectara_sessions(agent_key):
                if self._since_start(_us(session["created_at"])):
                    yield {**session, "agent_key": session.get("agent_key") or agent_key}

    def vectara_agent_events(self) -> Iterator[dict]:
        for session in self.vectara_agent_sessions():
            for event in self.server.vectara_events(session["agent_key"], session["key"]):
                if self._since_start(_us(event["created_at"])):
                    yield {**event, "agent_key": session["agent_key"]}

    def of(self, stream: str) -> Callable[[], Iterator[dict]]:
        rule = getattr(self, stream, None)
        if rule is None:
            raise NotImplementedError(f"no expected-records rule for stream {stream}: add one to {__file__}")
        return rule


def expected_records(config: Mapping[str, Any], server: Optional[FakeApiServer] = None) -> Iterator[dict[str, Any]]:
    """The expected record messages of `config`: the streams `discover` lists for it, in the manifest's
    order, each stream's records in the API's order."""
    expectation = _Expectation(server or build_server(), config)
    for stream in registry.streams_for(config):
        for record in expectation.of(stream)():
            yield {"stream": stream, "data": record, "emitted_at": EMITTED_AT}


def render(acceptance_set: AcceptanceSet) -> str:
    """The file's content: one JSON object per line, keys in the API's order, UTF-8 kept as is."""
    lines = expected_records(acceptance_set.load_config())
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m integration_tests.generate_expected_records", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for acceptance_set in ACCEPTANCE_SETS:
        path = acceptance_set.expected_records
        content = render(acceptance_set)
        if args.check:
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current != content:
                stale.append(path)
                print(
                    f"{path} is out of date: run python -m integration_tests.generate_expected_records", file=sys.stderr
                )
            else:
                print(f"{path} is up to date ({content.count(chr(10))} records)")
            continue
        path.write_text(content, encoding="utf-8")
        print(f"wrote {content.count(chr(10))} records to {path}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
