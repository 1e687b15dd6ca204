"""``FakeApiServer``: a real HTTP server on 127.0.0.1 that fakes both vendor APIs, with ground truth,
mutations, fault injection and a request log for tests.

Endpoints (one base URL; the name in brackets is the request-log, in-flight and
:class:`~fake_api.faults.Fault` endpoint name):

* ``GET  /v1/{account_id}/{project_id}/conversations`` PolyAI v1 list [``polyai``]
* ``GET  /v3/{account_id}/{project_id}/conversations`` PolyAI v3 list, cursor paging [``polyai`` too: tell
  the versions apart by the logged ``path``, or match faults on ``{"version": "v3"}``]
* ``POST /v1/list-conversations`` Vectara v1 list (first turns) [``vectara``]
* ``POST /v1/read-conversations`` Vectara v1 whole conversations, at most 10 ids [``vectara_read``]
* ``GET  /v2/chats``, ``GET /v2/chats/{chat_id}/turns`` Vectara v2 chats [``vectara_chats``, ``vectara_turns``]
* ``GET  /v2/agents``, ``/v2/agents/{agent_key}/sessions``, ``/v2/agents/{agent_key}/sessions/{session_key}/events``
  Vectara Agents API [``vectara_agents``, ``vectara_sessions``, ``vectara_events``]
* ``POST /oauth2/token`` OAuth2 client credentials for Vectara [``token``]
* control endpoints (no auth; JSON bodies), for tests that drive a server in another process:

  - ``POST /_fake/faults`` (a :class:`~fake_api.faults.Fault` as JSON), ``DELETE /_fake/faults``
  - ``POST /_fake/polyai/add`` ``{n, in_progress, started_at, project_id}``,
    ``POST /_fake/polyai/finish`` ``{project_id}`` (none: every project)
  - ``POST /_fake/vectara/add`` ``{n, epoch_secs}``, ``POST /_fake/vectara/turns``
    ``{conversation_id, n, epoch_secs}``, ``POST /_fake/tokens/expire``
  - ``POST /_fake/agents/sessions`` ``{agent_key, name, events, created_at}``,
    ``DELETE /_fake/agents/sessions`` ``{agent_key, session_key}``,
    ``POST /_fake/agents/events`` ``{agent_key, session_key, n, types, created_at}``
  - ``GET /_fake/stats``, ``DELETE /_fake/log``

Backward compatibility: with default arguments everything answers exactly as before the v3 / v2 /
Agents additions. :meth:`FakeApiServer.config` and :meth:`FakeApiServer.polyai_config` keep their old
output (the single-project v1 shape ``{api_key, account_id, project_id, base_url}``);
``polyai_config(version="v3")`` (or ``config(polyai_version="v3")``) gives the several-project v3 shape
``{api_key, account_id, project_ids, base_url, api_version}``. PolyAI ground truth and mutations act on
the default project unless given a ``project_id`` (:data:`ALL_PROJECTS` for every project where that
makes sense; :meth:`FakeApiServer.finish_polyai_in_progress` finishes every project by default).

Latency mode: ``latency_ms`` / ``bandwidth_mbps`` delay every non-control response by
``latency_ms / 1000 + len(body) / (bandwidth_mbps * 1e6)`` seconds; :data:`REALISTIC_LATENCY_MS` and
:data:`REALISTIC_BANDWIDTH_MBPS` are realistic values for a vendor API across the internet.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from .agents import AgentsDataset
from .credentials import hand_out
from .data import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_PROJECT_ID,
    DEFAULT_SEED,
    PolyaiDataset,
    PolyaiSlot,
    Timestamp,
    VectaraDataset,
    json_copy,
    polyai_v3_conversation,
    project_seed,
    to_epoch_us,
)
from .endpoints import (
    Endpoint,
    FastCaches,
    ListEndpoint,
    PageKeyCodec,
    PolyaiEndpoint,
    TokenEndpoint,
    TokenStore,
    VectaraEndpoint,
    VectaraReadEndpoint,
    polyai_filter,
    serve_with_fault,
)
from .faults import Fault, FaultRegistry
from .polyai_v3 import CursorCodec, PolyaiV3Endpoint
from .rate import RateResult, measure_rate
from .requestlog import RequestLog
from .transport import HttpServer, Request, Response, json_response
from .vectara_v2 import (
    AgentsListEndpoint,
    ChatsEndpoint,
    ChatTurnsEndpoint,
    EventsEndpoint,
    SessionsEndpoint,
    V2Auth,
    v2_route,
)

DEFAULT_POLYAI_API_KEY = "xzjhT4XjX3lA8iNLqp21mXZNa8fv1q5BwGSnvMyk"
DEFAULT_VECTARA_CUSTOMER_ID = "2855056612"
DEFAULT_VECTARA_API_KEY = "zqt_ptY4MGISphQ8Lteh24D7t6pJx9LMWUs3YiGK"
DEFAULT_VECTARA_QUERY_API_KEY = "zqt_Qm2vR8kXw4NbT7sLc9pHd3fYg6jUa1eZo5iK"
"""A Query-type API key: accepted by list/read-conversations and v2 chats, refused (403) by the Agents API."""
DEFAULT_OAUTH_CLIENT_ID = "pfz9dc7bjzbdluf7qoyu2ipnxy"
DEFAULT_OAUTH_CLIENT_SECRET = "xhsmrtu8hy22bzm4ymz94mu7npf03d019e7fo77bydpvt3un2ja6"
DEFAULT_END_LAG_SECONDS = 600
"""By default the generated data ends this long before the server was built."""
REALISTIC_LATENCY_MS = 150
"""A realistic round trip to a vendor API across the internet, in milliseconds (``--realistic``)."""
REALISTIC_BANDWIDTH_MBPS = 20
"""A realistic download rate from a vendor API, in megabytes per second (``--realistic``)."""
TOKEN_PATH = TokenEndpoint.PATH
CONTROL_PREFIX = "/_fake/"
AUTH_MODES = ("api_key", "oauth2", "query_api_key")
POLYAI_VERSIONS = ("v1", "v3")
ALL_PROJECTS = "*"
"""Pass as ``project_id`` to PolyAI ground-truth accessors to cover every project (in project order)."""
LEGACY_WARM_ENDPOINTS = ("polyai", "vectara")
"""What :meth:`FakeApiServer.warm` warms by default (the v1 list endpoints)."""
AGENT_SESSION_SPACING_SECONDS = 3600

_US_PER_SECOND = 1_000_000


@dataclasses.dataclass
class _ServedTotals:
    requests: int = 0
    bytes: int = 0
    records: int = 0
    busy_seconds: float = 0.0


class _ServedCounters:
    """Thread-safe throughput totals of one server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals = _ServedTotals()

    def add(self, response: Response, body_bytes: int, seconds: float) -> None:
        with self._lock:
            self._totals.requests += 1
            self._totals.bytes += body_bytes
            self._totals.records += response.records
            self._totals.busy_seconds += seconds

    def snapshot(self) -> _ServedTotals:
        with self._lock:
            return dataclasses.replace(self._totals)


