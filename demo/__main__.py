"""The warehouse demo: ``python -m demo [--config FILE]`` (``bash scripts/demo.sh`` installs it, then runs this).

Without ``--config``: starts the project's fake API (PolyAI v3 with 3 projects, some conversations in
progress; Vectara v2 chats with their turns, and the Agents API's sessions and events), runs ``spec``,
``check`` and ``discover`` with the installed console script, loads every stream into DuckDB through
PyAirbyte and prints a whole conversation of each vendor. Then it changes the data (new conversations in
every project, the in-progress ones finished, turns appended to an old chat, events to an old session,
new chats and sessions) and runs an incremental sync that must read exactly those. Every figure is
checked against the fake API's ground truth; the exit status is 1 when one is off.
``--polyai-version v1 --vectara-version v1`` runs the same against the older APIs.

With ``--config FILE``: the same against your own accounts, without the fake API and the data change.
The DuckDB file is kept between runs, so running it again is an incremental sync (``--fresh`` starts over).

Nothing is imported from the connector, the CDK or PyAirbyte before the options are parsed, so ``--help``
works with any Python 3.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

from demo import warehouse
from demo.warehouse import EVENTS, POLYAI, SESSIONS, FakeScenario, FakeSizes

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


def _quiet_after_signal() -> None:
    """Once Ctrl-C or SIGTERM arrived, the fake API no longer prints the traceback of each connection the
    interrupted connector dropped (``socketserver`` prints one per reset connection). This process only."""
    import socketserver

    original = socketserver.BaseServer.handle_error

    def handle_error(self: Any, request: Any, client_address: Any) -> None:
        if _signal_received is None:
            original(self, request, client_address)

    socketserver.BaseServer.handle_error = handle_error  # type: ignore[method-assign]


def _parser() -> argparse.ArgumentParser:
    sizes = FakeSizes()
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
    fake = parser.add_argument_group("fake API run")
    fake.add_argument(
        "--polyai-version", metavar="VERSION", help="PolyAI API: v3 (the spec's default, several projects) or v1"
    )
    fake.add_argument(
        "--vectara-version",
        metavar="VERSION",
        help="Vectara API: v2 (the spec's default: chats, chat turns, agent sessions and events) or v1 "
        "(conversations and turns)",
    )
    fake.add_argument("--projects", type=int, default=sizes.projects, help=f"PolyAI projects ({sizes.projects})")
    fake.add_argument(
        "--polyai", type=int, default=sizes.polyai, help=f"PolyAI conversations, all projects together ({sizes.polyai})"
    )
    fake.add_argument(
        "--in-progress",
        type=int,
        default=sizes.in_progress,
        help=f"newest PolyAI conversations of each project still in progress ({sizes.in_progress})",
    )
    fake.add_argument("--vectara", type=int, default=sizes.vectara, help=f"Vectara chats ({sizes.vectara})")
    fake.add_argument(
        "--sessions", type=int, default=sizes.sessions, help=f"Vectara agent sessions per agent ({sizes.sessions})"
    )
    fake.add_argument("--events", type=int, default=sizes.events, help=f"events per session ({sizes.events})")
    fake.add_argument(
        "--add-polyai",
        type=int,
        default=sizes.add_polyai,
        help=f"new PolyAI conversations per project before the 2nd sync ({sizes.add_polyai})",
    )
    fake.add_argument(
        "--add-vectara",
        type=int,
        default=sizes.add_vectara,
        help=f"new Vectara chats before the 2nd sync ({sizes.add_vectara})",
    )
    fake.add_argument(
        "--append-turns",
        type=int,
        default=sizes.append_turns,
        help=f"turns appended to an old chat before the 2nd sync ({sizes.append_turns})",
    )
    fake.add_argument(
        "--append-events",
        type=int,
        default=sizes.append_events,
        help=f"events appended to an old session, and given to each new session ({sizes.append_events})",
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=10.0,
        help="seconds between 'still loading' lines when stdout is not a terminal (10)",
    )
    return parser


class Report:
    """Prints the demo's steps and remembers every check that failed."""

    def __init__(self, steps: int, out: Optional[Callable[[str], None]] = None) -> None:
        self.steps = steps
        self.step_number = 0
        self.failures: List[str] = []
        self.passed = 0
        self.started = time.monotonic()
        self._out = out or (lambda text: print(text, flush=True))

    def step(self, title: str) -> None:
        self.step_number += 1
        self._out(f"\n[{self.step_number}/{self.steps}] {title}")

    def line(self, text: str = "") -> None:
        self._out(f"      {text}" if text else "")

    def check(self, ok: bool, text: str) -> bool:
        self.line(f"{'OK  ' if ok else 'FAIL'} {text}")
        if ok:
            self.passed += 1
        else:
            self.failures.append(text)
        return ok


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _run_cli(command: str, config: Optional[Dict[str, Any]], config_path: Optional[Path]) -> Any:
    from test_support.harness import run_connector

    workdir = warehouse.DEMO_DIR / "cli"
    if config is None:  # spec
        return run_connector(command, workdir)
    if config_path is not None:  # the user's file as it is: its secrets are not copied anywhere
        return run_connector(command, workdir, extra_args=["--config", str(config_path)])
    try:
        return run_connector(command, workdir, config=config)
    finally:  # the fake's credentials: a config file under .local/ is no place for them after the run
        (workdir / "config.json").unlink(missing_ok=True)


