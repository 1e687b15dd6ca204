"""Credentials and addresses the user must fix: one `config_error` that names the setting, no retries, no
secret in the output even at DEBUG (every failing run here uses --debug), and, for credentials that lose
access mid-sync, a resume that loses nothing once access is back.
"""

from __future__ import annotations

from collections import Counter

import pytest

from fake_api import Fault
from integration_tests.reliability.invariants import (
    Truth,
    assert_clear_failure,
    assert_delivered_exactly,
    assert_no_secrets,
    assert_resume_loses_nothing,
    assert_state_never_passes_unemitted,
    assert_succeeded,
)
from integration_tests.reliability.support import (
    PROFILES,
    WORKER_LEVELS,
    Context,
    Outcome,
    Profile,
    config_for,
    middle_targets,
    register_secrets,
    requests_matching,
    server_secrets,
    strict_config,
    uses,
)

WRONG_POLYAI_KEY = "wrong-polyai-key-3f9a0c7e2b5d4e61a8c9"
WRONG_VECTARA_KEY = "zqt_wrong-vectara-key-8e1d2c3b4a5f6e7d"
WRONG_CLIENT_SECRET = "wrong-client-secret-5b7e9d1c3a2f4e6b8d0c"
register_secrets(WRONG_POLYAI_KEY, WRONG_VECTARA_KEY, WRONG_CLIENT_SECRET)
WRONG = [WRONG_POLYAI_KEY, WRONG_VECTARA_KEY, WRONG_CLIENT_SECRET]

ONE_PROVIDER = [Profile("v3", None), Profile("v1", None), Profile(None, "v2"), Profile(None, "v1")]


def _identity(entry) -> tuple:
    return entry.endpoint, entry.path, tuple(sorted(entry.query.items())), str(entry.body)


def _wrong_key(ctx: Context, profile: Profile, workers: int) -> Outcome:
    server = ctx.serve()
    config = config_for(server, profile, workers)
    if profile.polyai:
        config["polyai"]["api_key"] = WRONG_POLYAI_KEY
    else:
        config["vectara"]["credentials"]["api_key"] = WRONG_VECTARA_KEY
    run = ctx.read(config, debug=True, name="refused")
    return Outcome(server=server, run=run, entries=server.requests.entries())


@pytest.mark.parametrize("workers", WORKER_LEVELS)
@pytest.mark.parametrize("profile", ONE_PROVIDER, ids=str)
@uses(_wrong_key)
def test_given_a_wrong_api_key_when_read_then_one_config_error_naming_the_setting_without_retries(
    outcome: Outcome, profile: Profile, workers: int
) -> None:
    setting = "polyai.api_key" if profile.polyai else "vectara.credentials"
    assert_clear_failure(outcome.run, "config_error", [setting, "401"])
    assert not outcome.run.records()
    asked = Counter(_identity(entry) for entry in outcome.entries)
    if profile.polyai:  # each project's first request (where its hold starts), once
        assert len(outcome.entries) == 3 and set(asked.values()) == {1}, f"{len(outcome.entries)} requests: {asked}"
    else:  # the first page of each list, once per walk (a stream, and the parent of another)
        assert max(asked.values()) <= 2 and len(outcome.entries) <= 6, f"{len(outcome.entries)} requests: {asked}"
    assert_no_secrets(outcome.run.output, WRONG + server_secrets(outcome.server))


def _access_lost_mid_sync(ctx: Context, profile: Profile, workers: int) -> Outcome:
    """Every endpoint answers 403 for one request in its middle; then access is back and the sync resumes."""
    server = ctx.serve()
    config = strict_config(server, profile, workers)
    # The agents list has one page, and 403 there is a different message (a Personal key is needed): the
    # second agent's sessions take its place (same rule), so each Agents stream still reads something.
    targets = {
        endpoint: match for endpoint, match in middle_targets(server, config).items() if endpoint != "vectara_agents"
    }
    for endpoint, match in targets.items():
        server.inject(Fault(endpoint, status=403, times=None, match=match))
    failed = ctx.read(config, debug=True, name="refused")
    truth = Truth(server, config, now=failed.started)
    asked = {endpoint: len(requests_matching(server, endpoint, match)) for endpoint, match in targets.items()}
    server.clear_faults()
    resumed = ctx.read(config, state=failed.last_states(), name="resumed")
    return Outcome(server=server, truth=truth, failed=failed, resumed=resumed, asked=asked)


