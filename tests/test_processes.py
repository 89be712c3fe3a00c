"""Three app processes behind nginx behave as one service: sign-in failures and stream tickets
are counted once whichever process sees them, every process shows every session, and a
process killed under load loses no acknowledged turn while its live conversation moves on.

Real components only (tests/cluster.py): Debian's nginx with deploy/nginx.conf, `python
app.py` three times, a PostgreSQL database, llama.cpp's OpenAI-compatible server as the
shared model. PostgreSQL only: the run of the suite under scripts/with-postgres.sh.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.cluster import Cluster, fresh_database, nginx_binary, running_cluster
from tests.conftest import POSTGRES_URL, postgres_only
from tests.helpers import report
from tests.telephony.simulator import (
    MediaCall,
    Twilio,
    call_params,
    media_call,
    sid,
    sign,
    stream_parameters,
    twiml,
)

pytestmark = [
    postgres_only,
    pytest.mark.slow,
    pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed"),
]

LOGIN_LIMIT = 3  # LOGIN_MAX_FAILURES of every process
WRITERS = 4
ACKS_BEFORE_KILL = 4  # turns acknowledged before the kill
AFTER_KILL = 2  # requests each writer sends once the process is gone
CLOSE_WITHIN_S = 5.0  # a conversation on the killed process must see its socket close by then

APP_ENV = {
    "LOGIN_MAX_FAILURES": str(LOGIN_LIMIT),
    "LOGIN_MAX_FAILURES_PER_CLIENT": "100",  # every request comes from 127.0.0.1
    "LLM_MAX_TOKENS": "32",
    "LLM_TEMPERATURE": "0",
    "TOOLS_ENABLED": "false",  # plain answers: the point is where they are stored
    "SMART_TURN": "false",  # typed turns only: a quicker start
    "IDLE_PROMPT_S": "0",  # no "Are you still there?" on a quiet test socket
    "IDLE_HANGUP_S": "0",
}


@pytest.fixture(scope="module")
def database_url(postgres_admin) -> Iterator[str]:
    """One fresh PostgreSQL database for the module's cluster (dropped after). It overrides the
    per-test `database_url` of tests/conftest.py, under the same name: that name is what puts
    a test in the suite's PostgreSQL run."""
    assert POSTGRES_URL is not None
    with fresh_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[dict[str, object]]:
    """What the module measured: written to a JSON file and shown at its end."""
    found: dict[str, object] = {}
    yield found
    path = tmp_path_factory.mktemp("figures") / "processes.json"
    path.write_text(json.dumps(found, indent=2))
    for name, value in found.items():
        report(request.config, f"processes: {name}: {json.dumps(value)}")
    report(request.config, f"processes: figures in {path}")


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory) -> Iterator[Cluster]:
    with running_cluster(
        database_url, tmp_path_factory.mktemp("cluster"), apps=3, env=APP_ENV
    ) as running:
        yield running


def register(base: str, username: str, password: str = "password-123") -> str:
    """A new account, signed in; its token."""
    res = httpx.post(f"{base}/register", json={"username": username, "password": password})
    assert res.status_code == 201, res.text
    res = httpx.post(f"{base}/login", json={"username": username, "password": password})
    assert res.status_code == 200, res.text
    return str(res.json()["token"])


def logged(cluster: Cluster, request: str, *, count: int) -> list[int]:
    """The apps that served the requests whose access-log lines contain `request`, once
    `count` are logged (nginx writes a line just after the response has gone)."""
    deadline = time.monotonic() + 5
    while len(served := cluster.served_by(request)) < count:
        assert time.monotonic() < deadline, f"{request}: {len(served)} of {count} logged"
        time.sleep(0.05)
    return served