def _spec_check_discover(report: Report, config: Dict[str, Any], config_path: Optional[Path]) -> Optional[List[str]]:
    """The discovered stream names, or None (after a FAIL line) when a command failed."""
    report.step("spec, check and discover, with the installed console script")
    started = time.monotonic()
    specs = _run_cli("spec", None, None).of_type("SPEC")
    if not specs:
        report.check(False, "spec printed no SPEC message")
        return None
    properties = specs[0]["spec"]["connectionSpecification"]["properties"]
    report.check(True, f"spec: settings {', '.join(properties)} ({_seconds(time.monotonic() - started)})")
    started = time.monotonic()
    check = _run_cli("check", config, config_path)
    status = check.of_type("CONNECTION_STATUS")
    if not status or status[-1]["connectionStatus"]["status"] != "SUCCEEDED":
        message = status[-1]["connectionStatus"].get("message") if status else (check.errors() or check.stderr[-2000:])
        report.check(False, f"check: {message}")
        return None
    report.check(True, f"check succeeded ({_seconds(time.monotonic() - started)})")
    started = time.monotonic()
    discover = _run_cli("discover", config, config_path)
    catalogs = discover.of_type("CATALOG")
    if not catalogs:
        report.check(False, f"discover: {discover.errors() or discover.stderr[-2000:]}")
        return None
    discovered = catalogs[0]["catalog"]["streams"]
    report.check(True, f"discover found {len(discovered)} streams ({_seconds(time.monotonic() - started)}):")
    for stream in discovered:
        report.line(
            f"  {stream['name']}: primary key {stream.get('source_defined_primary_key')}, "
            f"cursor {stream.get('default_cursor_field')}, modes {stream.get('supported_sync_modes')}"
        )
    return [stream["name"] for stream in discovered]


def _print_tables(report: Report, cache: Any, result: warehouse.Sync) -> None:
    for stream in result.streams:
        counts = result.counts[stream]
        column = warehouse.time_column(stream)
        report.line(
            f"{stream}: {result.read[stream]:,} records read; table has {counts.rows:,} rows, "
            f"{counts.distinct_keys:,} distinct ({', '.join(warehouse.primary_key(stream))}); "
            f"{column} is {warehouse.column_types(cache, stream).get(column, 'missing')}"
        )


def _print_samples(report: Report, cache: Any, streams: Sequence[str]) -> Dict[str, warehouse.Transcript]:
    samples = {
        "chat": warehouse.chat_transcript(cache, streams),
        "polyai": warehouse.polyai_transcript(cache, streams),
        "session": warehouse.agent_session(cache, streams),
    }
    for name, sample in samples.items():
        if sample is None:
            continue
        report.line()
        if name == "session":  # one line: the event types in order
            report.line(sample.title)
            report.line("  " + " → ".join(kind for _, kind in sample.lines))
            continue
        for text in sample.render():
            report.line(text)
    return {name: sample for name, sample in samples.items() if sample is not None}


def _kind(conversations_stream: str) -> str:
    """What a Vectara list stream calls one item: a chat (v2) or a conversation (v1)."""
    return "chat" if conversations_stream == warehouse.CHATS else "conversation"


def _per_project(keys: Set[str]) -> Dict[str, int]:
    return dict(Counter(key.split("/", 1)[0] for key in keys))


def _differences(expected: Set[str], got: Set[str]) -> str:
    """``""`` when the key sets are equal, else how they differ, with an example of each difference."""
    missing, unexpected = sorted(expected - got), sorted(got - expected)
    parts = [f"{len(missing)} missing, e.g. {missing[0]}"] if missing else []
    parts += [f"{len(unexpected)} unexpected, e.g. {unexpected[0]}"] if unexpected else []
    return "; KEYS DIFFER: " + ", ".join(parts) if parts else ""


