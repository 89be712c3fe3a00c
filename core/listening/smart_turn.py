"""Whether the speaker is done, from the sound of their voice: Smart Turn v3.2.

The VAD hears silence, not intent: "Can you tell me, um..." and "What is the capital of
France?" both end in silence. Smart Turn (BSD-2, an 8.7 MB int8 ONNX model) listens to the
last 8 s of the turn, left-padded with silence, as Whisper's 80-bin log-mel features, and gives
the probability that the turn is complete. It ships in the `pipecat-ai` package, which is
installed without its dependencies only for this file (scripts/install.sh); the package itself
is never imported. The features come from faster-whisper's own extractor, on audio normalised
to zero mean and unit variance, as the model was trained.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from core.audio import SAMPLE_RATE
from core.concurrency import FairLock
from core.errors import ModelMissingError

PACKAGE = "pipecat-ai==1.14.0"
FILE = Path("audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx")
SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
SECONDS = 8
_REINSTALL = f"Reinstall it with: pip install --no-deps --force-reinstall {PACKAGE}"


def bundled_path() -> Path:
    """The model file inside the installed `pipecat` package, found without importing it."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(f"Smart Turn is not installed. {_REINSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / FILE
    if not path.is_file():
        raise ModelMissingError(f"Smart Turn is missing at {path}. {_REINSTALL}")
    return path


class SmartTurn:
    """The model, loaded once, shared by every conversation; one check at a time per call."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime
        from faster_whisper.feature_extractor import FeatureExtractor

        path = path or bundled_path()
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != SHA256:
            raise ModelMissingError(f"Smart Turn at {path} does not match its sha256. {_REINSTALL}")
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self.session = onnxruntime.InferenceSession(
            data, providers=["CPUExecutionProvider"], sess_options=options
        )
        self._features = FeatureExtractor(feature_size=80, sampling_rate=SAMPLE_RATE)
        # One ONNX session, one run at a time; runs are short (about 0.1 s), and a verdict
        # nobody waits for any more (the user went on) leaves the queue unrun.
        self.lock = FairLock()

    def complete(self, samples: np.ndarray) -> float:
        """The probability that the turn in `samples` (16 kHz mono float32) is complete."""
        size = SECONDS * SAMPLE_RATE
        audio = np.asarray(samples, dtype=np.float32)[-size:]
        audio = np.pad(audio, (size - len(audio), 0))
        audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
        features = self._features(audio.astype(np.float32), padding=0)  # (80, 800)
        with self.lock:
            (out,) = self.session.run(None, {"input_features": features[None].astype(np.float32)})
        return float(np.asarray(out).ravel()[0])