@pytest.mark.parametrize("workers", WORKER_LEVELS)
@pytest.mark.parametrize("profile", PROFILES, ids=str)
@uses(_access_lost_mid_sync)
def test_given_403_in_the_middle_of_every_endpoint_when_read_then_config_error_and_a_resume_loses_nothing(
    outcome: Outcome, profile: Profile, workers: int
) -> None:
    failed, resumed, truth = outcome.failed, outcome.resumed, outcome.truth
    mentions = ["polyai.api_key", "vectara.credentials"] + (["vectara.sync_agents"] if profile.vectara == "v2" else [])
    assert_clear_failure(failed, "config_error", mentions)
    assert outcome.asked["polyai"] == 1, "a refused request is not retried"
    for endpoint, asked in outcome.asked.items():  # a child's request is never made when its parent's page failed
        assert asked <= 2, f"{endpoint}: a refused request was asked {asked} times (not retried: once per walk)"
    assert_resume_loses_nothing(failed, resumed, truth)
    assert_no_secrets(failed.output, server_secrets(outcome.server))


# ---------------------------------------------------------------------------------------------
# A Query API key: fine for chats, refused by the Agents API
# ---------------------------------------------------------------------------------------------

VECTARA_V2 = Profile(None, "v2")


def _query_key(ctx: Context, workers: int) -> Outcome:
    server = ctx.serve()
    config = strict_config(server, VECTARA_V2, workers, auth="query_api_key")
    refused = ctx.read(config, debug=True, name="query-key")
    truth = Truth(server, config, now=refused.started)
    config["vectara"]["sync_agents"] = False
    chats_only = ctx.read(config, name="chats-only")
    return Outcome(server=server, truth=truth, refused=refused, chats_only=chats_only)


@pytest.mark.parametrize("workers", WORKER_LEVELS)
@uses(_query_key)
def test_given_a_query_api_key_when_agents_are_synced_then_config_error_saying_what_key_is_needed_and_chats_still_arrive(
    outcome: Outcome, workers: int
) -> None:
    refused, truth = outcome.refused, outcome.truth
    assert_clear_failure(refused, "config_error", ["Personal API key", "vectara.sync_agents"])
    for stream in ("vectara_chats", "vectara_chat_turns"):
        assert_delivered_exactly([refused], stream, truth)
        assert_state_never_passes_unemitted(refused, stream, truth)
    assert_succeeded(outcome.chats_only)
    assert {m["record"]["stream"] for m in outcome.chats_only.of_type("RECORD")} == {
        "vectara_chats",
        "vectara_chat_turns",
    }
    assert_no_secrets(refused.output, server_secrets(outcome.server))


# ---------------------------------------------------------------------------------------------
# OAuth client credentials
# ---------------------------------------------------------------------------------------------


def _token_endpoint(ctx: Context, workers: int, case: str) -> Outcome:
    server = ctx.serve()
    config = strict_config(server, VECTARA_V2, workers, auth="oauth2")
    if case == "wrong_client_secret":
        config["vectara"]["credentials"]["client_secret"] = WRONG_CLIENT_SECRET
    elif case == "401_forever":
        server.inject(Fault("token", status=401, body={"error": "invalid_client"}, times=None))
    elif case == "503_once":
        server.inject(Fault("token", status=503))
    elif case == "200_without_a_token":
        server.inject(Fault("token", kind="missing_key", times=None))
    run = ctx.read(config, debug=True, name=case)
    truth = Truth(server, config, now=run.started)
    statuses = Counter(entry.status for entry in server.requests.entries("token"))
    return Outcome(
        server=server,
        run=run,
        truth=truth,
        token_statuses=statuses,
        token_requests=server.requests.count("token"),
        api_requests=len(server.requests) - server.requests.count("token"),
    )


@pytest.mark.parametrize("case", ["wrong_client_secret", "401_forever"])
@pytest.mark.parametrize("workers", WORKER_LEVELS)
@uses(_token_endpoint)
def test_given_the_token_endpoint_refuses_the_client_when_read_then_one_config_error_and_few_token_requests(
    outcome: Outcome, workers: int, case: str
) -> None:
    assert_clear_failure(outcome.run, "config_error", ["vectara.credentials.client_secret", "OAuth"])
    assert outcome.api_requests == 0, "nothing is asked of the API without a token"
    # A refused client is not retried; each stream that starts may ask once before the sync stops.
    assert 1 <= outcome.token_requests <= 4, f"{outcome.token_requests} token requests for a refused client"
    assert_no_secrets(outcome.run.output, WRONG + server_secrets(outcome.server))


