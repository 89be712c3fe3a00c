"""HTTP tools declared in a JSON file (TOOLS_FILE): each POSTs the model's arguments to a URL."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.tools import JsonObject, Tool, ToolContext, ToolOutput

logger = logging.getLogger(__name__)

NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_-]{0,63}")
MAX_TIMEOUT_S = 60.0
MAX_REPLY_BYTES = 64 * 1024  # a reply the model reads back; more would crowd out the prompt
SESSION_HEADER = "X-Voice-Agent-Session"
DEFAULT_PARAMETERS: JsonObject = {"type": "object", "properties": {}}

_KEYS = {"name", "description", "parameters", "url", "timeout_s", "bearer_token", "headers"}
_REQUIRED_KEYS = ("name", "description", "url")
# Headers the tool sets itself: a file that sets them too is ambiguous, so it is refused.
_RESERVED_HEADERS = {"accept", "content-type", "content-length", "host", SESSION_HEADER.lower()}
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class ToolFileError(ValueError):
    """The tools file is unreadable or wrong; the message names the file, the tool and the field."""


@dataclass(frozen=True)
class HttpEndpoint:
    """The `run` of one HTTP tool: POST the arguments to `url`, read back JSON. Never raises;
    every failure comes back as `ToolOutput(ok=False)` with a short reason the model can say."""

    name: str
    url: str
    timeout_s: float
    required: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # may hold a token

    async def __call__(self, arguments: JsonObject, ctx: ToolContext) -> ToolOutput:
        if not isinstance(arguments, dict):
            return self._failure("the arguments must be a JSON object")
        missing = [key for key in self.required if key not in arguments]
        if missing:
            return self._failure(f"missing required argument: {', '.join(missing)}")
        started = time.monotonic()
        try:
            # The whole exchange has one deadline: httpx's own timeouts are per read, and a
            # service that trickles its reply would otherwise hold the turn indefinitely.
            async with asyncio.timeout(self.timeout_s):
                status, body = await self._post(arguments, ctx)
        except (TimeoutError, httpx.TimeoutException):
            return self._failure(
                f"the {self.name} service did not answer within {self.timeout_s:g} s", started
            )
        except _TooLarge:
            return self._failure(
                f"the {self.name} service's reply was larger than {MAX_REPLY_BYTES // 1024} KB",
                started,
            )
        except httpx.ConnectError:
            return self._failure(f"the {self.name} service could not be reached", started)
        except httpx.HTTPError as exc:
            return self._failure(
                f"the {self.name} service broke off the connection ({type(exc).__name__})",
                started,
            )
        except Exception as exc:  # a live conversation outlives any tool
            # Only the type: a message could quote the request, and so its headers.
            logger.error("Tool %s failed unexpectedly: %s", self.name, type(exc).__name__)
            return ToolOutput(
                content={"error": f"the {self.name} tool failed unexpectedly"}, ok=False
            )
        if not 200 <= status < 300:
            return self._failure(f"the {self.name} service answered with HTTP {status}", started)
        try:
            content = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError):  # also a UnicodeDecodeError; nesting too deep
            return self._failure(f"the {self.name} service did not reply with JSON", started)
        ms = (time.monotonic() - started) * 1000
        logger.info("Tool %s: HTTP %d, %d bytes in %.0f ms", self.name, status, len(body), ms)
        return ToolOutput(content=content)

    async def _post(self, arguments: JsonObject, ctx: ToolContext) -> tuple[int, bytes]:
        headers = {
            **self.headers,
            "Accept": "application/json",
            SESSION_HEADER: ctx.session_id,
        }
        # A client per call: an httpx pool belongs to one event loop, and tool calls are rare
        # next to the seconds a turn takes. Redirects are not followed: a 3xx is a failure.
        async with (
            httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client,
            client.stream("POST", self.url, json=arguments, headers=headers) as response,
        ):
            if not response.is_success:
                return response.status_code, b""  # its body is not for the model
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_REPLY_BYTES:
                raise _TooLarge
            body = bytearray()
            async for chunk in response.aiter_bytes():  # decoded: a gzip bomb stops here too
                body += chunk
                if len(body) > MAX_REPLY_BYTES:
                    raise _TooLarge
            return response.status_code, bytes(body)

    def _failure(self, reason: str, started: float | None = None) -> ToolOutput:
        if started is None:
            logger.warning("Tool %s not called: %s", self.name, reason)
        else:
            ms = (time.monotonic() - started) * 1000
            logger.warning("Tool %s failed after %.0f ms: %s", self.name, ms, reason)
        return ToolOutput(content={"error": reason}, ok=False)


class _TooLarge(Exception):
    """The reply passed MAX_REPLY_BYTES."""


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not JSON")  # NaN and Infinity: Python reads them, APIs do not


def load_http_tools(path: Path, *, default_timeout_s: float) -> list[Tool]:
    """The tools declared in `path` (`{"tools": [...]}`, see docs/tools.md).

    Raises `ToolFileError` for anything wrong, unknown keys included (a typo such as
    `bearer_tokn` would otherwise silently drop the token), so a bad file stops the start-up.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolFileError(f"{path}: cannot read the tools file: {exc}") from exc
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ToolFileError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except _DuplicateKey as exc:
        raise ToolFileError(f"{path}: the key {exc.args[0]!r} appears twice in one object") from exc
    if not isinstance(document, dict) or set(document) != {"tools"}:
        raise ToolFileError(f'{path}: expected a JSON object with one key, "tools"')
    entries = document["tools"]
    if not isinstance(entries, list):
        raise ToolFileError(f'{path}: "tools" must be a list of tool objects')
    tools: list[Tool] = []
    for index, entry in enumerate(entries):
        tool = _parse_tool(entry, _Where(path, index), default_timeout_s)
        if any(t.name == tool.name for t in tools):
            raise _Where(path, index, tool.name).error("name", "duplicate name, already declared")
        tools.append(tool)
    return tools


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # JSON lets a key repeat and keeps the last; in a hand-edited file that is a mistake.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