# Marks a test's requests in nginx's access log (the app ignores an unknown query parameter).
PROBE = "probe=1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_failed_sign_ins_are_counted_once_across_processes(
    cluster: Cluster, figures: dict[str, object]
) -> None:
    register(cluster.balancer, "throttled", "right-password")
    wrong = {"username": "throttled", "password": "wrong"}
    statuses = []
    for _ in range(3 * LOGIN_LIMIT + 2):  # per-process counting would allow 3 * LOGIN_LIMIT
        res = httpx.post(f"{cluster.balancer}/login?{PROBE}", json=wrong)
        statuses.append(res.status_code)
    allowed = statuses.index(429) if 429 in statuses else len(statuses)
    served = logged(cluster, f"POST /login?{PROBE}", count=len(statuses))
    # Every process now refuses the account, even its right password, and says when to retry.
    direct = [
        httpx.post(f"{app.url}/login", json={"username": "throttled", "password": "right-password"})
        for app in cluster.apps
    ]
    figures["throttle"] = {
        "login_max_failures": LOGIN_LIMIT,
        "failures_allowed_before_429": allowed,
        "statuses": statuses,
        "served_by_app": served,
        "right_password_on_each_app": [r.status_code for r in direct],
    }

    assert len(set(served)) == 3, served  # the balancer spread the attempts over all three
    assert statuses == [401] * LOGIN_LIMIT + [429] * (len(statuses) - LOGIN_LIMIT), statuses
    assert [r.status_code for r in direct] == [429] * 3
    assert all(int(r.headers["Retry-After"]) > 0 for r in direct)
    # The account's neighbours are not affected.
    register(cluster.balancer, "neighbour")


def replay_refused(twilio: Twilio, stream_url: str, params: dict[str, str], call_sid: str) -> bool:
    """Whether a new stream that presents `params` is closed with 1008 before any message."""
    with twilio.stream_socket(stream_url) as ws:
        call = MediaCall(ws, call_sid=call_sid)
        try:
            call.start(params)
            deadline = time.monotonic() + 10
            while call.got.closed is None and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            call.end()
    closed = call.got.closed
    refused = closed is not None and closed.rcvd is not None and closed.rcvd.code == 1008
    return refused and call.got.messages == []


def call_status(cluster: Cluster, call_sid: str) -> str | None:
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.database_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT status FROM calls WHERE call_sid = :sid")
            return conn.execute(query, {"sid": call_sid}).scalar()
    finally:
        engine.dispose()


def test_a_stream_ticket_opens_one_stream_whichever_process_gets_it(
    cluster: Cluster, figures: dict[str, object]
) -> None:
    # Twilio reaches the service at the balancer's address (PUBLIC_BASE_URL) and signs it.
    call_sid = sid("CA")
    params = call_params(call_sid, "+14155550199")
    voice = f"{cluster.balancer}/twilio/voice"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(voice, params),
    }
    answer = httpx.post(voice, content=urlencode(params), headers=headers, timeout=30)
    stream_url, ticket = stream_parameters(twiml(answer))
    assert stream_url == f"{cluster.ws_balancer}/twilio/media"

    through_balancer = Twilio(cluster.balancer)
    replays: list[tuple[str, bool]] = []
    with media_call(through_balancer, stream_url, call_sid=call_sid) as call:
        call.start(ticket)
        # The process that accepted the ticket marks the call in progress.
        deadline = time.monotonic() + 30
        while call_status(cluster, call_sid) != "in-progress":
            assert call.got.closed is None, call.got.closed
            assert time.monotonic() < deadline, "the stream was not accepted"
            time.sleep(0.05)
        # The same ticket again, on a new stream: to each process directly (signed over the
        # public URL, as Twilio signs), then through the balancer once per process.
        targets = [(f"app {i}", Twilio(app.url)) for i, app in enumerate(cluster.apps)]
        targets += [("balancer", through_balancer)] * len(cluster.apps)
        for name, twilio in targets:
            replays.append((name, replay_refused(twilio, stream_url, ticket, call_sid)))
        assert call.got.closed is None  # the genuine stream is still up
        call.stop()
    served = logged(cluster, "GET /twilio/media", count=len(cluster.apps) + 1)
    figures["stream_tickets"] = {
        "streams_served_by_app": served,
        "replays": len(replays),
        "replays_refused": sum(refused for _, refused in replays),
        "refused_by_target": replays,
    }

    assert [refused for _, refused in replays] == [True] * len(replays), replays
    # nginx logs a stream as it closes: the replays through the balancer, then the genuine
    # one; round robin sent the replays to every process.
    assert sorted(served[-len(cluster.apps) - 1 : -1]) == list(range(len(cluster.apps))), served


