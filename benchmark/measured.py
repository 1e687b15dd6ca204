"""Run a command and record what it alone cost: ``python benchmark/measured.py USAGE.json COMMAND ARGS...``

The benchmark starts every measured process through this small one. The reason is in the kernel: on
``exec`` Linux charges the new program's peak RSS with the peak of the address space it replaces, which
belongs to the process that spawned it. A child spawned straight from the benchmark (which holds a million
ids by the end) would report the benchmark's size. Spawned from here it starts from this process's few MB.

Writes ``{"wall_seconds", "user_seconds", "system_seconds", "peak_rss_kib", "exit_code"}`` to USAGE.json
and exits with the command's exit code. Only the standard library's smallest modules are imported.
"""

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    """Spawn ``argv[1:]`` (same stdin, stdout, stderr), wait for it with ``os.wait4``, record its usage."""
    usage_path, *command = argv
    started = time.perf_counter()
    pid = os.posix_spawn(command[0], command, os.environ)
    _, status, rusage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    usage = {
        "wall_seconds": wall,
        "user_seconds": rusage.ru_utime,
        "system_seconds": rusage.ru_stime,
        "peak_rss_kib": rusage.ru_maxrss,  # KiB on Linux
        "exit_code": code,
    }
    with open(usage_path, "w", encoding="utf-8") as usage_file:
        json.dump(usage, usage_file)
    return code if 0 <= code < 256 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
