"""Writes `integration_tests/expected_records.jsonl`: the records a sync of sample_config.json returns.

Regenerate (from the repository root, with the dev environment's Python):

    python -m integration_tests.generate_expected_records           # rewrite the file
    python -m integration_tests.generate_expected_records --check   # exit 1 if it is out of date

The records come from the fake API server's ground truth, not from running the connector, so
`test_acceptance_files.py` really compares the connector's output with an independent expectation.
They are the seeded dataset of `fixtures_standard.py` (seed 42, 20 conversations per vendor, data
anchored at a fixed instant), which the tests serve on 127.0.0.1:18765, so the file is the same on
every machine and every day. No server is started: the dataset is generated in memory.

What a sync of `sample_config.json` returns, per stream:

* `polyai_conversations`: the finished `live` conversations (the connector's default `client_env`),
  exactly as the API serves them, in `started_at` order;
* `vectara_conversations`: every conversation's first turn, as served, in listing order, plus the
  connector's derived field `created_at` (`epochSecs` as an ISO 8601 UTC date-time, whole seconds).

Each line is `{"stream", "data", "emitted_at"}` as in Airbyte's expected-records files; `emitted_at` is
fixed (the dataset's end, in milliseconds) and is not compared.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from fake_api.data import to_epoch_us
from integration_tests.fixtures_standard import DATA_END, START_DATE, build_server

OUTPUT = Path(__file__).resolve().with_name("expected_records.jsonl")
EMITTED_AT = to_epoch_us(DATA_END) // 1000


def created_at(epoch_secs: Any) -> str:
    """`created_at` as the connector derives it from `epochSecs` (a JSON string or number)."""
    return datetime.fromtimestamp(int(epoch_secs), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_records() -> Iterator[dict[str, Any]]:
    """The expected record messages, PolyAI first, each stream in the API's order."""
    server = build_server()
    start_us = to_epoch_us(START_DATE)
    for record in server.polyai_records(in_progress=False, client_env="live"):
        if to_epoch_us(record["started_at"]) >= start_us:
            yield {"stream": "polyai_conversations", "data": record, "emitted_at": EMITTED_AT}
    for turn in server.vectara_records():
        if int(turn["epochSecs"]) * 1_000_000 > start_us:
            yield {"stream": "vectara_conversations", "data": {**turn, "created_at": created_at(turn["epochSecs"])}, "emitted_at": EMITTED_AT}


def render() -> str:
    """The file's content: one JSON object per line, keys in the API's order, UTF-8 kept as is."""
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in expected_records())


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m integration_tests.generate_expected_records", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the file is out of date")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    args = parser.parse_args(argv)
    content = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != content:
            print(f"{args.output} is out of date: run python -m integration_tests.generate_expected_records", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(content, encoding="utf-8")
    print(f"wrote {content.count(chr(10))} records to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