@pytest.mark.parametrize("case", ["503_once"])
@pytest.mark.parametrize("workers", WORKER_LEVELS)
@uses(_token_endpoint)
def test_given_the_token_endpoint_fails_once_when_read_then_the_token_request_is_retried_and_the_sync_completes(
    outcome: Outcome, workers: int, case: str
) -> None:
    assert_succeeded(outcome.run)
    # Each stream (and each parent a stream reads) holds its own authenticator, so a sync asks for a few
    # tokens; the one answered 503 was asked again.
    assert outcome.token_statuses[503] == 1 and outcome.token_statuses[200] >= 1, outcome.token_statuses
    assert outcome.token_requests <= 12, f"{outcome.token_requests} token requests in one sync"
    for stream in outcome.truth.streams:
        assert_delivered_exactly([outcome.run], stream, outcome.truth)
    assert_no_secrets(outcome.run.output, server_secrets(outcome.server))  # includes the issued token


@pytest.mark.parametrize("case", ["200_without_a_token"])
@pytest.mark.parametrize("workers", WORKER_LEVELS)
@uses(_token_endpoint)
def test_given_the_token_endpoint_answers_without_a_token_when_read_then_fails_clearly_in_bounded_requests(
    outcome: Outcome, workers: int, case: str
) -> None:
    assert_clear_failure(outcome.run, "transient_error", ["OAuth", "access token"])
    assert outcome.api_requests == 0
    assert outcome.token_requests <= 4, f"{outcome.token_requests} token requests"


# ---------------------------------------------------------------------------------------------
# The wrong place: account, project, customer, URL
# ---------------------------------------------------------------------------------------------

WRONG_PLACE = {
    # case: (profile, what the error names)
    "polyai_unknown_account": (Profile("v3", None), ["ws-n0such01", "polyai.account_id", "404"]),
    "polyai_one_unknown_project": (Profile("v3", None), ["PROJECT-n0such01", "polyai.project_ids", "404"]),
    "polyai_v1_unknown_project": (Profile("v1", None), ["PROJECT-n0such01", "polyai.project_ids", "404"]),
    "vectara_v1_unknown_customer": (Profile(None, "v1"), ["vectara.customer_id"]),
    "vectara_v1_404_from_the_api": (Profile(None, "v1"), ["HTTP 404", "vectara.base_url"]),
    "vectara_v1_base_url_with_a_wrong_path": (Profile(None, "v1"), ["HTTP 404", "vectara.base_url"]),
    "vectara_v2_base_url_with_a_wrong_path": (Profile(None, "v2"), ["HTTP 404", "vectara.base_url"]),
}


def _wrong_place(ctx: Context, case: str) -> Outcome:
    profile, _ = WRONG_PLACE[case]
    server = ctx.serve()
    config = config_for(server, profile, 20)
    if case == "polyai_unknown_account":
        config["polyai"]["account_id"] = "ws-n0such01"
    elif case.endswith("unknown_project"):
        config["polyai"]["project_ids"].insert(1, "PROJECT-n0such01")
    elif case == "vectara_v1_unknown_customer":
        config["vectara"]["customer_id"] = "1111111111"
    elif case == "vectara_v1_404_from_the_api":
        server.inject(Fault("vectara", status=404, times=None))
        server.inject(Fault("vectara_read", status=404, times=None))
    elif case.endswith("base_url_with_a_wrong_path"):
        config["vectara"]["base_url"] = server.base_url + "/api/v9"
    run = ctx.read(config, debug=True, name=case)
    return Outcome(server=server, run=run)


@pytest.mark.parametrize("case", list(WRONG_PLACE))
@uses(_wrong_place)
def test_given_a_wrong_account_project_customer_or_url_when_read_then_config_error_naming_it(
    outcome: Outcome, case: str
) -> None:
    assert_clear_failure(outcome.run, "config_error", WRONG_PLACE[case][1])
    assert not outcome.run.records()
    assert_no_secrets(outcome.run.output, server_secrets(outcome.server))
