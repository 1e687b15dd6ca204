"""Printing the benchmark's results: the latency table (and the num_workers sweep), the CPU table, request
counts, start-up, memory and profiles."""

from __future__ import annotations

import os
import pstats
import re
from collections import defaultdict
from typing import Any, Callable, Iterable, TextIO

from benchmark.cpu import (
    LOOKBACK_APPENDED_AGE_DAYS,
    CpuReport,
    LookbackResult,
    Run,
    SparseResult,
    Startup,
    StreamResult,
)
from benchmark.latency import LatencyReport, Median, ScenarioResult
from benchmark.streams import OLD_RATIO_FLOOR, OLD_RATIOS

BIG_RSS_TARGET = 1.25
"""Peak RSS at a million records over peak RSS at the default size must stay at or below this."""


def _count(value: float) -> str:
    """A count, or the median of an even number of counts (which may end in .5)."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in values)


def _table(header: list[tuple[str, str]], rows: Iterable[list[str]], out: TextIO) -> None:
    """Columns of ``(title, format spec)``; each row a list of cells."""
    print("  ".join(f"{title:{spec}}" for title, spec in header).rstrip(), file=out)
    for row in rows:
        print("  ".join(f"{cell:{spec}}" for cell, (_, spec) in zip(row, header, strict=True)).rstrip(), file=out)


# ----------------------------------------------------------------------------------------------------
# Latency mode
# ----------------------------------------------------------------------------------------------------


def target_holds(result: ScenarioResult) -> bool | None:
    """Whether the connector's median wall time at the default num_workers is within the target (None: no target)."""
    if result.target is None or result.default_workers not in result.workers:
        return None
    ratio = result.median("connector", result.default_workers).wall_seconds / result.median("loop").wall_seconds
    return ratio <= result.target


def at_minimum(result: ScenarioResult, kind: str, workers: int | None = None) -> bool:
    """Whether every run of ``kind`` (at ``workers``) made exactly its minimum number of requests."""
    chosen = [run for run in result.runs if run.kind == kind and (workers is None or run.workers == workers)]
    return all(run.requests == run.minimum for run in chosen)


def _ratio(connector: Median, loop: Median) -> float:
    return connector.wall_seconds / loop.wall_seconds


_LATENCY_HEADER = [
    ("scenario", "<21"),
    ("loop s", ">7"),
    ("connector s", ">11"),
    ("records/s", ">9"),
    ("x loop", ">6"),
    ("speed-up", ">8"),
    ("target", "<15"),
    ("requests (min)", ">16"),
    ("loop req (min)", ">14"),
    ("in flight", ">9"),
    ("CPU s", ">6"),
    ("RSS MB", ">6"),
    ("dup", ">3"),
    ("load", ">4"),
]


def latency_table(report: LatencyReport, out: TextIO) -> None:
    """One row per scenario: medians of the loop and of the connector at the default num_workers."""
    default = report.scenarios[0].default_workers if report.scenarios else 0
    print(
        f"\nLatency mode: every response held {report.latency_ms:g} ms + its size at {report.bandwidth_mbps:g} MB/s; "
        f"medians of {report.runs} alternating runs; the connector at num_workers {default} (its default); "
        f"scale {report.scale:g}\n"
        f"  {report.started_at} to {report.finished_at}; load average (1, 5, 15 min) {_load(report.load_before)} "
        f"before, {_load(report.load_after)} after, on {os.cpu_count()} CPUs",
        file=out,
    )
    rows = []
    for result in report.scenarios:
        loop = result.median("loop")
        if default not in result.workers:
            continue
        connector = result.median("connector", default)
        holds = target_holds(result)
        target = "-" if holds is None else f"<= {result.target:.2f} {'holds' if holds else 'MISSED'}"
        minimum = "ok" if at_minimum(result, "connector", default) else "OVER"
        rows.append(
            [
                result.name,
                f"{loop.wall_seconds:.2f}",
                f"{connector.wall_seconds:.2f}",
                f"{result.expected_keys / connector.wall_seconds:,.0f}",
                f"{_ratio(connector, loop):.2f}",
                f"{loop.wall_seconds / connector.wall_seconds:.1f}x",
                target,
                f"{_count(connector.requests)} ({_count(connector.minimum)}) {minimum}",
                f"{_count(loop.requests)} ({_count(loop.minimum)})",
                _count(connector.max_in_flight),
                f"{connector.cpu_seconds:.1f}",
                f"{connector.peak_rss_mb:.0f}",
                _count(connector.duplicates),
                f"{connector.load_average:.1f}",
            ]
        )
    _table(_LATENCY_HEADER, rows, out)
    print(
        "  loop s / connector s = wall seconds of the process, start-up included (the loop: requests + orjson, one\n"
        "  request at a time); records/s = the connector's records (turns, events...) over its wall seconds;\n"
        "  x loop = connector over loop (lower is faster), speed-up = loop over connector;\n"
        "  requests (min) = requests the fake API received (the fewest possible), ok when every run made exactly\n"
        "  the minimum; in flight = most requests the fake API handled at once; CPU s, RSS MB = the connector's;\n"
        "  dup = records read twice (conversations on a window edge); load = median 1-minute load average as the\n"
        f"  connector's runs began (above {os.cpu_count()}, the CPU count, other processes compete for the CPUs)",
        file=out,
    )
    for result in report.scenarios:
        print(
            f"  {result.name}: {result.title}; {result.expected_keys:,} records.\n"
            f"    minimum: connector {result.connector_formula}; loop {result.loop_formula}",
            file=out,
        )