def _check_first_sync(report: Report, result: warehouse.Sync, truth: Dict[str, Dict[str, Any]]) -> None:
    for stream in result.streams:
        expected = set(truth[stream])
        counts = result.counts[stream]
        read = result.read[stream]
        twice = f" ({read - counts.rows:,} read twice: at-least-once, merged)" if read > counts.rows else ""
        report.check(
            counts.rows == counts.distinct_keys == len(expected) and result.keys[stream] == expected,
            f"{stream}: {counts.rows:,} rows, {counts.distinct_keys:,} distinct keys = {len(expected):,} on the fake "
            f"API; {read:,} records read{twice}{_differences(expected, result.keys[stream])}",
        )
    if POLYAI in result.streams:
        per_project = _per_project(result.keys[POLYAI])
        report.line(f"{POLYAI} per project: " + ", ".join(f"{p} {n:,}" for p, n in sorted(per_project.items())))


def _describe_change(report: Report, scenario: FakeScenario, change: warehouse.Change) -> None:
    for project, added in change.polyai_added.items():
        report.line(
            f"{POLYAI} {project}: {len(added)} new conversations, "
            f"{len(change.polyai_finished[project])} in-progress ones finished"
        )
    if change.conversations_stream:
        report.line(f"{change.conversations_stream}: {len(change.conversations_added)} new")
    if change.old_conversation:
        report.line(
            f"{change.turns_stream}: {len(change.turns_appended)} turns appended to {change.old_conversation}, "
            f"made {change.old_conversation_created} (turns_lookback_days: "
            f"{warehouse.setting(scenario.config, 'turns_lookback_days', 'vectara')})"
        )
    if change.sessions_added:
        report.line(
            f"{SESSIONS}: {len(change.sessions_added)} new, with {len(change.events_of_new_sessions)} {EVENTS} between them"
        )
    if change.old_session:
        report.line(
            f"{EVENTS}: {len(change.events_appended)} appended to {change.old_session}, made {change.old_session_created}"
        )


def _check_second_sync(
    report: Report,
    first: warehouse.Sync,
    second: warehouse.Sync,
    truth: Dict[str, Dict[str, Any]],
    change: warehouse.Change,
) -> None:
    for stream in second.streams:
        new = set(truth[stream]) - first.keys[stream]
        arrived = new & second.written[stream]
        again = second.written[stream] - new
        unexpected = again - first.keys[stream]
        note = (
            f"; {len(again - unexpected):,} already loaded were read again (at-least-once, at the saved state's "
            "edge) and merged into their rows"
            if again - unexpected
            else ""
        )
        report.check(
            arrived == new and not unexpected,
            f"{stream}: {len(new):,} new on the fake API, {len(arrived):,} arrived; {second.read[stream]:,} records "
            f"read{note}{_differences(new, arrived | unexpected)}",
        )
    if POLYAI in second.streams:
        for project, added in change.polyai_added.items():
            finished = change.polyai_finished[project]
            wanted = set(added) | set(finished)
            got = {key for key in second.written[POLYAI] if key.split("/", 1)[0] == project} - first.keys[POLYAI]
            report.check(
                got == wanted,
                f"{POLYAI} {project}: {len(added)} new + {len(finished)} finished, {len(got)} arrived"
                + _differences(wanted, got),
            )
    if change.conversations_added:
        got = set(change.conversations_added) & second.written[change.conversations_stream]
        report.check(
            len(got) == len(change.conversations_added),
            f"{change.conversations_stream}: the {len(change.conversations_added)} new ones arrived"
            + _differences(set(change.conversations_added), got),
        )
    if change.turns_appended:
        got = set(change.turns_appended) & second.written[change.turns_stream]
        report.check(
            len(got) == len(change.turns_appended),
            f"{change.turns_stream}: the {len(change.turns_appended)} turns appended to old "
            f"{_kind(change.conversations_stream)} "
            f"{change.old_conversation} arrived" + _differences(set(change.turns_appended), got),
        )
    if change.sessions_added:
        wanted = set(change.sessions_added) | set(change.events_of_new_sessions)
        got = wanted & (second.written[SESSIONS] | second.written[EVENTS])
        report.check(
            got == wanted,
            f"{SESSIONS}: the {len(change.sessions_added)} new sessions and their "
            f"{len(change.events_of_new_sessions)} events arrived" + _differences(wanted, got),
        )
    if change.events_appended:
        got = set(change.events_appended) & second.written[EVENTS]
        report.check(
            len(got) == len(change.events_appended),
            f"{EVENTS}: the {len(change.events_appended)} events appended to old session {change.old_session} arrived"
            + _differences(set(change.events_appended), got),
        )


