"""Provider start-up: the local models warmed up, with the default system prompt cached."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from core import personalities
from core.providers import Providers, warm_up


def test_warm_up_leaves_the_default_system_prompt_in_the_llm_cache(
    local_providers: Providers, settings
) -> None:
    providers = dataclasses.replace(local_providers)  # the shared one keeps no reading speed
    warm_up(providers, settings)
    # The reading speed behind MAX_PROMPT_SECONDS is measured on the way.
    assert providers.prompt_tokens_per_s is not None and providers.prompt_tokens_per_s > 10
    assert local_providers.prompt_tokens_per_s is None
    model = providers.llm.model  # type: ignore[attr-defined]
    system = personalities.system_prompt(
        settings.default_personality, custom_prompt=None, language=settings.default_language
    )
    cached = model.detokenize(model.input_ids[: model.n_tokens].tolist()).decode("utf-8", "replace")
    assert system in cached


def test_a_failing_warm_up_is_logged_not_fatal(
    local_providers: Providers, settings, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        name = "broken"

        def stream(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            raise RuntimeError("no model here")

    broken = Providers(stt=local_providers.stt, llm=Broken())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        warm_up(broken, settings)
    assert "Warming up the local models failed" in caplog.text
