"""Credentials and addresses the user must fix (faults 6 and 7): a config_error that names the setting,
no retries, and no secret in the output even at DEBUG (every run here uses --debug).
"""

from __future__ import annotations

import pytest

from fake_api import Fault
from reliability_tests.invariants import (
    assert_clear_failure,
    assert_no_loss,
    assert_no_over_advance,
    assert_no_secrets,
    assert_succeeded,
)
from reliability_tests.support import (
    POLYAI,
    POLYAI_PAGE,
    VECTARA,
    Context,
    Outcome,
    config_for,
    polyai_page_match,
    register_secrets,
    requests_for_page,
    server_secrets,
    uses,
    vectara_page_keys,
)

WRONG_POLYAI_KEY = "wrong-polyai-key-3f9a0c7e2b5d4e61a8c9"
WRONG_VECTARA_KEY = "zqt_wrong-vectara-key-8e1d2c3b4a5f6e7d"
WRONG_CLIENT_SECRET = "wrong-client-secret-5b7e9d1c3a2f4e6b8d0c"
register_secrets(WRONG_POLYAI_KEY, WRONG_VECTARA_KEY, WRONG_CLIENT_SECRET)


def _refused(ctx: Context, stream: str, status: int) -> Outcome:
    """401: the configured key is wrong from the first request. 403: the key loses access mid-sync."""
    server = ctx.serve()
    config = config_for(server)
    page = None
    if status == 401:
        if stream == POLYAI:
            config["polyai"]["api_key"] = WRONG_POLYAI_KEY
        else:
            config["vectara"]["credentials"]["api_key"] = WRONG_VECTARA_KEY
    elif stream == POLYAI:
        page = polyai_page_match(2, POLYAI_PAGE)
        server.inject(Fault("polyai", status=403, times=None, match=page))
    else:
        page = {"pageKey": vectara_page_keys(server)[1]}
        server.inject(Fault("vectara", status=403, times=None, match=page))
    failed = ctx.read(config, [stream], debug=True, name="refused")
    endpoint = "polyai" if stream == POLYAI else "vectara"
    entries = server.requests.entries(endpoint)
    outcome = Outcome(server=server, failed=failed, entries=entries, page=page)
    if status == 403:  # the user fixes the key's permissions, and syncs again from the last state
        outcome.page_requests = requests_for_page(server, stream, page)
        server.clear_faults()
        outcome.resumed = ctx.read(config_for(server), [stream], state=failed.last_states(), name="resumed")
    return outcome


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("stream", [POLYAI, VECTARA])
@uses(_refused)
def test_given_the_api_refuses_the_credentials_when_read_then_config_error_naming_the_setting_without_retries(
    outcome: Outcome, stream: str, status: int
) -> None:
    setting = "polyai.api_key" if stream == POLYAI else "vectara.credentials"
    assert_clear_failure(outcome.failed, "config_error", [setting, str(status)])
    if status == 401:
        requests = [(e.path, tuple(sorted(e.query.items())), str(e.body)) for e in outcome.entries]
        assert len(requests) == len(set(requests)), "a refused request must not be retried"
    else:
        assert outcome.page_requests == 1, "a refused request must not be retried"
        truth = outcome.server.polyai_records() if stream == POLYAI else outcome.server.vectara_records()
        assert_no_over_advance(outcome.failed, stream, truth)
        assert_succeeded(outcome.resumed)
        assert_no_over_advance(outcome.resumed, stream, truth, delivered_before=set(outcome.failed.ids(stream)))
        assert_no_loss([outcome.failed, outcome.resumed], stream, [r["id"] for r in truth if not r.get("in_progress")])
    assert_no_secrets(outcome.failed.output, [WRONG_POLYAI_KEY, WRONG_VECTARA_KEY, *server_secrets(outcome.server)])


# ---------------------------------------------------------------------------------------------
# OAuth client credentials
# ---------------------------------------------------------------------------------------------


