"""A faithful fake of the PolyAI Conversations (v1, v3) and Vectara (v1 list/read-conversations, v2 chats,
Agents sessions and events) APIs.

One implementation for unit tests, integration tests, demos and benchmarks:

* :class:`FakeApiServer`: a real HTTP server on 127.0.0.1 with seeded synthetic data, ground truth,
  mutations, fault injection (:class:`Fault`), a request log, in-flight counts and a latency mode.
* Data helpers to build response bodies without a server: :func:`polyai_conversation`,
  :func:`polyai_v3_conversation`, :func:`vectara_turn`, :func:`polyai_page`, :func:`polyai_v3_page`,
  :func:`vectara_page`.
* :func:`measure_rate`: how fast a server serves records to a minimal client.

Run it standalone with ``python -m fake_api --help``.
"""

from .agents import AGENT_EVENT_TYPES, UNKNOWN_EVENT_TYPE
from .data import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_PROJECT_ID,
    DEFAULT_SEED,
    ENVIRONMENTS,
    POLYAI_DESCRIPTIONS,
    VARIANTS,
    format_timestamp,
    json_copy,
    numbered_project_ids,
    polyai_conversation,
    polyai_page,
    polyai_v3_conversation,
    polyai_v3_page,
    to_epoch_us,
    vectara_page,
    vectara_turn,
)
from .faults import Fault
from .rate import RateResult, measure_rate
from .requestlog import LoggedRequest, RequestLog
from .server import (
    ALL_PROJECTS,
    DEFAULT_OAUTH_CLIENT_ID,
    DEFAULT_OAUTH_CLIENT_SECRET,
    DEFAULT_POLYAI_API_KEY,
    DEFAULT_VECTARA_API_KEY,
    DEFAULT_VECTARA_CUSTOMER_ID,
    DEFAULT_VECTARA_QUERY_API_KEY,
    REALISTIC_BANDWIDTH_MBPS,
    REALISTIC_LATENCY_MS,
    TOKEN_PATH,
    FakeApiServer,
)

__all__ = [
    "AGENT_EVENT_TYPES",
    "ALL_PROJECTS",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_OAUTH_CLIENT_ID",
    "DEFAULT_OAUTH_CLIENT_SECRET",
    "DEFAULT_POLYAI_API_KEY",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_SEED",
    "DEFAULT_VECTARA_API_KEY",
    "DEFAULT_VECTARA_CUSTOMER_ID",
    "DEFAULT_VECTARA_QUERY_API_KEY",
    "ENVIRONMENTS",
    "POLYAI_DESCRIPTIONS",
    "REALISTIC_BANDWIDTH_MBPS",
    "REALISTIC_LATENCY_MS",
    "TOKEN_PATH",
    "UNKNOWN_EVENT_TYPE",
    "VARIANTS",
    "FakeApiServer",
    "Fault",
    "LoggedRequest",
    "RateResult",
    "RequestLog",
    "format_timestamp",
    "json_copy",
    "measure_rate",
    "numbered_project_ids",
    "polyai_conversation",
    "polyai_page",
    "polyai_v3_conversation",
    "polyai_v3_page",
    "to_epoch_us",
    "vectara_page",
    "vectara_turn",
]
