"""The real page in Chromium, measured as a person hears it.

Hands-free and press-to-talk conversations, gaps inside answers, and a nonstop talker's cost
to the server and to other users:

    python -m bench.browser                          # this checkout's app, ~6 min
    python -m bench.browser --app-dir /tmp/base      # another checkout's app (this virtualenv)
    python -m bench.browser --compare /tmp/base      # that one first, then this one: ratios
    python -m bench.browser --scenarios hands-free   # hands-free, press-to-talk, nonstop

A baseline checkout without git changes: `git archive HEAD | tar -x -C /tmp/base`.

Debian's Chromium opens the app's page (UI on, local models) and signs in. An init script
(bench/browser_page.js) replaces the microphone with a stream the bench plays Piper speech
into, so it knows the page time of the last voiced sample of each utterance, and logs every
buffer the page schedules (when it really starts, how long it lasts, where a stop cut it) and
the sound a meter sees reach each AudioContext's destination.

- **Hands-free** (`#handsfree-start`): the conversation of bench/multiturn (fillers, pauses of
  0.3-0.9 s inside sentences, a 13 s utterance, a long story cut by a barge-in 1 s into it),
  each line said once the answer before it has played; end of speech -> first buffer playing.
- **Press-to-talk** (the recorder in `#mic`): Record, speech, Stop 0.3 s after the last word;
  Stop -> first buffer playing, and first token shown in `#chat` (polled every 5 ms in the
  page) -> first buffer playing. Then **typed** questions (Enter -> the same).
- **Gaps**: an answer is what plays between the user being done and their next action; a gap
  is a silence over 0.3 s between its buffers (in its AudioContext's clock). The meter's
  silences over 0.3 s are reported too (they include the voice's own pauses).
- **Nonstop talker**: a new hands-free conversation talks 40 s with pauses of 0.2-0.5 s, then
  hangs up; the server's CPU (its whole session, /proc/<pid>/stat) over 10 s from 1 s after.
  Meanwhile a second account asks a typed question over REST (streamed `POST /response`)
  every 5 s from 5 s into the talk (seven times, the 30 s one where the talk passes
  MAX_UTTERANCE_S); its slowest whole answer against the same question asked first on the
  idle server.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import browser_driver as drv
from bench import browser_scenarios as sc
from bench.browser_speech import Speech, make_speech
from bench.common import (
    Check,
    Result,
    median,
    percentile,
    register,
    running_server,
    write_result,
)
from bench.noise import OtherLoad, report_machine_load, wait_for_quiet

NAME = "browser"
SCENARIOS = ("hands-free", "press-to-talk", "nonstop")
OTHER_USER = ("bench-other", "bench-other-password-1")
IDLE_ASKS = 3

# (figure key, what it is, target, unit); a figure passes when it is at most its target.
TARGETS = (
    (
        "ptt_after_token_p50_s",
        "press-to-talk: audio playing after the first token is shown, p50",
        0.6,
        "s",
    ),
    ("hf_first_audio_p50_s", "hands-free: end of speech to audio playing, p50", 1.8, "s"),
    ("answers_with_gap_pct", "answers with a silent gap over 0.3 s inside them", 5.0, "%"),
    (
        "cpu_after_hang_up_pct",
        "server CPU from 1 s after a nonstop talker hangs up",
        10.0,
        "% of a core",
    ),
    (
        "other_user_ratio",
        "another user's typed answer while someone talks nonstop / idle",
        1.5,
        "x",
    ),
)
REPORTED = (
    ("ptt_stop_to_audio_p50_s", "press-to-talk: Stop pressed to audio playing, p50", "s"),
    ("ptt_speech_end_to_audio_p50_s", "press-to-talk: end of speech to audio playing, p50", "s"),
    ("typed_after_token_p50_s", "typed: audio playing after the first token is shown, p50", "s"),
    ("typed_enter_to_audio_p50_s", "typed: Enter to audio playing, p50", "s"),
    ("hf_first_audio_p95_s", "hands-free: end of speech to audio playing, p95", "s"),
    ("hf_first_sound_p50_s", "hands-free: end of speech to first sound, p50", "s"),
    ("hf_token_gap_p50_ms", "hands-free: between an answer's tokens at the page, p50", "ms"),
    ("barge_in_stop_max_s", "barge-in: voice to the answer going silent, max", "s"),
    ("other_user_idle_s", "another user's typed answer on the idle server, median", "s"),
    ("other_user_busy_s", "...while someone talks nonstop, slowest", "s"),
)


def p50(values: Sequence[float]) -> float:
    return round(median(values), 3)


def _our_pids() -> list[int]:
    """This process and its descendants (the server, Playwright's driver, Chromium)."""
    import os

    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(text[text.rindex(")") + 2 :].split()[1])
    ours = {os.getpid()}
    while grown := {pid for pid, ppid in parents.items() if ppid in ours} - ours:
        ours |= grown
    return sorted(ours)


def run_app(speech: Speech, app_dir: Path | None, scenarios: Sequence[str]) -> dict[str, Any]:
    """Every scenario asked for on one server of `app_dir` (None: this checkout)."""
    out: dict[str, Any] = {"app_dir": str(app_dir or drv.INIT_SCRIPT.parents[1])}
    with running_server(env={"UI_ENABLED": "true"}, app_dir=app_dir) as server:
        other_token = register(server.base_url, *OTHER_USER)
        with drv.signed_in_page(server.base_url) as page:
            others = OtherLoad(_our_pids())
            if "hands-free" in scenarios:
                print("hands-free conversation:")
                out["hands_free"] = sc.hands_free(page, speech.hands_free)
            if "press-to-talk" in scenarios:
                print("press-to-talk and typed turns:")
                out["press_to_talk"] = sc.press_to_talk(page, speech.recorded, speech.typed)
            if "nonstop" in scenarios:
                wait_for_quiet(10)
                idle = sc.ask_idle(server, other_token, speech.question, IDLE_ASKS)
                print(
                    f"  the other user's question on the idle server: {[a.total_s for a in idle]}"
                )
                out["idle_asks"] = [a.__dict__ for a in idle]
                print("nonstop talker:")
                out["nonstop"] = sc.nonstop(
                    page, server, speech.nonstop, other_token, speech.question
                )
            out["other_processes_cpu_share"] = round(others.share(), 3)
    return out


def hands_free_figures(hf: sc.Heard) -> dict[str, Any]:
    first = [a.first_audio_s for a in hf.answers if a.first_audio_s is not None]
    return {
        "hf_first_audio_s": first,
        "hf_first_audio_p50_s": p50(first),
        "hf_first_audio_p95_s": round(percentile(first, 95), 3),
        "hf_first_sound_p50_s": p50(
            [a.first_sound_s for a in hf.answers if a.first_sound_s is not None]
        ),
        "hf_token_gap_p50_ms": round(median(hf.token_gaps_ms), 1),
        "hf_failed": [t.failed for t in hf.turns if t.failed],
        "hf_heard_while_speaking": sum(a.heard_before_origin for a in hf.answers),
        "barge_in_stop_s": hf.barge_in_stop_s,
        "barge_in_stop_max_s": max(hf.barge_in_stop_s, default=math.nan),
        "hf_log": hf.log,
    }


def press_to_talk_figures(ptt: sc.Heard) -> dict[str, Any]:
    """Recorded and typed turns apart: from Stop (or Enter) and from the first token shown
    to the first audio playing; for recordings, from the end of speech too."""
    fig: dict[str, Any] = {}
    for mode, key, origin in (("press-to-talk", "ptt", "stop"), ("typed", "typed", "enter")):
        pairs = [(t, a) for t, a in zip(ptt.turns, ptt.answers, strict=True) if t.mode == mode]
        heard = [(t, a.first_audio_s) for t, a in pairs if a.first_audio_s is not None]
        after = [round(s - (t.shown - t.origin) / 1000, 3) for t, s in heard if t.shown]
        ended = [s + (t.origin - t.said.voiced_to) / 1000 for t, s in heard if t.said]
        fig[f"{key}_after_token_s"] = after
        fig[f"{key}_after_token_p50_s"] = p50(after)
        fig[f"{key}_{origin}_to_audio_p50_s"] = p50([s for _, s in heard])
        if ended:
            fig[f"{key}_speech_end_to_audio_p50_s"] = p50(ended)
        fig[f"{key}_failed"] = [t.failed for t, _ in pairs if t.failed]
        fig[f"{key}_transcripts"] = [t.transcript for t, _ in pairs if t.transcript]
    return fig


def nonstop_figures(ns: dict[str, Any], idle_asks: list[dict[str, Any]]) -> dict[str, Any]:
    """The server's CPU after the hang-up; the other user's slowest whole answer meanwhile
    against the median on the idle server."""
    idle = median([a["total_s"] for a in idle_asks])
    busy = max((a["total_s"] for a in ns["asked_meanwhile"]), default=math.nan)
    return {
        "cpu_after_hang_up_pct": ns["cpu_after_hang_up_pct"],
        "other_user_idle_s": round(idle, 3),
        "other_user_busy_s": busy,
        "other_user_ratio": round(busy / idle, 2) if idle else math.nan,
        "nonstop": ns,
        "idle_asks": idle_asks,
    }


def figures(run: dict[str, Any]) -> dict[str, Any]:
    """The run's figures, flat, with the answers they come from."""
    fig: dict[str, Any] = {
        "app_dir": run["app_dir"],
        "other_processes_cpu_share": run["other_processes_cpu_share"],
    }
    answers = []
    if hf := run.get("hands_free"):
        fig.update(hands_free_figures(hf))
        answers += hf.answers
    if ptt := run.get("press_to_talk"):
        fig.update(press_to_talk_figures(ptt))
        answers += ptt.answers
    if spoken := [a for a in answers if a.audio_s > 0]:
        fig["answers_spoken"] = len(spoken)
        fig["answers_with_gap"] = sum(a.has_gap for a in spoken)
        fig["answers_with_gap_pct"] = round(100 * fig["answers_with_gap"] / len(spoken), 1)
        fig["answers"] = [a.__dict__ for a in answers]
    if ns := run.get("nonstop"):
        fig.update(nonstop_figures(ns, run["idle_asks"]))
    return fig


def report(fig: dict[str, Any], baseline: dict[str, Any] | None) -> Result:
    """Print each figure with its target (and its baseline); the checks of the result."""
    res = Result(NAME)
    print(f"\n=== {fig['app_dir']} ===")
    if baseline:
        print(f"    (baseline {baseline['app_dir']})")
    rows = [(k, text, f"target <= {t:g} {u}", u) for k, text, t, u in TARGETS]
    rows += [(k, text, "reported", u) for k, text, u in REPORTED]
    for key, text, goal, unit in rows:
        if (value := fig.get(key)) is None:
            continue  # its scenario did not run
        line = f"{text}: {value} {unit} ({goal})"
        if baseline and isinstance(before := baseline.get(key), float | int) and before:
            line += f"; baseline {before} {unit}, ratio {value / before:.2f}"
        print(line)
    if "answers_with_gap" in fig:
        gaps = [g for a in fig["answers"] for g in a["gaps_s"] if g > 0.3]
        print(
            f"gaps over 0.3 s: {fig['answers_with_gap']} of {fig['answers_spoken']} answers {gaps}"
        )
    for key in ("hf_failed", "ptt_failed", "typed_failed"):
        for failure in fig.get(key, []):
            print(f"{key.split('_')[0]} turn failed: {failure}")
    if errors := fig.get("nonstop", {}).get("errors"):
        print(f"the other user's questions failed: {errors}")
    print(f"other processes used {fig['other_processes_cpu_share']:.0%} of the machine meanwhile")
    for key, text, target, unit in TARGETS:
        if key in fig:
            res.checks.append(Check(text, fig[key], target, unit))
    res.figures = {"current": fig, "baseline": baseline}
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-dir", type=Path, help="run the app of this checkout")
    parser.add_argument("--compare", type=Path, help="run this checkout's app first, as a baseline")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    if unknown := set(scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")
    machine = report_machine_load()
    speech = make_speech()
    baseline = None
    if args.compare:
        print(f"--- baseline: {args.compare} ---")
        baseline = figures(run_app(speech, args.compare.resolve(), scenarios))
    print(f"--- {args.app_dir or 'this checkout'} ---")
    current = figures(run_app(speech, args.app_dir and args.app_dir.resolve(), scenarios))
    if baseline:
        report(baseline, None)
    res = report(current, baseline)
    res.figures["machine"] = machine
    write_result(res)


if __name__ == "__main__":
    main()
