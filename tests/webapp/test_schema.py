"""Schemathesis against the app's own OpenAPI document, on a live server, signed in: every
operation answers with a documented status code, content type and body schema, never a 5xx.

Its engine runs all its phases: the documented examples, coverage (boundary and wrong-type
values of every field), fuzzing, and stateful sequences (create a session, then use its id).
Left out, as they cannot be exercised over plain HTTP from the document: the WebSocket (not in
the document), the Gradio UI (a mount, not in the document; off here) and the Twilio webhooks,
which refuse any request without a valid `X-Twilio-Signature` (tested in tests/telephony).
POST /logout is left out too: it would sign the run out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis

# Loaded now, at collection, not inside the test: pytest rewrites the asserts of schemathesis's
# modules (it is a pytest plugin) as they are imported, and once, late in a full run, that
# parse failed with CPython 3.11's "AST constructor recursion depth mismatch" (a finalizer of
# an earlier test's garbage ran during it). At collection there is no such garbage yet.
import schemathesis.specs.openapi.schemas  # noqa: F401
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from app import create_app
from core.providers import Providers
from tests.conftest import make_settings
from tests.helpers import login, report, serve

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
]
EXAMPLES = 30  # per operation and phase
# Routes that run the real models: a few examples each keep the run short.
MODEL_PATHS = ["/response", "/upload", "/speak"]


@pytest.fixture
def live(tmp_path: Path, local_providers: Providers) -> Iterator[tuple[str, dict]]:
    """A live server on a fresh database, and the admin's Authorization header."""
    app = create_app(make_settings(tmp_path / "data", llm_max_tokens=16), providers=local_providers)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        yield url, login(client)  # type: ignore[arg-type]


def run_config(headers: dict) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 20261125,  # the same cases on every run
            "cache": {"enabled": False},  # no crash replay files in the checkout
            "headers": headers,
            "workers": 1,
            "request-timeout": 30,
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
            "operations": [
                {"include-path": path, "generation": {"max-examples": 3}} for path in MODEL_PATHS
            ],
        }
    )


def test_every_operation_conforms_to_the_openapi_document(
    live: tuple[str, dict], request: pytest.FixtureRequest
) -> None:
    url, headers = live
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=run_config(headers))
    # POST /logout would end the token this run signs its requests with (tests/webapp/
    # test_revocation.py checks it); every other route runs.
    schema = schema.exclude(path_regex="^/twilio/").exclude(path="/logout")
    cases: Counter[str] = Counter()
    failures: list[str] = []
    finished = None
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            cases[event.recorder.label] += len(event.recorder.cases)
            for checks in event.recorder.checks.values():
                failures += [
                    f"{event.recorder.label}: {check.name}: {check.failure_info.failure.title}"
                    f"\n{check.failure_info.failure.message}\n{check.failure_info.code_sample}"
                    for check in checks
                    if check.status is Status.FAILURE and check.failure_info is not None
                ]
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label}: error {event.value!r}")
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.EngineFinished):
            finished = event
    operations = {label for label in cases if label != "Stateful tests"}
    report(
        request.config,
        f"\nschemathesis: {len(operations)} operations, {sum(cases.values())} cases "
        f"in {finished.running_time if finished else 0:.0f} s "
        f"({', '.join(f'{op} {n}' for op, n in sorted(cases.items()))})",
    )
    assert not failures, "\n\n".join(dict.fromkeys(failures))
    # Every route in the document but Twilio's and POST /logout
    assert len(operations) == 18, sorted(operations)
