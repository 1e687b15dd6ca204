"""The warehouse demo: ``python -m demo [--config FILE]`` (``bash scripts/demo.sh`` installs it, then runs this).

Without ``--config``: starts the project's fake API with a few thousand conversations, some in progress,
runs ``check`` and ``discover`` with the installed console script, loads both streams into DuckDB through
PyAirbyte, then adds conversations and finishes the in-progress ones, and runs an incremental sync that
must read exactly those. Every figure is checked against the fake API's ground truth; the exit status is
1 when one is off.

With ``--config FILE``: the same against your own accounts, without the fake API and the data change.
The DuckDB file is kept between runs, so running it again is an incremental sync (``--fresh`` starts over).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from demo import warehouse
from demo.warehouse import POLYAI, STREAMS, TIMESTAMP_COLUMNS, VECTARA

EXIT_MISMATCH = 1
EXIT_CONNECTOR_FAILED = 2


class Stopped(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so every ``finally`` (the fake API, DuckDB) still runs."""


_signal_received: Optional[int] = None
"""The first SIGINT/SIGTERM. Whatever exception then ends the run (KeyboardInterrupt, or DuckDB's
"Query interrupted", or a connector killed by the same Ctrl-C) is reported as that interruption."""


def _on_signal(signum: int, frame: Any) -> None:
    global _signal_received
    if _signal_received is None:
        _signal_received = signum
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Stopped(signum)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bash scripts/demo.sh",
        description="Load PolyAI and Vectara conversations into a local DuckDB file through PyAirbyte.",
    )
    parser.add_argument("--config", type=Path, help="your connector config (JSON); default: the fake API")
    parser.add_argument(
        "--db",
        type=Path,
        help="DuckDB file (default: .local/demo/conversations.duckdb, "
        "or .local/demo/<config name>.duckdb with --config)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="with --config: delete the DuckDB file first (the fake API run always starts from an empty file)",
    )
    fake = parser.add_argument_group("fake API data")
    fake.add_argument("--polyai", type=int, default=3000, help="PolyAI conversations, all environments (3000)")
    fake.add_argument("--vectara", type=int, default=2000, help="Vectara conversations (2000)")
    fake.add_argument("--in-progress", type=int, default=20, help="newest PolyAI conversations still in progress (20)")
    fake.add_argument(
        "--add-polyai", type=int, default=250, help="PolyAI conversations added before the 2nd sync (250)"
    )
    fake.add_argument(
        "--add-vectara", type=int, default=150, help="Vectara conversations added before the 2nd sync (150)"
    )
    parser.add_argument("--samples", type=int, default=3, help="sample rows shown per stream (3)")
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=10.0,
        help="seconds between 'still loading' lines when stdout is not a terminal (10)",
    )
    return parser


