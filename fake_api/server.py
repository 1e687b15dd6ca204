"""``FakeApiServer``: a real HTTP server on 127.0.0.1 that fakes both vendor APIs, with ground truth,
mutations, fault injection and a request log for tests.

Endpoints (one base URL):

* ``GET  /v1/{account_id}/{project_id}/conversations`` PolyAI v1 list
* ``POST /v1/list-conversations`` Vectara v1 list (first turns)
* ``POST /oauth2/token`` OAuth2 client credentials for Vectara
* control endpoints (no auth; JSON bodies), for tests that drive a server in another process:

  - ``POST /_fake/faults`` (a :class:`~fake_api.faults.Fault` as JSON), ``DELETE /_fake/faults``
  - ``POST /_fake/polyai/add`` ``{n, in_progress, started_at}``, ``POST /_fake/polyai/finish``
  - ``POST /_fake/vectara/add`` ``{n, epoch_secs}``, ``POST /_fake/tokens/expire``
  - ``GET /_fake/stats``, ``DELETE /_fake/log``
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from .credentials import hand_out
from .data import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_PROJECT_ID,
    DEFAULT_SEED,
    PolyaiDataset,
    Timestamp,
    VectaraDataset,
    json_copy,
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
    polyai_filter,
    serve_with_fault,
)
from .faults import Fault, FaultRegistry
from .rate import RateResult, measure_rate
from .requestlog import RequestLog
from .transport import HttpServer, Request, Response, json_response

DEFAULT_POLYAI_API_KEY = "xzjhT4XjX3lA8iNLqp21mXZNa8fv1q5BwGSnvMyk"
DEFAULT_VECTARA_CUSTOMER_ID = "2855056612"
DEFAULT_VECTARA_API_KEY = "zqt_ptY4MGISphQ8Lteh24D7t6pJx9LMWUs3YiGK"
DEFAULT_OAUTH_CLIENT_ID = "pfz9dc7bjzbdluf7qoyu2ipnxy"
DEFAULT_OAUTH_CLIENT_SECRET = "xhsmrtu8hy22bzm4ymz94mu7npf03d019e7fo77bydpvt3un2ja6"
DEFAULT_END_LAG_SECONDS = 600
"""By default the generated data ends this long before the server was built."""
TOKEN_PATH = TokenEndpoint.PATH
CONTROL_PREFIX = "/_fake/"
AUTH_MODES = ("api_key", "oauth2")

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


class FakeApiServer:
    """A fake of the PolyAI conversations and Vectara list-conversations APIs, served over real HTTP.

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
        vectara_customer_id, vectara_api_key: the Vectara tenant (digits) and its API key.
        oauth_client_id, oauth_client_secret: the Vectara OAuth2 client.
        token_ttl_seconds: lifetime of issued bearer tokens (``expires_in``).
        in_progress_count: the newest N PolyAI base conversations are in progress.
        fast: benchmark mode: serve each distinct page's bytes from a cache after the first time and keep
            every record serialised once generated (see :meth:`warm` to pre-generate them all).
        polyai_max_limit: largest accepted ``limit`` (``1 < limit < polyai_max_limit + 1``).
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
    ) -> None:
        if not str(vectara_customer_id).isdigit():
            raise ValueError("vectara_customer_id must be digits")
        self.port = port
        self.seed = seed
        self.fast = fast
        self.polyai_window = polyai_window
        self.polyai_api_key = polyai_api_key
        self.vectara_customer_id = str(vectara_customer_id)
        self.vectara_api_key = vectara_api_key
        self.oauth_client_id = oauth_client_id
        self.oauth_client_secret = oauth_client_secret
        hand_out(polyai_api_key, vectara_api_key, oauth_client_secret)
        self.clock = clock
        self.requests = RequestLog(log_max_entries)
        """Every request received (secrets masked), with per-endpoint counters."""

        default_end_us = to_epoch_us(clock()) - DEFAULT_END_LAG_SECONDS * _US_PER_SECOND
        polyai_spacing_us = max(1, round(polyai_spacing_seconds * _US_PER_SECOND))
        polyai_end_us = default_end_us if polyai_end is None else to_epoch_us(polyai_end)
        self._polyai = PolyaiDataset(
            seed=seed,
            count=polyai_count,
            origin_us=polyai_end_us - polyai_count * polyai_spacing_us,
            spacing_us=polyai_spacing_us,
            in_progress_count=in_progress_count,
            account_id=polyai_account_id,
            project_id=polyai_project_id,
        )
        vectara_end_secs = (default_end_us if vectara_end is None else to_epoch_us(vectara_end)) // _US_PER_SECOND
        self._vectara = VectaraDataset(
            seed=seed,
            count=vectara_count,
            origin_secs=vectara_end_secs - vectara_count * vectara_spacing_seconds,
            spacing_secs=vectara_spacing_seconds,
            epoch_as_number_ratio=epoch_as_number_ratio,
        )

        self._lock = threading.RLock()
        self._faults = FaultRegistry()
        self._tokens = TokenStore(clock, token_ttl_seconds)
        self._caches = FastCaches.of_size(cache_max_bytes) if fast else None
        self._endpoints: dict[str, Endpoint] = {
            "polyai": PolyaiEndpoint(
                self._polyai,
                self._lock,
                self._caches,
                api_key=polyai_api_key,
                max_limit=polyai_max_limit,
                window=polyai_window,
            ),
            "vectara": VectaraEndpoint(
                self._vectara,
                self._lock,
                self._caches,
                customer_id=self.vectara_customer_id,
                api_key=vectara_api_key,
                tokens=self._tokens,
                page_keys=PageKeyCodec(f"fake-api-page-keys-{seed}".encode()),
                page_key_end=vectara_page_key_end,
            ),
            "token": TokenEndpoint(self._tokens, client_id=oauth_client_id, client_secret=oauth_client_secret),
        }
        self._control: dict[tuple[str, str], Callable[[Any], Any]] = {
            ("POST", "faults"): lambda body: self.inject(Fault.from_dict(body)),
            ("DELETE", "faults"): lambda body: self.clear_faults(),
            ("POST", "polyai/add"): lambda body: {
                "ids": self.add_polyai(body.get("n", 1), body.get("in_progress", False), body.get("started_at"))
            },
            ("POST", "polyai/finish"): lambda body: {"finished": self.finish_polyai_in_progress()},
            ("POST", "vectara/add"): lambda body: {"ids": self.add_vectara(body.get("n", 1), body.get("epoch_secs"))},
            ("POST", "tokens/expire"): lambda body: self.expire_tokens(),
            ("DELETE", "log"): lambda body: self.reset_log(),
            ("GET", "stats"): lambda body: self.stats(),
        }
        self._served = _ServedCounters()
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
        self._http = HttpServer(self.port, self._respond, self._served.add)
        self.port = self._http.port
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-api:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections (cutting short any delay fault) and release the port."""
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

    def polyai_config(self) -> dict[str, str]:
        """``{api_key, account_id, project_id, base_url}``."""
        return {
            "api_key": self.polyai_api_key,
            "account_id": self._polyai.account_id,
            "project_id": self._polyai.project_id,
            "base_url": self.base_url,
        }

    def vectara_config(self, auth: str = "api_key") -> dict[str, Any]:
        """``{customer_id, base_url, credentials}``; ``auth`` is ``"api_key"`` or ``"oauth2"``."""
        if auth == "api_key":
            credentials = {"auth_type": "api_key", "api_key": self.vectara_api_key}
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

    def config(self, auth: str = "api_key") -> dict[str, Any]:
        """``{"polyai": polyai_config(), "vectara": vectara_config(auth)}``."""
        return {"polyai": self.polyai_config(), "vectara": self.vectara_config(auth)}

    # ----------------------------------------------------------------------------------------------
    # Ground truth
    # ----------------------------------------------------------------------------------------------

    @property
    def polyai_count(self) -> int:
        """PolyAI conversations in every environment, added ones included."""
        with self._lock:
            return self._polyai.size

    @property
    def vectara_count(self) -> int:
        """Vectara conversations, added ones included."""
        with self._lock:
            return self._vectara.size

    def _polyai_slots(
        self,
        start: Timestamp | None,
        end: Timestamp | None,
        in_progress: bool | None,
        client_env: str | None,
    ) -> list[Any]:
        query = polyai_filter(
            None if start is None else to_epoch_us(start),
            None if end is None else to_epoch_us(end),
            self.polyai_window,
            environment=client_env,
            in_progress=in_progress,
        )
        with self._lock:
            slots, _ = self._polyai.page(query, 0, self._polyai.size)
        return slots

    def polyai_ids(
        self,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        in_progress: bool | None = None,
        client_env: str | None = "live",
    ) -> list[str]:
        """Ids the API lists for this window, in order (``client_env=None``: every environment).

        ``start``/``end`` follow the server's ``polyai_window`` semantics, as ``start_time``/``end_time`` do.
        """
        return [
            self._polyai.conversation_id(slot.record_index)
            for slot in self._polyai_slots(start, end, in_progress, client_env)
        ]

    def polyai_records(
        self,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        in_progress: bool | None = None,
        client_env: str | None = "live",
    ) -> list[dict[str, Any]]:
        """The records :meth:`polyai_ids` names, exactly as served (fresh copies)."""
        slots = self._polyai_slots(start, end, in_progress, client_env)
        return [json_copy(self._polyai.conversation(slot)) for slot in slots]

    def vectara_ids(self) -> list[str]:
        """Every Vectara conversation id, in listing order."""
        return [turn["id"] for turn in self.vectara_records()]

    def vectara_records(self) -> list[dict[str, Any]]:
        """Every Vectara first turn, in listing order, exactly as served."""
        with self._lock:
            indices = self._vectara.listing(0, self._vectara.size)
        return [self._vectara.turn(index) for index in indices]

    # ----------------------------------------------------------------------------------------------
    # Mutations
    # ----------------------------------------------------------------------------------------------

    def _changed(self) -> None:
        if self._caches is not None:
            self._caches.pages.clear()

    def add_polyai(self, n: int = 1, in_progress: bool = False, started_at: Timestamp | None = None) -> list[str]:
        """Add ``n`` live conversations starting at ``started_at`` (default now), 1 ms apart; return their ids.

        A ``started_at`` inside already-listed data shifts later offsets, as on the real API.
        """
        started_us = to_epoch_us(self.clock() if started_at is None else started_at)
        with self._lock:
            slots = self._polyai.add(int(n), started_us, bool(in_progress))
            self._changed()
        return [self._polyai.conversation_id(slot.record_index) for slot in slots]

    def finish_polyai_in_progress(self) -> int:
        """Finish every in-progress conversation (durations, all turns, handoff filled in); return how many."""
        with self._lock:
            finished = self._polyai.finish_in_progress()
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
        """Empty the request log and its counters (served byte/request counters are kept)."""
        self.requests.clear()

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

    def stats(self) -> dict[str, Any]:
        """Request counts per endpoint, served counters, ground-truth counts and the armed faults."""
        return {
            "requests": self.requests.counts(),
            "served": self.served(),
            "polyai_count": self.polyai_count,
            "polyai_in_progress": len(self._polyai_slots(None, None, True, None)),
            "vectara_count": self.vectara_count,
            "faults": self._faults.describe(),
        }

    def warm(self) -> int:
        """Fast mode: generate and serialise every record now, so that even the first pass over the data
        is served from memory. Returns the number of records cached."""
        if self._caches is None:
            raise RuntimeError("warm() needs fast=True")
        return sum(endpoint.warm() for endpoint in self._endpoints.values() if isinstance(endpoint, ListEndpoint))

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
        if path == TokenEndpoint.PATH:
            return "token"
        if PolyaiEndpoint.tenant(path) is not None:
            return "polyai"
        return "unknown"

    def _respond(self, request: Request) -> Response:
        name = self._route(request.path)
        entry = self.requests.record(name, request, self.clock())
        if name == "control":
            response = self._respond_control(request)
        elif name == "unknown":
            response = json_response(404, {"message": f"no such endpoint: {request.method} {request.path}"})
        else:
            endpoint = self._endpoints[name]
            if request.method != endpoint.method:
                response = endpoint.error(405, f"Method {request.method} not allowed", (("Allow", endpoint.method),))
            else:
                fault = self._faults.take(name, endpoint.match_params(request))
                response = serve_with_fault(endpoint, request, fault, self._stopping.wait)
        entry.status = response.status
        return response

    def _respond_control(self, request: Request) -> Response:
        action = self._control.get((request.method, request.path[len(CONTROL_PREFIX) :].strip("/")))
        if action is None:
            return json_response(404, {"error": f"no control endpoint {request.method} {request.path}"})
        try:
            body = orjson.loads(request.body) if request.body else {}
            if not isinstance(body, Mapping):
                raise ValueError("the body must be a JSON object")
            result = action(body)
        except (ValueError, TypeError) as error:  # orjson.JSONDecodeError is a ValueError
            return json_response(400, {"error": str(error)})
        return json_response(200, {"ok": True} if result is None else result)
