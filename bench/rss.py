"""The server's resident memory, peak and current, once both models have loaded and worked."""

from __future__ import annotations

from pathlib import Path

from bench.common import (
    Check,
    Result,
    proc_status_mb,
    running_server,
    speech_bytes,
    stream_response,
    write_result,
)
from bench.noise import report_machine_load

NAME = "rss"
TARGET_PEAK_MB = 1536.0
SPEECH = "What is the capital city of France and why is it famous?"


def child_pids(pid: int) -> list[str]:
    """Processes the server started (their memory is not in its RSS), if the kernel says."""
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def run() -> Result:
    load = report_machine_load()
    seconds, data = speech_bytes(SPEECH)

    with running_server() as server, server.client() as client:
        started = proc_status_mb(server.pid)
        print(f"after start:    peak {started['VmHWM']:.1f} MiB, now {started['VmRSS']:.1f} MiB")
        res = client.post("/upload", files={"file": ("speech.wav", data, "audio/wav")})
        res.raise_for_status()
        upload = res.json()
        print(f"upload heard: {upload['transcription']!r}")
        after_upload = proc_status_mb(server.pid)
        # No text: the agent answers the transcription waiting in the upload's session.
        answer = stream_response(client, "", session_id=upload["session_id"])
        print(f"answer: {answer.text!r}")
        after = proc_status_mb(server.pid)
        children = child_pids(server.pid)

    print()
    print(
        f"after upload:   peak {after_upload['VmHWM']:.1f} MiB, now {after_upload['VmRSS']:.1f} MiB"
    )
    print(f"after response: peak {after['VmHWM']:.1f} MiB, now {after['VmRSS']:.1f} MiB")
    if children:
        print(f"note: the server has child processes {children}, not counted here")
    result = Result(NAME)
    result.checks.append(Check("server peak RSS (VmHWM)", after["VmHWM"], TARGET_PEAK_MB, "MiB"))
    result.figures = {
        **load,
        "after_start_mb": started,
        "after_upload_mb": after_upload,
        "after_response_mb": after,
        "child_processes": children,
        "transcription": upload["transcription"],
        "answer": answer.text,
    }
    return result


def main() -> None:
    write_result(run())


if __name__ == "__main__":
    main()