def workers_table(report: LatencyReport, out: TextIO) -> None:
    """With several num_workers: per scenario, the connector's median wall seconds, ratio and in-flight
    maximum at each value, and whether its requests stayed at the minimum."""
    values = sorted({workers for result in report.scenarios for workers in result.workers})
    if len(values) < 2:
        return
    print(
        f"\nnum_workers sweep (latency mode, medians of {report.runs}): connector wall s, x loop, most in flight",
        file=out,
    )
    header = [("num_workers", ">11")] + [(result.name, ">22") for result in report.scenarios]

    def sweep_rows(cell: Callable[[ScenarioResult, int], str]) -> list[list[str]]:
        rows = []
        for workers in values:
            row = [str(workers)]
            for result in report.scenarios:
                row.append(cell(result, workers) if workers in result.workers else "-")
            rows.append(row)
        return rows

    def wall(result: ScenarioResult, workers: int) -> str:
        median = result.median("connector", workers)
        flag = "" if at_minimum(result, "connector", workers) else " +req"
        return (
            f"{median.wall_seconds:6.2f} s {_ratio(median, result.median('loop')):4.2f}x "
            f"{_count(median.max_in_flight):>3}{flag}"
        )

    def usage(result: ScenarioResult, workers: int) -> str:
        median = result.median("connector", workers)
        return f"{median.cpu_seconds:5.1f} s {median.peak_rss_mb:5.0f} MB"

    loop = [["loop"] + [f"{result.median('loop').wall_seconds:.2f} s" + " " * 12 for result in report.scenarios]]
    _table(header, loop + sweep_rows(wall), out)
    print("  +req: a run made more requests than the minimum", file=out)
    print("\nnum_workers sweep: the connector's median CPU seconds and peak RSS MB", file=out)
    _table(header, sweep_rows(usage), out)


def latency_summary(report: LatencyReport, out: TextIO) -> None:
    """Which targets hold."""
    print("\nTargets (latency mode, medians, the connector at its default num_workers):", file=out)
    for result in report.scenarios:
        holds = target_holds(result)
        default = result.default_workers
        if default not in result.workers:
            continue
        ratio = _ratio(result.median("connector", default), result.median("loop"))
        wall = (
            "no wall-time target"
            if holds is None
            else (f"wall {ratio:.2f}x the loop, target <= {result.target:.2f}: {'holds' if holds else 'MISSED'}")
        )
        requests = "at the minimum" if at_minimum(result, "connector", default) else "OVER the minimum"
        print(f"  {result.name:21} {wall}; requests {requests} in every run", file=out)


def print_latency(report: LatencyReport, out: TextIO) -> None:
    latency_table(report, out)
    workers_table(report, out)
    latency_summary(report, out)


# ----------------------------------------------------------------------------------------------------
# CPU mode
# ----------------------------------------------------------------------------------------------------

_COLUMNS: tuple[tuple[str, str, Callable[[Run], str]], ...] = (
    ("run", "<16", lambda run: f"{run.kind} {run.index}" if run.index else f"{run.kind} median"),
    ("wall s", ">7", lambda run: f"{run.wall_seconds:.2f}"),
    ("records/s", ">9", lambda run: f"{run.records_per_second:,.0f}"),
    ("x ceiling", ">9", lambda run: f"{run.rate_ratio:.2f}"),
    ("CPU s", ">6", lambda run: f"{run.cpu_seconds:.2f}"),
    ("x ceiling", ">9", lambda run: f"{run.cpu_ratio:.2f}"),
    ("RSS MB", ">6", lambda run: f"{run.peak_rss_mb:.0f}"),
    ("requests", ">8", lambda run: _count(run.requests)),
    ("minimum", ">7", lambda run: _count(run.requests_minimum)),
    ("in flight", ">9", lambda run: _count(run.max_in_flight)),
    ("server s", ">8", lambda run: f"{run.server_busy_seconds:.2f}"),
    ("dup", ">3", lambda run: _count(run.records - run.distinct_ids)),
    ("load", ">4", lambda run: f"{run.load_average:.1f}"),
)


