"""The Docker image's contract, checked without a Docker engine.

Airbyte runs a source as `docker run <image> spec|check|discover|read ...`: the image's ENTRYPOINT
must be the connector, AIRBYTE_ENTRYPOINT must name the same command (the platform reads it), and the
image must hold everything the connector needs at run time. With no engine on this machine, this
module checks the Dockerfile against the repository, then does what its build does, outside Docker:

1. copies exactly what the Dockerfile COPYs into a fresh build context,
2. builds the package's wheel from it (`pip wheel --no-deps`),
3. installs the wheel into a fresh virtualenv (no system site-packages, so a dependency missing from
   setup.py fails here; dependencies come from the package index or pip's cache, unpinned, as in
   `pip install .` in the Dockerfile),
4. runs that virtualenv's console script, from a folder outside the checkout, as the image's
   ENTRYPOINT would run: `spec`, `check --config`, `discover --config`, `read --config --catalog`
   against the fake API server, for both generations of the vendors' APIs (PolyAI v3 with Vectara v2
   and the Agents API, PolyAI v1 with Vectara REST v1).

The connector is `manifest.yaml` plus `components.py` (schemas are inline in the manifest), so the
wheel must carry both as package data, and nothing from the test code.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from fake_api import FakeApiServer
from source_conversations import registry
from test_support import leaks
from test_support.configs import connector_config
from test_support.harness import configured_catalog, parse_messages
from test_support.truth import expected_ids

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
SETUP_PY = ROOT / "setup.py"
METADATA = ROOT / "metadata.yaml"
WORKDIR = "/airbyte/integration_code"
ROOT_USERS = {"root", "0"}


# ---- A small Dockerfile reader ----


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def dockerfile_instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, with line continuations joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        keyword, _, arguments = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends with a line continuation"
    return instructions


def _of(instructions: list[Instruction], keyword: str) -> list[str]:
    return [instruction.arguments for instruction in instructions if instruction.keyword == keyword]


def _key_values(arguments: str) -> dict[str, str]:
    """`KEY=value KEY2="v w"` (or the legacy `KEY value`) of ENV and LABEL."""
    words = shlex.split(arguments)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def _exec_form(arguments: str) -> list[str]:
    """The JSON (exec) form of ENTRYPOINT/CMD; the shell form would wrap the connector in `sh -c`."""
    try:
        form = json.loads(arguments)
    except json.JSONDecodeError:
        pytest.fail(f"ENTRYPOINT {arguments!r} is not in exec (JSON array) form")
    assert isinstance(form, list) and all(isinstance(word, str) for word in form), arguments
    return form


def _setup_keyword(name: str) -> ast.expr:
    """The expression passed as `name=` to `setup(...)` in setup.py."""
    tree = ast.parse(SETUP_PY.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup":
            for keyword in node.keywords:
                if keyword.arg == name:
                    return keyword.value
    raise AssertionError(f"setup.py passes no {name}= to setup()")


def _setup_packages() -> list[str]:
    """setup.py's `packages`: a literal list, or the `include` patterns of `find_packages(include=[...])`."""
    packages = _setup_keyword("packages")
    if isinstance(packages, ast.Call):
        include = next((keyword.value for keyword in packages.keywords if keyword.arg == "include"), None)
        assert include is not None, "find_packages() without include=: list the packages explicitly"
        packages = include
    return [name for name in ast.literal_eval(packages) if "*" not in name]


def console_scripts() -> dict[str, str]:
    """`{script: "module:function"}` from setup.py's `entry_points["console_scripts"]`."""
    entry_points = ast.literal_eval(_setup_keyword("entry_points"))
    scripts = {}
    for line in entry_points["console_scripts"]:
        name, _, target = line.partition("=")
        scripts[name.strip()] = target.strip()
    return scripts


INSTRUCTIONS = dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))
METADATA_DATA = yaml.safe_load(METADATA.read_text(encoding="utf-8"))["data"]


def _copies() -> list[tuple[list[str], str]]:
    """`(sources, destination)` of every COPY from the build context."""
    copies = []
    for arguments in _of(INSTRUCTIONS, "COPY"):
        words = [word for word in shlex.split(arguments) if not word.startswith("--")]
        assert not any(word.startswith("--from") for word in shlex.split(arguments)), "multi-stage COPY"
        copies.append((words[:-1], words[-1]))
    return copies


