"""Printing the benchmark's results: one table per stream, request counts, start-up, memory and profiles."""

from __future__ import annotations

import os
import pstats
import re
from collections import defaultdict
from typing import Any, Callable, Iterable, TextIO

from benchmark.suite import Report, Run, SparseResult, Startup, StreamResult

BIG_RSS_TARGET = 1.25
"""Peak RSS at a million records over peak RSS at the default size must stay at or below this."""


def _count(value: float) -> str:
    """A count, or the median of two counts (which may end in .5)."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


_COLUMNS: tuple[tuple[str, str, Callable[[Run], str]], ...] = (
    ("run", "<16", lambda run: f"{run.kind} {run.index}" if run.index else f"{run.kind} median"),
    ("wall s", ">8", lambda run: f"{run.wall_seconds:.2f}"),
    ("records/s", ">10", lambda run: f"{run.records_per_second:,.0f}"),
    ("x ceiling", ">9", lambda run: f"{run.rate_ratio:.2f}"),
    ("CPU s", ">7", lambda run: f"{run.cpu_seconds:.2f}"),
    ("x ceiling", ">9", lambda run: f"{run.cpu_ratio:.2f}"),
    ("peak RSS MB", ">11", lambda run: f"{run.peak_rss_mb:.0f}"),
    ("requests", ">8", lambda run: _count(run.requests)),
    ("minimum", ">8", lambda run: _count(run.requests_minimum)),
    ("dup", ">4", lambda run: _count(run.records - run.distinct_ids)),
    ("load", ">5", lambda run: f"{run.load_average:.1f}"),
)


def _row(cells: Iterable[str]) -> str:
    return "  ".join(f"{cell:{spec}}" for cell, (_, spec, _) in zip(cells, _COLUMNS)).rstrip()


def stream_table(result: StreamResult, out: TextIO) -> None:
    """The runs of one stream, then the median row of each kind."""
    rate = result.server_rate
    print(
        f"\n{result.stream}: {result.records:,} records, page size {result.page_size}"
        + (f", {result.windows} started_at windows" if result.windows else ""),
        file=out,
    )
    print(
        f"  fake API (own process, fast mode): serves {rate['server_records_per_second']:,.0f} records/s "
        f"(first pass {rate['server_records_per_second_first_pass']:,.0f}); a keep-alive client reading with orjson "
        f"gets {rate['client_records_per_second']:,.0f} records/s (first pass "
        f"{rate['client_records_per_second_first_pass']:,.0f}) in {rate['requests']:,} requests",
        file=out,
    )
    print(_row(name for name, _, _ in _COLUMNS), file=out)
    medians = [result.median(kind) for kind in ("ceiling", "connector")]
    for run in [*result.runs, *medians]:
        print(_row(render(run) for _, _, render in _COLUMNS), file=out)
    print(
        "  records/s = records / wall seconds of the process, start-up included; CPU s = its user + system seconds;\n"
        "  x ceiling = over the ceiling's median; minimum = fewest requests"
        + (" (every window asks at least once)" if result.windows else "")
        + "; dup = records read twice;\n"
        + f"  load = 1-minute load average as the run began: above {os.cpu_count()} (the CPU count) other processes "
        "compete, wall times stretch and CPU seconds are the steadier measure",
        file=out,
    )


def sparse_summary(sparse: SparseResult, out: TextIO) -> None:
    """Requests of the sparse incremental sync against its minimum."""
    empty = sum(1 for k in range(sparse.windows) if k >= len(sparse.rows_per_window) or not sparse.rows_per_window[k])
    verdict = (
        "no empty trailing page and no other extra request"
        if sparse.extra_requests == 0
        else f"{sparse.extra_requests} request(s) over the minimum (an empty trailing page, or a repeated one)"
    )
    print(
        f"\nSparse incremental PolyAI sync: {sparse.windows} windows of {sparse.window_days} days ({empty} empty), "
        f"rows per window {sparse.rows_per_window}, page size {sparse.page_size}\n"
        f"  requests {sparse.requests}; minimum {sparse.minimum} (sum of max(1, ceil(rows/page)) per window); "
        f"allowance ceil(rows/page) + windows = {sparse.allowance}; {sparse.distinct_ids:,} distinct ids in "
        f"{sparse.records:,} records\n  {verdict}",
        file=out,
    )


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
                f"  {result.stream:22} {result.records:>9,} {kind:9}: start-up {fixed.cpu_seconds:.2f} s of "
                f"{cpu:.2f} s CPU ({fixed.cpu_seconds / cpu:.0%}); {per_record:6.1f} us CPU per record",
                file=out,
            )
        print(f"  {'':22} {'':>9} per-record CPU, connector over ceiling: {shares[1] / shares[0]:.1f}x", file=out)


def memory_summary(small: list[StreamResult], big: list[StreamResult], out: TextIO) -> None:
    """Peak RSS of the connector at the default size and at the big size, and their ratio."""
    print("\nMemory (connector median peak RSS):", file=out)
    for before, after in zip(small, big):
        ratio = after.median("connector").peak_rss_mb / before.median("connector").peak_rss_mb
        print(
            f"  {before.stream:22} {before.records:>9,} records: {before.median('connector').peak_rss_mb:6.0f} MB; "
            f"{after.records:>9,}: {after.median('connector').peak_rss_mb:6.0f} MB; ratio {ratio:.2f} "
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
    for function, (_, _, own, _, _) in stats.stats.items():
        seconds_by_area[_area(function)] += own
    waiting = sum(seconds for area, seconds in seconds_by_area.items() if _WAITING.search(area))
    working = {area: seconds for area, seconds in seconds_by_area.items() if not _WAITING.search(area)}
    total = sum(working.values())
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
    rows = sorted(stats.stats.items(), key=lambda item: item[1][3], reverse=True)[:top]
    heading = "function (the threads add up: totals can pass the wall time)"
    print(f"  {'cumulative s':>12} {'own s':>7} {'calls':>9}  {heading}", file=out)
    for function, (_, calls, own, cumulative, _) in rows:
        print(f"  {cumulative:12.2f} {own:7.2f} {calls:9,}  {_where(function)}", file=out)
    _by_area(stats, out, 15)


def print_report(report: Report, out: TextIO) -> None:
    """Everything, in the order it was measured."""
    print(f"Connector at {report.revision}", file=out)
    if report.startup is not None:
        startup_summary(report.startup, out)
    for result in [*report.streams, *report.big]:
        stream_table(result, out)
    if report.startup is not None:
        cost_summary(report.startup, [*report.streams, *report.big], out)
    if report.sparse is not None:
        sparse_summary(report.sparse, out)
    if report.big:
        memory_summary(report.streams, report.big, out)
    for result in report.streams:
        if result.profile is not None:
            profile_summary(result.stream, result.profile, out)
