"""`POST /upload` end to end against faster-whisper called directly on the same recording."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    Check,
    OtherLoad,
    Result,
    cpu_seconds,
    median,
    report_machine_load,
    running_server,
    summary_ms,
    synthesize,
    wer,
    write_result,
)

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


def load_direct_model() -> tuple[Any, int]:
    """Whisper base as the server loads it (core/providers.py, core/stt/faster_whisper.py)."""
    from faster_whisper import WhisperModel

    from core.assets import WHISPER_BASE, ensure_model
    from core.config import Settings

    settings = Settings()
    folder = ensure_model(WHISPER_BASE, settings.model_cache_dir)
    model = WhisperModel(
        str(folder), device="cpu", compute_type="int8", cpu_threads=settings.stt_threads
    )
    return model, settings.whisper_beam_size


def run() -> Result:
    result = Result(NAME)
    load = report_machine_load()
    with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
        wav = Path(tmp) / "speech.wav"
        seconds = synthesize(SPEECH, wav)
        data = wav.read_bytes()
        print(f"Recording: {seconds:.2f} s of Piper speech, {len(data)} bytes")
        model, beam_size = load_direct_model()

        def direct() -> tuple[float, float, str]:
            cpu0, start = time.process_time(), time.perf_counter()
            segments, _info = model.transcribe(
                str(wav), language=None, beam_size=beam_size, condition_on_previous_text=False
            )
            text = " ".join(s.text.strip() for s in segments).strip()  # segments are lazy
            return time.perf_counter() - start, time.process_time() - cpu0, text

        with running_server() as server, server.client() as client:

            def upload() -> tuple[float, float, str, float]:
                cpu0, start = cpu_seconds(server.pid), time.perf_counter()
                res = client.post("/upload", files={"file": ("speech.wav", data, "audio/wav")})
                res.raise_for_status()
                elapsed = time.perf_counter() - start
                body = res.json()
                return (
                    elapsed,
                    cpu_seconds(server.pid) - cpu0,
                    body["transcription"],
                    body["stt_ms"],
                )

            upload()  # warm-up: first decode and first transcription
            direct()
            others = OtherLoad([os.getpid(), server.pid])
            upload_s: list[float] = []
            upload_cpu: list[float] = []
            server_stt_ms: list[float] = []
            direct_s: list[float] = []
            direct_cpu: list[float] = []
            texts: dict[str, str] = {}
            for i in range(ROUNDS):
                # Alternate which goes first so drift in the machine's load hits both alike;
                # each runs while the other is idle.
                for which in ("upload", "direct") if i % 2 == 0 else ("direct", "upload"):
                    if which == "upload":
                        elapsed, cpu, texts["upload"], stt_ms = upload()
                        upload_s.append(elapsed)
                        upload_cpu.append(cpu)
                        server_stt_ms.append(stt_ms)
                    else:
                        elapsed, cpu, texts["direct"] = direct()
                        direct_s.append(elapsed)
                        direct_cpu.append(cpu)
                print(
                    f"round {i + 1}/{ROUNDS}: upload {upload_s[-1] * 1000:7.1f} ms "
                    f"(server stt_ms {server_stt_ms[-1]:7.1f}, cpu {upload_cpu[-1]:.2f} s)   "
                    f"direct {direct_s[-1] * 1000:7.1f} ms (cpu {direct_cpu[-1]:.2f} s)"
                )
            other_share = others.share()

    ratio = median(upload_s) / median(direct_s)
    cpu_ratio = median(upload_cpu) / median(direct_cpu)
    wers = {k: wer(SPEECH, v) for k, v in texts.items()}
    print()
    print(
        f"upload median {median(upload_s) * 1000:.1f} ms (server stt_ms {median(server_stt_ms):.1f})"
    )
    print(f"direct median {median(direct_s) * 1000:.1f} ms")
    print(f"ratio of medians upload/direct: {ratio:.3f}")
    print(
        f"CPU seconds per call: upload {median(upload_cpu):.2f} (server process), "
        f"direct {median(direct_cpu):.2f}; ratio {cpu_ratio:.3f}"
    )
    print(f"WER against the script: upload {wers['upload']:.3f}, direct {wers['direct']:.3f}")
    print(f"Other processes used {other_share:.0%} of the machine during the rounds")
    result.checks.append(
        Check("ratio of medians upload/direct", round(ratio, 3), TARGET_RATIO, "x")
    )
    result.figures = {
        **load,
        "other_processes_cpu_share": round(other_share, 3),
        "audio_seconds": round(seconds, 3),
        "rounds": ROUNDS,
        "upload": summary_ms(upload_s),
        "direct": summary_ms(direct_s),
        "server_stt_median_ms": round(median(server_stt_ms), 1),
        "upload_cpu_median_s": round(median(upload_cpu), 3),
        "direct_cpu_median_s": round(median(direct_cpu), 3),
        "cpu_ratio": round(cpu_ratio, 3),
        "upload_ms": [round(v * 1000, 1) for v in upload_s],
        "direct_ms": [round(v * 1000, 1) for v in direct_s],
        "upload_text": texts["upload"],
        "direct_text": texts["direct"],
        "upload_wer": round(wers["upload"], 3),
        "direct_wer": round(wers["direct"], 3),
    }
    return result


def main() -> None:
    write_result(run())


if __name__ == "__main__":
    main()