def stream_table(result: StreamResult, out: TextIO) -> None:
    """The runs of one stream, then the median row of each kind."""
    print(
        f"\n{result.name} ({result.stream}): {result.records:,} records, page size {result.page_size}, "
        f"num_workers {result.num_workers}" + (f", {result.windows} windows since 2017" if result.windows else ""),
        file=out,
    )
    header = [(name, spec) for name, spec, _ in _COLUMNS]
    medians = [result.median(kind) for kind in dict.fromkeys(run.kind for run in result.runs)]
    _table(header, ([render(run) for _, _, render in _COLUMNS] for run in [*result.runs, *medians]), out)


def cpu_legend(out: TextIO) -> None:
    print(
        "  records/s = records / wall seconds of the process, start-up included; CPU s = its user + system seconds;\n"
        "  x ceiling = over the ceiling's median (records/s: higher is better; CPU s: lower is better);\n"
        "  with --runners, plain = the console script with SOURCE_CONVERSATIONS_EXTRAS=off, manifest = the CDK's\n"
        "  source-declarative-manifest with the manifest and components.py injected (as Airbyte Cloud runs it);\n"
        "  minimum = fewest requests (the connector: one in-progress probe and one request at least per window);\n"
        "  server s = the fake API's own busy time; dup = records read twice; load = 1-minute load average as the\n"
        f"  run began: above {os.cpu_count()} (the CPU count) other processes compete and wall times stretch",
        file=out,
    )


def old_ratio_summary(results: list[StreamResult], out: TextIO) -> None:
    """The connector's records/s ratio against the figures before issue 13, and its floor (90% of them)."""
    rows = []
    for result in results:
        family = "polyai" if result.name.startswith("polyai") else "vectara"
        old = OLD_RATIOS[family].get(result.records)
        if old is None:
            continue
        ratio = result.median("connector").rate_ratio
        floor = old * OLD_RATIO_FLOOR
        rows.append(
            [
                result.name,
                f"{result.records:,}",
                f"{ratio:.2f}",
                f"{old:.2f}",
                f"{floor:.2f}",
                "holds" if ratio >= floor else "BELOW",
            ]
        )
    if not rows:
        return
    print(
        f"\nCPU mode against the figures before issue 13 (records/s over the ceiling's; floor {OLD_RATIO_FLOOR:.0%} of "
        "the old ratio, which was measured on PolyAI v1 one project and Vectara v1 list-conversations):",
        file=out,
    )
    header = [("stream", "<11"), ("records", ">9"), ("ratio", ">5"), ("old", ">4"), ("floor", ">5"), ("", "<5")]
    _table(header, rows, out)


def startup_summary(startup: Startup, out: TextIO) -> None:
    """The cost of starting the connector (and the ceiling)."""
    print(f"\nStart-up (median of {startup.repeats}):", file=out)
    commands = (
        ("source-conversations spec", startup.spec),
        ("import source_conversations.run", startup.import_only),
        ("import orjson, requests (ceiling)", startup.ceiling_import),
    )
    for name, usage in commands:
        print(
            f"  {name:34} {usage.wall_seconds:.2f} s wall, {usage.cpu_seconds:.2f} s CPU, "
            f"{usage.peak_rss_mb:.0f} MB peak RSS",
            file=out,
        )


def cost_summary(startup: Startup, results: list[StreamResult], out: TextIO) -> None:
    """Median CPU split into start-up (``spec``; the ceiling's imports) and the rest, per record."""
    print("\nCPU per record, start-up taken out (median CPU s - start-up CPU s) / records:", file=out)
    for result in results:
        shares = []
        for kind, fixed in (("ceiling", startup.ceiling_import), ("connector", startup.spec)):
            cpu = result.median(kind).cpu_seconds
            per_record = (cpu - fixed.cpu_seconds) / result.records * 1e6
            shares.append(per_record)
            print(
                f"  {result.name:10} {result.records:>9,} {kind:9}: start-up {fixed.cpu_seconds:.2f} s of "
                f"{cpu:.2f} s CPU ({fixed.cpu_seconds / cpu:.0%}); {per_record:6.1f} us CPU per record",
                file=out,
            )
        if shares[0] > 0:
            print(f"  {'':10} {'':>9} per-record CPU, connector over ceiling: {shares[1] / shares[0]:.1f}x", file=out)


