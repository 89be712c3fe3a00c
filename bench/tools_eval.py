"""Tool calling on the evaluation set (evals/tools.jsonl), through the real server.

    python -m bench.tools_eval                                  # the default local model
    python -m bench.tools_eval --env LOCAL_LLM=qwen2.5-0.5b     # any setting, e.g. another model
    python -m bench.tools_eval --env GROQ_API_KEY=gsk_... --env LLM_PROVIDER=groq  # a cloud model
    python -m bench.tools_eval --standin groq                   # the wire format (see below)
    python -m bench.tools_eval --standin openai

Each item is a new session: one `POST /response`, whose `tool_calls` are judged. A tool item
is right when the first call names the expected tool with valid arguments (`calculate`: its
result is the expected value; `order_status`: the same digits; `weather`: the city, accents
and case ignored; the others: any arguments) and the call succeeded; a no-tool item is wrong
when any tool is called. The HTTP tools of evals/tools.example.json are answered by a loopback
service started here, TRANSFER_NUMBER is set so the REST channel offers the transfer too, and
LOCAL_LLM_TOOLS is on (local models get no tools by default).

`--standin groq|openai` runs the server against the loopback Groq of tests/groq_server.py
(through the real `groq`, or `openai`, SDK) scripted to call each item's expected tool with
the item's `arguments`, in the vendor's streamed wire format: it measures that the agent
parses that format and runs the calls, not a model (target 100 %).

Prints the right-call rate over tool items, the false-call rate over no-tool items, both per
language and per tool, the misses with what was called, and the answer latency of tool and
no-tool items; writes every call to bench/results/tools-<label>.json.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import math
import operator
import re
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import REPO, Check, Result, median, percentile, running_server, write_result
from bench.quality import plain
from tests.groq_server import API_KEY, LLM_MODEL, TOOL_ANSWER, FakeGroq, running_fake_groq

EVALS = REPO / "evals" / "tools.jsonl"
TOOLS_FILE = REPO / "evals" / "tools.example.json"
TOOLS_URL = "http://127.0.0.1:8765"  # where the example file sends its HTTP tools
TRANSFER_NUMBER = "+15550001111"
TOLERANCE = 1e-6
TARGET_RIGHT_PCT = 90.0
TARGET_FALSE_CALL_PCT = 5.0


@dataclass(frozen=True)
class Item:
    id: str
    category: str  # tool, no_tool
    language: str
    text: str
    expect_tool: str | None
    expect: dict[str, Any]
    arguments: dict[str, Any] | None = None  # what a right call carries (the stand-in's call)


@dataclass(frozen=True)
class Verdict:
    id: str
    category: str
    language: str
    text: str
    expect_tool: str | None
    calls: list[dict[str, Any]]  # the answer's `tool_calls`, as the server returned them
    right: bool
    reason: str  # why not, for a miss
    answer: str
    provider: str
    fallback: str | None
    total_s: float

    @property
    def called(self) -> list[str]:
        return [call["name"] for call in self.calls]


def load_items(path: Path = EVALS) -> list[Item]:
    with path.open(encoding="utf-8") as lines:
        return [Item(**json.loads(line)) for line in lines if line.strip()]


# Judging -----------------------------------------------------------------------------------

_OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def arithmetic(expression: str) -> float | None:
    """The value of plain arithmetic (numbers, + - * / // % **, parentheses), without `eval`;
    None for anything else. Only for a result the tool did not give back as a number."""

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            if isinstance(node.value, bool):
                raise ValueError("not a number")
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            if isinstance(node.op, ast.Pow) and abs(value(node.right)) > 100:
                raise ValueError("exponent too large")
            return float(_OPERATORS[type(node.op)](value(node.left), value(node.right)))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return float(_OPERATORS[type(node.op)](value(node.operand)))
        raise ValueError("not arithmetic")

    try:
        return value(ast.parse(expression.replace("^", "**"), mode="eval").body)
    except (SyntaxError, ValueError, ArithmeticError, RecursionError):
        return None


def number(result: Any) -> float | None:
    """The number a `calculate` result holds: itself, a numeric string, or its
    `result`/`value` field."""
    if isinstance(result, dict):
        result = result.get("result", result.get("value"))
    if isinstance(result, bool):
        return None
    if isinstance(result, int | float):
        return float(result)
    if isinstance(result, str):
        with contextlib.suppress(ValueError):
            return float(result.replace(",", "").strip())
    return None


def wrong_arguments(item: Item, call: dict[str, Any]) -> str | None:
    """Why the call's arguments (or result) do not answer the item; None when they do."""
    arguments = call.get("arguments") or {}
    if item.expect_tool == "calculate":
        got = number(call.get("result"))
        if got is None and isinstance(arguments.get("expression"), str):
            got = arithmetic(arguments["expression"])
        want = float(item.expect["value"])
        if got is None or not math.isclose(got, want, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
            return f"calculated {got} from {arguments.get('expression')!r}, expected {want:g}"
    elif item.expect_tool == "order_status":
        said = re.sub(r"\D", "", str(arguments.get("order_number", "")))
        if said != re.sub(r"\D", "", item.expect["order_number"]):
            return f"order_number {arguments.get('order_number')!r}"
    elif item.expect_tool == "weather":
        cities = item.expect["city"]
        names = {plain(c) for c in ([cities] if isinstance(cities, str) else cities)}
        city = plain(str(arguments.get("city", ""))).split(",")[0].strip()
        if city not in names:
            return f"city {arguments.get('city')!r}"
    return None


def judge(item: Item, body: dict[str, Any], total_s: float) -> Verdict:
    """One answer of `POST /response` against its item."""
    calls = list(body.get("tool_calls") or [])
    reason = ""
    if item.expect_tool is None:
        if calls:
            reason = "called " + ", ".join(call["name"] for call in calls)
    elif not calls:
        reason = "no tool called"
    elif calls[0]["name"] != item.expect_tool:
        reason = f"called {calls[0]['name']} first"
    else:
        reason = wrong_arguments(item, calls[0]) or ("" if calls[0].get("ok") else "call failed")
    return Verdict(
        id=item.id,
        category=item.category,
        language=item.language,
        text=item.text,
        expect_tool=item.expect_tool,
        calls=calls,
        right=not reason,
        reason=reason,
        answer=str(body.get("response", "")),
        provider=str(body.get("provider", "")),
        fallback=body.get("fallback"),
        total_s=total_s,
    )


def pct(hits: int, count: int) -> float:
    return round(100 * hits / count, 1) if count else 0.0


def summary(verdicts: list[Verdict]) -> dict[str, Any]:
    tool = [v for v in verdicts if v.expect_tool is not None]
    none = [v for v in verdicts if v.expect_tool is None]
    by_language: dict[str, dict[str, Any]] = {}
    for language in sorted({v.language for v in verdicts}):
        own = [v for v in tool if v.language == language]
        free = [v for v in none if v.language == language]
        by_language[language] = {
            "right_pct": pct(sum(v.right for v in own), len(own)),
            "false_call_pct": pct(sum(not v.right for v in free), len(free)),
        }
    by_tool: dict[str, list[Verdict]] = defaultdict(list)
    for v in tool:
        by_tool[str(v.expect_tool)].append(v)
    wrongly: dict[str, int] = defaultdict(int)
    for v in none:
        for name in v.called:
            wrongly[name] += 1
    tool_s, none_s = [v.total_s for v in tool], [v.total_s for v in none]
    return {
        "items": len(verdicts),
        "tool_items": len(tool),
        "no_tool_items": len(none),
        "right_pct": pct(sum(v.right for v in tool), len(tool)),
        "false_call_pct": pct(sum(not v.right for v in none), len(none)),
        "by_language": by_language,
        "by_tool_right_pct": {
            name: pct(sum(v.right for v in own), len(own)) for name, own in sorted(by_tool.items())
        },
        "false_calls_by_tool": dict(sorted(wrongly.items())),
        "fallbacks": sum(v.fallback is not None for v in verdicts),
        "tool_answer_p50_s": round(median(tool_s), 3),
        "tool_answer_p95_s": round(percentile(tool_s, 95), 3),
        "no_tool_answer_p50_s": round(median(none_s), 3),
        "no_tool_answer_p95_s": round(percentile(none_s, 95), 3),
    }


# The HTTP tools' service -------------------------------------------------------------------


@dataclass(frozen=True)
class ToolRequest:
    path: str
    arguments: Any
    authorized: bool


class _ToolHandler(BaseHTTPRequestHandler):
    server: ToolService

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            arguments = json.loads(body)
        except ValueError:
            arguments = None
        token = self.headers.get("Authorization", "")
        self.server.seen.append(ToolRequest(self.path, arguments, token.startswith("Bearer ")))
        args = arguments if isinstance(arguments, dict) else {}
        if self.path == "/orders/status":
            reply: dict[str, Any] = {
                "order_number": str(args.get("order_number", "")),
                "status": "shipped",
                "carrier": "DHL",
                "expected_delivery": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 172800)),
            }
        elif self.path == "/weather":
            reply = {
                "city": str(args.get("city", "")),
                "temperature_c": 18,
                "conditions": "partly cloudy",
                "forecast": "light rain in the evening, 12 to 21 degrees",
            }
        else:
            self.send_error(404)
            return
        payload = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class ToolService(ThreadingHTTPServer):
    """The order and weather services the example tools file calls, on a free loopback port."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ToolHandler)
        self.seen: list[ToolRequest] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


@contextlib.contextmanager
def tool_service(folder: Path) -> Iterator[tuple[ToolService, Path]]:
    """The loopback service, and a copy of the example tools file that points at it (on a
    free port rather than the file's 8765, which another program may hold)."""
    service = ToolService()
    thread = threading.Thread(target=service.serve_forever, args=(0.05,), name="tool-service")
    thread.start()
    try:
        path = folder / "tools.json"
        path.write_text(TOOLS_FILE.read_text(encoding="utf-8").replace(TOOLS_URL, service.url))
        yield service, path
    finally:
        service.shutdown()
        service.server_close()
        thread.join()


# The stand-in ------------------------------------------------------------------------------


def standin_script(items: list[Item]) -> Callable[[list[dict], list[dict]], list[dict] | None]:
    """The loopback Groq's tool script: for the item whose text the user said last, its
    expected call with its `arguments`, if that tool is offered; else a text answer."""
    by_text = {item.text: item for item in items}

    def script(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict] | None:
        said = next((m.get("content") for m in reversed(messages) if m["role"] == "user"), "")
        said = said if isinstance(said, str) else json.dumps(said)
        item = by_text.get(said) or next((i for t, i in by_text.items() if t in said), None)
        offered = {tool["function"]["name"] for tool in tools}
        if item is None or item.expect_tool not in offered:
            return None
        return [{"name": item.expect_tool, "arguments": item.arguments or {}}]

    return script


def standin_env(kind: str, fake: FakeGroq) -> dict[str, str]:
    if kind == "groq":
        return {"LLM_PROVIDER": "groq", "GROQ_API_KEY": API_KEY, "GROQ_BASE_URL": fake.url}
    return {
        "LLM_PROVIDER": "openai",
        "OPENAI_BASE_URL": f"{fake.url}/openai/v1",  # the SDK adds /chat/completions
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_MODEL": LLM_MODEL,
    }


# The run -----------------------------------------------------------------------------------


def ask(client: Any, item: Item) -> Verdict:
    """The item's text in a new session, answered whole."""
    started = time.perf_counter()
    res = client.post("/response", json={"text": item.text})
    total = time.perf_counter() - started
    res.raise_for_status()
    return judge(item, res.json(), total)


def describe(calls: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{c['name']}({json.dumps(c.get('arguments'), ensure_ascii=False)})"
        f" -> {json.dumps(c.get('result'), ensure_ascii=False)[:80]}"
        for c in calls
    )


def evaluate(items: list[Item], env: dict[str, str]) -> tuple[list[Verdict], list[ToolRequest]]:
    verdicts: list[Verdict] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-tools-") as tmp,
        tool_service(Path(tmp)) as (service, tools_file),
    ):
        server_env = {
            "TRANSFER_NUMBER": TRANSFER_NUMBER,
            "TOOLS_FILE": str(tools_file),
            "LOCAL_LLM_TOOLS": "true",  # off by default: the local model is what is measured
            "UI_ENABLED": "false",  # no page is asked for; it only slows the start
            **env,
        }
        with running_server(env=server_env) as server, server.client(timeout=300) as client:
            for n, item in enumerate(items, 1):
                verdict = ask(client, item)
                verdicts.append(verdict)
                mark = "ok  " if verdict.right else "MISS"
                called = describe(verdict.calls) or "-"
                print(f"{n:3d}/{len(items)} {mark} {item.id:11s} {called[:100]}", flush=True)
        return verdicts, list(service.seen)


