#!/usr/bin/env python3
"""A stdio MCP server for the conformance suite's **2026-07-28** server scenarios.

Built on the Python `mcp` SDK 2.x low-level `Server`, so the SDK owns the wire: the
per-request `_meta` envelope ladder (-32602 / -32022), `server/discover`, `resultType`,
the `serverInfo` stamp, -32601 for methods that do not exist at 2026-07-28 (`ping`,
`logging/setLevel`, `resources/subscribe`, ...), `subscriptions/listen` (ack first, every
frame tagged with the listen request's id), per-request `logLevel` gating of
`notifications/message`, progress against the caller's `progressToken`, and sealing of
`requestState` (AES-GCM, bound to method + target + arguments; a tampered or foreign state
gets -32602). The fixture adds the tools, resources and prompts the scenarios call, the
SEP-2549 cache hints, the multi-round-trip (`input_required`) logic, and the tasks
extension (`io.modelcontextprotocol/tasks`, SEP-2663), which the SDK does not implement.
Extra tools for proxy tests: `test_trigger_resource_change` (resources list_changed +
updated on listen streams) and `test_sleep` (long, cancellable, reports progress).

Over stdio the SDK is dual-era: the first request on the pipe decides. A first request
carrying `params._meta["io.modelcontextprotocol/protocolVersion"]` (e.g. `server/discover`)
makes the process a 2026-07-28 server for its lifetime; a first `initialize` makes it a
session-era (2025-11-25 and older) server. Once modern, an `initialize` gets -32022 (the
HTTP rule "initialize -> 404/-32601" is the HTTP front's job). In the session era the
`input_required` tools are served by really sending the elicitation / sampling / roots
requests to the client and feeding the answers back into the same tool logic; tasks are
never created there (the task tools run synchronously or answer -32021).

Run:
  python modern_fixture.py                 # stdio (the way Switchboard runs it)
  python modern_fixture.py --http 8123     # Streamable HTTP on 127.0.0.1:8123/mcp, both eras
                                           # (for checking the fixture without a proxy)
  python modern_fixture.py --http 8123 --modern-only
                                           # 2026-07-28 only: a modern-only remote server

`requestState` is sealed with a fixed built-in key unless MODERN_FIXTURE_STATE_KEY is set
(>= 32 characters), so a retry is accepted by any process running this fixture, as the
spec's "any instance can answer the retry" intends. Tampering is still detected.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
import uuid
import warnings
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

import anyio
import mcp_types as types
from mcp_types.jsonrpc import HEADER_MISMATCH, INTERNAL_ERROR, INVALID_PARAMS, MISSING_REQUIRED_CLIENT_CAPABILITY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ToolsListChanged,
)
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.inbound import decode_header_value
from mcp.shared.message import ServerMessageMetadata

# Logging (notifications/message, logging/setLevel) is deprecated at 2026-07-28 but the
# scenarios still exercise it; keep stderr free of the deprecation noise.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

NAME = "modern-conformance-fixture"
VERSION = "1.0.0"

# 1x1 red PNG and a 1-sample 8 kHz mono WAV.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV = base64.b64encode(
    b"RIFF" + (37).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    + (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
    + b"data" + (1).to_bytes(4, "little") + b"\x80"
).decode()

STATE_KEY = os.environ.get("MODERN_FIXTURE_STATE_KEY") or "modern-conformance-fixture/request-state/v1/fixed-key"

JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}

EMPTY = {"type": "object", "properties": {}}


def _tool(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "description": description, "inputSchema": schema or EMPTY}


# Order matters: http-header-validation calls tools[0] with `arguments: {}`.
TOOLS: list[dict[str, Any]] = [
    _tool("test_simple_text", "Returns a simple text content block"),
    _tool("test_image_content", "Returns an image content block (PNG)"),
    _tool("test_audio_content", "Returns an audio content block (WAV)"),
    _tool("test_embedded_resource", "Returns an embedded text resource"),
    _tool("test_multiple_content_types", "Returns text, image and embedded resource content together"),
    _tool("test_error_handling", "Returns a tool result with isError: true"),
    _tool("test_tool_with_progress", "Sends progress 0, 50, 100 of 100 against the caller's progressToken"),
    _tool("test_tool_with_logging", "Sends three notifications/message entries (only when the request opted in)"),
    _tool("test_logging_tool", "Sends notifications/message only when the request carries a logLevel"),
    _tool("test_missing_capability", "Requires the sampling client capability; -32021 when it is not declared"),
    _tool("test_streaming_elicitation", "Streams notifications (never requests) before its result"),
    _tool("test_trigger_tool_change", "Publishes notifications/tools/list_changed to listen streams"),
    _tool("test_trigger_prompt_change", "Publishes notifications/prompts/list_changed to listen streams"),
    _tool(
        "test_trigger_resource_change",
        "Publishes notifications/resources/list_changed and notifications/resources/updated for `uri`",
        {"type": "object", "properties": {"uri": {"type": "string", "description": "defaults to test://static-text"}}},
    ),
    _tool(
        "test_sleep",
        "Sleeps `seconds` (default 1), reporting progress every 100 ms; for cancellation tests",
        {"type": "object", "properties": {"seconds": {"type": "number", "minimum": 0, "maximum": 600}}},
    ),
    _tool(
        "test_headers",
        "Echoes `region`, which clients mirror into the Mcp-Param-Region header",
        {
            "type": "object",
            "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
            "required": ["region"],
        },
    ),
    _tool("json_schema_2020_12_tool", "Tool whose inputSchema uses JSON Schema 2020-12 keywords", JSON_SCHEMA_2020_12),
    _tool("test_input_required_result_elicitation", "MRTR: asks for the user's name (key user_name)"),
    _tool("test_input_required_result_sampling", "MRTR: asks for a sampling completion"),
    _tool("test_input_required_result_list_roots", "MRTR: asks for the client's roots"),
    _tool("test_input_required_result_request_state", "MRTR: elicitation plus requestState; answers state-ok"),
    _tool("test_input_required_result_multiple_inputs", "MRTR: elicitation, sampling and roots at once"),
    _tool("test_input_required_result_multi_round", "MRTR: two elicitation rounds with evolving requestState"),
    _tool("test_input_required_result_tampered_state", "MRTR: integrity-protected requestState"),
    _tool("test_input_required_result_capabilities", "MRTR: only asks for capabilities the client declared"),
    # Tasks extension (io.modelcontextprotocol/tasks) fixtures.
    _tool(
        "greet",
        "Sync-only: returns Hello, {name}!",
        {"type": "object", "properties": {"name": {"type": "string"}}},
    ),
    _tool(
        "slow_compute",
        "Task-supporting: sleeps `seconds` then returns a result; settles to cancelled on tasks/cancel",
        {"type": "object", "properties": {"seconds": {"type": "number", "minimum": 0}, "label": {"type": "string"}}},
    ),
    _tool("failing_job", "Task required: reports a tool execution error (isError) after about 1 s"),
    _tool("protocol_error_job", "Task-supporting: fails with a protocol-level error"),
    _tool(
        "confirm_delete",
        "Task-supporting: asks for confirmation (elicitation) before 'deleting' `filename`",
        {"type": "object", "properties": {"filename": {"type": "string"}}},
    ),
    _tool("multi_input", "Task-supporting: asks for two elicitation inputs at once"),
    _tool("test_tool_with_task", "Task required: gathers user_name over input_required, then continues as a task"),
]
TOOL_SCHEMAS = {t["name"]: t["inputSchema"] for t in TOOLS}

RESOURCES = [
    {
        "uri": "test://static-text",
        "name": "static-text",
        "title": "Static Text Resource",
        "description": "A static text resource for testing",
        "mimeType": "text/plain",
    },
    {
        "uri": "test://static-binary",
        "name": "static-binary",
        "title": "Static Binary Resource",
        "description": "A static binary resource (image) for testing",
        "mimeType": "image/png",
    },
]
TEMPLATES = [
    {
        "uriTemplate": "test://template/{id}/data",
        "name": "template",
        "title": "Resource Template",
        "description": "A resource template with parameter substitution",
        "mimeType": "application/json",
    }
]
TEMPLATE_RE = re.compile(r"^test://template/([^/]+)/data$")

PROMPTS = [
    {"name": "test_simple_prompt", "title": "Simple Test Prompt", "description": "A simple prompt without arguments"},
    {
        "name": "test_prompt_with_arguments",
        "title": "Prompt With Arguments",
        "description": "A prompt with required arguments",
        "arguments": [
            {"name": "arg1", "description": "First test argument", "required": True},
            {"name": "arg2", "description": "Second test argument", "required": True},
        ],
    },
    {
        "name": "test_prompt_with_embedded_resource",
        "title": "Prompt With Embedded Resource",
        "description": "A prompt that includes an embedded resource",
        "arguments": [{"name": "resourceUri", "description": "URI of the resource to embed", "required": True}],
    },
    {"name": "test_prompt_with_image", "title": "Prompt With Image", "description": "A prompt that includes an image"},
    {
        "name": "test_input_required_result_prompt",
        "title": "MRTR Prompt",
        "description": "MRTR: prompt that asks for context (key user_context) before rendering",
    },
]
COMPLETIONS = {"arg1": ["hello", "help", "test", "test-value", "testing"], "arg2": ["world", "word", "test"]}

bus = InMemorySubscriptionBus()
_legacy_subscriptions: set[str] = set()


# ---------------------------------------------------------------------------------------
# helpers


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def result(*content: dict[str, Any], is_error: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"content": list(content)}
    if is_error:
        out["isError"] = True
    return out


def is_modern(ctx: ServerRequestContext[Any, Any]) -> bool:
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def caps(ctx: ServerRequestContext[Any, Any]) -> set[str]:
    """The client capabilities declared for this request (modern) or this session (legacy)."""
    declared = ctx.session.client_capabilities
    if declared is None:
        return set()
    return {name for name in ("sampling", "elicitation", "roots") if getattr(declared, name, None) is not None}


def require(declared: set[str], *needed: str) -> None:
    missing = [name for name in needed if name not in declared]
    if missing:
        raise MCPError(
            code=MISSING_REQUIRED_CLIENT_CAPABILITY,
            message=f"Missing required client capability: {', '.join(missing)}",
            data={"requiredCapabilities": {name: {} for name in missing}},
        )


def elicit(message: str, prop: str, kind: str = "string") -> dict[str, Any]:
    return {
        "method": "elicitation/create",
        "params": {
            "mode": "form",
            "message": message,
            "requestedSchema": {"type": "object", "properties": {prop: {"type": kind}}, "required": [prop]},
        },
    }


def sample(prompt: str, max_tokens: int = 100) -> dict[str, Any]:
    return {
        "method": "sampling/createMessage",
        "params": {"messages": [{"role": "user", "content": text(prompt)}], "maxTokens": max_tokens},
    }


ROOTS = {"method": "roots/list", "params": {}}


def input_required(requests: dict[str, Any], state: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"resultType": "input_required", "inputRequests": requests}
    if state is not None:
        # Plaintext here; the SDK's RequestStateBoundary seals it on the way out.
        out["requestState"] = json.dumps(state, separators=(",", ":"))
    return out


def accepted(responses: dict[str, Any], key: str) -> dict[str, Any] | None:
    """An ElicitResult for `key` (any action), or None when it is missing or malformed."""
    value = responses.get(key)
    if isinstance(value, dict) and value.get("action") in ("accept", "decline", "cancel"):
        return value
    return None


def elicited(response: dict[str, Any], field: str, default: str = "") -> str:
    if response.get("action") != "accept":
        return default
    content = response.get("content")
    value = content.get(field) if isinstance(content, dict) else None
    return str(value) if value is not None else default


def sampled(responses: dict[str, Any], key: str) -> str | None:
    value = responses.get(key)
    if not isinstance(value, dict) or "role" not in value or "content" not in value:
        return None
    content = value["content"]
    if isinstance(content, list):
        content = content[0] if content else {}
    return str(content.get("text", "")) if isinstance(content, dict) else ""


def roots(responses: dict[str, Any], key: str) -> list[Any] | None:
    value = responses.get(key)
    if isinstance(value, dict) and isinstance(value.get("roots"), list):
        return value["roots"]
    return None


def load_state(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, str):
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


# ---------------------------------------------------------------------------------------
# multi-round-trip tools: pure functions of (arguments, responses, state, capabilities)
# returning either a complete result or an input_required result.


def mrtr_elicitation(declared, responses, state):
    require(declared, "elicitation")
    answer = accepted(responses, "user_name")
    if answer is None:
        return input_required({"user_name": elicit("What is your name?", "name")})
    if answer["action"] != "accept":
        return result(text(f"No name given ({answer['action']})"))
    return result(text(f"Hello, {elicited(answer, 'name', 'stranger')}!"))


def mrtr_sampling(declared, responses, state):
    require(declared, "sampling")
    answer = sampled(responses, "capital_question")
    if answer is None:
        return input_required({"capital_question": sample("What is the capital of France?")})
    return result(text(f"Sampling result: {answer}"))


def mrtr_list_roots(declared, responses, state):
    require(declared, "roots")
    found = roots(responses, "client_roots")
    if found is None:
        return input_required({"client_roots": ROOTS})
    uris = ", ".join(str(r.get("uri")) for r in found if isinstance(r, dict))
    return result(text(f"Found {len(found)} root(s): {uris}"))


def mrtr_request_state(declared, responses, state):
    require(declared, "elicitation")
    answer = accepted(responses, "confirm")
    if state is not None and state.get("kind") == "request-state" and answer is not None:
        ok = answer["action"] == "accept" and (answer.get("content") or {}).get("ok") is True
        return result(text(f"state-ok: requestState validated (nonce {state.get('nonce')}, confirmed={ok})"))
    fresh = state if state is not None and state.get("kind") == "request-state" else None
    return input_required(
        {"confirm": elicit("Please confirm", "ok", "boolean")},
        fresh or {"kind": "request-state", "nonce": uuid.uuid4().hex},
    )


def mrtr_multiple_inputs(declared, responses, state):
    require(declared, "elicitation", "sampling", "roots")
    if state is None or state.get("kind") != "multiple-inputs":
        state = {"kind": "multiple-inputs", "nonce": uuid.uuid4().hex}
    name, greeting, found = accepted(responses, "user_name"), sampled(responses, "greeting"), roots(
        responses, "client_roots"
    )
    missing: dict[str, Any] = {}
    if name is None:
        missing["user_name"] = elicit("What is your name?", "name")
    if greeting is None:
        missing["greeting"] = sample("Generate a greeting", 50)
    if found is None:
        missing["client_roots"] = ROOTS
    if missing:
        return input_required(missing, state)
    return result(text(f"Name: {elicited(name, 'name', 'stranger')}; Greeting: {greeting}; Roots: {len(found)}"))


def mrtr_multi_round(declared, responses, state):
    require(declared, "elicitation")
    step1 = elicit("Step 1: What is your name?", "name")
    if state is None or state.get("round") not in (1, 2):
        return input_required({"step1": step1}, {"round": 1, "nonce": uuid.uuid4().hex})
    if state["round"] == 1:
        answer = accepted(responses, "step1")
        if answer is None:
            return input_required({"step1": step1}, state)
        return input_required(
            {"step2": elicit("Step 2: What is your favorite color?", "color")},
            {"round": 2, "name": elicited(answer, "name", "friend"), "nonce": uuid.uuid4().hex},
        )
    answer = accepted(responses, "step2")
    if answer is None:
        return input_required({"step2": elicit("Step 2: What is your favorite color?", "color")}, state)
    return result(text(f"Multi-round complete for {state.get('name')} who likes {elicited(answer, 'color', '?')}"))


def mrtr_tampered_state(declared, responses, state):
    # A tampered requestState never gets here: the SDK's boundary rejects it with -32602.
    require(declared, "elicitation")
    if state is not None and state.get("kind") == "tamper-test" and accepted(responses, "confirm") is not None:
        return result(text("integrity-ok: state verified"))
    return input_required(
        {"confirm": elicit("Please confirm", "ok", "boolean")},
        state if state is not None and state.get("kind") == "tamper-test" else {"kind": "tamper-test", "nonce": uuid.uuid4().hex},
    )


def mrtr_capabilities(declared, responses, state):
    if responses:
        return result(text(f"capabilities-ok: received {','.join(sorted(responses))}"))
    requests: dict[str, Any] = {}
    if "elicitation" in declared:
        requests["elicit_input"] = elicit("Elicitation input", "value")
    if "sampling" in declared:
        requests["sample_input"] = sample("Sample request", 50)
    if "roots" in declared:
        requests["roots_input"] = ROOTS
    if not requests:
        return result(text("No supported capabilities declared"))
    return input_required(requests, {"kind": "capabilities-test", "declared": sorted(declared)})


def mrtr_prompt(declared, responses, state):
    require(declared, "elicitation")
    answer = accepted(responses, "user_context")
    if answer is None:
        return input_required({"user_context": elicit("What context should the prompt use?", "context")})
    context = elicited(answer, "context", "(none)")
    return {
        "description": "Prompt rendered after an input_required round",
        "messages": [{"role": "user", "content": text(f"Prompt with context: {context}")}],
    }


MRTR_TOOLS = {
    "test_input_required_result_elicitation": mrtr_elicitation,
    "test_input_required_result_sampling": mrtr_sampling,
    "test_input_required_result_list_roots": mrtr_list_roots,
    "test_input_required_result_request_state": mrtr_request_state,
    "test_input_required_result_multiple_inputs": mrtr_multiple_inputs,
    "test_input_required_result_multi_round": mrtr_multi_round,
    "test_input_required_result_tampered_state": mrtr_tampered_state,
    "test_input_required_result_capabilities": mrtr_capabilities,
}

_LEGACY_REQUESTS = {
    "elicitation/create": (types.ElicitRequest, types.ElicitResult),
    "sampling/createMessage": (types.CreateMessageRequest, types.CreateMessageResult),
    "roots/list": (types.ListRootsRequest, types.ListRootsResult),
}


async def run_mrtr(ctx: ServerRequestContext[Any, Any], fn) -> dict[str, Any]:
    """Modern: one round per request (the client retries). Legacy: ask the client for real."""
    params = ctx.params or {}
    raw = params.get("inputResponses")
    responses = raw if isinstance(raw, dict) else {}
    state = load_state(params.get("requestState"))
    declared = caps(ctx)
    out = fn(declared, responses, state)
    if is_modern(ctx):
        return out
    for _ in range(10):
        if out.get("resultType") != "input_required":
            return out
        responses = {}
        for key, request in out.get("inputRequests", {}).items():
            request_type, result_type = _LEGACY_REQUESTS[request["method"]]
            typed = request_type.model_validate(request, by_name=False)
            answer = await ctx.session.send_request(
                typed, result_type, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
            )
            responses[key] = answer.model_dump(by_alias=True, mode="json", exclude_none=True)
        state = load_state(out.get("requestState"))
        out = fn(declared, responses, state)
    raise MCPError(code=INVALID_PARAMS, message="too many input rounds")



# ---------------------------------------------------------------------------------------
# tasks extension (SEP-2663, io.modelcontextprotocol/tasks). The SDK has no server support
# for it, so the fixture keeps the task store itself; workers run in a task group opened by
# the server lifespan. Tasks are only created on the 2026-07-28 wire and only when this
# request's clientCapabilities.extensions declares the extension.

TASKS_EXT = "io.modelcontextprotocol/tasks"
TASK_TTL_MS = 300_000
TASK_POLL_MS = 200
TERMINAL = ("completed", "failed", "cancelled")
TASK_TOOLS = {
    "slow_compute": "optional",
    "failing_job": "required",
    "protocol_error_job": "optional",
    "confirm_delete": "optional",
    "multi_input": "optional",
    "test_tool_with_task": "required",
}
_task_group: Any = None
_tasks: dict[str, FixtureTask] = {}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def has_tasks_ext(ctx: ServerRequestContext[Any, Any]) -> bool:
    declared = ctx.session.client_capabilities
    extensions = getattr(declared, "extensions", None) if declared is not None else None
    return bool(extensions) and TASKS_EXT in extensions


def require_tasks_ext(ctx: ServerRequestContext[Any, Any]) -> None:
    if not has_tasks_ext(ctx):
        raise MCPError(
            code=MISSING_REQUIRED_CLIENT_CAPABILITY,
            message=f"Missing required client capability: extension {TASKS_EXT}",
            data={"requiredCapabilities": {"extensions": {TASKS_EXT: {}}}},
        )


class FixtureTask:
    def __init__(self) -> None:
        self.task_id = str(uuid.uuid4())
        self.status = "working"
        self.created_at = self.updated_at = now_iso()
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.pending: dict[str, Any] = {}
        self.answers: dict[str, Any] = {}
        self.answered = anyio.Event()
        self.scope = anyio.CancelScope()

    def set_status(self, status: str) -> None:
        self.status, self.updated_at = status, now_iso()

    def envelope(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "status": self.status,
            "createdAt": self.created_at,
            "lastUpdatedAt": self.updated_at,
            "ttlMs": TASK_TTL_MS,
            "pollIntervalMs": TASK_POLL_MS,
        }

    def detailed(self) -> dict[str, Any]:
        out = self.envelope()
        if self.status == "input_required":
            out["inputRequests"] = dict(self.pending)
        elif self.status == "completed" and self.result is not None:
            out["result"] = self.result
        elif self.status == "failed" and self.error is not None:
            out["error"] = self.error
        return out

    async def ask(self, requests: dict[str, Any]) -> dict[str, Any]:
        """Park in input_required until tasks/update answered every request; keys are unique per task."""
        suffix = uuid.uuid4().hex[:8]
        wire = {f"{key}-{suffix}": request for key, request in requests.items()}
        self.pending, self.answers, self.answered = dict(wire), {}, anyio.Event()
        self.set_status("input_required")
        await self.answered.wait()
        self.set_status("working")
        return {key: self.answers[f"{key}-{suffix}"] for key in requests}

    def update(self, responses: dict[str, Any]) -> None:
        for key, value in responses.items():
            if key in self.pending:  # unknown or already-answered keys are ignored
                del self.pending[key]
                self.answers[key] = value
        if self.status == "input_required" and not self.pending:
            self.answered.set()


async def _run_task(task: FixtureTask, work) -> None:
    with task.scope:
        try:
            out = await work(task)
        except MCPError as exc:
            if task.status not in TERMINAL:
                task.error = {"code": exc.code, "message": exc.message}
                if exc.data is not None:
                    task.error["data"] = exc.data
                task.set_status("failed")
        except Exception as exc:  # a crashing worker is a protocol-level failure
            if task.status not in TERMINAL:
                task.error = {"code": INTERNAL_ERROR, "message": f"Internal error: {exc}"}
                task.set_status("failed")
        else:
            if task.status not in TERMINAL:
                task.result = {**out, "resultType": "complete"}
                task.set_status("completed")
    if task.status not in TERMINAL:
        task.set_status("cancelled")


def start_task(work) -> dict[str, Any]:
    task = FixtureTask()
    _tasks[task.task_id] = task  # stored before the CreateTaskResult goes out (durable create)
    _task_group.start_soon(_run_task, task, work)
    return {"resultType": "task", **task.envelope()}


def mrtr_work(fn, declared: set[str]):
    """Drive a multi-round-trip function inside a task: each input round parks the task."""

    async def work(task: FixtureTask) -> dict[str, Any]:
        responses: dict[str, Any] = {}
        state = None
        for _ in range(10):
            out = fn(declared, responses, state)
            if out.get("resultType") != "input_required":
                return out
            responses = await task.ask(out["inputRequests"])
            state = load_state(out.get("requestState"))
        raise MCPError(code=INVALID_PARAMS, message="too many input rounds")

    return work


def confirm_delete_fn(filename: str):
    def fn(declared, responses, state):
        require(declared, "elicitation")
        answer = accepted(responses, "confirm")
        if answer is None:
            return input_required({"confirm": elicit(f"Delete {filename}?", "confirm", "boolean")})
        ok = answer["action"] == "accept" and (answer.get("content") or {}).get("confirm") is not False
        return result(text(f"Deleted {filename}" if ok else f"Kept {filename}"))

    return fn


def multi_input_fn(declared, responses, state):
    require(declared, "elicitation")
    first, second = accepted(responses, "first"), accepted(responses, "second")
    missing: dict[str, Any] = {}
    if first is None:
        missing["first"] = elicit("First input: what is your name?", "name")
    if second is None:
        missing["second"] = elicit("Second input: confirm?", "confirm", "boolean")
    if missing:
        return input_required(missing)
    return result(text(f"Received first={elicited(first, 'name', '?')}, second={elicited(second, 'confirm', '?')}"))


async def call_task_tool(ctx: ServerRequestContext[Any, Any], name: str, args: dict[str, Any]) -> dict[str, Any]:
    use_task = is_modern(ctx) and has_tasks_ext(ctx) and _task_group is not None
    if TASK_TOOLS[name] == "required" and not use_task:
        require_tasks_ext(ctx)
        raise MCPError(code=INVALID_PARAMS, message=f"{name} needs the tasks extension on the 2026-07-28 protocol")
    declared = caps(ctx)
    if name == "slow_compute":
        seconds = max(0.0, min(float(args.get("seconds", 0) or 0), 3600.0))
        label = str(args.get("label", ""))

        async def work(task):
            await anyio.sleep(seconds)
            return result(text(f"slow_compute {label!r} finished after {seconds:g}s"))

    elif name == "failing_job":

        async def work(task):
            await anyio.sleep(1)
            return result(text("failing_job: the job reported an error"), is_error=True)

    elif name == "protocol_error_job":

        async def work(task):
            await anyio.sleep(0.1)
            raise MCPError(code=INTERNAL_ERROR, message="protocol_error_job: simulated internal failure")

    elif name in ("confirm_delete", "multi_input"):
        fn = confirm_delete_fn(str(args.get("filename", "file.txt"))) if name == "confirm_delete" else multi_input_fn
        if not use_task:
            return await run_mrtr(ctx, fn)
        require(declared, "elicitation")
        work = mrtr_work(fn, declared)
    else:  # test_tool_with_task: input_required rounds first, then the task
        require(declared, "elicitation")
        raw = (ctx.params or {}).get("inputResponses")
        answer = accepted(raw if isinstance(raw, dict) else {}, "user_name")
        if answer is None:
            return input_required({"user_name": elicit("What is your name?", "name")})
        user = elicited(answer, "name", "stranger")

        async def work(task):
            await anyio.sleep(0.3)
            return result(text(f"Hello, {user}! (finished as a task)"))

    if use_task:
        return start_task(work)
    return await work(None)


class TaskIdParams(types.RequestParams):
    task_id: str = Field(alias="taskId")


class TaskUpdateParams(TaskIdParams):
    input_responses: dict[str, Any] | None = Field(default=None, alias="inputResponses")


def lookup_task(ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> FixtureTask:
    require_tasks_ext(ctx)
    task = _tasks.get(params.task_id)
    if task is None:
        raise MCPError(code=INVALID_PARAMS, message="Unknown taskId", data={"taskId": params.task_id})
    return task


async def tasks_get(ctx, params: TaskIdParams) -> dict[str, Any]:
    return {"resultType": "complete", **lookup_task(ctx, params).detailed()}


async def tasks_update(ctx, params: TaskUpdateParams) -> dict[str, Any]:
    lookup_task(ctx, params).update(params.input_responses or {})
    return {"resultType": "complete"}


async def tasks_cancel(ctx, params: TaskIdParams) -> dict[str, Any]:
    task = lookup_task(ctx, params)
    if task.status not in TERMINAL:
        task.set_status("cancelled")
        task.scope.cancel()
    return {"resultType": "complete"}


async def tasks_routing_headers(ctx: ServerRequestContext[Any, Any], call_next):
    """Streamable HTTP only: tasks/* must carry Mcp-Name = params.taskId (SEP-2663). The SDK
    checks Mcp-Name for tools/call, prompts/get and resources/read but not for extension methods."""
    headers = getattr(ctx.request, "headers", None)
    if headers is not None and ctx.request_id is not None and ctx.method in ("tasks/get", "tasks/update", "tasks/cancel"):
        if headers.get("mcp-protocol-version") in MODERN_PROTOCOL_VERSIONS:
            raw = headers.get("mcp-name")
            task_id = (ctx.params or {}).get("taskId")
            if raw is None or decode_header_value(raw.strip()) != task_id:
                raise MCPError(code=HEADER_MISMATCH, message="Header mismatch: Mcp-Name must equal params.taskId")
    return await call_next(ctx)


@asynccontextmanager
async def lifespan(_server):
    global _task_group
    async with anyio.create_task_group() as tg:
        _task_group = tg
        try:
            yield {}
        finally:
            _task_group = None
            tg.cancel_scope.cancel()


# ---------------------------------------------------------------------------------------
# handlers


async def list_tools(ctx, params) -> dict[str, Any]:
    return {"tools": TOOLS}


async def call_tool(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> dict[str, Any]:
    name = params.name
    args = params.arguments or {}
    if name in MRTR_TOOLS:
        return await run_mrtr(ctx, MRTR_TOOLS[name])
    if name in TASK_TOOLS:
        return await call_task_tool(ctx, name, args)
    if name == "greet":
        return result(text(f"Hello, {args.get('name') or 'World'}!"))
    if name == "test_simple_text":
        return result(text("This is a simple text response for testing."))
    if name == "test_image_content":
        return result({"type": "image", "data": PNG, "mimeType": "image/png"})
    if name == "test_audio_content":
        return result({"type": "audio", "data": WAV, "mimeType": "audio/wav"})
    if name == "test_embedded_resource":
        return result(
            {
                "type": "resource",
                "resource": {
                    "uri": "test://embedded-resource",
                    "mimeType": "text/plain",
                    "text": "This is an embedded resource content.",
                },
            }
        )
    if name == "test_multiple_content_types":
        return result(
            text("Multiple content types test:"),
            {"type": "image", "data": PNG, "mimeType": "image/png"},
            {
                "type": "resource",
                "resource": {
                    "uri": "test://mixed-content-resource",
                    "mimeType": "application/json",
                    "text": json.dumps({"test": "data", "value": 123}),
                },
            },
        )
    if name == "test_error_handling":
        return result(text("This tool intentionally returns an error for testing"), is_error=True)
    if name == "test_tool_with_progress":
        for step in (0, 50, 100):
            if step:
                await anyio.sleep(0.05)
            await ctx.session.report_progress(step, 100, f"Completed step {step} of 100")
        token = (ctx.meta or {}).get("progress_token")  # the SDK's parsed _meta uses snake_case
        return result(text(f"Progress complete (token {token!r})"))
    if name in ("test_logging_tool", "test_tool_with_logging"):
        # The SDK drops these unless this request's _meta carries a logLevel (2026-07-28)
        # or, in the session era, below the session's logging/setLevel threshold.
        for message in ("Tool execution started", "Tool processing data", "Tool execution completed"):
            await ctx.session.send_log_message("info", message, logger=NAME, related_request_id=ctx.request_id)
            await anyio.sleep(0.05)
        return result(text("Tool with logging executed successfully"))
    if name == "test_missing_capability":
        require(caps(ctx), "sampling")
        return result(text("Success: the sampling capability was declared"))
    if name == "test_streaming_elicitation":
        # 2026-07-28 forbids server->client requests on a response stream; only
        # notifications (progress, when the caller asked for it) precede the result.
        await ctx.session.report_progress(50, 100, "halfway")
        await anyio.sleep(0.05)
        await ctx.session.report_progress(100, 100, "done")
        return result(text("Streaming complete"))
    if name == "test_trigger_tool_change":
        await bus.publish(ToolsListChanged())
        if not is_modern(ctx):
            await ctx.session.send_tool_list_changed()
        return result(text("Tool list change published"))
    if name == "test_trigger_prompt_change":
        await bus.publish(PromptsListChanged())
        if not is_modern(ctx):
            await ctx.session.send_prompt_list_changed()
        return result(text("Prompt list change published"))
    if name == "test_trigger_resource_change":
        uri = str(args.get("uri") or "test://static-text")
        await bus.publish(ResourcesListChanged())
        await bus.publish(ResourceUpdated(uri=uri))
        if not is_modern(ctx):
            await ctx.session.send_resource_list_changed()
            if uri in _legacy_subscriptions:
                await ctx.session.send_resource_updated(uri)
        return result(text(f"Resource list change and update of {uri} published"))
    if name == "test_sleep":
        seconds = float(args.get("seconds", 1) or 0)
        steps = max(1, int(seconds * 10))
        for i in range(steps):
            await anyio.sleep(seconds / steps)
            await ctx.session.report_progress(i + 1, steps)
        return result(text(f"Slept {seconds} s"))
    if name == "test_headers":
        region = args.get("region")
        if not isinstance(region, str):
            return result(text("`region` must be a string"), is_error=True)
        return result(text(f"region={region}"))
    if name == "json_schema_2020_12_tool":
        return result(text(f"JSON Schema 2020-12 tool called with: {json.dumps(args, sort_keys=True)}"))
    raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {name}", data={"name": name})


async def list_resources(ctx, params) -> dict[str, Any]:
    return {"resources": RESOURCES}


async def list_templates(ctx, params) -> dict[str, Any]:
    return {"resourceTemplates": TEMPLATES}


async def read_resource(ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams) -> dict[str, Any]:
    uri = str(params.uri)
    if uri == "test://static-text":
        content = {"uri": uri, "mimeType": "text/plain", "text": "This is the content of the static text resource."}
    elif uri == "test://static-binary":
        content = {"uri": uri, "mimeType": "image/png", "blob": PNG}
    elif match := TEMPLATE_RE.match(uri):
        ident = match.group(1)
        body = {"id": ident, "templateTest": True, "data": f"Data for ID: {ident}"}
        content = {"uri": uri, "mimeType": "application/json", "text": json.dumps(body)}
    else:
        # SEP-2164: -32602 with data.uri (the session era used -32002).
        code = INVALID_PARAMS if is_modern(ctx) else -32002
        raise MCPError(code=code, message="Resource not found", data={"uri": uri})
    return {"contents": [content]}


async def subscribe(ctx, params: types.SubscribeRequestParams) -> dict[str, Any]:
    _legacy_subscriptions.add(str(params.uri))
    return {}


async def unsubscribe(ctx, params: types.UnsubscribeRequestParams) -> dict[str, Any]:
    _legacy_subscriptions.discard(str(params.uri))
    return {}


async def list_prompts(ctx, params) -> dict[str, Any]:
    return {"prompts": PROMPTS}


async def get_prompt(ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams) -> dict[str, Any]:
    name = params.name
    args = params.arguments or {}
    if name == "test_input_required_result_prompt":
        return await run_mrtr(ctx, mrtr_prompt)
    if name == "test_simple_prompt":
        messages = [{"role": "user", "content": text("This is a simple prompt for testing.")}]
    elif name == "test_prompt_with_arguments":
        arg1, arg2 = args.get("arg1", ""), args.get("arg2", "")
        messages = [{"role": "user", "content": text(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")}]
    elif name == "test_prompt_with_embedded_resource":
        uri = args.get("resourceUri") or "test://example-resource"
        messages = [
            {
                "role": "user",
                "content": {
                    "type": "resource",
                    "resource": {"uri": uri, "mimeType": "text/plain", "text": "Embedded resource content for testing."},
                },
            },
            {"role": "user", "content": text("Please process the embedded resource above.")},
        ]
    elif name == "test_prompt_with_image":
        messages = [
            {"role": "user", "content": {"type": "image", "data": PNG, "mimeType": "image/png"}},
            {"role": "user", "content": text("Please analyze the image above.")},
        ]
    else:
        raise MCPError(code=INVALID_PARAMS, message=f"Unknown prompt: {name}", data={"name": name})
    description = next((p["description"] for p in PROMPTS if p["name"] == name), None)
    return {"description": description, "messages": messages}


async def complete(ctx, params: types.CompleteRequestParams) -> dict[str, Any]:
    ref = params.ref
    values: list[str] = []
    if getattr(ref, "type", None) == "ref/prompt" and getattr(ref, "name", None) == "test_prompt_with_arguments":
        prefix = params.argument.value or ""
        values = [v for v in COMPLETIONS.get(params.argument.name, []) if v.startswith(prefix)]
    return {"completion": {"values": values, "total": len(values), "hasMore": False}}


async def set_level(ctx, params) -> dict[str, Any]:
    return {}


def complete_result(handler):
    """Dict results must carry `resultType` themselves (the SDK only defaults it on models)."""

    async def wrapped(ctx, params):
        out = await handler(ctx, params)
        if isinstance(out, dict) and "resultType" not in out and is_modern(ctx):
            out = {**out, "resultType": "complete"}
        return out

    return wrapped


def build_server() -> Server[Any]:
    server: Server[Any] = Server(
        NAME,
        version=VERSION,
        instructions="Fixture for the MCP conformance suite's 2026-07-28 server scenarios.",
        cache_hints={
            "server/discover": CacheHint(ttl_ms=300_000, scope="public"),
            "tools/list": CacheHint(ttl_ms=60_000, scope="public"),
            "prompts/list": CacheHint(ttl_ms=60_000, scope="public"),
            "resources/list": CacheHint(ttl_ms=60_000, scope="public"),
            "resources/templates/list": CacheHint(ttl_ms=60_000, scope="public"),
            "resources/read": CacheHint(ttl_ms=30_000, scope="private"),
        },
        lifespan=lifespan,
        get_tool_input_schema=TOOL_SCHEMAS.get,
        on_list_tools=complete_result(list_tools),
        on_call_tool=complete_result(call_tool),
        on_list_resources=complete_result(list_resources),
        on_list_resource_templates=complete_result(list_templates),
        on_read_resource=complete_result(read_resource),
        on_subscribe_resource=complete_result(subscribe),
        on_unsubscribe_resource=complete_result(unsubscribe),
        on_subscriptions_listen=ListenHandler(bus),
        on_list_prompts=complete_result(list_prompts),
        on_get_prompt=complete_result(get_prompt),
        on_completion=complete_result(complete),
    )
    # Session era only (logging/setLevel is -32601 on the 2026-07-28 wire).
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, complete_result(set_level))
    server.add_request_handler("tasks/get", TaskIdParams, tasks_get)
    server.add_request_handler("tasks/update", TaskUpdateParams, tasks_update)
    server.add_request_handler("tasks/cancel", TaskIdParams, tasks_cancel)
    server.extensions[TASKS_EXT] = {}
    server.middleware.append(tasks_routing_headers)
    server.middleware.append(
        RequestStateBoundary(RequestStateSecurity(keys=[STATE_KEY], bind_principal=None), default_audience=NAME)
    )
    return server


server = build_server()
# Session-era initialize advertises listChanged (2026-07-28 derives it from listen being served).
INIT_OPTIONS = server.create_initialization_options(
    NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)
)


async def serve_stdio() -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, INIT_OPTIONS)


class ModernOnly:
    """ASGI wrapper that makes the HTTP server 2026-07-28 only, as a server that has dropped
    the session era would be: `initialize` gets 404 / -32601, a request without the
    stateless envelope 400 / -32602, and GET / DELETE (the session era's stream and
    session end) 405. Everything else reaches the SDK's app unchanged."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/mcp"):
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "DELETE"):
            await self._answer(send, 405, None, -32600, "this server speaks 2026-07-28 only")
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if isinstance(request, dict):
            method = request.get("method")
            params = request.get("params") if isinstance(request.get("params"), dict) else {}
            meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
            if method == "initialize":
                await self._answer(send, 404, request.get("id"), -32601, "Method not found: initialize (use server/discover)")
                return
            if method and "io.modelcontextprotocol/protocolVersion" not in meta:
                await self._answer(send, 400, request.get("id"), -32602, "missing the 2026-07-28 protocol version in _meta")
                return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _answer(send: Any, status: int, id: Any, code: int, message: str) -> None:
        body = json.dumps({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def serve_http(port: int, host: str = "127.0.0.1", modern_only: bool = False) -> None:
    import uvicorn

    app = server.streamable_http_app(host=host)  # DNS-rebinding protection on for localhost
    if modern_only:
        app = ModernOnly(app)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", type=int, metavar="PORT", help="serve Streamable HTTP on 127.0.0.1:PORT/mcp")
    parser.add_argument("--modern-only", action="store_true", help="with --http: refuse the session era (initialize, GET, DELETE)")
    opts = parser.parse_args()
    if opts.http is not None:
        serve_http(opts.http, modern_only=opts.modern_only)
    else:
        anyio.run(serve_stdio)


if __name__ == "__main__":
    sys.exit(main())