def _check_tables(report: Report, result: warehouse.Sync, truth: Optional[Dict[str, Dict[str, Any]]]) -> None:
    for stream in result.streams:
        counts = result.counts[stream]
        key = ", ".join(warehouse.primary_key(stream))
        text = f"{stream}: count(*) {counts.rows:,}, count(DISTINCT ({key})) {counts.distinct_keys:,}"
        if truth is None:
            report.check(counts.rows == counts.distinct_keys, text)
        else:
            expected = set(truth[stream])
            report.check(
                counts.rows == counts.distinct_keys == len(expected) and result.keys[stream] == expected,
                f"{text} = {len(expected):,} on the fake API{_differences(expected, result.keys[stream])}",
            )


def _progress(scenario: Optional[FakeScenario]) -> Callable[[float], str]:
    def words(elapsed: float) -> str:
        served = f", the fake API has served {scenario.server.served()['records']:,} records so far" if scenario else ""
        return f"      ... still loading: {elapsed:.0f} s{served}"

    return words


@dataclass
class FakeRun:
    """What :func:`run_fake` did and saw (the test reads it)."""

    streams: List[str]
    first: warehouse.Sync
    first_truth: Dict[str, Dict[str, Any]]
    samples: Dict[str, warehouse.Transcript]
    change: warehouse.Change
    second: warehouse.Sync
    second_truth: Dict[str, Dict[str, Any]]
    appended: Optional[warehouse.Transcript]