def _env() -> dict[str, str]:
    env: dict[str, str] = {}
    for arguments in _of(INSTRUCTIONS, "ENV"):
        env.update(_key_values(arguments))
    return env


# ---- The Dockerfile against the repository ----


def test_base_image_is_python_3_11_slim_as_metadata_declares() -> None:
    froms = _of(INSTRUCTIONS, "FROM")
    assert len(froms) == 1, "one stage"
    image = froms[0].split()[0]
    assert re.fullmatch(r"(docker\.io/)?(library/)?python:3\.11(\.\d+)?-slim(-[a-z]+)?@sha256:[0-9a-f]{64}", image), (
        image
    )
    declared = METADATA_DATA["connectorBuildOptions"]["baseImage"]
    # Airbyte's metadata validator splits baseImage into <image>:<tag>@<sha> and refuses anything else.
    assert re.fullmatch(r"[^:@\s]+:[^:@\s]+@sha256:[0-9a-f]{64}", declared), declared

    def normalized(name: str) -> str:
        return re.sub(r"^(docker\.io/)?(library/)?", "", name)

    assert normalized(image) == normalized(declared), "Dockerfile FROM and metadata.yaml baseImage differ"


def test_entrypoint_and_airbyte_entrypoint_agree() -> None:
    entrypoints = _of(INSTRUCTIONS, "ENTRYPOINT")
    assert len(entrypoints) == 1
    entrypoint = _exec_form(entrypoints[0])
    assert "AIRBYTE_ENTRYPOINT" in _env(), "the platform reads AIRBYTE_ENTRYPOINT"
    assert shlex.split(_env()["AIRBYTE_ENTRYPOINT"]) == entrypoint
    assert not _of(INSTRUCTIONS, "CMD"), "a CMD would be appended to every command the platform runs"


def test_entrypoint_runs_the_console_script_setup_py_installs() -> None:
    entrypoint = _exec_form(_of(INSTRUCTIONS, "ENTRYPOINT")[0])
    scripts = console_scripts()
    assert entrypoint[0] in scripts, f"{entrypoint[0]} is not a console script of setup.py ({sorted(scripts)})"
    module, _, function = scripts[entrypoint[0]].partition(":")
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module
    assert re.search(rf"^def {function}\(", (ROOT / (module.replace(".", "/") + ".py")).read_text(), re.MULTILINE)


def test_every_copied_file_exists_and_the_copies_hold_what_the_build_needs() -> None:
    assert _of(INSTRUCTIONS, "WORKDIR") == [WORKDIR], "Airbyte's Python images work in /airbyte/integration_code"
    copied: set[str] = set()
    for sources, destination in _copies():
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the build context"
            copied.add(source.rstrip("/"))
        assert destination.startswith("./") or destination.startswith(WORKDIR), destination
    setup_text = SETUP_PY.read_text(encoding="utf-8")
    needed = {"setup.py"}
    needed |= set(re.findall(r'with_name\("([^"]+)"\)', setup_text))  # files setup.py reads (README.md)
    needed |= {package.split(".")[0] for package in _setup_packages()}
    assert needed <= copied, f"the image build needs {sorted(needed - copied)}, which the Dockerfile does not COPY"
    package_data = ast.literal_eval(_setup_keyword("package_data"))
    for package, patterns in package_data.items():
        for pattern in patterns:
            assert list((ROOT / package).glob(pattern)), f"package_data {package}/{pattern} matches no file"


def test_runs_as_a_non_root_user_created_in_the_image() -> None:
    users = _of(INSTRUCTIONS, "USER")
    assert users, "no USER: the connector would run as root"
    user, _, group = users[-1].partition(":")
    assert user not in ROOT_USERS and group not in ROOT_USERS
    # Kubernetes' runAsNonRoot can verify only a numeric user; a name would keep the pod from starting.
    assert user.isdigit(), f"USER {users[-1]}: give the numeric uid"
    keywords = [instruction.keyword for instruction in INSTRUCTIONS]
    last_user = len(keywords) - 1 - keywords[::-1].index("USER")
    assert "RUN" not in keywords[last_user:], "install steps after USER would run without root"
    runs = " ".join(_of(INSTRUCTIONS, "RUN"))
    assert re.search(rf"(useradd|adduser)\b[^&;]*--uid {user}\b", runs), f"no user with uid {user} is created"


