"""Run the fake API in the foreground: ``python -m fake_api --port 8765 --polyai 2000 --vectara 2000``.

Prints one JSON line to stdout: ``{"base_url", "token_url", "config": {"polyai", "vectara"},
"oauth_config": {"polyai", "vectara"}, "polyai_v3_config", "vectara_query_config"}`` with the fake
credentials to use, then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import orjson

from .data import DEFAULT_PROJECT_ID, numbered_project_ids
from .server import REALISTIC_BANDWIDTH_MBPS, REALISTIC_LATENCY_MS, FakeApiServer


def parse_projects(text: str, count: int) -> dict[str, int]:
    """``--polyai-projects``: a number N (N projects of ``count`` conversations each, the default project
    first) or ``ID=COUNT,ID=COUNT`` (or plain ``ID,ID``, each with ``count``)."""
    text = text.strip()
    if text.isdigit():
        n = int(text)
        if n < 1:
            raise argparse.ArgumentTypeError("--polyai-projects needs at least one project")
        return dict.fromkeys(numbered_project_ids(n, DEFAULT_PROJECT_ID), count)
    projects: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        project, _, size = item.partition("=")
        if not project or (size and not size.isdigit()):
            raise argparse.ArgumentTypeError(f"bad --polyai-projects item {item!r}; use ID=COUNT")
        projects[project] = int(size) if size else count
    if not projects:
        raise argparse.ArgumentTypeError("--polyai-projects is empty")
    return projects


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fake_api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--polyai", type=int, default=2000, help="PolyAI conversations to generate (per project)")
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
    parser.add_argument(
        "--polyai-projects",
        metavar="N|ID=COUNT,...",
        help="several PolyAI projects: a number (each with --polyai conversations) or ID=COUNT pairs",
    )
    parser.add_argument("--polyai-v3-next-offset", action="store_true", help="v3 pages also carry next_offset")
    parser.add_argument("--polyai-v3-omit-cursor", action="store_true", help="v3 pages have no cursor key")
    parser.add_argument("--agents", type=int, default=2, help="Vectara agents")
    parser.add_argument("--sessions-per-agent", type=int, default=25, help="Vectara sessions of each agent")
    parser.add_argument("--events-per-session", type=int, default=22, help="events of each Vectara session")
    parser.add_argument(
        "--v2-page-key-end", choices=("missing", "empty"), default="missing", help="v2 page_key on the last page"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay every response by this many ms")
    parser.add_argument("--bandwidth-mbps", type=float, default=None, help="and by its size at this many MB/s")
    parser.add_argument(
        "--realistic",
        action="store_true",
        help=f"realistic defaults: --latency-ms {REALISTIC_LATENCY_MS} --bandwidth-mbps {REALISTIC_BANDWIDTH_MBPS}",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, serve, and return the exit status once a stop signal arrives."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.warm and not args.fast:
        parser.error("--warm needs --fast")
    try:
        projects = parse_projects(args.polyai_projects, args.polyai) if args.polyai_projects else None
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    latency_ms = args.latency_ms or (REALISTIC_LATENCY_MS if args.realistic else 0.0)
    bandwidth_mbps = args.bandwidth_mbps or (REALISTIC_BANDWIDTH_MBPS if args.realistic else None)
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
        polyai_projects=projects,
        polyai_v3_next_offset=args.polyai_v3_next_offset,
        polyai_v3_omit_cursor=args.polyai_v3_omit_cursor,
        vectara_agent_count=args.agents,
        vectara_sessions_per_agent=args.sessions_per_agent,
        vectara_events_per_session=args.events_per_session,
        vectara_v2_page_key_end=args.v2_page_key_end,
        latency_ms=latency_ms,
        bandwidth_mbps=bandwidth_mbps,
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
            "polyai_v3_config": server.polyai_config(version="v3"),
            "vectara_query_config": server.vectara_config("query_api_key"),
        }
        sys.stdout.write(orjson.dumps(line).decode() + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    print("fake_api: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
