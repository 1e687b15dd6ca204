"""The fake API for the benchmark, in its own process: ``python -m benchmark.serve --polyai N --vectara M``.

As ``python -m fake_api --fast --warm``, with fast-mode caches sized for the data (the default 1 GB bound
would evict pages at a million PolyAI records, and the server would then regenerate them). Prints one JSON
line, ``{"base_url", "config"}``, once every record is serialised, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

import orjson

from fake_api import FakeApiServer

CACHE_BYTES_PER_RECORD = 8 * 1024
"""Room per record in each fast-mode cache: records are under 2 KB, and pages of several queries repeat them."""


def main(argv: list[str] | None = None) -> int:
    """Serve until a stop signal; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmark.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--polyai", type=int, default=0, help="PolyAI conversations (all environments)")
    parser.add_argument("--vectara", type=int, default=0, help="Vectara conversations")
    args = parser.parse_args(argv)
    cache_bytes = max(1 << 30, CACHE_BYTES_PER_RECORD * (args.polyai + args.vectara))
    server = FakeApiServer(polyai_count=args.polyai, vectara_count=args.vectara, fast=True, cache_max_bytes=cache_bytes)
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    server.warm()
    with server:
        sys.stdout.write(orjson.dumps({"base_url": server.base_url, "config": server.config()}).decode() + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