def sparse_summary(sparse: SparseResult, out: TextIO) -> None:
    """Requests of the sparse incremental sync against its minimum."""
    empty = sum(1 for count in sparse.rows_per_window if not count)
    verdict = (
        "no empty trailing page and no other extra request"
        if sparse.extra_requests == 0
        else f"{sparse.extra_requests} request(s) over the minimum (an empty trailing page, or a repeated one)"
    )
    print(
        f"\nSparse incremental PolyAI v3 sync: {sparse.windows} windows of {sparse.window_days} days ({empty} empty), "
        f"rows per window {sparse.rows_per_window}, page size {sparse.page_size}\n"
        f"  requests {sparse.requests}; minimum {sparse.minimum} (one probe + max(1, ceil(rows/page)) per window); "
        f"the issue's bound ceil(rows/page) + windows + probe = {sparse.allowance}; {sparse.distinct_ids:,} distinct "
        f"ids in {sparse.records:,} records\n  {verdict}",
        file=out,
    )


def lookback_summary(lookback: LookbackResult, out: TextIO) -> None:
    """Requests of a second vectara_chat_turns sync at each turns_lookback_days, and what it delivered."""
    ages = ", ".join(f"{age} d" for age in LOOKBACK_APPENDED_AGE_DAYS)
    print(
        f"\nTurns lookback (vectara_chat_turns, v2): {lookback.chats:,} chats over the last days, the first sync "
        f"{lookback.first_sync_requests:,} requests; then {lookback.new_chats} new chats and one turn appended to "
        f"a chat made {ages} ago, and a second sync from the first one's state:",
        file=out,
    )
    print(
        f"  {'turns_lookback_days':>19} {'list req':>8} {'turns req':>9} {'expected':>9} {'records':>7}  appended turns delivered",
        file=out,
    )
    for run in lookback.runs:
        delivered = ", ".join(
            f"{age} d {'yes' if got else 'no'}"
            for age, got in zip(LOOKBACK_APPENDED_AGE_DAYS, run.delivered, strict=True)
        )
        expected = (run.expected_list_requests, run.expected_turns_requests)
        verdict = "" if (run.list_requests, run.turns_requests) == expected else "  (not the expected counts)"
        print(
            f"  {run.lookback_days:>19} {run.list_requests:>8} {run.turns_requests:>9} {f'{expected[0]} + {expected[1]}':>9} "
            f"{run.records:>7}  {delivered}{verdict}",
            file=out,
        )
    print(
        "  expected: ceil(chats / page size) list pages + turns requests for the new chats and the chats made within "
        "the lookback before the saved state",
        file=out,
    )


def memory_summary(small: list[StreamResult], big: list[StreamResult], out: TextIO) -> None:
    """Peak RSS of the connector at the default size and at the big size, and their ratio."""
    print("\nMemory (connector median peak RSS):", file=out)
    for before, after in zip(small, big, strict=True):
        ratio = after.median("connector").peak_rss_mb / before.median("connector").peak_rss_mb
        print(
            f"  {before.name:10} num_workers {after.num_workers}: {before.records:>9,} records "
            f"{before.median('connector').peak_rss_mb:5.0f} MB; {after.records:>9,}: "
            f"{after.median('connector').peak_rss_mb:5.0f} MB; ratio {ratio:.2f} "
            f"({'within' if ratio <= BIG_RSS_TARGET else 'OVER'} the {BIG_RSS_TARGET} target)",
            file=out,
        )


def _where(function: tuple[str, int, str]) -> str:
    path, line, name = function
    if path == "~":
        return name
    short = re.sub(r"^.*?(site-packages|lib/python3\.\d+)/", "", path)
    return f"{short}:{line}({name})"


def _area(function: tuple[str, int, str]) -> str:
    """Where a function's own time goes: a built-in by name, else its package (airbyte_cdk to four levels),
    stdlib module or project file."""
    path, _, name = function
    if path == "~":
        return name
    match = re.search(r"site-packages/(.+?)(?:\.py)?$", path)
    if match:
        parts = match.group(1).split("/")
        return "/".join(parts[: 4 if parts[0] == "airbyte_cdk" else 1])
    match = re.search(r"lib/python3\.\d+/(.+?)(?:\.py)?$", path)
    if match:
        return "stdlib " + match.group(1).split("/")[0]
    return re.sub(r"^.*/(source_conversations/)", r"\1", path)


