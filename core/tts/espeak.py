"""Local speech in 100+ languages with eSpeak NG, loaded from the `espeakng-loader` package."""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.errors import ModelMissingError, ProviderError
from core.tts import AudioChunk
from core.tts.text import split_sentences

logger = logging.getLogger(__name__)

ESPEAK_PACKAGE = "espeakng-loader==0.2.4"
PHONEME_FILES = ("phontab", "phonindex", "phondata", "intonations")
AUDIO_OUTPUT_SYNCHRONOUS = 0x02
ESPEAK_CHARS_UTF8 = 1
EE_OK = 0

# ISO 639-1 codes whose eSpeak voice has another name.
ALIASES = {"zh": "cmn", "no": "nb"}

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Engine:
    """The eSpeak NG library: global state in C, so one instance per process, one lock."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise ModelMissingError(
                f"eSpeak NG is not installed. Install it with: pip install {ESPEAK_PACKAGE}"
            ) from exc
        try:
            data = Path(espeakng_loader.get_data_path())
            # eSpeak NG exits the whole process when one of these is missing: look first.
            for name in PHONEME_FILES:
                if not (data / name).is_file():
                    raise RuntimeError(f"{data / name} is missing")
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except (OSError, RuntimeError) as exc:  # the library or its data folder is damaged
            raise ModelMissingError(
                f"eSpeak NG could not be loaded ({exc}). Reinstall it with: "
                f"pip install {ESPEAK_PACKAGE} --force-reinstall"
            ) from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,  # text
            ctypes.c_size_t,  # size in bytes, with the terminating NUL
            ctypes.c_uint,  # position
            ctypes.c_int,  # position type
            ctypes.c_uint,  # end position
            ctypes.c_uint,  # flags
            ctypes.c_void_p,  # unique identifier
            ctypes.c_void_p,  # user data
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        self.sample_rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data).encode(), 0)
        if self.sample_rate <= 0:
            raise ModelMissingError(
                f"eSpeak NG could not start with its data at {data}. Reinstall it with: "
                f"pip install {ESPEAK_PACKAGE} --force-reinstall"
            )
        self.voices = frozenset(p.name for p in (data / "lang").rglob("*") if p.is_file())
        self.lock = threading.Lock()
        self._lib = lib
        self._samples: list[np.ndarray] = []
        # Kept on the instance: the C library holds a pointer to it.
        self._callback = _SynthCallback(self._collect)
        lib.espeak_SetSynthCallback(self._callback)
        self._voice: str | None = None

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int) -> int:
        if count > 0 and wav:
            self._samples.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0  # 0 = go on

    def speak(self, text: str, voice: str) -> bytes:
        """16-bit PCM of `text` spoken by `voice`; the caller holds `lock`."""
        if voice != self._voice:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != EE_OK:
                raise ProviderError(f"eSpeak NG has no voice '{voice}'.")
            self._voice = voice
        data = text.encode("utf-8")
        self._samples = []
        status = self._lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, ESPEAK_CHARS_UTF8, None, None)
        if status != EE_OK:
            raise ProviderError(f"eSpeak NG failed to speak (error {status}).")
        pcm = np.concatenate(self._samples) if self._samples else np.zeros(0, np.int16)
        self._samples = []
        return pcm.astype("<i2").tobytes()


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def engine() -> _Engine:
    """The process's eSpeak NG, initialised on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Engine()
        return _engine


class EspeakTTS:
    """Robotic but intelligible speech for the languages Piper has no voice for."""

    is_local = True
    name = "local:espeak-ng"

    def __init__(self) -> None:
        self._engine = engine()
        self.sample_rate = self._engine.sample_rate

    def voice_for(self, language: str) -> str | None:
        """The eSpeak voice name for an ISO 639-1 code (or a tag like pt-BR), if there is one."""
        voices = self._engine.voices
        for candidate in (language, language.split("-")[0].lower()):
            candidate = ALIASES.get(candidate, candidate)
            if candidate in voices:
                return candidate
        return None

    def supports(self, language: str) -> bool:
        return self.voice_for(language) is not None

    def synthesize(self, text: str, *, language: str) -> Iterator[AudioChunk]:
        """Yield one chunk of speech per sentence (or clause of a long sentence) of `text`."""
        voice = self.voice_for(language)
        if voice is None:
            raise ProviderError(f"eSpeak NG has no voice for language '{language}'.")
        for piece in split_sentences(text):
            with self._engine.lock:
                pcm = self._engine.speak(piece, voice)
            yield AudioChunk(pcm=pcm, sample_rate=self.sample_rate)