def test_every_process_shows_every_session(cluster: Cluster, figures: dict[str, object]) -> None:
    headers = bearer(register(cluster.balancer, "everywhere"))
    turns: dict[str, list[dict]] = {}
    session: str | None = None
    for n, text in enumerate(["Hello there!", "What is two plus two?", "Name a colour."]):
        body: dict[str, object] = {"text": text}
        if n == 1 and session:
            body["session_id"] = session  # the second turn continues the first session
        url = f"{cluster.balancer}/response?{PROBE}"
        res = httpx.post(url, json=body, headers=headers, timeout=120)
        assert res.status_code == 200, res.text
        answer = res.json()
        session = answer["session_id"]
        turns.setdefault(session, []).append(answer)
    served = logged(cluster, f"POST /response?{PROBE}", count=3)

    seen = []
    for app in cluster.apps:
        listed = httpx.get(f"{app.url}/sessions", headers=headers, timeout=30)
        assert listed.status_code == 200, listed.text
        assert {s["id"] for s in listed.json()} == set(turns), (app.url, listed.json())
        for session_id, answers in turns.items():
            detail = httpx.get(f"{app.url}/sessions/{session_id}", headers=headers, timeout=30)
            assert detail.status_code == 200, detail.text
            stored = [(t["id"], t["user_text"], t["answer"]) for t in detail.json()["turns"]]
            expected = [(a["turn_id"], a["transcription"], a["response"].strip()) for a in answers]
            assert stored == expected, (app.url, stored, expected)
        seen.append(len(turns))
    figures["sessions"] = {"turns_served_by_app": served, "sessions_seen_by_each_app": seen}
    assert sorted(served) == [0, 1, 2], served  # round robin: one turn written by each


def test_a_signed_in_page_stays_on_one_process(cluster: Cluster) -> None:
    """The Gradio page keeps its state in the process that served it: a browser with the
    sign-in cookie goes to one process, whatever it asks; without it, requests are spread."""
    token = register(cluster.balancer, "page_user")
    for n, cookie in enumerate((token, token[::-1])):  # two browsers
        with httpx.Client(base_url=cluster.balancer, cookies={"voice_agent_token": cookie}) as page:
            for _ in range(6):
                page.get(f"/health?{PROBE}&page={n}")
    pages = [logged(cluster, f"GET /health?{PROBE}&page={n} ", count=6) for n in (0, 1)]
    for _ in range(6):
        httpx.get(f"{cluster.balancer}/health?{PROBE}&page=none")
    spread = logged(cluster, f"GET /health?{PROBE}&page=none ", count=6)
    assert [len(set(served)) for served in pages] == [1, 1], pages
    assert sorted(set(spread)) == [0, 1, 2], spread


# A process killed under load --------------------------------------------------------------


@dataclass
class Outcome:
    """One `POST /response` of a writer."""

    started: float  # time.monotonic()
    ended: float
    status: int | None  # None: no HTTP answer at all (a hang or a broken connection)
    text: str
    session_id: str | None = None
    turn_id: int | None = None
    answer: str | None = None
    error: str | None = None


class Writer(threading.Thread):
    """Sends typed turns through the balancer, in one session, until `stopping` is set, and
    once a kill is noted (`killed_at`) until it has sent `AFTER_KILL` more since; records
    every outcome."""

    def __init__(self, base: str, token: str, number: int, stopping: threading.Event) -> None:
        super().__init__(name=f"writer{number}", daemon=True)
        self.client = httpx.Client(base_url=base, headers=bearer(token), timeout=60)
        self.number = number
        self.stopping = stopping
        self.killed_at: float | None = None
        self.outcomes: list[Outcome] = []

    def more(self) -> bool:
        if not self.stopping.is_set():
            return True
        killed_at = self.killed_at
        return killed_at is not None and (
            sum(o.started > killed_at for o in self.outcomes) < AFTER_KILL
        )

    def run(self) -> None:
        session: str | None = None
        with self.client:
            n = 0
            while self.more():
                n += 1
                text = f"Writer {self.number}, question {n}: what is {n} plus {self.number}?"
                body = {"text": text, **({"session_id": session} if session else {})}
                started = time.monotonic()
                try:
                    res = self.client.post("/response", json=body)
                except httpx.HTTPError as exc:
                    ended = time.monotonic()
                    self.outcomes.append(Outcome(started, ended, None, text, error=repr(exc)))
                    continue
                outcome = Outcome(started, time.monotonic(), res.status_code, text)
                if res.status_code == 200:
                    data = res.json()
                    session = data["session_id"]
                    outcome.session_id, outcome.turn_id = session, data["turn_id"]
                    outcome.answer = data["response"]
                    if data["transcription"] != text:
                        outcome.error = f"answered another text: {data['transcription']!r}"
                else:
                    outcome.error = res.text[:200]
                self.outcomes.append(outcome)