def _token_endpoint(ctx: Context, case: str) -> Outcome:
    server = ctx.serve()
    config = config_for(server, auth="oauth2")
    if case == "wrong_client_secret":
        config["vectara"]["credentials"]["client_secret"] = WRONG_CLIENT_SECRET
    elif case == "401_forever":
        server.inject(Fault("token", status=401, body={"error": "invalid_client"}, times=None))
    elif case == "503_once":
        server.inject(Fault("token", status=503))
    elif case == "200_without_a_token":
        server.inject(Fault("token", kind="missing_key", times=None))
    run = ctx.read(config, [VECTARA], debug=True, name=case)
    return Outcome(server=server, run=run, token_requests=server.requests.count("token"))


@pytest.mark.parametrize("case", ["wrong_client_secret", "401_forever"])
@uses(_token_endpoint)
def test_given_the_token_endpoint_refuses_the_client_when_read_then_config_error_after_one_token_request(
    outcome: Outcome, case: str
) -> None:
    assert outcome.token_requests == 1, "a refused client is not retried"
    assert_clear_failure(outcome.run, "config_error", ["vectara.credentials.client_secret", "OAuth"])
    assert outcome.server.requests.count("vectara") == 0
    assert_no_secrets(outcome.run.output, [WRONG_CLIENT_SECRET, *server_secrets(outcome.server)])


@pytest.mark.parametrize("case", ["503_once"])
@uses(_token_endpoint)
def test_given_the_token_endpoint_fails_once_when_read_then_the_token_request_is_retried_and_the_sync_completes(
    outcome: Outcome, case: str
) -> None:
    assert_succeeded(outcome.run)
    assert outcome.token_requests == 2
    assert_no_loss([outcome.run], VECTARA, outcome.server.vectara_ids())
    assert_no_secrets(outcome.run.output, server_secrets(outcome.server))  # includes the issued token


@pytest.mark.parametrize("case", ["200_without_a_token"])
@uses(_token_endpoint)
def test_given_the_token_endpoint_answers_without_a_token_when_read_then_fails_clearly_in_bounded_requests(
    outcome: Outcome, case: str
) -> None:
    assert outcome.token_requests <= 6
    assert_clear_failure(outcome.run, "transient_error", ["OAuth", "access token"])


# ---------------------------------------------------------------------------------------------
# The wrong place: account, project, customer, URL
# ---------------------------------------------------------------------------------------------


def _wrong_place(ctx: Context, case: str) -> Outcome:
    server = ctx.serve()
    config = config_for(server)
    stream = POLYAI if case.startswith("polyai") else VECTARA
    if case == "polyai_unknown_account":
        config["polyai"]["account_id"] = "ws-n0such01"
    elif case == "polyai_unknown_project":
        config["polyai"]["project_id"] = "PROJECT-n0such01"
    elif case == "vectara_unknown_customer":
        config["vectara"]["customer_id"] = "1111111111"
    elif case == "vectara_404_from_the_api":
        server.inject(Fault("vectara", status=404, times=None))
    elif case == "vectara_base_url_with_a_wrong_path":
        config["vectara"]["base_url"] = server.base_url + "/api/v9"
    run = ctx.read(config, [stream], debug=True, name=case)
    return Outcome(server=server, run=run, config=config)


WRONG_PLACE = {
    "polyai_unknown_account": ["ws-n0such01", "polyai.account_id", "404"],
    "polyai_unknown_project": ["PROJECT-n0such01", "polyai.project_id", "404"],
    "vectara_unknown_customer": ["vectara.customer_id"],
    "vectara_404_from_the_api": ["HTTP 404", "vectara.base_url"],
    "vectara_base_url_with_a_wrong_path": ["HTTP 404", "vectara.base_url"],
}


@pytest.mark.parametrize("case", list(WRONG_PLACE))
@uses(_wrong_place)
def test_given_a_wrong_account_project_customer_or_url_when_read_then_config_error_naming_it(
    outcome: Outcome, case: str
) -> None:
    assert_clear_failure(outcome.run, "config_error", WRONG_PLACE[case])
    assert not outcome.run.records()
    assert_no_secrets(outcome.run.output, server_secrets(outcome.server))