def run(env: dict[str, str], label: str, standin: str | None, limit: int | None) -> Result:
    items = load_items()[:limit]
    started = time.perf_counter()
    offered: set[str] = set()
    if standin:
        with running_fake_groq() as fake:
            fake.tool_calls = standin_script(items)
            verdicts, served = evaluate(items, {**standin_env(standin, fake), **env})
            offered = {name for seen in fake.requests for name in seen.tools}
    else:
        verdicts, served = evaluate(items, env)
    figures = summary(verdicts)
    if standin:
        # The stand-in answers a tool's result with TOOL_ANSWER: an answer without it means
        # the result never went back to the model.
        said = TOOL_ANSWER.format("")
        figures["answers_without_result"] = [
            v.id for v in verdicts if v.expect_tool and said not in v.answer
        ]
    print()
    settings = ", ".join(f"{k}={v}" for k, v in env.items()) or "defaults"
    print(f"configuration: {label} ({settings}{f', stand-in {standin}' if standin else ''})")
    for key, value in figures.items():
        print(f"  {key}: {value}")
    print(f"  HTTP tool requests served: {len(served)}")
    if standin:
        print(f"  tools the stand-in was offered: {', '.join(sorted(offered)) or 'none'}")
    print(f"  run time: {time.perf_counter() - started:.0f} s")
    misses = [v for v in verdicts if not v.right]
    if misses:
        print("\nmisses:")
    for v in misses:
        print(f"  {v.id} {v.text!r}: expected {v.expect_tool or 'no tool'}, {v.reason}")
        if v.calls:
            print(f"    called {describe(v.calls)}")
        print(f"    answered {v.answer[:100]!r}")
    strict = standin is not None  # the wire format is parsed every time, or not at all
    result = Result(f"tools-{label}")
    result.checks = [
        Check(
            "tool items without the right call",
            100 - figures["right_pct"],
            0 if strict else 100 - TARGET_RIGHT_PCT,
            "%",
        ),
        Check(
            "no-tool items with a call",
            figures["false_call_pct"],
            0 if strict else TARGET_FALSE_CALL_PCT,
            "%",
        ),
    ]
    if standin:
        unanswered = len(figures["answers_without_result"])
        result.checks.append(Check("tool answers without the result", unanswered, 0, "answers"))
    result.figures = {
        **figures,
        "env": env,
        "standin": standin,
        "standin_offered_tools": sorted(offered),
        "http_tool_requests": [asdict(r) for r in served],
        "answers": [{**asdict(v), "called": v.called} for v in verdicts],
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--standin",
        choices=("groq", "openai"),
        help="answer from a loopback Groq (or OpenAI-compatible) server scripted to call the "
        "expected tool: checks the wire format, not a model",
    )
    parser.add_argument("--label", help="names the result file (default, or standin-<kind>)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    label = args.label or (f"standin-{args.standin}" if args.standin else "default")
    write_result(run(env, label, args.standin, args.limit))


if __name__ == "__main__":
    main()
