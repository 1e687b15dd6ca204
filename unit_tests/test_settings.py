"""Settings: the spec's defaults applied once, derived values, and errors that name the field and the fix
(`SettingsNormalizer`, `ReportConfigProblems`)."""

import copy

import pytest
from airbyte_cdk.models import FailureType

from source_conversations.source import manifest
from test_support import leaks
from test_support.inprocess import components, discover_output

leaks.register_secret("polyai-settings-key-5e1c9a77d2", "vectara-settings-key-0b8f4e21aa")
SPEC = manifest()["spec"]["connection_specification"]
POLYAI = {"api_key": "polyai-settings-key-5e1c9a77d2", "account_id": "ws-1", "project_ids": ["PROJECT-a"]}
VECTARA = {"credentials": {"auth_type": "api_key", "api_key": "vectara-settings-key-0b8f4e21aa"}}


def normalized(config: dict) -> dict:
    config = copy.deepcopy(config)
    components().SettingsNormalizer(parameters={"properties": SPEC["properties"]}).transform(config)
    return config


def problems(config: dict) -> str:
    return " ".join(normalized(config)["__config_problems"])


def test_given_minimal_config_when_normalized_then_every_spec_default_is_applied_once_from_the_spec():
    config = normalized({"polyai": dict(POLYAI), "vectara": copy.deepcopy(VECTARA)})
    assert config["__config_problems"] == []
    assert config["start_date"] == SPEC["properties"]["start_date"]["default"]
    assert config["num_workers"] == SPEC["properties"]["num_workers"]["default"]
    for section in ("polyai", "vectara"):
        for name, schema in SPEC["properties"][section]["properties"].items():
            if "default" in schema and name != "base_url":
                assert config[section][name] == schema["default"], f"{section}.{name}"


def test_given_a_setting_the_user_chose_when_normalized_then_it_is_kept():
    config = normalized({"polyai": {**POLYAI, "region": "euw-1", "page_size": 10, "api_version": "v1"}})
    assert (config["polyai"]["region"], config["polyai"]["page_size"], config["polyai"]["api_version"]) == (
        "euw-1",
        10,
        "v1",
    )


def test_given_a_region_when_normalized_then_the_polyai_host_is_the_regions_and_an_override_wins():
    assert (
        normalized({"polyai": {**POLYAI, "region": "uk-1"}})["polyai"]["base_url"]
        == "https://api.uk-1.platform.polyai.app"
    )
    override = normalized({"polyai": {**POLYAI, "base_url": "http://127.0.0.1:9/"}})
    assert override["polyai"]["base_url"] == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "version, expected",
    [
        ("v2", "https://auth.vectara.io/oauth2/token"),
        ("v1", "https://vectara-prod-1234567.auth.us-west-2.amazoncognito.com/oauth2/token"),
    ],
)
def test_given_oauth_without_token_url_when_normalized_then_the_versions_default_token_url(version, expected):
    oauth = {"auth_type": "oauth2_client_credentials", "client_id": "c", "client_secret": "s" * 20}
    config = normalized({"vectara": {"api_version": version, "customer_id": "1234567", "credentials": oauth}})
    assert config["vectara"]["credentials"]["token_url"] == expected


@pytest.mark.parametrize(
    "config, named",
    [
        ({}, "No provider is configured"),
        ({"polyai": {**POLYAI, "project_ids": []}}, "`polyai.project_ids`"),
        ({"polyai": {**POLYAI, "project_ids": ["a", "a"]}}, "lists a project twice"),
        ({"polyai": {**POLYAI, "include_context_state": True}}, "`polyai.include_context_state` is v1 only"),
        ({"polyai": {**POLYAI, "page_size": 2000}}, "`polyai.page_size` is over 1000, v3's maximum"),
        ({"polyai": {**POLYAI, "api_version": "v1", "channels": ["WEBCHAT"]}}, "`polyai.channels` is v3 only"),
        ({"polyai": {**POLYAI, "api_version": "v1", "include_latency": True}}, "`polyai.include_latency` is v3 only"),
        (
            {"polyai": {**POLYAI, "variant_id": "V", "variant_name": "N"}},
            "`polyai.variant_id` and `polyai.variant_name`",
        ),
        (
            {"polyai": {**POLYAI, "in_progress_max_hours": 0}},
            "`polyai.in_progress_max_hours` must be a whole number from 1 to 720",
        ),
        ({"polyai": {**POLYAI, "api_key": " "}}, "`polyai.api_key` is required"),
        ({"vectara": {**VECTARA, "api_version": "v1"}}, "`vectara.customer_id` is required with api_version v1"),
        (
            {"vectara": {**VECTARA, "api_version": "v1", "customer_id": "1", "agent_keys": ["a"]}},
            "`vectara.agent_keys` is v2 only",
        ),
        ({"vectara": {"credentials": {"auth_type": "api_key"}}}, "`vectara.credentials.api_key` is required"),
        ({"vectara": {"credentials": {"auth_type": "password"}}}, "`vectara.credentials` needs auth_type"),
        (
            {"vectara": {**VECTARA, "turns_lookback_days": 4000}},
            "`vectara.turns_lookback_days` must be a whole number from 0 to 3650",
        ),
        ({"start_date": "2025-01-01", "vectara": VECTARA}, "`start_date` must be a UTC date-time to the second"),
        ({"num_workers": 0, "vectara": VECTARA}, "`num_workers` must be a whole number from 1 to 20"),
    ],
)
def test_given_bad_config_when_normalized_then_the_problem_names_the_field(config, named):
    assert named in problems(config)


def test_given_a_v1_config_when_normalized_then_v3_and_v2_defaults_raise_nothing():
    config = {
        "polyai": {**POLYAI, "api_version": "v1"},
        "vectara": {**VECTARA, "api_version": "v1", "customer_id": "42"},
    }
    assert problems(config) == ""


def test_given_problems_when_discovered_then_one_config_error_names_every_field():
    output = discover_output({"polyai": {**POLYAI, "page_size": 2000, "include_context_state": True}})
    assert len(output.errors) == 1
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.config_error
    assert "`polyai.page_size`" in error.message and "`polyai.include_context_state`" in error.message


def test_given_a_good_config_when_validated_then_report_raises_nothing():
    components().ReportConfigProblems().validate([])