class _InFlight:
    """Requests being handled right now (from request read to response written), per endpoint name and
    in total (``"total"``), and the most seen at once since the last :meth:`reset`; thread-safe."""

    TOTAL = "total"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Counter[str] = Counter()
        self._max: Counter[str] = Counter()

    def enter(self, name: str) -> None:
        with self._lock:
            for key in (self.TOTAL, name):
                self._current[key] += 1
                self._max[key] = max(self._max[key], self._current[key])

    def leave(self, name: str) -> None:
        with self._lock:
            for key in (self.TOTAL, name):
                self._current[key] -= 1

    def current(self) -> dict[str, int]:
        with self._lock:
            return {self.TOTAL: self._current[self.TOTAL], **{k: v for k, v in self._current.items() if v}}

    def maximum(self) -> dict[str, int]:
        with self._lock:
            return {self.TOTAL: self._max[self.TOTAL], **self._max}

    def reset(self) -> None:
        """Restart the maxima from what is in flight now."""
        with self._lock:
            self._max = Counter({key: value for key, value in self._current.items() if value})


class FakeApiServer:
    """A fake of the PolyAI conversations (v1, v3) and Vectara (v1 chat, v2 chats, Agents) APIs, served
    over real HTTP.

    Use it as a context manager (or :meth:`start` / :meth:`stop`)::

        with FakeApiServer(polyai_count=500, vectara_count=300) as server:
            config = server.config()          # {"polyai": {...}, "vectara": {...}}
            ...
            assert sorted(ids_read) == sorted(server.polyai_ids())

    Args:
        port: TCP port on 127.0.0.1; 0 picks a free one.
        seed: seed of the synthetic data (same seed, same records).
        polyai_count, vectara_count: number of generated records (all PolyAI environments together).
        polyai_api_key, polyai_account_id, polyai_project_id: the PolyAI tenant and its key.
        vectara_customer_id, vectara_api_key: the Vectara tenant (digits) and its (Personal) API key.
        oauth_client_id, oauth_client_secret: the Vectara OAuth2 client.
        token_ttl_seconds: lifetime of issued bearer tokens (``expires_in``).
        in_progress_count: the newest N PolyAI base conversations of each project are in progress.
        fast: benchmark mode: serve each distinct page's bytes from a cache after the first time and keep
            every record serialised once generated (see :meth:`warm` to pre-generate them all).
        polyai_max_limit: largest accepted v1 ``limit`` (``1 < limit < polyai_max_limit + 1``); v3 takes 1..1000.
        polyai_window: ``"closed"`` (``start <= started_at <= end``) or ``"half_open"`` (``< end``).
        vectara_page_key_end: the last Vectara page has no ``pageKey`` (``"missing"``) or ``""`` (``"empty"``).
        polyai_end: every PolyAI base conversation starts before this moment (default: 10 minutes before
            now); the newest ones are the in-progress ones.
        polyai_spacing_seconds: time between consecutive PolyAI conversations (each starts at
            ``origin + i * spacing + jitter``, jitter below the spacing).
        vectara_end, vectara_spacing_seconds: the same for Vectara ``epochSecs``.
        epoch_as_number_ratio: share of Vectara records whose ``epochSecs`` is a JSON number, not a string.
        clock: source of "now" in Unix seconds (token expiry, default timelines, added records).
        cache_max_bytes: bound of each fast-mode cache (pages, records).
        log_max_entries: the request log keeps this many newest entries (counters count all).
        polyai_projects: project id -> conversation count, for several PolyAI projects in the account
            (default: the one project ``polyai_project_id`` with ``polyai_count``). Each project has its own
            data, seeded from ``seed`` and its id (the project named ``polyai_project_id`` keeps ``seed``);
            the default project is ``polyai_project_id`` when listed, else the first one.
        polyai_v3_next_offset: v3 bodies also carry ``next_offset`` when another page exists.
        polyai_v3_omit_cursor: v3 bodies have no ``cursor`` key at all (see also the ``missing_cursor`` fault).
        vectara_query_api_key: a Query-type API key: fine for v1 chat endpoints and v2 chats, 403 on Agents.
        vectara_v2_page_key_end: the last page of a v2 / Agents list has no ``metadata.page_key``
            (``"missing"``) or ``""`` (``"empty"``).
        vectara_agent_count, vectara_sessions_per_agent, vectara_events_per_session: size of the Agents data.
        latency_ms, bandwidth_mbps: latency mode (see the module docstring); 0 / None: answer at once.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        seed: int = DEFAULT_SEED,
        polyai_count: int = 2000,
        vectara_count: int = 2000,
        polyai_api_key: str = DEFAULT_POLYAI_API_KEY,
        polyai_account_id: str = DEFAULT_ACCOUNT_ID,
        polyai_project_id: str = DEFAULT_PROJECT_ID,
        vectara_customer_id: str = DEFAULT_VECTARA_CUSTOMER_ID,
        vectara_api_key: str = DEFAULT_VECTARA_API_KEY,
        oauth_client_id: str = DEFAULT_OAUTH_CLIENT_ID,
        oauth_client_secret: str = DEFAULT_OAUTH_CLIENT_SECRET,
        token_ttl_seconds: float = 1800,
        in_progress_count: int = 0,
        fast: bool = False,
        polyai_max_limit: int = 4999,
        polyai_window: str = "closed",
        vectara_page_key_end: str = "missing",
        polyai_end: Timestamp | None = None,
        polyai_spacing_seconds: float = 60.0,
        vectara_end: Timestamp | None = None,
        vectara_spacing_seconds: int = 60,
        epoch_as_number_ratio: float = 0.0,
        clock: Callable[[], float] = time.time,
        cache_max_bytes: int = 1024 * 1024 * 1024,
        log_max_entries: int = 100_000,
        polyai_projects: Mapping[str, int] | None = None,
        polyai_v3_next_offset: bool = False,
        polyai_v3_omit_cursor: bool = False,
        vectara_query_api_key: str = DEFAULT_VECTARA_QUERY_API_KEY,
        vectara_v2_page_key_end: str = "missing",
        vectara_agent_count: int = 2,
        vectara_sessions_per_agent: int = 25,
        vectara_events_per_session: int = 22,
        latency_ms: float = 0.0,
        bandwidth_mbps: float | None = None,
    ) -> None:
        if not str(vectara_customer_id).isdigit():
            raise ValueError("vectara_customer_id must be digits")
        if latency_ms < 0 or (bandwidth_mbps is not None and bandwidth_mbps <= 0):
            raise ValueError("latency_ms must be >= 0 and bandwidth_mbps > 0")
        self.port = port
        self.seed = seed
        self.fast = fast
        self.polyai_window = polyai_window
        self.polyai_api_key = polyai_api_key
        self.vectara_customer_id = str(vectara_customer_id)
        self.vectara_api_key = vectara_api_key
        self.vectara_query_api_key = vectara_query_api_key
        self.oauth_client_id = oauth_client_id
        self.oauth_client_secret = oauth_client_secret
        self.latency_ms = float(latency_ms)
        self.bandwidth_mbps = bandwidth_mbps
        hand_out(polyai_api_key, vectara_api_key, vectara_query_api_key, oauth_client_secret)
        self.clock = clock
        self.requests = RequestLog(log_max_entries)
        """Every request received (secrets masked), with per-endpoint counters."""

        default_end_us = to_epoch_us(clock()) - DEFAULT_END_LAG_SECONDS * _US_PER_SECOND
        polyai_spacing_us = max(1, round(polyai_spacing_seconds * _US_PER_SECOND))
        polyai_end_us = default_end_us if polyai_end is None else to_epoch_us(polyai_end)
        projects = dict(polyai_projects) if polyai_projects else {polyai_project_id: polyai_count}
        default_project = polyai_project_id if polyai_project_id in projects else next(iter(projects))
        ordered = [default_project] + [project for project in projects if project != default_project]
        self._polyai_projects: dict[str, PolyaiDataset] = {
            project: PolyaiDataset(
                seed=project_seed(seed, project, polyai_project_id),
                count=projects[project],
                origin_us=polyai_end_us - projects[project] * polyai_spacing_us,
                spacing_us=polyai_spacing_us,
                in_progress_count=in_progress_count,
                account_id=polyai_account_id,
                project_id=project,
            )
            for project in ordered
        }
        self._polyai = self._polyai_projects[default_project]
        vectara_end_secs = (default_end_us if vectara_end is None else to_epoch_us(vectara_end)) // _US_PER_SECOND
        self._vectara = VectaraDataset(
            seed=seed,
            count=vectara_count,
            origin_secs=vectara_end_secs - vectara_count * vectara_spacing_seconds,
            spacing_secs=vectara_spacing_seconds,
            epoch_as_number_ratio=epoch_as_number_ratio,
        )
        self._agents = AgentsDataset(
            seed=seed,
            agent_count=vectara_agent_count,
            sessions_per_agent=vectara_sessions_per_agent,
            events_per_session=vectara_events_per_session,
            end_us=vectara_end_secs * _US_PER_SECOND,
            session_spacing_us=AGENT_SESSION_SPACING_SECONDS * _US_PER_SECOND,
        )

        self._lock = threading.RLock()
        self._faults = FaultRegistry()
        self._tokens = TokenStore(clock, token_ttl_seconds)
        self._caches = FastCaches.of_size(cache_max_bytes) if fast else None
        v2_auth = V2Auth(vectara_api_key, vectara_query_api_key, self._tokens)

        def page_keys(purpose: str) -> PageKeyCodec:
            return PageKeyCodec(f"fake-api-{purpose}-{seed}".encode())

        v2_lists = {"page_key_end": vectara_v2_page_key_end}
        self._endpoints: dict[str, Endpoint] = {
            "polyai": PolyaiEndpoint(
                self._polyai_projects,
                self._lock,
                self._caches,
                api_key=polyai_api_key,
                account_id=polyai_account_id,
                max_limit=polyai_max_limit,
                window=polyai_window,
            ),
            "polyai_v3": PolyaiV3Endpoint(
                self._polyai_projects,
                self._lock,
                self._caches,
                api_key=polyai_api_key,
                account_id=polyai_account_id,
                window=polyai_window,
                cursors=CursorCodec(f"fake-api-cursors-{seed}".encode()),
                send_next_offset=polyai_v3_next_offset,
                omit_cursor=polyai_v3_omit_cursor,
            ),
            "vectara": VectaraEndpoint(
                self._vectara,
                self._lock,
                self._caches,
                customer_id=self.vectara_customer_id,
                api_key=vectara_api_key,
                tokens=self._tokens,
                page_keys=page_keys("page-keys"),
                page_key_end=vectara_page_key_end,
                query_api_key=vectara_query_api_key,
            ),
            "vectara_read": VectaraReadEndpoint(
                self._vectara,
                self._lock,
                self._caches,
                customer_id=self.vectara_customer_id,
                api_keys=(vectara_api_key, vectara_query_api_key),
                tokens=self._tokens,
            ),
            "vectara_chats": ChatsEndpoint(
                self._vectara, self._lock, self._caches, v2_auth, page_keys=page_keys("chats"), **v2_lists
            ),
            "vectara_turns": ChatTurnsEndpoint(self._vectara, self._lock, self._caches, v2_auth),
            "vectara_agents": AgentsListEndpoint(
                self._agents, self._lock, self._caches, v2_auth, page_keys=page_keys("agents"), **v2_lists
            ),
            "vectara_sessions": SessionsEndpoint(
                self._agents, self._lock, self._caches, v2_auth, page_keys=page_keys("sessions"), **v2_lists
            ),
            "vectara_events": EventsEndpoint(
                self._agents, self._lock, self._caches, v2_auth, page_keys=page_keys("events"), **v2_lists
            ),
            "token": TokenEndpoint(self._tokens, client_id=oauth_client_id, client_secret=oauth_client_secret),
        }
        self._control: dict[tuple[str, str], Callable[[Any], Any]] = {
            ("POST", "faults"): lambda body: self.inject(Fault.from_dict(body)),
            ("DELETE", "faults"): lambda body: self.clear_faults(),
            ("POST", "polyai/add"): lambda body: {
                "ids": self.add_polyai(
                    body.get("n", 1), body.get("in_progress", False), body.get("started_at"), body.get("project_id")
                )
            },
            ("POST", "polyai/finish"): lambda body: {
                "finished": self.finish_polyai_in_progress(body.get("project_id"))
            },
            ("POST", "vectara/add"): lambda body: {"ids": self.add_vectara(body.get("n", 1), body.get("epoch_secs"))},
            ("POST", "vectara/turns"): lambda body: {
                "ids": self.add_vectara_turns(body["conversation_id"], body.get("n", 1), body.get("epoch_secs"))
            },
            ("POST", "agents/sessions"): lambda body: {
                "key": self.add_vectara_session(
                    body["agent_key"], body.get("name"), body.get("events", 0), body.get("created_at")
                )
            },
            ("DELETE", "agents/sessions"): lambda body: {
                "deleted": self.delete_vectara_session(body["agent_key"], body["session_key"])
            },
            ("POST", "agents/events"): lambda body: {
                "ids": self.add_vectara_events(
                    body["agent_key"], body["session_key"], body.get("n", 1), body.get("types"), body.get("created_at")
                )
            },
            ("POST", "tokens/expire"): lambda body: self.expire_tokens(),
            ("DELETE", "log"): lambda body: self.reset_log(),
            ("GET", "stats"): lambda body: self.stats(),
        }
        self._served = _ServedCounters()
        self._in_flight = _InFlight()
        self._stopping = threading.Event()
        self._http: HttpServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------------------------
    # Lifecycle
    # ----------------------------------------------------------------------------------------------

    def start(self) -> FakeApiServer:
        """Bind 127.0.0.1:``port`` and serve in a background thread. Returns self."""
        if self._http is not None:
            raise RuntimeError("the server is already running")
        self._stopping.clear()
        self._http = HttpServer(self.port, self._respond, self._served.add, self._finished)
        self.port = self._http.port
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-api:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections (cutting short any delay fault or latency wait) and release
        the port."""
        if self._http is None:
            return
        self._stopping.set()
        self._http.shutdown()
        self._http.close_connections()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._http = None
        self._thread = None

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash); available once started."""
        if self._http is None:
            raise RuntimeError("start the server first")
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        """The OAuth2 token endpoint, ``{base_url}/oauth2/token``."""
        return self.base_url + TOKEN_PATH

    # ----------------------------------------------------------------------------------------------
    # Connector configuration
    # ----------------------------------------------------------------------------------------------

    @property
    def polyai_project_ids(self) -> list[str]:
        """Every PolyAI project id, the default project first."""
        return list(self._polyai_projects)

    @property
    def polyai_project_id(self) -> str:
        """The default PolyAI project."""
        return self._polyai.project_id

    def polyai_config(self, version: str = "v1", projects: Iterable[str] | None = None) -> dict[str, Any]:
        """The PolyAI connector settings.

        ``version="v1"`` (the default, unchanged): ``{api_key, account_id, project_id, base_url}`` for the
        default project (or the first of ``projects``). ``version="v3"``: ``{api_key, account_id,
        project_ids, base_url, api_version: "v3"}`` for ``projects`` (default: every project).
        """
        if version not in POLYAI_VERSIONS:
            raise ValueError(f"version must be one of {POLYAI_VERSIONS}")
        project_ids = list(projects) if projects is not None else self.polyai_project_ids
        for project in project_ids:
            self._polyai_dataset(project)
        if version == "v1":
            return {
                "api_key": self.polyai_api_key,
                "account_id": self._polyai.account_id,
                "project_id": project_ids[0] if projects is not None and project_ids else self._polyai.project_id,
                "base_url": self.base_url,
            }
        return {
            "api_key": self.polyai_api_key,
            "account_id": self._polyai.account_id,
            "project_ids": project_ids,
            "base_url": self.base_url,
            "api_version": "v3",
        }

    def vectara_config(self, auth: str = "api_key") -> dict[str, Any]:
        """``{customer_id, base_url, credentials}``; ``auth`` is ``"api_key"`` (the Personal key),
        ``"oauth2"`` or ``"query_api_key"`` (the Query key: no Agents API)."""
        if auth == "api_key":
            credentials = {"auth_type": "api_key", "api_key": self.vectara_api_key}
        elif auth == "query_api_key":
            credentials = {"auth_type": "api_key", "api_key": self.vectara_query_api_key}
        elif auth == "oauth2":
            credentials = {
                "auth_type": "oauth2_client_credentials",
                "client_id": self.oauth_client_id,
                "client_secret": self.oauth_client_secret,
                "token_url": self.token_url,
            }
        else:
            raise ValueError(f"auth must be one of {AUTH_MODES}")
        return {"customer_id": self.vectara_customer_id, "base_url": self.base_url, "credentials": credentials}

    def config(self, auth: str = "api_key", polyai_version: str = "v1") -> dict[str, Any]:
        """``{"polyai": polyai_config(polyai_version), "vectara": vectara_config(auth)}``."""
        return {"polyai": self.polyai_config(polyai_version), "vectara": self.vectara_config(auth)}

    # ----------------------------------------------------------------------------------------------
    # Ground truth: PolyAI
    # ----------------------------------------------------------------------------------------------

    @property
    def polyai_count(self) -> int:
        """PolyAI conversations in every environment of every project, added ones included."""
        with self._lock:
            return sum(dataset.size for dataset in self._polyai_projects.values())

    @property
    def vectara_count(self) -> int:
        """Vectara conversations, added ones included."""
        with self._lock:
            return self._vectara.size

    def _polyai_dataset(self, project_id: str | None) -> PolyaiDataset:
        if project_id is None:
            return self._polyai
        dataset = self._polyai_projects.get(project_id)
        if dataset is None:
            raise ValueError(f"unknown PolyAI project {project_id!r}; the projects are {self.polyai_project_ids}")
        return dataset

    def _polyai_datasets(self, project_id: str | None) -> list[PolyaiDataset]:
        if project_id == ALL_PROJECTS:
            return list(self._polyai_projects.values())
        return [self._polyai_dataset(project_id)]

    def _polyai_slots(
        self,
        start: Timestamp | None,
        end: Timestamp | None,
        in_progress: bool | None,
        client_env: str | None,
        project_id: str | None = None,
        channels: Iterable[str] | None = None,
    ) -> list[tuple[PolyaiDataset, PolyaiSlot]]:
        query = polyai_filter(
            None if start is None else to_epoch_us(start),
            None if end is None else to_epoch_us(end),
            self.polyai_window,
            environment=client_env,
            in_progress=in_progress,
        )
        wanted = None if channels is None else set(channels)
        found = []
        with self._lock:
            for dataset in self._polyai_datasets(project_id):
                slots, _ = dataset.page(query, 0, dataset.size)
                found += [(dataset, slot) for slot in slots if wanted is None or dataset.channel(slot) in wanted]
        return found

    def polyai_ids(
        self,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        in_progress: bool | None = None,
        client_env: str | None = "live",
        *,
        project_id: str | None = None,
        channels: Iterable[str] | None = None,
    ) -> list[str]:
        """Ids the API lists for this window, in order (``client_env=None``: every environment).

        ``start``/``end`` follow the server's ``polyai_window`` semantics, as ``start_time``/``end_time`` do.
        ``project_id``: None is the default project, :data:`ALL_PROJECTS` every project (one after the
        other). ``channels``: only these channels (as the v3 ``channel`` filter).
        """
        return [
            dataset.conversation_id(slot.record_index)
            for dataset, slot in self._polyai_slots(start, end, in_progress, client_env, project_id, channels)
        ]

    def polyai_records(
        self,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        in_progress: bool | None = None,
        client_env: str | None = "live",
        *,
        project_id: str | None = None,
        channels: Iterable[str] | None = None,
        version: str = "v1",
        include_latency: bool = False,
    ) -> list[dict[str, Any]]:
        """The records :meth:`polyai_ids` names, exactly as ``version`` (``"v1"`` or ``"v3"``, with or
        without ``include_latency``) serves them (fresh copies)."""
        if version not in POLYAI_VERSIONS:
            raise ValueError(f"version must be one of {POLYAI_VERSIONS}")
        found = self._polyai_slots(start, end, in_progress, client_env, project_id, channels)
        if version == "v1":
            return [json_copy(dataset.conversation(slot)) for dataset, slot in found]
        return [
            json_copy(polyai_v3_conversation(dataset.conversation(slot), include_latency)) for dataset, slot in found
        ]

    def polyai_project_count(self, project_id: str | None = None) -> int:
        """PolyAI conversations of one project (default: the default project), added ones included."""
        with self._lock:
            return self._polyai_dataset(project_id).size

    # ----------------------------------------------------------------------------------------------
    # Ground truth: Vectara conversations and chats
    # ----------------------------------------------------------------------------------------------

    def vectara_ids(self) -> list[str]:
        """Every Vectara conversation id, in listing order."""
        return [turn["id"] for turn in self.vectara_records()]

    def vectara_records(self) -> list[dict[str, Any]]:
        """Every Vectara first turn, in listing order, exactly as served."""
        with self._lock:
            indices = self._vectara.listing(0, self._vectara.size)
        return [self._vectara.turn(index) for index in indices]

    def _vectara_index(self, conversation_id: str) -> int:
        with self._lock:
            index = self._vectara.index_of(conversation_id)
        if index is None:
            raise ValueError(f"unknown Vectara conversation {conversation_id!r}")
        return index

    def vectara_conversation(self, conversation_id: str) -> dict[str, Any]:
        """One conversation as ``/v1/read-conversations`` serves it: ``{"id", "turn": [...]}``."""
        index = self._vectara_index(conversation_id)
        with self._lock:
            return {"id": conversation_id, "turn": self._vectara.turns(index)}

    def vectara_turns(self, version: str = "v1") -> list[dict[str, Any]]:
        """Every turn of every conversation, conversations in listing order and each one's turns oldest
        first: v1 turn records (as read-conversations serves them) or v2 ones (as ``/v2/chats/{id}/turns``)."""
        if version not in ("v1", "v2"):
            raise ValueError("version must be 'v1' or 'v2'")
        with self._lock:
            indices = self._vectara.listing(0, self._vectara.size)
            read = self._vectara.turns if version == "v1" else self._vectara.chat_turns
            return [turn for index in indices for turn in read(index)]

    def vectara_turn_ids(self, version: str = "v1") -> list[str]:
        """The ids of :meth:`vectara_turns`."""
        return [turn["id"] for turn in self.vectara_turns(version)]

    def vectara_chat_ids(self) -> list[str]:
        """Every v2 chat id (``cht_...``), in listing order (the v1 listing's order)."""
        with self._lock:
            return [self._vectara.chat_id(index) for index in self._vectara.listing(0, self._vectara.size)]

    def vectara_chats(self) -> list[dict[str, Any]]:
        """Every v2 chat record, in listing order, exactly as served."""
        with self._lock:
            return [self._vectara.chat(index) for index in self._vectara.listing(0, self._vectara.size)]

    def vectara_chat_id(self, conversation_id: str) -> str:
        """The v2 chat id of a v1 conversation id."""
        return self._vectara.chat_id(self._vectara_index(conversation_id))

    def vectara_chat_turns(self, chat_id: str) -> list[dict[str, Any]]:
        """The v2 turn records of one chat, as served."""
        with self._lock:
            index = self._vectara.index_of_chat(chat_id)
            if index is None:
                raise ValueError(f"unknown Vectara chat {chat_id!r}")
            return self._vectara.chat_turns(index)

    # ----------------------------------------------------------------------------------------------
    # Ground truth: Vectara agents
    # ----------------------------------------------------------------------------------------------

    def _agent(self, agent_key: str) -> int:
        a = self._agents.agent_index(agent_key)
        if a is None:
            raise ValueError(f"unknown Vectara agent {agent_key!r}")
        return a

    def _session(self, agent_key: str, session_key: str) -> tuple[int, int]:
        a = self._agent(agent_key)
        j = self._agents.session_index(a, session_key)
        if j is None:
            raise ValueError(f"no live session {session_key!r} on agent {agent_key!r}")
        return a, j

    def vectara_agent_keys(self) -> list[str]:
        """Every agent key, in listing order."""
        return self._agents.agent_keys

    def vectara_agents(self) -> list[dict[str, Any]]:
        """Every agent record, in listing order, as served."""
        with self._lock:
            return [self._agents.agent(a) for a in range(self._agents.agent_count)]

    def vectara_sessions(self, agent_key: str) -> list[dict[str, Any]]:
        """The live sessions of one agent, in listing order (unsorted), as served."""
        with self._lock:
            a = self._agent(agent_key)
            return [self._agents.session(a, j) for j in self._agents.live_sessions(a)]

    def vectara_session_keys(self, agent_key: str | None = None) -> list[str]:
        """The keys of :meth:`vectara_sessions` (``agent_key=None``: every agent's, agent after agent)."""
        keys = self._agents.agent_keys if agent_key is None else [agent_key]
        return [session["key"] for key in keys for session in self.vectara_sessions(key)]

    def vectara_events(self, agent_key: str, session_key: str, include_hidden: bool = False) -> list[dict[str, Any]]:
        """One session's events in chronological order, as served (hidden ones only with ``include_hidden``)."""
        with self._lock:
            a, j = self._session(agent_key, session_key)
            return [stored.record for stored in self._agents.events(a, j) if include_hidden or not stored.hidden]

    def vectara_event_ids(self, agent_key: str, session_key: str, include_hidden: bool = False) -> list[str]:
        """The ids of :meth:`vectara_events`."""
        return [event["id"] for event in self.vectara_events(agent_key, session_key, include_hidden)]

    # ----------------------------------------------------------------------------------------------
    # Mutations
    # ----------------------------------------------------------------------------------------------

    def _changed(self) -> None:
        if self._caches is not None:
            self._caches.pages.clear()

    def add_polyai(
        self, n: int = 1, in_progress: bool = False, started_at: Timestamp | None = None, project_id: str | None = None
    ) -> list[str]:
        """Add ``n`` live conversations to ``project_id`` (default: the default project) starting at
        ``started_at`` (default now), 1 ms apart; return their ids.

        A ``started_at`` inside already-listed data shifts later offsets, as on the real API (v3 cursors
        are not affected).
        """
        started_us = to_epoch_us(self.clock() if started_at is None else started_at)
        with self._lock:
            dataset = self._polyai_dataset(project_id)
            slots = dataset.add(int(n), started_us, bool(in_progress))
            self._changed()
        return [dataset.conversation_id(slot.record_index) for slot in slots]

    def finish_polyai_in_progress(self, project_id: str | None = None) -> int:
        """Finish every in-progress conversation (durations, all turns, handoff filled in) of ``project_id``
        (None: every project); return how many."""
        with self._lock:
            datasets = (
                list(self._polyai_projects.values()) if project_id is None else [self._polyai_dataset(project_id)]
            )
            finished = sum(dataset.finish_in_progress() for dataset in datasets)
            self._changed()
        return finished

    def add_vectara(self, n: int = 1, epoch_secs: int | None = None) -> list[str]:
        """Append ``n`` conversations created at ``epoch_secs`` (default now) to the listing; return their ids."""
        created = int(self.clock()) if epoch_secs is None else int(epoch_secs)
        with self._lock:
            first = self._vectara.size
            self._vectara.add(int(n), created)
            self._changed()
        return [self._vectara.conversation_id(index) for index in range(first, first + int(n))]

    def add_vectara_turns(self, conversation_id: str, n: int = 1, epoch_secs: int | None = None) -> list[str]:
        """Append ``n`` turns to a conversation, 1 s apart from ``epoch_secs`` (default now; never before its
        last turn); they show up in read-conversations and in the chat's v2 turns. Return their v1 ids."""
        created = int(self.clock()) if epoch_secs is None else int(epoch_secs)
        with self._lock:
            index = self._vectara_index(conversation_id)
            positions = self._vectara.add_turns(index, int(n), created)
            turns = self._vectara.turns(index)
            self._changed()
        return [turns[position]["id"] for position in positions]

    def add_vectara_session(
        self, agent_key: str, name: str | None = None, events: int = 0, created_at: Timestamp | None = None
    ) -> str:
        """Add a session to an agent (listed after the others) with ``events`` generated events, created at
        ``created_at`` (default now); return its key."""
        created_us = to_epoch_us(self.clock() if created_at is None else created_at)
        with self._lock:
            a = self._agent(agent_key)
            j = self._agents.add_session(a, created_us, name, int(events))
            self._changed()
            return self._agents.session_key(a, j)

    def delete_vectara_session(self, agent_key: str, session_key: str) -> str:
        """Delete a session: it leaves the listing and its events endpoint answers 404. Returns its key."""
        with self._lock:
            a, j = self._session(agent_key, session_key)
            self._agents.delete_session(a, j)
            self._changed()
        return session_key

    delete_session = delete_vectara_session

    def add_vectara_events(
        self,
        agent_key: str,
        session_key: str,
        n: int = 1,
        types: Iterable[str] | None = None,
        created_at: Timestamp | None = None,
    ) -> list[str]:
        """Append events to a session, 1 ms apart from ``created_at`` (default now; never before its last
        event): of ``types`` when given (any strings, unknown types too), else ``n`` events alternating
        ``input_message`` / ``agent_output``. Return their ids."""
        kinds = list(types) if types is not None else [("input_message", "agent_output")[k % 2] for k in range(int(n))]
        created_us = to_epoch_us(self.clock() if created_at is None else created_at)
        with self._lock:
            a, j = self._session(agent_key, session_key)
            ids = self._agents.add_events(a, j, created_us, kinds)
            self._changed()
        return ids

    # ----------------------------------------------------------------------------------------------
    # Faults, tokens, log, stats
    # ----------------------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Arm ``fault`` (see :class:`~fake_api.faults.Fault`); faults match in injection order."""
        self._faults.inject(fault)

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self._faults.clear()

    def expire_tokens(self) -> None:
        """Make every issued bearer token expired (the next Vectara call with one gets 401)."""
        self._tokens.expire_all()

    def reset_log(self) -> None:
        """Empty the request log and its counters and restart the in-flight maxima (served byte/request
        counters are kept)."""
        self.requests.clear()
        self._in_flight.reset()

    @property
    def served_bytes(self) -> int:
        """Response body bytes written since the server was built."""
        return self._served.snapshot().bytes

    @property
    def served_requests(self) -> int:
        """Responses written since the server was built."""
        return self._served.snapshot().requests

    def served(self) -> dict[str, float]:
        """Throughput counters since the server was built: ``requests``, body ``bytes``, list ``records``
        and ``busy_seconds`` (time between reading a request and finishing its response). Each response
        is counted right after it is written."""
        return dataclasses.asdict(self._served.snapshot())

    def max_in_flight(self) -> dict[str, int]:
        """The most requests handled at once since the last :meth:`reset_log`: ``"total"`` and per endpoint
        name (control requests are not counted)."""
        return self._in_flight.maximum()

    def stats(self) -> dict[str, Any]:
        """Request counts per endpoint, served counters, ground-truth counts, the armed faults and the
        in-flight counts (now and the maxima since :meth:`reset_log`)."""
        with self._lock:
            in_progress = len(self._polyai_slots(None, None, True, None, ALL_PROJECTS))
            projects = {project: dataset.size for project, dataset in self._polyai_projects.items()}
            sessions = {key: len(self._agents.live_sessions(a)) for a, key in enumerate(self._agents.agent_keys)}
        return {
            "requests": self.requests.counts(),
            "served": self.served(),
            "polyai_count": self.polyai_count,
            "polyai_in_progress": in_progress,
            "polyai_projects": projects,
            "vectara_count": self.vectara_count,
            "vectara_agents": len(sessions),
            "vectara_sessions": sessions,
            "faults": self._faults.describe(),
            "in_flight": self._in_flight.current(),
            "max_in_flight": self._in_flight.maximum(),
        }

    def warm(self, endpoints: Iterable[str] | None = None) -> int:
        """Fast mode: generate and serialise every record of ``endpoints`` (default: the v1 lists
        ``polyai`` and ``vectara``; also ``polyai_v3``, ``vectara_chats``) now, so that even the first pass
        over the data is served from memory. Returns the number of records cached."""
        if self._caches is None:
            raise RuntimeError("warm() needs fast=True")
        names = LEGACY_WARM_ENDPOINTS if endpoints is None else tuple(endpoints)
        unknown = set(names) - set(self._endpoints)
        if unknown:
            raise ValueError(f"unknown endpoints {sorted(unknown)}")
        return sum(
            endpoint.warm()
            for name, endpoint in self._endpoints.items()
            if name in names and isinstance(endpoint, ListEndpoint)
        )

    def measure_rate(self, vendor: str, page_size: int = 1000, max_records: int | None = None) -> RateResult:
        """Page through ``vendor``'s data with a minimal keep-alive client; see :func:`fake_api.rate.measure_rate`."""
        return measure_rate(self.config(), vendor, page_size=page_size, max_records=max_records)

    # ----------------------------------------------------------------------------------------------
    # Request handling (called from the HTTP threads)
    # ----------------------------------------------------------------------------------------------

    def _route(self, path: str) -> str:
        if path.startswith(CONTROL_PREFIX):
            return "control"
        if path == VectaraEndpoint.PATH:
            return "vectara"
        if path == VectaraReadEndpoint.PATH:
            return "vectara_read"
        if path == TokenEndpoint.PATH:
            return "token"
        if PolyaiEndpoint.tenant(path) is not None:
            return "polyai"
        if PolyaiV3Endpoint.tenant(path) is not None:
            return "polyai_v3"
        return v2_route(path) or "unknown"

    def _respond(self, request: Request) -> Response:
        route = self._route(request.path)
        endpoint = self._endpoints.get(route)
        name = route if endpoint is None else endpoint.fault_endpoint  # PolyAI v1 and v3 are both "polyai"
        entry = self.requests.record(name, request, self.clock())
        if name == "control":
            response = self._respond_control(request)
            entry.status = response.status
            return response
        self._in_flight.enter(name)
        try:
            if endpoint is None:
                response = json_response(404, {"message": f"no such endpoint: {request.method} {request.path}"})
            else:
                if request.method != endpoint.method:
                    allow = (("Allow", endpoint.method),)
                    response = endpoint.error(405, f"Method {request.method} not allowed", allow)
                else:
                    fault = self._faults.take(endpoint.fault_endpoint, endpoint.match_params(request))
                    response = serve_with_fault(endpoint, request, fault, self._stopping.wait)
            entry.status = response.status
            self._wait_latency(response)
        except BaseException:
            self._in_flight.leave(name)
            raise
        return dataclasses.replace(response, endpoint=name)

    def _wait_latency(self, response: Response) -> None:
        """Latency mode: hold the response back as a distant server on a limited link would."""
        seconds = self.latency_ms / 1000
        if self.bandwidth_mbps:
            seconds += len(response.body) / (self.bandwidth_mbps * 1e6)
        if seconds > 0:
            self._stopping.wait(seconds)

    def _finished(self, response: Response) -> None:
        if response.endpoint:
            self._in_flight.leave(response.endpoint)

    def _respond_control(self, request: Request) -> Response:
        action = self._control.get((request.method, request.path[len(CONTROL_PREFIX) :].strip("/")))
        if action is None:
            return json_response(404, {"error": f"no control endpoint {request.method} {request.path}"})
        try:
            body = orjson.loads(request.body) if request.body else {}
            if not isinstance(body, Mapping):
                raise ValueError("the body must be a JSON object")
            result = action(body)
        except KeyError as error:
            return json_response(400, {"error": f"missing field {error}"})
        except (ValueError, TypeError) as error:  # orjson.JSONDecodeError is a ValueError
            return json_response(400, {"error": str(error)})
        return json_response(200, {"ok": True} if result is None else result)
