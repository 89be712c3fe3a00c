"""Invalid Unicode in JSON bodies, fuzzed, against a live server: lone surrogates as JSON
escapes, raw bytes that are not UTF-8, NULs and controls, in every string field of the JSON
routes, before and after sign-in. Each answer is a 2xx or a 4xx with a readable body, never a
5xx, and what was stored before stays stored."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from core.providers import Providers
from tests.conftest import make_settings
from tests.helpers import login, report, serve

EXAMPLES = 60

# (method, path, the body's string fields); `{session}` is a session of the signed-in user.
ROUTES = [
    ("POST", "/login", ("username", "password")),
    ("POST", "/register", ("username", "password")),
    ("POST", "/response", ("text",)),
    ("PUT", "/settings", ("personality", "custom_prompt", "language")),
    ("PATCH", "/sessions/{session}", ("title", "custom_prompt", "language")),
    ("POST", "/speak", ("text", "language")),
]


def json_escapes(text: str) -> str:
    """`text` as a JSON string literal; a lone surrogate becomes an escape such as `\\ud800`."""
    return json.dumps(text, ensure_ascii=True)


# Pieces of a field: ordinary text, lone surrogates, NUL and controls, and raw invalid UTF-8.
surrogate = st.integers(0xD800, 0xDFFF).map(lambda c: chr(c))
weird = st.text(
    alphabet=st.characters(codec=None, categories=["Cs", "Cc", "Co", "Cn", "Lo", "So"]),
    max_size=8,
)
piece = st.one_of(st.text(max_size=12), surrogate, weird)
field_text = st.lists(piece, max_size=6).map("".join)
raw_bytes = st.sampled_from(
    [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82"]
)


@st.composite
def bodies(draw: st.DrawFn, fields: tuple[str, ...]) -> bytes:
    values = {name: draw(field_text, label=name) for name in fields}
    body = "{" + ", ".join(f'"{k}": {json_escapes(v)}' for k, v in values.items()) + "}"
    encoded = body.encode("ascii")
    if draw(st.booleans(), label="raw invalid UTF-8"):
        cut = draw(st.integers(0, len(encoded)), label="where")
        encoded = encoded[:cut] + draw(raw_bytes) + encoded[cut:]
    return encoded


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, local_providers: Providers
) -> Iterator[tuple[httpx.Client, dict, str]]:
    app = create_app(make_settings(tmp_path_factory.mktemp("fuzz-json")), providers=local_providers)
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        auth = login(client)  # type: ignore[arg-type]
        session = client.post("/response", headers=auth, json={"text": "Hello!"}).json()
        yield client, auth, session["session_id"]


statuses: Counter[int] = Counter()


@pytest.mark.parametrize(("method", "path", "fields"), ROUTES, ids=[r[1] for r in ROUTES])
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_invalid_unicode_in_json_is_never_a_server_error(
    live: tuple[httpx.Client, dict, str],
    method: str,
    path: str,
    fields: tuple[str, ...],
    data: st.DataObject,
) -> None:
    client, auth, session = live
    body = data.draw(bodies(fields), label="body")
    res = client.request(
        method,
        path.format(session=session),
        content=body,
        headers={**auth, "Content-Type": "application/json"},
    )
    statuses[res.status_code] += 1
    assert res.status_code < 500, (path, body, res.status_code, res.text)
    assert res.headers["content-type"].startswith(("application/json", "audio/")), res.headers
    if res.status_code >= 400:
        assert isinstance(res.json()["detail"], str | list)
    # The first turn of the session is still there, whatever came before.
    turns = client.get(f"/sessions/{session}", headers=auth).json()["turns"]
    assert turns[0]["user_text"] == "Hello!"


@pytest.fixture(scope="module", autouse=True)
def count_requests(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if statuses:
        report(
            request.config,
            f"\ninvalid-Unicode JSON fuzz: {sum(statuses.values())} requests "
            f"(statuses {dict(sorted(statuses.items()))})",
        )
