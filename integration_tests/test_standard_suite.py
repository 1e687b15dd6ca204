"""The airbyte-cdk standard test suite (the successor of the Connector Acceptance Tests), in process.

`SourceTestSuiteBase` reads `acceptance-test-config.yml` and runs, per config listed there: `spec`
(plus the credential-free spec lint), `check` against the declared status, the config against the
spec, `discover` with the catalog checks, a full-refresh `read` of the config's catalog whose records
are validated against the stream schemas (every stream must return records), a `read` with a
malformed catalog that must fail, and, for every `check`, that no secret of the config appears in
the output. The configs: `sample_config.json` (PolyAI v3 with two projects, Vectara v2 chats and the
Agents API), `sample_config_v1.json` (PolyAI v1, Vectara REST v1), so every stream of the manifest
is read and schema-checked, and `invalid_config.json` (wrong keys: `check` must fail).

How this module adapts the suite to this repository:

* `create_connector` builds `SourceConversations(config=...)` from the scenario's config: in CDK 7
  the source takes its config in the constructor, and the base class would build it with none.
* The fake API server that the scenario configs point at runs on 127.0.0.1:18765 for the class
  (`fixtures_standard.py`); the test fails at once, naming the port, if something else holds it.
* A config runs only the commands of the sections that list it, and the base class turns every
  other (test, config) pair into a skip. `pytest_generate_tests` below leaves those pairs out
  instead, so every test collected here runs, and a skip always means something.
* The image tests need a Docker engine. They are skipped, with the reason, when none answers (there
  is none on the development machines of this repository); test_docker_contract.py checks the image's
  contract without one.
* The CDK's `image_tests` and `requires_creds` markers are listed in pytest.ini, which runs with
  `--strict-markers`.

Run only this suite: `python -m pytest integration_tests/test_standard_suite.py -ra`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator, Literal

import pytest
import yaml
from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase
from airbyte_cdk.test.standard_tests._job_runner import IConnector
from airbyte_cdk.test.standard_tests.pytest_hooks import _scenario_test_ids
from boltons.typeutils import classproperty

from integration_tests.fixtures_standard import acceptance_server
from source_conversations.source import SourceConversations

ROOT = Path(__file__).resolve().parents[1]
ACCEPTANCE_TEST_CONFIG = ROOT / "integration_tests" / "acceptance-test-config.yml"

NO_DOCKER_REASON = (
    "needs a Docker engine, and `docker info` does not answer on this machine; "
    "integration_tests/test_docker_contract.py checks the image's contract without one"
)


def _docker_engine_answers() -> bool:
    """Whether a Docker engine answers (`docker info`), not just whether the CLI is installed."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_docker_engine = pytest.mark.skipif(not _docker_engine_answers(), reason=NO_DOCKER_REASON)

# The connector command each scenario test of the CDK suite runs. A config that does not run it is
# not paired with the test (the base class would skip the pair). A scenario test missing here is
# paired with every config, as the CDK does, so a new CDK test is never silently dropped.
_SCENARIO_TEST_COMMANDS = {
    "test_config_matches_spec": "spec",
    "test_check": "check",
    "test_discover": "discover",
    "test_basic_read": "read",
    "test_fail_read_with_bad_catalog": "read",
    "test_docker_image_build_and_config_matches_spec": "spec",
    "test_docker_image_build_and_check": "check",
    "test_docker_image_build_and_discover": "discover",
    "test_docker_image_build_and_read": "read",
}
# Tests the base class skips for a config that expects failure ("Skipping discover test for scenario
# that expects an exception", "Skipping (expected to fail)").
_SUCCESS_ONLY_TESTS = {
    "test_discover",
    "test_docker_image_build_and_discover",
    "test_docker_image_build_and_read",
}


