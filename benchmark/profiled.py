"""Run a console script under cProfile, every thread included, and save its profiles.

    python benchmark/profiled.py OUT wall|cpu source-conversations read --config C --catalog K

Writes ``OUT.import.prof`` (importing the entry point's module), ``OUT.prof`` (running it, all threads
merged) and ``OUT.json`` (wall and CPU seconds of both phases). cProfile sees only the thread that enabled
it and the connector reads on worker threads, so every thread gets its own profiler
(``threading.Thread.run`` is wrapped). Two clocks:

* ``wall``: cProfile's default timer, about 1.6 times slower than unprofiled. A thread's waits (a lock, a
  socket, the GIL that another thread holds) count as the own time of whatever it was running.
* ``cpu``: each thread's CPU time (``time.thread_time``), so waits count for nothing and the threads add up
  to the process's CPU; but each call pays a system call, about 4 times slower, which inflates functions
  that make many small calls.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import threading
import time
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

import orjson

TIMERS = {"wall": time.perf_counter, "cpu": time.thread_time}
_timer = TIMERS["wall"]
_thread_profiles: list[cProfile.Profile] = []
_original_run = threading.Thread.run


def _profiled_run(self: threading.Thread) -> None:
    profile = cProfile.Profile(_timer)
    _thread_profiles.append(profile)
    profile.enable()
    try:
        _original_run(self)
    finally:
        profile.disable()


def _entry_point(script: str) -> tuple[str, str]:
    """``(module, function)`` of the console script ``script``."""
    (entry,) = entry_points(group="console_scripts", name=script)
    module, _, function = entry.value.partition(":")
    return module, function


def _merged(profiles: list[cProfile.Profile]) -> pstats.Stats:
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        try:
            stats.add(profile)
        except TypeError:  # a thread that ran no Python code under its profiler
            pass
    return stats


def main(argv: list[str]) -> int:
    """``OUT TIMER SCRIPT ARGS...``: run the console script ``SCRIPT`` with ``ARGS`` and profile it."""
    global _timer
    out, timer, script, *args = argv
    _timer = TIMERS[timer]
    module_name, function_name = _entry_point(script)
    sys.argv = [script, *args]
    import_profile, run_profile = cProfile.Profile(_timer), cProfile.Profile(_timer)
    clocks = [(time.perf_counter(), time.process_time())]
    import_profile.enable()
    entry = getattr(import_module(module_name), function_name)
    import_profile.disable()
    clocks.append((time.perf_counter(), time.process_time()))
    threading.Thread.run = _profiled_run  # type: ignore[method-assign]
    code: Any = 0
    run_profile.enable()
    try:
        entry()
    except SystemExit as exit_:
        code = exit_.code
    finally:
        run_profile.disable()
        clocks.append((time.perf_counter(), time.process_time()))
    _merged([import_profile]).dump_stats(f"{out}.import.prof")
    _merged([run_profile, *_thread_profiles]).dump_stats(f"{out}.prof")
    (start, start_cpu), (imported, imported_cpu), (finished, finished_cpu) = clocks
    timing = {
        "import_seconds": imported - start,
        "import_cpu_seconds": imported_cpu - start_cpu,
        "run_seconds": finished - imported,
        "run_cpu_seconds": finished_cpu - imported_cpu,
    }
    with open(f"{out}.json", "wb") as timing_file:
        timing_file.write(orjson.dumps(timing))
    return code if isinstance(code, int) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