def test_labels_name_the_image_metadata_publishes() -> None:
    labels: dict[str, str] = {}
    for arguments in _of(INSTRUCTIONS, "LABEL"):
        labels.update(_key_values(arguments))
    assert labels.get("io.airbyte.name") == METADATA_DATA["dockerRepository"]
    assert labels.get("io.airbyte.version") == METADATA_DATA["dockerImageTag"]
    assert labels.get("org.opencontainers.image.title") == METADATA_DATA["name"]
    assert labels.get("org.opencontainers.image.licenses") == METADATA_DATA["license"]
    repository = re.match(r"https://github\.com/[^/]+/[^/]+", METADATA_DATA["documentationUrl"])
    assert repository and labels.get("org.opencontainers.image.source") == repository.group(0)


# ---- Build and run the package as the image would ----


@dataclass
class InstalledConnector:
    script: Path
    python: Path
    wheel: Path
    workdir: Path
    seconds: dict[str, float]


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledConnector]:
    """The wheel built from the Dockerfile's COPYs, installed in a fresh virtualenv (about 40 s)."""
    base = tmp_path_factory.mktemp("image")
    context = base / "context"
    context.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for sources, _ in _copies():
        for source in sources:
            target = context / source
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, ignore=ignore)
            else:
                shutil.copy2(ROOT / source, target)
    seconds: dict[str, float] = {}

    started = time.monotonic()
    built = _run(
        [sys.executable, "-m", "pip", "wheel", str(context), "--no-deps", "-w", str(base / "dist"), "-q"], base, 300
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (base / "dist").glob("*.whl")
    seconds["wheel"] = time.monotonic() - started

    started = time.monotonic()
    # No pip inside the venv (ensurepip costs seconds): this environment's pip installs into it (`--python`).
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(base / "venv")], base, 120)
    assert made.returncode == 0, made.stderr[-3000:]
    python = base / "venv" / "bin" / "python"
    config = _run([str(python), "-c", "import sys; print(sys.prefix != sys.base_prefix)"], base, 60)
    assert config.stdout.strip() == "True"
    cfg = (base / "venv" / "pyvenv.cfg").read_text()
    assert re.search(r"include-system-site-packages\s*=\s*false", cfg), "the venv must not see system packages"
    seconds["venv"] = time.monotonic() - started

    started = time.monotonic()
    install = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-compile",
            "--disable-pip-version-check",
            "-q",
            str(wheel),
        ],
        base,
        540,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    seconds["install"] = time.monotonic() - started

    workdir = base / "run"
    workdir.mkdir()
    yield InstalledConnector(base / "venv" / "bin" / "source-conversations", python, wheel, workdir, seconds)
    shutil.rmtree(base / "venv", ignore_errors=True)  # about 240 MB; pytest keeps its last three temp dirs


@pytest.fixture(scope="module")
def api() -> Iterator[FakeApiServer]:
    """Two PolyAI projects, Vectara conversations (v1) and chats (v2), two agents; nothing in progress."""
    with FakeApiServer(
        polyai_projects={"PROJECT-9d2e7b41": 120, "PROJECT-image-b": 60},
        vectara_count=90,
        in_progress_count=0,
        vectara_agent_count=2,
        vectara_sessions_per_agent=6,
        vectara_events_per_session=8,
    ) as server:
        yield server


VERSIONS = pytest.mark.parametrize(
    "versions", [("v3", "v2"), ("v1", "v1")], ids=["polyai-v3-vectara-v2", "polyai-v1-vectara-v1"]
)


def _connector(installed: InstalledConnector, *args: str) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    completed = _run([str(installed.script), *args], installed.workdir, 180)
    leaks.record_output(f"installed source-conversations {args[0]}", completed.stdout + completed.stderr)
    return completed, list(parse_messages(completed.stdout))


def _write(installed: InstalledConnector, name: str, payload: Any) -> str:
    path = installed.workdir / name
    path.write_text(json.dumps(payload), encoding="utf-8")
    return str(path)