def applicable_scenarios(test_name: str, scenarios: list[ConnectorTestScenario]) -> list[ConnectorTestScenario]:
    """The scenarios `test_name` really runs for, out of those the acceptance-test config lists."""
    command = _SCENARIO_TEST_COMMANDS.get(test_name)
    selected = [scenario for scenario in scenarios if command is None or scenario.runs(command)]
    if test_name in _SUCCESS_ONLY_TESTS:
        selected = [scenario for scenario in selected if not scenario.expected_outcome.expect_exception()]
    return selected


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize each scenario test of the suite with the configs it runs for (see the docstring)."""
    if "scenario" not in metafunc.fixturenames or metafunc.cls is None:
        return
    scenarios = applicable_scenarios(metafunc.function.__name__, metafunc.cls.get_scenarios())
    assert scenarios, (
        f"{metafunc.function.__name__} runs for no config of acceptance-test-config.yml; "
        "list a config under the section that runs it"
    )
    metafunc.parametrize(
        "scenario",
        [
            pytest.param(scenario, marks=[pytest.mark.requires_creds] if scenario.requires_creds else [])
            for scenario in scenarios
        ],
        ids=_scenario_test_ids(scenarios),
    )


# Fixtures the CDK's pytest plugin (`airbyte_cdk.test.standard_tests.pytest_hooks`) would provide from
# its command-line options; only the image tests use them.
@pytest.fixture
def connector_image_override() -> str | None:
    return None


@pytest.fixture
def connector_base_image_override() -> str | None:
    return None


@pytest.fixture
def read_from_streams() -> Literal["all", "none", "default"] | list[str]:
    return "all"


@pytest.fixture
def read_scenarios() -> list[str] | Literal["all", "default"]:
    return "all"


class TestSourceConversationsStandardSuite(SourceTestSuiteBase):
    """The CDK standard suite for `source-conversations`, against the fake API server."""

    @pytest.fixture(scope="class", autouse=True)
    def fake_api(self) -> Iterator[Any]:
        """The fake API on 127.0.0.1:18765, the address the acceptance-test configs use."""
        yield from acceptance_server()

    @classmethod
    def get_connector_root_dir(cls) -> Path:
        """The repository root (setup.py, metadata.yaml): the paths in the acceptance-test config start there.

        The CDK would stop at the first folder that holds an `acceptance-test-config.yml`, which
        here is `integration_tests/`.
        """
        return ROOT

    @classproperty
    def acceptance_test_config(cls) -> Any:
        """`integration_tests/acceptance-test-config.yml` (the CDK looks for it at the connector root)."""
        tests_config = yaml.safe_load(ACCEPTANCE_TEST_CONFIG.read_text(encoding="utf-8"))
        if not isinstance(tests_config, dict) or "acceptance_tests" not in tests_config:
            raise ValueError(f"{ACCEPTANCE_TEST_CONFIG} has no `acceptance_tests` section")
        return tests_config

    @classproperty
    def connector_name(cls) -> str:
        """`source-conversations`, from metadata.yaml, rather than the name of the checkout's folder."""
        metadata = yaml.safe_load((cls.get_connector_root_dir() / "metadata.yaml").read_text(encoding="utf-8"))
        return str(metadata["data"]["dockerRepository"]).rsplit("/", 1)[-1]

    @classmethod
    def create_connector(cls, scenario: ConnectorTestScenario | None) -> IConnector:
        """The source built with the scenario's config, as `run.py` builds it from `--config`."""
        config = (
            scenario.get_config_dict(connector_root=cls.get_connector_root_dir(), empty_if_missing=True)
            if scenario is not None
            else {}
        )
        return SourceConversations(config=config or None)

    def test_config_matches_spec(self, scenario: ConnectorTestScenario) -> None:
        """The base test, run without the scenario's `configured_catalog_path`.

        CDK 7.39.1's `run_test_job` adds `--catalog <configured_catalog_path>` to every verb but
        `check` and `discover`, `spec` included, so `spec` exits with "unrecognized arguments:
        --catalog" for any config whose `basic_read` entry names a catalog. `spec` takes no catalog;
        the config is still validated against the spec exactly as the base test does.
        """
        super().test_config_matches_spec(scenario.model_copy(update={"configured_catalog_path": None}))

    # ---- Image tests: the base class's, skipped with a reason when no Docker engine answers ----

    @needs_docker_engine
    @pytest.mark.image_tests
    def test_docker_image_build_and_spec(
        self, connector_image_override: str | None, connector_base_image_override: str | None
    ) -> None:
        super().test_docker_image_build_and_spec(connector_image_override, connector_base_image_override)

    @needs_docker_engine
    @pytest.mark.image_tests
    def test_docker_image_spec_backward_compatibility(
        self, connector_image_override: str | None, connector_base_image_override: str | None
    ) -> None:
        super().test_docker_image_spec_backward_compatibility(connector_image_override, connector_base_image_override)

    @needs_docker_engine
    @pytest.mark.image_tests
    def test_docker_image_build_and_check(
        self,
        scenario: ConnectorTestScenario,
        connector_image_override: str | None,
        connector_base_image_override: str | None,
    ) -> None:
        super().test_docker_image_build_and_check(scenario, connector_image_override, connector_base_image_override)

    @needs_docker_engine
    @pytest.mark.image_tests
    def test_docker_image_build_and_config_matches_spec(
        self,
        scenario: ConnectorTestScenario,
        connector_image_override: str | None,
        connector_base_image_override: str | None,
    ) -> None:
        super().test_docker_image_build_and_config_matches_spec(
            scenario, connector_image_override, connector_base_image_override
        )

    @needs_docker_engine
    @pytest.mark.image_tests
    def test_docker_image_build_and_discover(
        self,
        scenario: ConnectorTestScenario,
        connector_image_override: str | None,
        connector_base_image_override: str | None,
    ) -> None:
        super().test_docker_image_build_and_discover(scenario, connector_image_override, connector_base_image_override)

    @needs_docker_engine
    @pytest.mark.image_tests
    def test_docker_image_build_and_read(
        self,
        scenario: ConnectorTestScenario,
        connector_image_override: str | None,
        connector_base_image_override: str | None,
        read_from_streams: Literal["all", "none", "default"] | list[str],
        read_scenarios: list[str] | Literal["all", "default"],
    ) -> None:
        super().test_docker_image_build_and_read(
            scenario, connector_image_override, connector_base_image_override, read_from_streams, read_scenarios
        )
