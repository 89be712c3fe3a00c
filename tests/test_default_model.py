"""The default configuration, as `./run.sh` starts it: the app on the larger bundled model
(qwen2.5-1.5b), answering plain questions right in each of its five prompt languages and
keeping a follow-up in context. The rest of the suite runs on the fast model (see conftest)."""

from __future__ import annotations

import pytest

from bench.common import running_server
from bench.quality import judge, load_items
from core.config import LocalLLM, Settings

# Answered right by the 1.5B model in every run of the evaluation set (docs/performance.md).
ITEMS = (
    "factual-en-05",
    "factual-fr-03",
    "factual-es-06",
    "factual-de-03",
    "factual-it-03",
    "followup-en-01",
    "followup-es-02",
)


def test_the_default_local_model_is_the_larger_one() -> None:
    assert Settings.model_fields["local_llm"].default is LocalLLM.QWEN_15B


def test_the_default_model_answers_plain_questions_right_in_five_languages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LOCAL_LLM")  # the suite's fast model; the app takes its default
    items = {item.id: item for item in load_items()}
    wrong = []
    with running_server(env={"LLM_TEMPERATURE": "0"}) as server, server.client() as client:
        health = client.get("/health").json()
        assert health["llm"]["provider"] == "local:qwen2.5-1.5b"
        for item in (items[name] for name in ITEMS):
            session_id = None
            for text in item.turns:
                res = client.post("/response", json={"text": text, "session_id": session_id})
                assert res.status_code == 200, res.text
                session_id = res.json()["session_id"]
            answer = res.json()["response"]
            verdict = judge(item, answer, 0.0, 0.0)
            if not verdict.right:
                wrong.append((item.id, item.turns[-1], answer))
    assert not wrong, wrong
