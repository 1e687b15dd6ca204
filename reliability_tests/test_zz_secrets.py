"""I4 over the whole suite: the stdout and stderr of every connector run the suite made (many with --debug,
many failing on purpose) are searched for every secret: the fakes' API keys and OAuth client secrets, the
wrong keys some tests configure, and every bearer token the fakes issued.

Named test_zz_* so that it runs after the other modules (pytest runs files in name order), once their
scenario pools have been torn down and every issued token registered.
"""

from __future__ import annotations

import pytest

from reliability_tests.invariants import assert_no_secrets
from reliability_tests.support import OUTPUTS, SECRETS, TOKENS


def test_given_every_run_of_this_suite_when_its_output_is_searched_then_no_key_secret_or_token_appears() -> None:
    if not OUTPUTS:
        pytest.skip("no connector run in this session (run the whole reliability suite)")
    if any("token_endpoint" in label for label, _ in OUTPUTS):
        assert TOKENS, "OAuth runs happened, so the tokens the fakes issued should be among the secrets"
    leaks = []
    for label, output in OUTPUTS:
        try:
            assert_no_secrets(output, SECRETS)
        except AssertionError as error:
            leaks.append(f"{label}: {error}")
    assert not leaks, f"{len(leaks)} of {len(OUTPUTS)} runs leaked a secret: {leaks[:5]}"
