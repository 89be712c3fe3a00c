"""`POST /upload` end to end against faster-whisper called directly on the same recording."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import Check, Result, median, running_server, summary_ms, synthesize, wer

NAME = "upload_vs_direct"
ROUNDS = 7
TARGET_RATIO = 1.05
# Four sentences that Piper speaks in about 11 seconds.
SPEECH = (
    "The weather today is mild and sunny. "
    "I would like to book a table for four people at seven o'clock this evening. "
    "Please remind me to call my sister tomorrow morning. "
    "How far is it from the train station to the museum?"
)


def load_direct_model():
    """Whisper base exactly as the server loads it (core/providers.py, core/stt/faster_whisper.py)."""
    from faster_whisper import WhisperModel

    from core.assets import WHISPER_BASE, ensure_model
    from core.config import Settings

    settings = Settings()
    folder = ensure_model(WHISPER_BASE, settings.model_cache_dir)
    return WhisperModel(
        str(folder), device="cpu", compute_type="int8", cpu_threads=settings.stt_threads
    ), settings.whisper_beam_size


def run() -> Result:
    result = Result(NAME)
    with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
        wav = Path(tmp) / "speech.wav"
        seconds = synthesize(SPEECH, wav)
        data = wav.read_bytes()
        print(f"Recording: {seconds:.2f} s of Piper speech, {len(data)} bytes")

        model, beam_size = load_direct_model()

        def direct() -> tuple[float, str]:
            start = time.perf_counter()
            segments, _info = model.transcribe(
                str(wav), language=None, beam_size=beam_size, condition_on_previous_text=False
            )
            text = " ".join(s.text.strip() for s in segments).strip()  # segments are lazy
            return time.perf_counter() - start, text

        with running_server() as server, server.client() as client:

            def upload() -> tuple[float, str, float]:
                start = time.perf_counter()
                res = client.post("/upload", files={"file": ("speech.wav", data, "audio/wav")})
                res.raise_for_status()
                body = res.json()
                return time.perf_counter() - start, body["transcription"], body["stt_ms"]

            upload()
            direct()
            upload_s: list[float] = []
            server_stt_ms: list[float] = []
            direct_s: list[float] = []
            texts: dict[str, str] = {}
            for i in range(ROUNDS):
                # Alternate which goes first so slow drift of the machine hits both alike;
                # each one runs while the other is idle.
                order = ("upload", "direct") if i % 2 == 0 else ("direct", "upload")
                for which in order:
                    if which == "upload":
                        elapsed, texts["upload"], stt_ms = upload()
                        upload_s.append(elapsed)
                        server_stt_ms.append(stt_ms)
                    else:
                        elapsed, texts["direct"] = direct()
                        direct_s.append(elapsed)
                print(
                    f"round {i + 1}/{ROUNDS}: upload {upload_s[-1] * 1000:7.1f} ms "
                    f"(server stt_ms {server_stt_ms[-1]:7.1f})  direct {direct_s[-1] * 1000:7.1f} ms"
                )

    ratio = median(upload_s) / median(direct_s)
    print(f"\nupload  median {median(upload_s) * 1000:.1f} ms")
    print(f"  (server-side stt_ms median {median(server_stt_ms):.1f} ms)")
    print(f"direct  median {median(direct_s) * 1000:.1f} ms")
    print(f"ratio of medians upload/direct: {ratio:.3f}")
    print(
        f"upload WER vs script {wer(SPEECH, texts['upload']):.3f}, direct WER {wer(SPEECH, texts['direct']):.3f}"
    )
    result.checks.append(
        Check("ratio of medians upload/direct", round(ratio, 3), TARGET_RATIO, "x")
    )
    result.figures = {
        "audio_seconds": round(seconds, 3),
        "rounds": ROUNDS,
        "upload": summary_ms(upload_s),
        "direct": summary_ms(direct_s),
        "server_stt_median_ms": round(median(server_stt_ms), 1),
        "upload_ms": [round(v * 1000, 1) for v in upload_s],
        "direct_ms": [round(v * 1000, 1) for v in direct_s],
        "upload_text": texts["upload"],
        "direct_text": texts["direct"],
        "upload_wer": round(wer(SPEECH, texts["upload"]), 3),
        "direct_wer": round(wer(SPEECH, texts["direct"]), 3),
    }
    return result


def main() -> None:
    from bench.common import write_result

    write_result(run())


if __name__ == "__main__":
    main()
