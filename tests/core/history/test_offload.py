"""The store's async face: each method awaited runs on a worker thread, not on the event loop,
with the store's own parameters, result and errors, as the type checker sees them too."""

from __future__ import annotations

import asyncio
import inspect
import threading
from pathlib import Path

import pytest
from sqlalchemy import event

from core.errors import ConflictError, NotFoundError
from core.history import HistoryStore
from core.history.offload import Offloaded
from core.history.store import AsyncHistoryStore
from tests.helpers import REPO


@pytest.fixture
def store(database_url: str):
    s = HistoryStore.open(database_url)
    yield s
    s.close()


def test_the_store_works_on_a_worker_thread_while_the_loop_runs(store: HistoryStore) -> None:
    threads: list[str] = []
    loop_free = threading.Event()

    def on_statement(*_args: object) -> None:
        threads.append(threading.current_thread().name)
        # Set by the loop while the statement waits: only a loop the store does not hold can.
        assert loop_free.wait(5), "the event loop was held while the store worked"

    event.listen(store.engine, "before_cursor_execute", on_statement)

    async def scenario():
        asyncio.get_running_loop().call_later(0.05, loop_free.set)
        user = await store.aio.create_user(username="ann", password_hash="x")
        session = await store.aio.create_session(user_id=user.id, channel="ws")
        turn = await store.aio.add_turn(
            user_id=user.id, session_id=session.id, source="voice", user_text="hi", language="en"
        )
        return threading.current_thread().name, user, session, turn

    loop_thread, user, session, turn = asyncio.run(scenario())
    assert threads and all(name.startswith("agent-work") for name in threads), threads
    assert loop_thread not in threads
    # The same records the blocking methods give.
    assert store.find_user(user_id=user.id) == user
    assert store.get_session(user_id=user.id, session_id=session.id).channel == "ws"
    assert store.get_turn(user_id=user.id, turn_id=turn.id) == turn


def test_the_stores_errors_and_defaults_reach_the_caller_unchanged(store: HistoryStore) -> None:
    async def scenario() -> None:
        user = await store.aio.create_user(username="ann", password_hash="x")
        with pytest.raises(ConflictError, match="'ann' is taken"):
            await store.aio.create_user(username="ann", password_hash="y")
        with pytest.raises(NotFoundError, match="Session not found"):
            await store.aio.get_session(user_id=user.id, session_id="0" * 32)
        session = await store.aio.create_session(user_id=user.id)
        await store.aio.update_session(user_id=user.id, session_id=session.id, personality="formal")
        # Left out: unchanged (the store's own default, not None).
        renamed = await store.aio.update_session(
            user_id=user.id, session_id=session.id, title="Plans"
        )
        assert (renamed.title, renamed.personality) == ("Plans", "formal")

    asyncio.run(scenario())


def test_the_face_offers_every_method_of_the_store_under_its_name(store: HistoryStore) -> None:
    methods = {
        name
        for name, _ in inspect.getmembers(HistoryStore, inspect.isfunction)
        if not name.startswith("_")
    } - {"close"}
    offered = {n for n, v in vars(AsyncHistoryStore).items() if isinstance(v, Offloaded)}
    assert offered == methods
    assert store.aio.add_turn.__name__ == "add_turn"
    assert store.aio.add_turn.__doc__ == HistoryStore.add_turn.__doc__


PROBE = """
from core.history import HistoryStore

async def use(store: HistoryStore) -> None:
    reveal_type(store.aio.add_turn)
    reveal_type(await store.aio.find_user(user_id=1))
    await store.aio.get_turn(user_id="1", turn_id=2)
    await store.aio.find_call(call_sid="CA1", status="busy")
"""


def test_the_type_checker_sees_each_methods_parameters_and_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mypy import api

    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    monkeypatch.chdir(REPO)
    out, _, status = api.run(
        [str(probe), "--config-file", str(REPO / "pyproject.toml"), "--no-error-summary"]
        + ["--cache-dir", str(tmp_path / "cache")]
    )
    lines = [line.split(": ", 1)[1] for line in out.splitlines()]
    assert status == 1, out
    assert lines[0] == (
        'note: Revealed type is "def (*, user_id: int, session_id: str, source: str, '
        "user_text: str, language: str, personality: str | None =, stt_provider: str | None =, "
        "audio_seconds: float | None =, stt_ms: float | None =, fallback: str | None =, "
        'status: str =) -> typing.Coroutine[Any, Any, core.history.records.TurnRecord]"'
    )
    assert lines[1:] == [
        'note: Revealed type is "core.history.records.UserRecord | None"',
        'error: Argument "user_id" has incompatible type "str"; expected "int"  [arg-type]',
        'error: Unexpected keyword argument "status"  [call-arg]',
    ]
