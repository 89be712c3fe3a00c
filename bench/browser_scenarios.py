"""The browser bench's scenarios on the real page: a hands-free conversation, press-to-talk and
typed turns, and a nonstop talker who hangs up while another user asks over REST."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import browser_driver as drv
from bench.browser_heard import Answer, answer, silent_from
from bench.common import Server, stream_response

ANSWER_TIMEOUT_S = 90.0
QUIET_MS = 300  # an answer is over once nothing has played for this long (and the page agrees)
BARGE_AFTER_S = 1.0  # a barge-in starts this long after the answer it cuts began to play
STOP_AFTER_S = 0.3  # press-to-talk: Stop is pressed this long after the last word
CPU_FROM_S = 1.0  # the server's CPU is read from this long after the hang-up...
CPU_FOR_S = 10.0  # ...for this long
ASK_AT_S = (5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0)  # the other user asks this long into the talk
ASK_BEFORE_END_S = 5.0  # ...but starts no question closer than this to the hang-up


@dataclass(frozen=True)
class Line:
    """One thing the user says: its text (pauses removed), its PCM, and whether it is said
    over the answer before it."""

    text: str
    pcm: bytes
    barge_in: bool = False


@dataclass
class Turn:
    """A turn as the bench drove it: what was said when, and when the user was done."""

    mode: str  # "hands-free", "press-to-talk" or "typed"
    text: str
    origin: float  # page ms: end of speech (hands-free), Stop pressed, or Enter
    until: float = 0.0  # page ms: the user's next action (the end of the answer's window)
    said: drv.Said | None = None
    barge_in: bool = False
    shown: float | None = None  # page ms the first token was shown in the chat
    failed: str = ""
    transcript: str = ""  # what the page showed as the user's words (press-to-talk)


@dataclass
class Heard:
    """A scenario's turns with their answers as heard."""

    turns: list[Turn] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    barge_in_stop_s: list[float] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # the hands-free log's lines
    token_gaps_ms: list[float] = field(default_factory=list)  # between an answer's tokens


def heard(turns: list[Turn], snapshot: dict[str, Any]) -> Heard:
    """Each turn's answer cut from the page's play log, and how fast barge-ins silenced the
    answer they cut (what played of it meanwhile is no false start of the barge-in's turn)."""
    out = Heard(turns=turns)
    for turn in turns:
        spoke_from = turn.said.voiced_from if turn.said else None
        if turn.barge_in and turn.said:
            stop = silent_from(snapshot, turn.said.voiced_from)
            if stop is not None:
                out.barge_in_stop_s.append(stop)
                spoke_from = turn.said.voiced_from + stop * 1000 + 1
        out.answers.append(
            answer(turn.mode, snapshot, origin=turn.origin, until=turn.until, spoke_from=spoke_from)
        )
    return out


# Hands-free ------------------------------------------------------------------------------


def wait_answer(page: Any, turns_before: int, said: drv.Said) -> str:
    """Wait until the answer to `said` has played to its end; returns "" or why it failed."""
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    drv.wait_until(page, said.end)
    while True:
        hf = drv.handsfree(page)
        if hf["state"] == "error":
            return hf["status"]
        finished = int(hf["turns"]) > turns_before and hf["state"] in ("listening", "idle")
        if finished and drv.last_end(page) <= drv.now(page) - QUIET_MS:
            return ""
        if time.monotonic() > deadline:
            return f"no answer played within {ANSWER_TIMEOUT_S:.0f} s ({hf['status']!r})"
        time.sleep(0.05)


def wait_first_audio(page: Any, after: float) -> str:
    """Wait until audio that began after `after` (page ms) has played for BARGE_AFTER_S."""
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while not (first := page.evaluate("(t) => window.__bench.firstAudioAfter(t)", after)):
        if time.monotonic() > deadline:
            return "no answer began to play"
        time.sleep(0.02)
    drv.wait_until(page, first + BARGE_AFTER_S * 1000)
    return ""


def hands_free(page: Any, lines: Sequence[Line]) -> Heard:
    """One conversation: each line said once the answer before it has played (a barge-in
    line, BARGE_AFTER_S into it); then a hang-up."""
    drv.handsfree_start(page)
    turns: list[Turn] = []
    for i, line in enumerate(lines):
        before = int(drv.handsfree(page)["turns"])
        said = drv.say(page, line.pcm, lead_ms=20 if line.barge_in else 500)
        if turns:
            turns[-1].until = said.voiced_from
        turn = Turn("hands-free", line.text, said.voiced_to, said=said, barge_in=line.barge_in)
        turns.append(turn)
        cut_next = i + 1 < len(lines) and lines[i + 1].barge_in
        drv.wait_until(page, said.end)
        turn.failed = wait_first_audio(page, said.voiced_to) if cut_next else ""
        turn.failed = turn.failed or ("" if cut_next else wait_answer(page, before, said))
        print(f"  hands-free {i + 1}: {line.text[:60]!r} {turn.failed}", flush=True)
        if not cut_next:
            time.sleep(0.5)  # a person waits a moment before speaking again
    turns[-1].until = drv.handsfree_stop(page)
    snapshot = drv.snapshot(page)
    out = heard(turns, snapshot)
    out.log = page.locator("#handsfree-log .handsfree-line").all_inner_texts()
    tokens = snapshot.get("tokens", [])
    # Within an answer: a pause of 1.5 s or more is the next turn.
    out.token_gaps_ms = [b - a for a, b in zip(tokens, tokens[1:], strict=False) if b - a < 1500]
    return out