def _config(api: FakeApiServer, versions: tuple[str, str]) -> dict:
    # OAuth for Vectara: the custom authenticator of components.py must load from the installed package.
    config = connector_config(api, polyai_version=versions[0], vectara_version=versions[1], auth="oauth2")
    config["polyai"]["page_size"] = 50
    config["vectara"]["page_size"] = 40
    return config


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_wheel_holds_the_manifest_and_components_and_the_console_script(installed: InstalledConnector) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        entry_points = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
        scripts = wheel.read(entry_points).decode()
        packaged_components = wheel.read("source_conversations/components.py").decode()
    assert {"source_conversations/manifest.yaml", "source_conversations/components.py"} <= names
    assert packaged_components == (ROOT / "source_conversations" / "components.py").read_text(encoding="utf-8")
    assert not [name for name in names if "/schemas/" in name], "schemas are inline in the manifest"
    top_level = {name.split("/", 1)[0] for name in names if not name.split("/", 1)[0].endswith(".dist-info")}
    assert top_level == {"source_conversations"}, f"the wheel ships more than the connector: {sorted(top_level)}"
    entrypoint = _exec_form(_of(INSTRUCTIONS, "ENTRYPOINT")[0])[0]
    assert re.search(rf"^{re.escape(entrypoint)} = {re.escape(console_scripts()[entrypoint])}$", scripts, re.MULTILINE)
    located = _run(
        [str(installed.python), "-c", "import source_conversations; print(source_conversations.__file__)"],
        installed.workdir,
        60,
    )
    assert located.stdout.strip().startswith(str(installed.python.parents[1])), "imported from outside the venv"
    print(f"timings: {installed.seconds}")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_installed_console_script_spec_is_the_manifests(installed: InstalledConnector) -> None:
    completed, messages = _connector(installed, "spec")
    assert completed.returncode == 0, completed.stderr[-3000:]
    (spec,) = [message["spec"] for message in messages if message["type"] == "SPEC"]
    manifest = yaml.safe_load((ROOT / "source_conversations" / "manifest.yaml").read_text(encoding="utf-8"))
    assert spec["connectionSpecification"] == manifest["spec"]["connection_specification"]


@pytest.mark.slow
@pytest.mark.timeout(900)
@VERSIONS
def test_given_the_installed_console_script_when_check_and_discover_then_it_succeeds_with_the_configured_streams(
    installed: InstalledConnector, api: FakeApiServer, versions: tuple[str, str]
) -> None:
    config_dict = _config(api, versions)
    config = _write(installed, "config.json", config_dict)
    completed, messages = _connector(installed, "check", "--config", config)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert [m["connectionStatus"] for m in messages if m["type"] == "CONNECTION_STATUS"] == [{"status": "SUCCEEDED"}]

    completed, messages = _connector(installed, "discover", "--config", config)
    assert completed.returncode == 0, completed.stderr[-3000:]
    (catalog,) = [message["catalog"] for message in messages if message["type"] == "CATALOG"]
    assert tuple(stream["name"] for stream in catalog["streams"]) == registry.streams_for(config_dict)


@pytest.mark.slow
@pytest.mark.timeout(900)
@VERSIONS
def test_installed_console_script_reads_every_record(
    installed: InstalledConnector, api: FakeApiServer, versions: tuple[str, str]
) -> None:
    config_dict = _config(api, versions)
    streams = registry.streams_for(config_dict)
    config = _write(installed, "config.json", config_dict)
    catalog = _write(installed, "catalog.json", configured_catalog(streams))
    completed, messages = _connector(installed, "read", "--config", config, "--catalog", catalog)
    assert completed.returncode == 0, completed.stderr[-3000:]
    ids: dict[str, list[str]] = {stream: [] for stream in streams}
    for message in messages:
        if message["type"] == "RECORD":
            record = message["record"]
            keys = registry.stream(record["stream"]).primary_key
            ids[record["stream"]].append("/".join(str(record["data"].get(key)) for key in keys))
    truth = expected_ids(api)
    for stream in streams:
        assert truth[stream], f"the fake serves no {stream}: the test would prove nothing"
        assert sorted(set(ids[stream])) == sorted(truth[stream]), stream
    states = {m["state"]["stream"]["stream_descriptor"]["name"] for m in messages if m["type"] == "STATE"}
    assert states == set(streams)
    secret = config_dict["vectara"]["credentials"]["client_secret"]
    assert secret not in completed.stdout + completed.stderr