@dataclass
class _Where:
    """Where a problem is, for the error message: file, tool index and (once read) name."""

    path: Path
    index: int
    name: str | None = None

    def error(self, key: str, problem: str) -> ToolFileError:
        tool = f"tools[{self.index}]" + (f" ({self.name!r})" if self.name else "")
        return ToolFileError(f"{self.path}: {tool}, field {key!r}: {problem}")


def _parse_tool(entry: object, where: _Where, default_timeout_s: float) -> Tool:
    if not isinstance(entry, dict):
        raise ToolFileError(f"{where.path}: tools[{where.index}] must be a JSON object")
    name = entry.get("name")
    if isinstance(name, str) and NAME.fullmatch(name):
        where.name = name
    for key in entry:
        if key not in _KEYS:
            raise where.error(key, f"unknown key; the keys are {', '.join(sorted(_KEYS))}")
    for key in _REQUIRED_KEYS:
        if key not in entry:
            raise where.error(key, "missing")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise where.error(
            "name", "must be 1-64 letters, digits, '_' or '-', not starting with a digit or '-'"
        )
    description = entry["description"]
    if not isinstance(description, str) or not description.strip():
        raise where.error("description", "must be a non-empty string")
    parameters = _parameters(entry.get("parameters", DEFAULT_PARAMETERS), where)
    url = _url(entry["url"], where)
    timeout_s = _timeout(entry.get("timeout_s", default_timeout_s), where)
    headers = _headers(entry.get("headers", {}), where)
    if "bearer_token" in entry:
        token = entry["bearer_token"]
        if not isinstance(token, str) or not token or not _safe_header_value(token):
            raise where.error("bearer_token", "must be a non-empty string on one line")
        if any(key.lower() == "authorization" for key in headers):
            raise where.error("headers", "sets Authorization as well as bearer_token")
        headers["Authorization"] = f"Bearer {token}"
    endpoint = HttpEndpoint(
        name=name,
        url=url,
        timeout_s=timeout_s,
        required=tuple(parameters.get("required", ())),
        headers=headers,
    )
    # Not `asks_user`: a call that takes long gets a filler, as for every such tool.
    return Tool(name=name, description=description.strip(), parameters=parameters, run=endpoint)


def _parameters(value: object, where: _Where) -> JsonObject:
    if not isinstance(value, dict) or value.get("type") != "object":
        raise where.error("parameters", 'must be a JSON schema object with "type": "object"')
    properties = value.get("properties", {})
    if not isinstance(properties, dict) or not all(
        isinstance(p, dict) for p in properties.values()
    ):
        raise where.error("parameters", '"properties" must map each argument to its schema')
    required = value.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise where.error("parameters", '"required" must be a list of argument names')
    unknown = [r for r in required if r not in properties]
    if unknown:
        raise where.error("parameters", f'"required" names undeclared arguments: {unknown}')
    return copy.deepcopy(value)


def _url(value: object, where: _Where) -> str:
    if not isinstance(value, str):
        raise where.error("url", "must be a string")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise where.error("url", f"is not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https"):
        scheme = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise where.error("url", f"must start with http:// or https://, not {scheme}")
    if not parts.hostname:
        raise where.error("url", "has no host")
    return value


def _timeout(value: object, where: _Where) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise where.error("timeout_s", "must be a number of seconds")
    if not 0 < value <= MAX_TIMEOUT_S:
        raise where.error(
            "timeout_s", f"must be above 0 and at most {MAX_TIMEOUT_S:g}, not {value}"
        )
    return float(value)


def _headers(value: object, where: _Where) -> dict[str, str]:
    if not isinstance(value, dict):
        raise where.error("headers", "must be an object of header names to string values")
    for key, header in value.items():
        if not _HEADER_NAME.fullmatch(key):
            raise where.error("headers", f"{key!r} is not a valid header name")
        if key.lower() in _RESERVED_HEADERS:
            raise where.error("headers", f"{key!r} is set by the agent itself")
        # The value is not quoted back: it may be a key.
        if not isinstance(header, str) or not _safe_header_value(header):
            raise where.error("headers", f"the value of {key!r} must be a string on one line")
    return dict(value)


def _safe_header_value(value: str) -> bool:
    return value.isascii() and not any(c in value for c in "\r\n\0")
