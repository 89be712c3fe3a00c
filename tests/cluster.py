"""Several app processes as one service, on loopback: `python app.py` three times behind Debian's
nginx (deploy/nginx.conf), sharing a PostgreSQL database, a JWT secret and llama.cpp's
OpenAI-compatible server as their model. The harness of tests/test_processes.py.

`python -m tests.cluster` starts one by hand and runs it until Ctrl-C (for load through the
balancer); it needs TEST_POSTGRES_URL (a fresh database is made on it and dropped after) or a
DATABASE_URL:  scripts/with-postgres.sh .venv/bin/python -m tests.cluster
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.assets import QWEN_05B, ensure_model
from core.config import Settings
from tests.helpers import ADMIN, REPO, app_env, die_with_parent, free_port, llama_server_command
from tests.helpers import LLAMA_SERVER_MODEL as MODEL
from tests.telephony.simulator import AUTH_TOKEN

NGINX_CONF = REPO / "deploy" / "nginx.conf"
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0
_ESTABLISHED = "01"  # the TCP state in /proc/net/tcp


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


@dataclass(frozen=True)
class AppProcess:
    """One `python app.py` of the cluster."""

    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass(frozen=True)
class Cluster:
    """What runs, and where: the balancer's URL is the service's public address."""

    balancer: str  # http://127.0.0.1:PORT, nginx
    apps: list[AppProcess]
    llm_url: str  # the inference server's OpenAI base URL (ending in /v1)
    database_url: str
    jwt_secret: str
    folder: Path  # configuration, logs and data folders of everything above
    nginx: subprocess.Popen[bytes]

    @property
    def ws_balancer(self) -> str:
        return "ws" + self.balancer.removeprefix("http")

    def kill(self, index: int) -> float:
        """SIGKILL app `index` (its whole process group) and reap it, so that its sockets
        are closed on return; returns the moment (time.monotonic) the signal was sent."""
        app = self.apps[index]
        signalled_at = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.process.pid, signal.SIGKILL)
        app.process.wait(timeout=STOP_TIMEOUT_S)
        return signalled_at

    def restart_stop(self, index: int) -> float:
        """Stop app `index` as a restart or a deployment does (SIGTERM: uvicorn's graceful
        shutdown); returns the moment the signal was sent."""
        signalled_at = time.monotonic()
        _stop(self.apps[index].process)
        return signalled_at

    def established(self, index: int) -> int:
        """TCP connections app `index` holds open with its clients right now. nginx opens one
        per request or WebSocket (no upstream keepalive), so on a quiet cluster this counts
        the live WebSockets, under load the requests in flight too."""
        return established_to(self.apps[index].port)

    def refused(self, index: int) -> int:
        """How many times nginx found app `index` refusing a connection (its error log)."""
        path = self.folder / "nginx" / "error.log"
        port = f"//127.0.0.1:{self.apps[index].port}/"
        text = path.read_text(errors="replace") if path.exists() else ""
        return sum(
            "(111: Connection refused)" in line and port in line for line in text.split("\n")
        )

    def access_log(self) -> list[str]:
        path = self.folder / "nginx" / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def served_by(self, request: str) -> list[int]:
        """The index of the app that served each logged request whose line contains
        `request` (e.g. `"POST /login`), in log order; -1 when no app did."""
        ports = {f"127.0.0.1:{app.port}": i for i, app in enumerate(self.apps)}
        served = []
        for line in self.access_log():
            if request in line:
                upstream = re.search(r"upstream=(\S+)", line)
                last = upstream.group(1).split(", ")[-1] if upstream else "-"
                served.append(ports.get(last, -1))
        return served


def established_to(port: int) -> int:
    """Established TCP connections whose local port is `port` (the server's side)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as rows:
            next(rows)  # the header
            for row in rows:
                fields = row.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                count += local_port == port and fields[3] == _ESTABLISHED
    return count


# nginx ------------------------------------------------------------------------------------


def _replace_line(text: str, pattern: str, replacement: str, *, times: int = 1) -> str:
    """Replace the `times` whole lines matching `pattern` (their indentation kept)."""
    new, count = re.subn(
        rf"^([ \t]*){pattern}[ \t]*$",
        lambda m: "\n".join(m.group(1) + line for line in replacement.splitlines()),
        text,
        flags=re.M,
    )
    assert count == times, f"deploy/nginx.conf should have {times} line(s) {pattern!r}, has {count}"
    return new


def render_nginx(conf: str, *, port: int, upstreams: list[int], folder: Path) -> str:
    """deploy/nginx.conf for loopback: the apps on `upstreams` as its servers, listening on
    `port`, its pid, logs and temporary files in `folder`, run by the current user."""
    servers = "\n".join(f"server 127.0.0.1:{p};" for p in upstreams)
    text = _replace_line(conf, r"server app:8000;", servers, times=2)  # round robin, page
    text = _replace_line(text, r"listen 80;", f"listen 127.0.0.1:{port};")
    # As root, the workers would run as `nginx` (a user Debian does not have); as anyone
    # else, nginx cannot switch user and says so.
    text = _replace_line(text, r"user \S+;", "user root;" if os.geteuid() == 0 else "")
    text = _replace_line(text, r"pid \S+;", f"pid {folder / 'nginx.pid'};")
    text = _replace_line(
        text, r"error_log \S+( \w+)?;", f"error_log {folder / 'error.log'} notice;"
    )
    text = _replace_line(
        text, r"access_log \S+ upstream;", f"access_log {folder / 'access.log'} upstream;"
    )
    temp = "\n".join(
        f"{kind}_temp_path {folder / 'temp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return _replace_line(
        text, r"http \{", "http {\n" + "\n".join(f"    {t}" for t in temp.split("\n"))
    )


# starting and stopping --------------------------------------------------------------------


def _free_ports(count: int) -> list[int]:
    """`count` different free loopback ports."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _spawn(
    command: list[str], log: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A server child in a process group of its own (so `kill` takes all of it), killed
    with SIGKILL if the process that started it dies."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )


def _stop(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    """`sig` to the process group, SIGKILL to whatever is left of it after a while."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
    # The group may outlive its leader (nginx's workers): nothing of it may stay.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _wait_ready(
    name: str, url: str, process: subprocess.Popen[bytes], log: Path, deadline: float
) -> None:
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} exited ({process.returncode}):\n{tail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer {url} in time; see {log}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new database on the PostgreSQL server of `admin_url`, dropped afterwards (open
    connections closed by force), as tests/conftest.py makes one per test."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"cluster_{uuid.uuid4().hex[:16]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def running_cluster(
    database_url: str,
    folder: Path,
    *,
    apps: int = 3,
    env: Mapping[str, str] | None = None,
    local_llm: str | None = None,
) -> Iterator[Cluster]:
    """Start the inference server, `apps` app processes and nginx; yield once every one
    answers; stop all of them on the way out, whatever happened. `env` adds settings (by
    their environment names) to every app's."""
    nginx = nginx_binary()
    if nginx is None:
        raise RuntimeError("nginx is not installed (scripts/system-deps.sh installs Debian's)")
    balancer_port, llm_port, *app_ports = _free_ports(2 + apps)
    balancer = f"http://127.0.0.1:{balancer_port}"
    llm_url = f"http://127.0.0.1:{llm_port}/v1"
    jwt_secret = secrets.token_urlsafe(48)
    (folder / "nginx" / "temp").mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    with contextlib.ExitStack() as stack:
        cache = Settings(_env_file=None).model_cache_dir  # type: ignore[call-arg]
        gguf = ensure_model(QWEN_05B, cache) / QWEN_05B.target
        llm_log = folder / "llm.log"
        llm = _spawn(llama_server_command(gguf, llm_port, n_ctx=4096), llm_log)
        stack.callback(_stop, llm)

        shared = {
            "DATABASE_URL": database_url,
            "JWT_SECRET": jwt_secret,
            "PUBLIC_BASE_URL": balancer,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "LLM_PROVIDER": "openai",
            "OPENAI_BASE_URL": llm_url,
            "OPENAI_MODEL": MODEL,
            "OPENAI_TIMEOUT_S": "60",
            "OPENAI_TOOLS": "false",  # as compose.yaml: the small model answers in words
            "STT_PROVIDER": "local",
            "UI_ENABLED": "false",
            "GTTS_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            **({"LOCAL_LLM": local_llm} if local_llm else {}),
            **(env or {}),
        }
        processes = []
        for i, port in enumerate(app_ports):
            data_dir = folder / f"app{i}"
            log = folder / f"app{i}.log"
            app_settings = app_env(port=port, data_dir=data_dir)
            app_settings.update(shared)
            process = _spawn([sys.executable, "app.py"], log, app_settings)
            stack.callback(_stop, process)
            processes.append(AppProcess(port, process, data_dir, log))

        rendered = render_nginx(
            NGINX_CONF.read_text(), port=balancer_port, upstreams=app_ports, folder=folder / "nginx"
        )
        conf = folder / "nginx" / "nginx.conf"
        conf.write_text(rendered)
        nginx_log = folder / "nginx" / "stderr.log"
        command = [nginx, "-p", str(folder / "nginx"), "-e", str(folder / "nginx" / "error.log")]
        checked = subprocess.run(
            [*command, "-t", "-c", str(conf)], capture_output=True, text=True, check=False
        )
        if checked.returncode != 0:
            raise RuntimeError(f"nginx refused {conf}:\n{checked.stderr}")
        proxy = _spawn([*command, "-c", str(conf), "-g", "daemon off;"], nginx_log)
        # SIGQUIT: nginx's graceful stop (open WebSockets are not waited for: SIGKILL follows)
        stack.callback(_stop, proxy, signal.SIGQUIT)

        _wait_ready("the inference server", f"{llm_url}/models", llm, llm_log, deadline)
        for i, app in enumerate(processes):
            _wait_ready(f"app {i}", f"{app.url}/health", app.process, app.log, deadline)
        _wait_ready("nginx", f"{balancer}/health", proxy, nginx_log, deadline)
        yield Cluster(
            balancer=balancer,
            apps=processes,
            llm_url=llm_url,
            database_url=database_url,
            jwt_secret=jwt_secret,
            folder=folder,
            nginx=proxy,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=3, help="app processes (default 3)")
    args = parser.parse_args()
    admin_url, database_url = os.environ.get("TEST_POSTGRES_URL"), os.environ.get("DATABASE_URL")
    if not (admin_url or database_url):
        raise SystemExit("Set TEST_POSTGRES_URL (scripts/with-postgres.sh does) or DATABASE_URL.")
    # Ctrl-C or SIGTERM stops everything (SIGINT too when started in the background, where
    # the shell has it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cluster-")))
        url = database_url or stack.enter_context(fresh_database(str(admin_url)))
        local_llm = os.environ.get("TEST_LOCAL_LLM", MODEL)  # the app's fallback, as in tests
        cluster = stack.enter_context(
            running_cluster(url, folder, apps=args.apps, local_llm=local_llm)
        )
        lines = [
            f"balancer: {cluster.balancer}",
            *(f"app {i}: {app.url} (log {app.log})" for i, app in enumerate(cluster.apps)),
            f"model: {cluster.llm_url} ({MODEL})",
            f"sign in as {ADMIN[0]} / {ADMIN[1]}; nginx's logs in {folder / 'nginx'}",
            "Ctrl-C stops everything.",
        ]
        print("\n".join(lines), flush=True)  # noqa: T201 (a command's output)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
