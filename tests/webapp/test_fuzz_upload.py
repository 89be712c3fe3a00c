"""Hostile uploads against a live server: oversized chunked bodies before sign-in, and fuzzed
files and form fields on POST /upload (200 or a 4xx, never a 5xx, never a hang)."""

from __future__ import annotations

import select
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.audio_inputs import FAMILIES, real_files
from tests.helpers import login, report, serve

TIME_LIMIT_S = 5.0
EXAMPLES = 20  # per family of files: 160 requests


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or stops for 5 s)."""
    answer = b""
    sock.settimeout(TIME_LIMIT_S)
    try:
        while part := sock.recv(65536):
            answer += part
    except (TimeoutError, ConnectionResetError):
        pass
    return answer


def test_a_huge_chunked_upload_without_a_token_is_cut_off_at_the_limit(
    app_factory: Callable[..., FastAPI], request: pytest.FixtureRequest
) -> None:
    """No Content-Length, no token: the 413 comes after about MAX_UPLOAD_MB, not at the end."""
    planned = 512 * 1024 * 1024
    piece = _chunk(b"\x00" * 65536)
    with serve(app_factory(max_upload_mb=1)) as url:
        address = urlsplit(url)
        with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
            sock.sendall(
                b"POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
                b"Content-Type: multipart/form-data; boundary=x\r\n\r\n"
                + _chunk(b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.wav"')
                + _chunk(b"\r\n\r\n")
            )
            sent, start = 0, time.monotonic()
            while sent < planned:
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered
                try:
                    sock.sendall(piece)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    break  # the server has closed, or stopped reading
                sent += 65536
            answer = _read_answer(sock)
            elapsed = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"larger than the limit of 1 MB" in answer
    assert b"connection: close" in answer.lower()
    # Loopback socket buffers hold a few MB; the server read little more than the limit.
    assert sent < 32 * 1024 * 1024, sent
    report(
        request.config,
        f"\nchunked 413: answered after {sent / 2**20:.1f} MB of {planned / 2**20:.0f} MB "
        f"sent, in {elapsed:.2f} s",
    )


def test_a_file_sent_without_a_filename_is_422_and_not_echoed(
    live: tuple[httpx.Client, dict],
) -> None:
    client, headers = live
    # A multipart part without a filename is a text field, not a file.
    res = client.post("/upload", headers=headers, data={"file": "A" * 1_000_000})
    assert res.status_code == 422
    (error,) = res.json()["detail"]
    assert error["loc"] == ["body", "file"]
    assert error["input"] == "A" * 200 + "..."
    assert len(res.content) < 2000


@pytest.fixture(scope="module")
def real(speak) -> dict[str, bytes]:
    return real_files(speak("Hello, can you hear me?").read_bytes())


@pytest.fixture
def live(app_factory: Callable[..., FastAPI]) -> Iterator[tuple[httpx.Client, dict]]:
    with serve(app_factory()) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client, login(client)  # type: ignore[arg-type]


statuses: Counter[int] = Counter()
families: Counter[str] = Counter()


@pytest.mark.parametrize("family", sorted(FAMILIES))
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # one server for every example, on purpose
    ],
)
@given(data=st.data())
def test_fuzzed_uploads_get_200_or_a_4xx_quickly(
    live: tuple[httpx.Client, dict], real: dict[str, bytes], family: str, data: st.DataObject
) -> None:
    client, headers = live
    _, blob = data.draw(FAMILIES[family](real), label="file")
    fields: dict[str, str | None] = {"session_id": None, "personality": None}
    # One request in four also has odd form fields (refused before the file is decoded).
    if data.draw(st.sampled_from([False, False, False, True]), label="odd fields"):
        fields = {
            "session_id": data.draw(st.none() | st.text(max_size=80), label="session_id"),
            "personality": data.draw(
                st.none() | st.sampled_from(["formal", "custom"]) | st.text(max_size=40),
                label="personality",
            ),
        }
    filename = data.draw(st.text(min_size=1, max_size=100), label="filename")
    content_type = data.draw(
        st.sampled_from(["audio/wav", "audio/mpeg", "application/octet-stream", "text/plain"]),
        label="content type",
    )
    before = len(client.get("/sessions", headers=headers).json())
    start = time.monotonic()
    res = client.post(
        "/upload",
        headers=headers,
        data={k: v for k, v in fields.items() if v is not None},
        files={"file": (filename, blob, content_type)},
    )
    elapsed = time.monotonic() - start
    families[family] += 1
    statuses[res.status_code] += 1
    assert res.status_code == 200 or 400 <= res.status_code < 500, (res.status_code, res.text)
    assert elapsed < TIME_LIMIT_S, (family, elapsed)
    after = len(client.get("/sessions", headers=headers).json())
    if res.status_code == 200:
        # Random session ids never match: an upload with speech opened a new session, one
        # with none opened nothing.
        assert after == before + (res.json()["turn_id"] is not None)
    else:
        assert isinstance(res.json()["detail"], str | list)
        assert after == before  # a refused upload leaves nothing behind


@pytest.fixture(scope="module", autouse=True)
def count_requests(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if statuses:
        report(
            request.config,
            f"\nupload fuzz: {sum(statuses.values())} requests "
            f"(statuses {dict(sorted(statuses.items()))}; "
            f"families {dict(sorted(families.items()))})",
        )