def run_fake(
    report: Report,
    scenario: FakeScenario,
    source: Any,
    cache: Any,
    streams: Sequence[str],
    *,
    heartbeat: float = 0.0,
    progress: Optional[Callable[[float], str]] = None,
) -> FakeRun:
    """The fake API run from the first sync on (the end of step 3 to step 8), each figure checked in ``report``."""
    streams = list(streams)
    first = warehouse.sync(source, cache, streams, heartbeat_seconds=heartbeat, progress=progress)
    report.line(f"loaded in {_seconds(first.seconds)}")
    _print_tables(report, cache, first)
    first_truth = scenario.truth(first.began)
    _check_first_sync(report, first, first_truth)

    # 4. Whole conversations, read back from the tables.
    report.step("A whole conversation of each vendor, read back from DuckDB")
    samples = _print_samples(report, cache, streams)
    if not samples:
        report.line("(no conversation with turns in the tables)")

    # 5. Change the data.
    report.step("Change the data on the fake API")
    change = scenario.change()
    _describe_change(report, scenario, change)
    slept = change.wait_until_listed()
    if slept:
        report.line(f"(waited {_seconds(slept)}: a sync lists what was made up to one second before it began)")

    # 6. Second sync.
    report.step("Second sync, incremental (PyAirbyte passes the state saved in the DuckDB file)")
    second = warehouse.sync(source, cache, streams, heartbeat_seconds=heartbeat, progress=progress)
    report.line(f"loaded in {_seconds(second.seconds)}")
    second_truth = scenario.truth(second.began)
    _check_second_sync(report, first, second, second_truth, change)

    # 7. What the tables hold.
    report.step("One row per primary key: SELECT count(*), count(DISTINCT <primary key>)")
    _check_tables(report, second, second_truth)

    # 8. The appended turns, read back.
    report.step(f"The old {_kind(change.conversations_stream)} with its appended turns, read back from DuckDB")
    appended = None
    if change.old_conversation:
        appended = warehouse.chat_transcript(cache, streams, change.old_conversation)
        for text in appended.render(marked=change.turns_appended) if appended else ["(not found)"]:
            report.line(text)
    else:
        report.line("(nothing was appended)")
    return FakeRun(streams, first, first_truth, samples, change, second, second_truth, appended)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    _quiet_after_signal()
    fake = args.config is None
    report = Report(steps=8 if fake else 5)
    pyairbyte_settings = warehouse.configure_pyairbyte()
    # On a terminal PyAirbyte draws a live progress panel; elsewhere (a log, CI) it prints one line per
    # finished sync, so the demo prints "still loading" lines instead.
    live_progress = "NO_LIVE_PROGRESS" not in os.environ and "CI" not in os.environ
    heartbeat = 0.0 if live_progress else args.heartbeat

    scenario: Optional[FakeScenario] = None
    cache = None
    db_path = args.db or warehouse.DEFAULT_DB_PATH
    try:
        # 1. The data: the fake API, or the user's config.
        if fake:
            from source_conversations import registry

            for provider, version in (("polyai", args.polyai_version), ("vectara", args.vectara_version)):
                if version is not None and version not in registry.SPEC_VERSIONS[provider]:
                    print(
                        f"demo: --{provider}-version is one of {', '.join(registry.SPEC_VERSIONS[provider])}",
                        file=sys.stderr,
                    )
                    return 2
            sizes = FakeSizes(
                projects=args.projects,
                polyai=args.polyai,
                in_progress=args.in_progress,
                vectara=args.vectara,
                sessions=args.sessions,
                events=args.events,
                add_polyai=args.add_polyai,
                add_vectara=args.add_vectara,
                append_turns=args.append_turns,
                append_events=args.append_events,
            )
            scenario = FakeScenario(sizes, args.polyai_version, args.vectara_version)
            config = scenario.config
            report.step(
                f"Fake API on {scenario.server.base_url}: PolyAI {scenario.polyai_version} with "
                f"{len(config['polyai']['project_ids'])} projects, Vectara {scenario.vectara_version}"
            )
            truth = scenario.truth()
            for stream in scenario.streams:
                report.line(f"{stream}: {len(truth[stream]):,} to load")
            in_progress = sum(
                len(scenario.server.polyai_ids(in_progress=True, project_id=project))
                for project in config["polyai"]["project_ids"]
            )
            report.line(
                f"({in_progress} live PolyAI conversations are still in progress: they, and any that started "
                "after them, wait for a later sync)"
            )
            config_path = None
        else:
            config_path = args.config.resolve()
            report.step(f"Your config: {config_path}")
            config = json.loads(config_path.read_text(encoding="utf-8"))
            db_path = args.db or warehouse.DEMO_DIR / f"{config_path.stem}.duckdb"

        # 2. spec, check and discover, with the installed console script.
        discovered = _spec_check_discover(report, config, config_path)
        if discovered is None:
            return EXIT_CONNECTOR_FAILED
        streams = [name for name in warehouse.KNOWN_STREAMS if name in discovered]
        if fake:
            report.check(
                set(discovered) == set(scenario.streams),
                f"discover lists the streams the registry names for this config ({len(scenario.streams)})",
            )

        # 3. First sync.
        report.step(f"{'First sync' if fake else 'Sync'} into DuckDB through PyAirbyte: {_relative(db_path)}")
        started = time.monotonic()
        report.line("importing PyAirbyte (about 10 s)...")
        source = warehouse.get_source(config)
        cache = warehouse.duckdb_cache(db_path, fresh=fake or args.fresh)
        report.line(f"PyAirbyte ready ({_seconds(time.monotonic() - started)}); loading {len(streams)} streams")

        heartbeat_words = _progress(scenario)
        if fake:
            run_fake(report, scenario, source, cache, streams, heartbeat=heartbeat, progress=heartbeat_words)
        else:
            result = warehouse.sync(source, cache, streams, heartbeat_seconds=heartbeat, progress=heartbeat_words)
            report.line(f"loaded in {_seconds(result.seconds)}")
            _print_tables(report, cache, result)
            report.step("A whole conversation of each vendor, read back from DuckDB")
            if not _print_samples(report, cache, streams):
                report.line("(no conversation with turns in the tables)")
            report.step("Summary")
            _check_tables(report, result, None)
    except BaseException:
        if _signal_received is None:
            raise
        name = "Ctrl-C" if _signal_received == signal.SIGINT else signal.Signals(_signal_received).name
        print(f"\nInterrupted ({name}): stopping.", file=sys.stderr, flush=True)
        return 128 + _signal_received
    finally:
        if cache is not None:
            cache.close()
        if scenario is not None:
            scenario.stop()
            print("Fake API stopped.", flush=True)
        warehouse.remove_temporary_files(pyairbyte_settings)

    elapsed = _seconds(time.monotonic() - report.started)
    if report.failures:
        print(f"\n{len(report.failures)} check(s) failed, {report.passed} passed ({elapsed}):", flush=True)
        for failure in report.failures:
            print(f"  - {failure}")
        return EXIT_MISMATCH
    example = (
        "SELECT project_id, count(*) FROM polyai_conversations GROUP BY 1 ORDER BY 1"
        if POLYAI in streams
        else f"SELECT count(*), max(created_at) FROM {streams[0]}"
    )
    print(f"\nDone in {elapsed}: {report.passed} checks passed. The tables are in {_relative(db_path)}; for example:")
    print(
        f"  .venv/bin/python -c \"import duckdb; db = duckdb.connect('{_relative(db_path)}', read_only=True); "
        f"db.sql('{example}').show()\"",
        flush=True,
    )
    return 0


def _relative(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(warehouse.PROJECT_ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
