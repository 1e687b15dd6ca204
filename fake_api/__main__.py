"""Run the fake API in the foreground: ``python -m fake_api --port 8765 --polyai 2000 --vectara 2000``.

Prints one JSON line to stdout: ``{"base_url", "token_url", "config": {"polyai", "vectara"},
"oauth_config": {"polyai", "vectara"}}`` with the fake credentials to use, then serves until SIGINT or
SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import orjson

from .server import FakeApiServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fake_api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--polyai", type=int, default=2000, help="PolyAI conversations to generate")
    parser.add_argument("--vectara", type=int, default=2000, help="Vectara conversations to generate")
    parser.add_argument("--seed", type=int, default=42, help="data seed")
    parser.add_argument("--fast", action="store_true", help="cache serialised records and pages (benchmarks)")
    parser.add_argument("--warm", action="store_true", help="with --fast: serialise every record before serving")
    parser.add_argument("--in-progress", type=int, default=0, help="newest PolyAI conversations in progress")
    parser.add_argument("--polyai-spacing", type=float, default=60.0, help="seconds between PolyAI conversations")
    parser.add_argument("--epoch-as-number-ratio", type=float, default=0.0, help="share of numeric Vectara epochSecs")
    parser.add_argument(
        "--vectara-page-key-end", choices=("missing", "empty"), default="missing", help="pageKey on the last page"
    )
    parser.add_argument(
        "--polyai-window", choices=("closed", "half_open"), default="closed", help="is end_time inclusive (closed)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, serve, and return the exit status once a stop signal arrives."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.warm and not args.fast:
        parser.error("--warm needs --fast")
    server = FakeApiServer(
        port=args.port,
        seed=args.seed,
        polyai_count=args.polyai,
        vectara_count=args.vectara,
        in_progress_count=args.in_progress,
        fast=args.fast,
        polyai_spacing_seconds=args.polyai_spacing,
        epoch_as_number_ratio=args.epoch_as_number_ratio,
        vectara_page_key_end=args.vectara_page_key_end,
        polyai_window=args.polyai_window,
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    if args.warm:
        server.warm()
    with server:
        line = {
            "base_url": server.base_url,
            "token_url": server.token_url,
            "config": server.config("api_key"),
            "oauth_config": server.config("oauth2"),
        }
        sys.stdout.write(orjson.dumps(line).decode() + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    print("fake_api: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