def receive_until(ws: ClientConnection, kind: str, timeout: float = 120) -> dict:
    """JSON events (audio skipped) until one of `kind`; an `error` event fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        message = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(message, bytes):
            continue
        event = json.loads(message)
        assert event["type"] != "error", event
        if event["type"] == kind:
            return event


def conversation(cluster: Cluster, token: str, session_id: str | None = None) -> ClientConnection:
    query = {"token": token, "sample_rate": "16000"}
    if session_id:
        query["session_id"] = session_id
    url = f"{cluster.ws_balancer}/ws/conversation?{urlencode(query)}"
    return connect(url, open_timeout=10, max_size=None)


def holder_of_the_socket(cluster: Cluster) -> int:
    """The app that holds the one live WebSocket of a quiet cluster."""
    deadline = time.monotonic() + 5
    while True:
        held = [cluster.established(i) for i in range(len(cluster.apps))]
        if sorted(held) == [0] * (len(held) - 1) + [1]:
            return held.index(1)
        assert time.monotonic() < deadline, f"connections per app: {held}"
        time.sleep(0.05)


class SocketWatch(threading.Thread):
    """Reads a socket until it closes, noting when (time.monotonic) and with which code."""

    def __init__(self, ws: ClientConnection) -> None:
        super().__init__(name="socket-watch", daemon=True)
        self.ws = ws
        self.closed_at: float | None = None
        self.code: int | None = None

    def run(self) -> None:
        try:
            while True:
                self.ws.recv()
        except ConnectionClosed as exc:
            self.closed_at = time.monotonic()
            self.code = exc.rcvd.code if exc.rcvd else None


@dataclass
class KillRun:
    victim: int
    killed_at: float  # when SIGKILL was sent
    gone_at: float  # when the process was reaped, its sockets closed
    in_flight_on_victim: int  # its HTTP requests in flight at the kill
    outcomes: list[Outcome]


def kill_under_load(cluster: Cluster, token: str, victim: int) -> KillRun:
    """Writers through the balancer; SIGKILL app `victim` once some turns are acknowledged and
    it is answering one; the writers go on for `AFTER_KILL` turns each after it."""
    stopping = threading.Event()
    writers = [Writer(cluster.balancer, token, n, stopping) for n in range(WRITERS)]
    try:
        for writer in writers:
            writer.start()
        deadline = time.monotonic() + 120
        while True:
            acks = sum(o.status == 200 for w in writers for o in w.outcomes)
            # Its connections: the live socket, and one per request in flight.
            if acks >= ACKS_BEFORE_KILL and cluster.established(victim) >= 2:
                break
            assert time.monotonic() < deadline, f"{acks} turns acknowledged, no kill moment"
            time.sleep(0.01)
        in_flight = cluster.established(victim) - 1
        killed_at = cluster.kill(victim)
        gone_at = time.monotonic()
        for writer in writers:
            writer.killed_at = gone_at
    finally:
        stopping.set()
        for writer in writers:
            writer.join(timeout=180)
    assert not [w.name for w in writers if w.is_alive()], "a writer is stuck"
    outcomes = [o for w in writers for o in w.outcomes]
    return KillRun(victim, killed_at, gone_at, in_flight, outcomes)


def test_a_killed_process_loses_no_acknowledged_turn_and_its_conversation_moves(
    cluster: Cluster, figures: dict[str, object]
) -> None:
    token = register(cluster.balancer, "survivor")
    headers = bearer(token)

    # A live conversation through the balancer, with one turn stored, on the process to kill.
    with conversation(cluster, token) as ws:
        session = receive_until(ws, "ready")["session_id"]
        ws.send(json.dumps({"type": "text", "text": "Hello, my name is Ada."}))
        first_turn = receive_until(ws, "turn")
        victim = holder_of_the_socket(cluster)
        watch = SocketWatch(ws)
        watch.start()
        run = kill_under_load(cluster, token, victim)
        watch.join(timeout=CLOSE_WITHIN_S)
    outcomes = run.outcomes
    closed_after_s = None if watch.closed_at is None else watch.closed_at - run.killed_at

    # The client acts on the close: it resumes the conversation through the balancer, on
    # another process, with its earlier turn there.
    with conversation(cluster, token, session) as again:
        resumed = receive_until(again, "ready")
        again.send(json.dumps({"type": "text", "text": "What is my name?"}))
        second_turn = receive_until(again, "turn")
        again.send(json.dumps({"type": "end"}))
    detail = httpx.get(f"{cluster.balancer}/sessions/{session}", headers=headers, timeout=30)

    # Once nginx tries the dead process again (after fail_timeout), the connection is
    # refused and the request, a POST that never reached an app, goes on to another.
    credentials = {"username": "survivor", "password": "password-123"}
    sign_ins: list[int] = []
    deadline = time.monotonic() + 30
    while not cluster.refused(victim):
        assert time.monotonic() < deadline, f"nginx never tried app {victim} again"
        sign_ins.append(httpx.post(f"{cluster.balancer}/login", json=credentials).status_code)
        time.sleep(0.2)

    # Every acknowledged turn is stored, as acknowledged, on a process that lives.
    survivor = next(app for app in cluster.apps if app.alive)
    acked = [o for o in outcomes if o.status == 200]
    lost = []
    for session_id in {o.session_id for o in acked}:
        res = httpx.get(f"{survivor.url}/sessions/{session_id}", headers=headers, timeout=30)
        stored = {t["id"]: t for t in res.json()["turns"]} if res.status_code == 200 else {}
        for o in (o for o in acked if o.session_id == session_id):
            turn = stored.get(o.turn_id)
            answer = (o.answer or "").strip()
            if turn is None or (turn["user_text"], turn["answer"]) != (o.text, answer):
                lost.append((o.turn_id, o.text, turn))
    failed = [o for o in outcomes if o.status != 200]
    wrong = [o for o in acked if o.error]
    after = [o for o in outcomes if o.started > run.gone_at]
    figures["kill"] = {
        "killed_app": victim,
        "in_flight_on_it_at_kill": run.in_flight_on_victim,
        "requests": len(outcomes),
        "turns_acknowledged": len(acked),
        "turns_acknowledged_and_stored": len(acked) - len(lost),
        "refused_or_failed": len(failed),
        "failed_statuses": sorted(str(o.status) for o in failed),
        "requests_after_kill": len(after),
        "succeeded_after_kill": sum(o.status == 200 for o in after),
        "slowest_request_s": round(max(o.ended - o.started for o in outcomes), 2),
        "socket_closed_after_s": None if closed_after_s is None else round(closed_after_s, 3),
        "socket_close_code": watch.code,  # None: no close frame (1006), the TCP just closed
        "sign_ins_until_nginx_retried_the_dead_app": len(sign_ins),
        "refused_connections_passed_on": cluster.refused(victim),
    }

    assert lost == [] and wrong == []
    assert len(acked) >= ACKS_BEFORE_KILL
    # A request cut by the kill is answered with a clean 502 by nginx, never left hanging.
    assert [(o.status, o.error) for o in failed if o.status != 502] == []
    # Once the process is gone, nginx sends everything to the others.
    assert len(after) >= WRITERS * AFTER_KILL and all(o.status == 200 for o in after), after
    assert closed_after_s is not None and closed_after_s < CLOSE_WITHIN_S, closed_after_s
    assert resumed["session_id"] == session
    assert detail.status_code == 200, detail.text
    stored_turns = [(t["id"], t["user_text"]) for t in detail.json()["turns"]]
    assert sign_ins == [200] * len(sign_ins)
    assert stored_turns == [
        (first_turn["turn_id"], "Hello, my name is Ada."),
        (second_turn["turn_id"], "What is my name?"),
    ]


def test_a_process_stopped_for_a_restart_says_so_to_its_conversations(
    cluster: Cluster, figures: dict[str, object]
) -> None:
    """SIGTERM (a restart, a deployment) is not a crash: the live conversation gets a close
    frame with 1012 (service restart) through nginx, and goes on through the balancer."""
    token = register(cluster.balancer, "restarted")
    with conversation(cluster, token) as ws:
        session = receive_until(ws, "ready")["session_id"]
        ws.send(json.dumps({"type": "text", "text": "Hello, my name is Grace."}))
        receive_until(ws, "turn")
        holder = holder_of_the_socket(cluster)
        watch = SocketWatch(ws)
        watch.start()
        stopped_at = cluster.restart_stop(holder)
        watch.join(timeout=CLOSE_WITHIN_S)
    with conversation(cluster, token, session) as again:
        assert receive_until(again, "ready")["session_id"] == session
    figures["restart"] = {
        "stopped_app": holder,
        "socket_close_code": watch.code,
        "socket_closed_after_s": None
        if watch.closed_at is None
        else round(watch.closed_at - stopped_at, 3),
    }
    assert watch.code == 1012, figures["restart"]
