"""The spoken answer of a stored turn, synthesised once and kept as a WAV file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from core.concurrency import run_blocking
from core.config import Settings, TTSProvider
from core.errors import NotFoundError, ProviderError, StorageFullError
from core.history import HistoryStore, UserRecord
from core.tts.router import Speech, SpeechSynthesizer
from core.tts.speaking import chosen_voice

logger = logging.getLogger(__name__)


def _key(answer: str, language: str, provider: TTSProvider) -> str:
    return hashlib.sha256(f"{provider}\0{language}\0{answer}".encode()).hexdigest()


def _write(path: Path, data: bytes) -> None:
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}-{threading.get_ident()}")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)
        raise


def speak_turn(
    *,
    store: HistoryStore,
    tts: SpeechSynthesizer,
    cache_dir: Path,
    user_id: int,
    turn_id: int,
    provider: TTSProvider,
) -> Speech:
    """The WAV of a turn's answer in the turn's language, from `cache_dir` when it is there.

    Blocking. Raises `NotFoundError` for a turn that is not the user's or has no answer yet.
    A cached file is used only if it was made from the same answer, language and choice of
    voice, so a changed voice setting (or a reused turn id) is never served stale audio.
    A fallback (the cloud voice failed) is added to the turn's record.
    """
    turn = store.get_turn(user_id=user_id, turn_id=turn_id)
    if not turn.answer:
        raise NotFoundError(f"Turn {turn_id} has no answer to speak yet.")
    key = _key(turn.answer, turn.language, provider)
    wav_path = cache_dir / f"{turn_id}.wav"
    meta_path = cache_dir / f"{turn_id}.json"
    try:
        meta = json.loads(meta_path.read_text())
        if meta["key"] == key:
            return Speech(wav_path.read_bytes(), meta["provider"], meta["fallback"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not cached yet, or unreadable: make it again
    speech = tts.speak_to_wav(turn.answer, turn.language, provider)
    meta = {"key": key, "provider": speech.provider, "fallback": speech.fallback}
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write(wav_path, speech.wav)
        _write(meta_path, json.dumps(meta).encode())
    except OSError as exc:  # a full disk: the speech is served all the same, just not kept
        logger.warning("Could not keep turn %s's speech in %s: %s", turn_id, cache_dir, exc)
        wav_path.unlink(missing_ok=True)
    if speech.fallback:
        with contextlib.suppress(StorageFullError):  # a note is not worth the speech
            store.note_fallback(turn_id=turn_id, reason=f"speech: {speech.fallback}")
    return speech


async def turn_speech(
    *,
    store: HistoryStore,
    tts: SpeechSynthesizer | None,
    settings: Settings,
    user: UserRecord,
    turn_id: int,
) -> Speech:
    """The answer of one of `user`'s turns spoken in their chosen voice (`speak_turn`, off
    the event loop, cached under DATA_DIR/audio). `ProviderError` on a server that does not
    speak."""
    if tts is None:
        raise ProviderError("Text-to-speech is not available on this server.")
    return await run_blocking(
        lambda: speak_turn(
            store=store,
            tts=tts,
            cache_dir=settings.data_dir / "audio",
            user_id=user.id,
            turn_id=turn_id,
            provider=chosen_voice(user.tts_provider, settings),
        )
    )