# Press-to-talk and typed -----------------------------------------------------------------


def wait_played(page: Any, before: str) -> str:
    """Wait for `#status` to say Done, then for the page's player to finish the answer."""
    try:
        drv.wait_done(page, before)
    except RuntimeError as exc:
        return str(exc)
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while drv.last_end(page) > drv.now(page) - QUIET_MS:
        if time.monotonic() > deadline:
            return "the answer did not finish playing"
        time.sleep(0.05)
    return ""


def first_shown(snapshot: dict[str, Any], after: float) -> float | None:
    return next((float(c["t"]) for c in snapshot["chat"] if c["t"] >= after), None)


def press_to_talk(page: Any, lines: Sequence[Line], questions: Sequence[str]) -> Heard:
    """Each line recorded with the page's recorder (Record, speech, Stop), then each question
    typed and sent with Enter; every answer played to its end before the next turn."""
    turns: list[Turn] = []
    for line in lines:
        before = drv.status(page)
        drv.press_record(page)
        page.evaluate("() => window.__bench.watchChat()")
        said = drv.say(page, line.pcm, lead_ms=300)
        drv.wait_until(page, said.voiced_to + STOP_AFTER_S * 1000)
        turn = Turn("press-to-talk", line.text, drv.press_stop(page), said=said)
        turn.failed = wait_played(page, before)
        turn.until = drv.now(page)
        turn.transcript = drv.last_message(page, "user")
        turns.append(turn)
        print(f"  press-to-talk: {line.text[:60]!r} heard {turn.transcript!r} {turn.failed}")
    for question in questions:
        before = drv.status(page)
        page.evaluate("() => window.__bench.watchChat()")
        turn = Turn("typed", question, drv.type_question(page, question))
        turn.failed = wait_played(page, before)
        turn.until = drv.now(page)
        turns.append(turn)
        print(f"  typed: {question!r} {turn.failed}", flush=True)
    snapshot = drv.snapshot(page)
    for turn in turns:
        turn.shown = first_shown(snapshot, turn.origin)
    return heard(turns, snapshot)


# Nonstop talker --------------------------------------------------------------------------


def session_cpu_s(sid: int) -> float:
    """CPU seconds (user + system) of the live processes of session `sid`: the server and
    whatever it started."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[3]) == sid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Asked:
    """The other user's typed question over REST: when it was asked (s into the nonstop
    talk), its first word and its whole answer (s after the request)."""

    at_s: float
    first_delta_s: float
    total_s: float
    chars: int  # the answer's length, which the whole answer's time depends on


def ask_idle(server: Server, token: str, question: str, times: int) -> list[Asked]:
    """The question asked `times` over REST (a new session each) with nothing else running,
    after one warm-up ask that is not counted."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=180) as client:
        stream_response(client, question)
        return [_asked(stream_response(client, question), 0.0) for _ in range(times)]


def _asked(timing: Any, at_s: float) -> Asked:
    return Asked(
        round(at_s, 2), round(timing.first_delta_s, 3), round(timing.total_s, 3), len(timing.text)
    )


def nonstop(page: Any, server: Server, pcm: bytes, token: str, question: str) -> dict[str, Any]:
    """User A talks into the hands-free page for the whole of `pcm`, then hangs up; user B
    asks `question` over REST at each of ASK_AT_S into the talk (after the answer before).
    Returns B's answers and the server's CPU (% of one core) over CPU_FOR_S from CPU_FROM_S
    after the hang-up, or from when B's last answer came if that was later (noted)."""
    drv.handsfree_start(page)
    said = drv.say(page, pcm, lead_ms=300)
    talk_start = time.monotonic() + (said.start - drv.now(page)) / 1000
    talk_s = (said.end - said.start) / 1000
    asked: list[Asked] = []
    errors: list[str] = []

    def other_user() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=300) as client:
            for at in ASK_AT_S:
                time.sleep(max(0.0, talk_start + at - time.monotonic()))
                at = time.monotonic() - talk_start
                if at > talk_s - ASK_BEFORE_END_S:
                    return
                try:
                    asked.append(_asked(stream_response(client, question), at))
                except (httpx.HTTPError, RuntimeError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    return

    worker = threading.Thread(target=other_user, daemon=True)
    worker.start()
    drv.wait_until(page, said.end)
    hang_up = time.monotonic()
    drv.handsfree_stop(page)
    time.sleep(max(0.0, hang_up + CPU_FROM_S - time.monotonic()))
    worker.join(timeout=300)  # B's answer still coming would count in the server's CPU
    slices = []
    start = last = session_cpu_s(server.pid)
    started = tick = time.monotonic()
    for _ in range(int(CPU_FOR_S)):
        time.sleep(max(0.0, tick + 1.0 - time.monotonic()))
        now_cpu, now = session_cpu_s(server.pid), time.monotonic()
        slices.append(round((now_cpu - last) / (now - tick) * 100, 1))
        last, tick = now_cpu, now
    cpu_pct = (last - start) / (tick - started) * 100
    print(f"  nonstop: talked {talk_s:.1f} s; the other user asked {len(asked)} time(s)")
    return {
        "talk_s": round(talk_s, 1),
        "cpu_after_hang_up_pct": round(cpu_pct, 1),
        "cpu_window_from_s": round(started - hang_up, 1),
        "cpu_per_second_pct": slices,
        "asked_meanwhile": [a.__dict__ for a in asked],
        "errors": errors,
        "hands_free_status": drv.handsfree(page)["status"],
    }
