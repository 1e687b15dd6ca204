"""A faithful fake of the PolyAI Conversations (v1) and Vectara ListConversations (v1) APIs.

One implementation for unit tests, integration tests, demos and benchmarks:

* :class:`FakeApiServer`: a real HTTP server on 127.0.0.1 with seeded synthetic data, ground truth,
  mutations, fault injection (:class:`Fault`) and a request log.
* Data helpers to build response bodies without a server: :func:`polyai_conversation`,
  :func:`vectara_turn`, :func:`polyai_page`, :func:`vectara_page`.
* :func:`measure_rate`: how fast a server serves records to a minimal client.

Run it standalone with ``python -m fake_api --help``.
"""

from .data import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_PROJECT_ID,
    DEFAULT_SEED,
    ENVIRONMENTS,
    POLYAI_DESCRIPTIONS,
    VARIANTS,
    format_timestamp,
    json_copy,
    polyai_conversation,
    polyai_page,
    to_epoch_us,
    vectara_page,
    vectara_turn,
)
from .faults import Fault
from .rate import RateResult, measure_rate
from .requestlog import LoggedRequest, RequestLog
from .server import (
    DEFAULT_OAUTH_CLIENT_ID,
    DEFAULT_OAUTH_CLIENT_SECRET,
    DEFAULT_POLYAI_API_KEY,
    DEFAULT_VECTARA_API_KEY,
    DEFAULT_VECTARA_CUSTOMER_ID,
    TOKEN_PATH,
    FakeApiServer,
)

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_OAUTH_CLIENT_ID",
    "DEFAULT_OAUTH_CLIENT_SECRET",
    "DEFAULT_POLYAI_API_KEY",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_SEED",
    "DEFAULT_VECTARA_API_KEY",
    "DEFAULT_VECTARA_CUSTOMER_ID",
    "ENVIRONMENTS",
    "POLYAI_DESCRIPTIONS",
    "TOKEN_PATH",
    "VARIANTS",
    "FakeApiServer",
    "Fault",
    "LoggedRequest",
    "RateResult",
    "RequestLog",
    "format_timestamp",
    "json_copy",
    "measure_rate",
    "polyai_conversation",
    "polyai_page",
    "to_epoch_us",
    "vectara_page",
    "vectara_turn",
]
