"""`POST /upload` end to end against faster-whisper called directly on the same recording."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from bench.common import (
    Check,
    Result,
    median,
    recording,
    running_server,
    summary_ms,
    wer,
    write_result,
)
from bench.noise import cpu_seconds, quiet_rounds, report_machine_load

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


@dataclass(frozen=True)
class Timed:
    wall_s: float
    cpu_s: float  # CPU time of the process that did the work, all threads
    text: str


@dataclass(frozen=True)
class Round:
    upload: Timed
    server_stt_ms: float
    direct: Timed


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
    load = report_machine_load()
    with recording(SPEECH) as (wav, seconds, data):
        model, beam_size = load_direct_model()

        def direct() -> Timed:
            cpu0, start = time.process_time(), time.perf_counter()
            segments, _info = model.transcribe(
                str(wav), language=None, beam_size=beam_size, condition_on_previous_text=False
            )
            text = " ".join(s.text.strip() for s in segments).strip()  # segments are lazy
            return Timed(time.perf_counter() - start, time.process_time() - cpu0, text)

        with running_server() as server, server.client() as client:

            def upload() -> tuple[Timed, float]:
                cpu0, start = cpu_seconds(server.pid), time.perf_counter()
                res = client.post("/upload", files={"file": ("speech.wav", data, "audio/wav")})
                res.raise_for_status()
                wall = time.perf_counter() - start
                body = res.json()
                timed = Timed(wall, cpu_seconds(server.pid) - cpu0, body["transcription"])
                return timed, float(body["stt_ms"])

            def one_round(i: int) -> Round:
                # Alternate which goes first so drift in the machine's load hits both alike;
                # each runs while the other is idle.
                if i % 2 == 0:
                    (up, stt_ms), dr = upload(), direct()
                else:
                    dr, (up, stt_ms) = direct(), upload()
                print(
                    f"round {i + 1}/{ROUNDS}: upload {up.wall_s * 1000:7.1f} ms "
                    f"(server stt_ms {stt_ms:7.1f}, cpu {up.cpu_s:.2f} s)   "
                    f"direct {dr.wall_s * 1000:7.1f} ms (cpu {dr.cpu_s:.2f} s)"
                )
                return Round(up, stt_ms, dr)

            upload()  # warm-up: first decode and first transcription of each
            direct()
            rounds = quiet_rounds(ROUNDS, one_round, [os.getpid(), server.pid])

    upload_s = [r.upload.wall_s for r in rounds.values]
    direct_s = [r.direct.wall_s for r in rounds.values]
    upload_cpu = [r.upload.cpu_s for r in rounds.values]
    direct_cpu = [r.direct.cpu_s for r in rounds.values]
    stt_ms = [r.server_stt_ms for r in rounds.values]
    last = rounds.values[-1]
    wers = {"upload": wer(SPEECH, last.upload.text), "direct": wer(SPEECH, last.direct.text)}
    ratio = median(upload_s) / median(direct_s)
    cpu_ratio = median(upload_cpu) / median(direct_cpu)

    print()
    print(f"upload median {median(upload_s) * 1000:.1f} ms (server stt_ms {median(stt_ms):.1f})")
    print(f"direct median {median(direct_s) * 1000:.1f} ms")
    print(f"ratio of medians upload/direct: {ratio:.3f}")
    print(
        f"CPU seconds per call: upload {median(upload_cpu):.2f} (server process), "
        f"direct {median(direct_cpu):.2f}; ratio {cpu_ratio:.3f}"
    )
    print(f"WER against the script: upload {wers['upload']:.3f}, direct {wers['direct']:.3f}")
    print(rounds.describe())

    result = Result(NAME)
    check = Check("ratio of medians upload/direct", round(ratio, 3), TARGET_RATIO, "x")
    result.checks.append(check)
    result.figures = {
        **load,
        **rounds.figures(),
        "audio_seconds": round(seconds, 3),
        "rounds": ROUNDS,
        "upload": summary_ms(upload_s),
        "direct": summary_ms(direct_s),
        "server_stt_median_ms": round(median(stt_ms), 1),
        "upload_cpu_median_s": round(median(upload_cpu), 3),
        "direct_cpu_median_s": round(median(direct_cpu), 3),
        "cpu_ratio": round(cpu_ratio, 3),
        "upload_ms": [round(v * 1000, 1) for v in upload_s],
        "direct_ms": [round(v * 1000, 1) for v in direct_s],
        "upload_text": last.upload.text,
        "direct_text": last.direct.text,
        "upload_wer": round(wers["upload"], 3),
        "direct_wer": round(wers["direct"], 3),
    }
    return result


def main() -> None:
    write_result(run())


if __name__ == "__main__":
    main()
