"""Load generators of the load benchmarks.

- `hey` (Debian package `hey`), run as its own process and read from its CSV: closed loops,
  N connections each sending its next request when the last is answered.
- `open_loop`: requests sent at a fixed rate whether or not earlier ones were answered, which
  is how load beyond capacity really arrives. hey's own rate limit cannot do this: each of its
  connections waits for its reply, and their timers start together, so a high rate needs many
  connections that then fire in synchronised bursts.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import subprocess
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import percentile

HEY_TIMEOUT_S = 60  # per request: far above the server's own queue bound


def require_hey() -> str:
    path = shutil.which("hey")
    if path is None:
        raise SystemExit("This benchmark needs the HTTP load generator hey: apt-get install hey")
    return path


@dataclass(frozen=True)
class Reply:
    seconds: float
    status: int
    offset: float  # seconds from the start of the run when the request was sent


@dataclass
class Run:
    """Every reply of one hey run, and how long the run lasted."""

    replies: list[Reply]
    duration_s: float
    errors: str  # hey's error summary (connection failures, timeouts), empty when none

    def of(self, status: int) -> list[float]:
        return [r.seconds for r in self.replies if r.status == status]

    def statuses(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(Counter(r.status for r in self.replies).items())}

    def figures(self) -> dict[str, Any]:
        """Rates and latency percentiles, split by answered (200) and refused (503)."""

        def latency(values: list[float]) -> dict[str, float]:
            return {
                f"p{q}_s": round(percentile(values, q), 3) if values else float("nan")
                for q in (50, 95, 99)
            } | {"max_s": round(max(values), 3) if values else float("nan")}

        answered, refused = self.of(200), self.of(503)
        # Answers go on arriving after the last request is sent: count them over the time
        # until the last reply, not over the sending time.
        span = max([self.duration_s, *(r.offset + r.seconds for r in self.replies)])
        return {
            "sent_per_s": round(len(self.replies) / self.duration_s, 2),
            "answered_per_s": round(len(answered) / span, 2),
            "statuses": self.statuses(),
            "answered_latency": latency(answered),
            "refused_latency": latency(refused),
            "errors": self.errors,
        }


def hey(
    url: str,
    *,
    seconds: float,
    workers: int,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    content_type: str = "application/json",
) -> Run:
    """Run hey against `url` for `seconds` with `workers` concurrent connections, each sending
    its next request as soon as its last is answered (a closed loop)."""
    with tempfile.TemporaryDirectory(prefix="bench-hey-") as tmp:
        body_file = Path(tmp) / "body"
        body_file.write_bytes(body)
        args = [require_hey(), "-z", f"{seconds:g}s", "-c", str(workers), "-m", method]
        args += ["-t", str(HEY_TIMEOUT_S), "-T", content_type, "-o", "csv"]
        for name, value in (headers or {}).items():
            args += ["-H", f"{name}: {value}"]
        if body:
            args += ["-D", str(body_file)]
        done = subprocess.run([*args, url], capture_output=True, text=True, check=True)
    replies = [
        Reply(float(row["response-time"]), int(row["status-code"]), float(row["offset"]))
        for row in csv.DictReader(io.StringIO(done.stdout))
        if row.get("status-code", "").isdigit()
    ]
    return Run(replies=replies, duration_s=seconds, errors=done.stderr.strip()[:500])


def open_loop(
    url: str,
    *,
    rate: float,
    seconds: float,
    headers: dict[str, str],
    body: bytes,
    content_type: str,
) -> Run:
    """POST `body` to `url` `rate` times a second, evenly spaced, for `seconds`; every request
    is on its own connection slot, so a slow answer never delays the next request."""

    async def main() -> list[Reply]:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=200)
        timeout = httpx.Timeout(HEY_TIMEOUT_S)
        send_headers = {**headers, "Content-Type": content_type}
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            loop = asyncio.get_running_loop()
            start = loop.time()

            async def one(offset: float) -> Reply:
                await asyncio.sleep(max(0.0, start + offset - loop.time()))
                sent = loop.time()
                try:
                    res = await client.post(url, content=body, headers=send_headers)
                    status = res.status_code
                except httpx.HTTPError:
                    status = 0  # no reply: a timeout or a refused connection
                return Reply(loop.time() - sent, status, sent - start)

            count = int(rate * seconds)
            return list(await asyncio.gather(*(one(i / rate) for i in range(count))))

    replies = asyncio.run(main())
    failed = sum(r.status == 0 for r in replies)
    return Run(replies, seconds, f"{failed} requests got no reply" if failed else "")


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with one file, and its content type."""
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    body.write(f"--{boundary}\r\n".encode())
    body.write(
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'.encode()
    )
    body.write(b"Content-Type: application/octet-stream\r\n\r\n")
    body.write(data)
    body.write(f"\r\n--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"