_WAITING = re.compile(
    r"<method '\w+' of '(_thread\.(lock|RLock)|_queue\.SimpleQueue|_socket\.socket|select\.\w+)' objects>"
    r"|<built-in method (time\.sleep|select\.\w+)>"
)
"""Built-ins in which a thread waits (a lock, a socket, a sleep) rather than computes."""


def _by_area(stats: pstats.Stats, out: TextIO, top: int) -> None:
    seconds_by_area: dict[str, float] = defaultdict(float)
    for function, (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        seconds_by_area[_area(function)] += own
    waiting = sum(seconds for area, seconds in seconds_by_area.items() if _WAITING.search(area))
    working = {area: seconds for area, seconds in seconds_by_area.items() if not _WAITING.search(area)}
    total = sum(working.values()) or 1.0
    print(
        f"  own time by area, waits left out ({total:.2f} s working, "
        f"{waiting:.2f} s waiting on locks, queues, sockets):",
        file=out,
    )
    for area, seconds in sorted(working.items(), key=lambda item: item[1], reverse=True)[:top]:
        print(f"  {seconds:12.2f} {seconds / total:7.0%}  {area}", file=out)


def profile_summary(stream: str, profile: dict[str, Any], out: TextIO, top: int = 25) -> None:
    """Import and run phases of a profiled read: seconds, the run's top cumulative entries, own time by area."""
    cpu = profile["import_cpu_seconds"] + profile["run_cpu_seconds"]
    clock = (
        "wall time per thread, about 1.6 times slower than unprofiled; a wait for the GIL counts where it happened"
        if profile["timer"] == "wall"
        else "CPU time per thread, about 4 times slower than unprofiled, most of it added to small calls"
    )
    print(
        f"\nProfile of one connector read of {stream} (cProfile, every thread, {clock}): "
        f"{profile['wall_seconds']:.1f} s wall, {cpu:.1f} s CPU.\n"
        f"  Import of the entry point: {profile['import_seconds']:.2f} s wall, "
        f"{profile['import_cpu_seconds']:.2f} s CPU "
        f"({profile['import_cpu_seconds'] / cpu:.0%} of the CPU); {profile['import_profile']}",
        file=out,
    )
    _by_area(pstats.Stats(profile["import_profile"]), out, 8)
    stats = pstats.Stats(profile["run_profile"])
    print(
        f"  Run (spec check, building the source, reading): {profile['run_seconds']:.2f} s wall, "
        f"{profile['run_cpu_seconds']:.2f} s CPU ({profile['run_cpu_seconds'] / cpu:.0%}); {profile['run_profile']}",
        file=out,
    )
    rows = sorted(stats.stats.items(), key=lambda item: item[1][3], reverse=True)[:top]  # type: ignore[attr-defined]
    heading = "function (the threads add up: totals can pass the wall time)"
    print(f"  {'cumulative s':>12} {'own s':>7} {'calls':>9}  {heading}", file=out)
    for function, (_, calls, own, cumulative, _) in rows:
        print(f"  {cumulative:12.2f} {own:7.2f} {calls:9,}  {_where(function)}", file=out)
    _by_area(stats, out, 15)


def print_cpu(report: CpuReport, out: TextIO) -> None:
    """The CPU mode, in the order it was measured."""
    print(
        f"\nCPU mode: fast fake API, no latency; medians of {report.runs} alternating runs of the ceiling (requests +\n"
        f"  orjson, one request at a time) and the connector at num_workers {report.num_workers}\n"
        f"  {report.started_at} to {report.finished_at}; load average (1, 5, 15 min) {_load(report.load_before)} "
        f"before, {_load(report.load_after)} after, on {os.cpu_count()} CPUs",
        file=out,
    )
    if report.startup is not None:
        startup_summary(report.startup, out)
    for result in [*report.streams, *report.big]:
        stream_table(result, out)
    if report.streams or report.big:
        cpu_legend(out)
    old_ratio_summary([*report.streams, *report.big], out)
    if report.startup is not None:
        cost_summary(report.startup, [*report.streams, *report.big], out)
    if report.sparse is not None:
        sparse_summary(report.sparse, out)
    if report.lookback is not None:
        lookback_summary(report.lookback, out)
    if report.big:
        memory_summary(report.streams, report.big, out)
    for result in report.streams:
        if result.profile is not None:
            profile_summary(result.stream, result.profile, out)
