"""The suite-wide secret scan must find what it is looking for, and say where without saying what."""

from __future__ import annotations

from fake_api import FakeApiServer
from test_support import leaks


def test_given_registered_secret_in_an_output_when_searched_then_leak_names_output_not_secret() -> None:
    secret = "planted-secret-for-the-scan-0f3c9a"
    leaks.register_secret(secret)
    found = leaks.find_leaks([("clean run", "nothing here"), ("leaky run", f"Authorization: Bearer {secret}")])
    assert len(found) == 1 and found[0].startswith("leaky run: secret #")
    assert secret not in found[0]


def test_given_fake_server_when_created_then_its_credentials_are_searched_for() -> None:
    server = FakeApiServer(polyai_count=1, vectara_count=1, polyai_api_key="fake-polyai-key-for-scan-8e1d2c")
    known = leaks.secrets()
    assert server.polyai_api_key in known
    assert server.oauth_client_secret in known


def test_given_short_value_when_registered_then_not_searched_for() -> None:
    leaks.register_secret("short")
    assert "short" not in leaks.secrets()