class Report:
    """Prints the demo's steps and remembers every check that failed."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.step_number = 0
        self.failures: List[str] = []
        self.started = time.monotonic()

    def step(self, title: str) -> None:
        self.step_number += 1
        print(f"\n[{self.step_number}/{self.steps}] {title}", flush=True)

    def line(self, text: str = "") -> None:
        print(f"      {text}" if text else "", flush=True)

    def check(self, ok: bool, text: str) -> bool:
        self.line(f"{'OK  ' if ok else 'FAIL'} {text}")
        if not ok:
            self.failures.append(text)
        return ok


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _moment(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
            return value.strftime("%Y-%m-%d %H:%M:%SZ")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "-" if value is None else str(value)


def _text(value: Optional[str], width: int = 60) -> str:
    if not value:
        return "-"
    flat = " ".join(value.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _run_cli(command: str, config: Optional[Dict[str, Any]], config_path: Optional[Path]) -> Any:
    from integration_tests.harness import run_connector

    workdir = warehouse.DEMO_DIR / "cli"
    if config is None:  # spec
        return run_connector(command, workdir)
    if config_path is not None:  # the user's file as it is: its secrets are not copied anywhere
        return run_connector(command, workdir, extra_args=["--config", str(config_path)])
    return run_connector(command, workdir, config=config)


def _print_table(report: Report, cache: Any, stream: str, loads: Dict[str, warehouse.StreamLoad], samples: int) -> None:
    counts = warehouse.table_counts(cache, stream)
    load = loads[stream]
    column = TIMESTAMP_COLUMNS[stream]
    report.line(
        f"{stream}: {load.records_read:,} records read in {_seconds(load.seconds)}; table has "
        f"{counts.rows:,} rows, {counts.distinct_ids:,} distinct ids; {column} is "
        f"{warehouse.column_types(cache, stream).get(column, 'missing')}"
    )
    for row_id, moment, text in warehouse.sample_rows(cache, stream, samples):
        report.line(f"  {row_id}  {_moment(moment)}  {_text(text)}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    fake = args.config is None
    report = Report(steps=7 if fake else 5)
    pyairbyte_settings = warehouse.configure_pyairbyte()
    # On a terminal PyAirbyte draws a live progress panel; elsewhere (a log, CI) it prints one line per
    # finished sync, so the demo prints "still loading" lines instead.
    live_progress = "NO_LIVE_PROGRESS" not in os.environ and "CI" not in os.environ
    heartbeat = 0.0 if live_progress else args.heartbeat

    server = None
    cache = None
    streams: List[str] = []
    try:
        # 1. The data: the fake API, or the user's config.
        if fake:
            report.step(
                f"Fake API: {args.polyai:,} PolyAI + {args.vectara:,} Vectara conversations, "
                f"the newest {args.in_progress} PolyAI ones still in progress"
            )
            server = warehouse.start_fake_server(args.polyai, args.vectara, args.in_progress)
            config = server.config()
            truth = warehouse.ground_truth(server)
            report.line(f"serving on {server.base_url}")
            report.line(
                f"to load: {truth[POLYAI]:,} finished PolyAI conversations (client_env live), "
                f"{truth[VECTARA]:,} Vectara conversations"
            )
            config_path = None
            db_path = args.db or warehouse.DEFAULT_DB_PATH
        else:
            config_path = args.config.resolve()
            report.step(f"Your config: {config_path}")
            config = json.loads(config_path.read_text(encoding="utf-8"))
            truth = {}
            db_path = args.db or warehouse.DEMO_DIR / f"{config_path.stem}.duckdb"

        # 2. spec, check and discover, with the installed console script.
        report.step("spec, check and discover, with the installed console script")
        started = time.monotonic()
        specs = _run_cli("spec", None, None).of_type("SPEC")
        if not specs:
            report.check(False, "spec printed no SPEC message")
            return EXIT_CONNECTOR_FAILED
        properties = specs[0]["spec"]["connectionSpecification"]["properties"]
        report.check(True, f"spec: settings {', '.join(properties)} ({_seconds(time.monotonic() - started)})")
        started = time.monotonic()
        check = _run_cli("check", config, config_path)
        status = check.of_type("CONNECTION_STATUS")
        if not status or status[-1]["connectionStatus"]["status"] != "SUCCEEDED":
            message = (
                status[-1]["connectionStatus"].get("message") if status else (check.errors() or check.stderr[-2000:])
            )
            report.check(False, f"check: {message}")
            return EXIT_CONNECTOR_FAILED
        report.check(True, f"check succeeded ({_seconds(time.monotonic() - started)})")
        started = time.monotonic()
        discover = _run_cli("discover", config, config_path)
        catalogs = discover.of_type("CATALOG")
        if not catalogs:
            report.check(False, f"discover: {discover.errors() or discover.stderr[-2000:]}")
            return EXIT_CONNECTOR_FAILED
        discovered = catalogs[0]["catalog"]["streams"]
        report.check(True, f"discover found {len(discovered)} stream(s) ({_seconds(time.monotonic() - started)}):")
        for stream in discovered:
            report.line(
                f"  {stream['name']}: primary key {stream.get('source_defined_primary_key')}, "
                f"cursor {stream.get('default_cursor_field')}, modes {stream.get('supported_sync_modes')}"
            )
        streams = [name for name in STREAMS if name in {stream["name"] for stream in discovered}]

        # 3. First load.
        report.step(f"Load into DuckDB through PyAirbyte: {db_path}")
        started = time.monotonic()
        report.line("importing PyAirbyte (about 10 s)...")
        source = warehouse.get_source(config)
        cache = warehouse.duckdb_cache(db_path, fresh=fake or args.fresh)
        report.line(f"PyAirbyte ready ({_seconds(time.monotonic() - started)}); loading {', '.join(streams)}")

        def progress(stream: str, elapsed: float) -> str:
            served = f", the fake API has served {server.served()['records']:,} records so far" if server else ""
            return f"      ... still loading {stream}: {elapsed:.0f} s{served}"

        loads = warehouse.load_streams(source, cache, streams, heartbeat_seconds=heartbeat, progress=progress)
        report.step("First sync: what landed" if fake else "What landed (an incremental sync if the file held a state)")
        for stream in streams:
            _print_table(report, cache, stream, loads, args.samples)
        for stream in streams:
            counts = warehouse.table_counts(cache, stream)
            if stream in truth:
                report.check(
                    counts.rows == truth[stream] == counts.distinct_ids,
                    f"{stream}: {counts.rows:,} rows = {truth[stream]:,} on the fake API, ids unique",
                )

        if fake:
            # 4. Change the data, then an incremental sync.
            report.step(
                f"Change the data: add {args.add_polyai} PolyAI and {args.add_vectara} Vectara conversations, "
                "finish the in-progress ones"
            )
            before = {stream: warehouse.last_loaded_at(cache, stream) for stream in streams}
            change = warehouse.change_data(server, args.add_polyai, args.add_vectara)
            truth = warehouse.ground_truth(server)
            report.line(
                f"finished {change.finished_all_environments} in-progress PolyAI conversations, "
                f"{len(change.finished)} of them in client_env live (the one the connector reads)"
            )
            report.line(
                f"an incremental sync should read: {POLYAI} {change.expected_reads[POLYAI]:,} "
                f"({len(change.added[POLYAI])} new + {len(change.finished)} finished), "
                f"{VECTARA} {change.expected_reads[VECTARA]:,} (new)"
            )

            report.step("Second sync, incremental (PyAirbyte passes the state saved in the DuckDB file)")
            second = warehouse.load_streams(source, cache, streams, heartbeat_seconds=heartbeat, progress=progress)
            for stream in streams:
                expected = change.expected_reads[stream]
                load = second[stream]
                report.check(
                    load.records_read == expected,
                    f"{stream}: read {load.records_read:,} records in {_seconds(load.seconds)}, expected {expected:,}",
                )
                written = warehouse.ids_loaded_after(cache, stream, before[stream])
                report.check(
                    sorted(written) == sorted(change.expected_ids(stream)),
                    f"{stream}: the rows it wrote are exactly the new/finished conversations ({len(written):,})",
                )

            report.step("One row per conversation: SELECT count(*), count(DISTINCT id)")
            for stream in streams:
                counts = warehouse.table_counts(cache, stream)
                report.check(
                    counts.rows == counts.distinct_ids == truth[stream],
                    f"{stream}: {counts.rows:,}, {counts.distinct_ids:,} (fake API: {truth[stream]:,})",
                )
            for stream in streams:
                for row_id, moment, text in warehouse.sample_rows(cache, stream, 1):
                    report.line(f"newest {stream}: {row_id}  {_moment(moment)}  {_text(text)}")
        else:
            report.step("Summary")
            for stream in streams:
                counts = warehouse.table_counts(cache, stream)
                report.check(
                    counts.rows == counts.distinct_ids,
                    f"{stream}: {counts.rows:,} rows, {counts.distinct_ids:,} distinct ids",
                )
    except BaseException:
        if _signal_received is None:
            raise
        name = "Ctrl-C" if _signal_received == signal.SIGINT else signal.Signals(_signal_received).name
        print(f"\nInterrupted ({name}): stopping.", file=sys.stderr, flush=True)
        return 128 + _signal_received
    finally:
        if cache is not None:
            cache.close()
        if server is not None:
            server.stop()
            print("Fake API stopped.", flush=True)
        warehouse.remove_temporary_files(pyairbyte_settings)

    elapsed = _seconds(time.monotonic() - report.started)
    if report.failures:
        print(f"\n{len(report.failures)} check(s) failed ({elapsed}):", flush=True)
        for failure in report.failures:
            print(f"  - {failure}")
        return EXIT_MISMATCH
    example = (
        "SELECT channel, count(*) FROM polyai_conversations GROUP BY 1"
        if POLYAI in streams
        else "SELECT count(*), max(created_at) FROM vectara_conversations"
    )
    print(f"\nDone in {elapsed}. The tables are in {db_path}; for example:", flush=True)
    print(
        f"  .venv/bin/python -c \"import duckdb; db = duckdb.connect('{_relative(db_path)}', read_only=True); "
        f"db.sql('{example}').show()\""
    )
    return 0


def _relative(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(warehouse.PROJECT_ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
