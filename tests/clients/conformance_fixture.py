#!/usr/bin/env python3
"""A stdio MCP server (legacy era, 2025-11-25 handshake) exposing the fixture tools that the
official conformance suite's server scenarios call (`test_simple_text`, `test_reconnection`,
`test_tool_with_progress`, `test_sampling`, ...), written from the scenario descriptions that
`conformance` itself prints. It is run *behind the proxy*, so the suite exercises the relay.

Standard library only; raw newline-delimited JSON-RPC so nothing is re-serialised by an SDK.
Server->client requests (sampling, elicitation) are sent with ids "fx-<n>" and answered by the
client through the proxy; each tools/call runs on its own thread so stdin keeps being read.
"""

from __future__ import annotations

import base64
import itertools
import json
import sys
import threading
import time

PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
# 1x1 red PNG and a 1-sample 8 kHz mono WAV.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
WAV = base64.b64encode(
    b"RIFF" + (37).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    + (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
    + b"data" + (1).to_bytes(4, "little") + b"\x80"
).decode()
LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]

_out_lock = threading.Lock()
_pending: dict[str, dict] = {}
_pending_cv = threading.Condition()
_ids = itertools.count(1)
_state = {"client_capabilities": {}, "log_level": "debug"}


def send(message: dict) -> None:
    line = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def request_client(method: str, params: dict, timeout: float = 60.0) -> dict:
    """Sends a server->client request and blocks until its response arrives on stdin."""
    rid = f"fx-{next(_ids)}"
    send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
    deadline = time.monotonic() + timeout
    with _pending_cv:
        while rid not in _pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no response to {method} ({rid})")
            _pending_cv.wait(left)
        return _pending.pop(rid)


def text(value: str, is_error: bool = False) -> dict:
    result: dict = {"content": [{"type": "text", "text": value}]}
    if is_error:
        result["isError"] = True
    return result


def log(level: str, message: str) -> None:
    if LEVELS.index(level) >= LEVELS.index(_state["log_level"]):
        send({"jsonrpc": "2.0", "method": "notifications/message",
              "params": {"level": level, "logger": "conformance-fixture", "data": message}})


def progress(token, value: int, total: int) -> None:
    if token is not None:
        send({"jsonrpc": "2.0", "method": "notifications/progress",
              "params": {"progressToken": token, "progress": value, "total": total}})


def _schema(properties: dict | None = None, required: list | None = None) -> dict:
    schema: dict = {"type": "object", "properties": properties or {}}
    if required:
        schema["required"] = required
    return schema


TOOLS = [
    {"name": "test_simple_text", "description": "Returns simple text", "inputSchema": _schema()},
    {"name": "test_image_content", "description": "Returns a PNG", "inputSchema": _schema()},
    {"name": "test_audio_content", "description": "Returns a WAV", "inputSchema": _schema()},
    {"name": "test_embedded_resource", "description": "Returns a resource", "inputSchema": _schema()},
    {"name": "test_multiple_content_types", "description": "Mixed content", "inputSchema": _schema()},
    {"name": "test_error_handling", "description": "Always fails", "inputSchema": _schema()},
    {"name": "test_tool_with_progress", "description": "Reports progress", "inputSchema": _schema()},
    {"name": "test_tool_with_logging", "description": "Logs 3 messages", "inputSchema": _schema()},
    {"name": "test_reconnection", "description": "SSE polling target (SEP-1699)", "inputSchema": _schema()},
    {"name": "test_sampling", "description": "Asks the client to sample",
     "inputSchema": _schema({"prompt": {"type": "string"}}, ["prompt"])},
    {"name": "test_elicitation", "description": "Asks the client for input",
     "inputSchema": _schema({"message": {"type": "string"}}, ["message"])},
]


def call_tool(params: dict) -> dict:
    name = params.get("name")
    args = params.get("arguments") or {}
    token = (params.get("_meta") or {}).get("progressToken")
    if name == "test_simple_text":
        return text("This is a simple text response for testing.")
    if name == "test_image_content":
        return {"content": [{"type": "image", "data": PNG, "mimeType": "image/png"}]}
    if name == "test_audio_content":
        return {"content": [{"type": "audio", "data": WAV, "mimeType": "audio/wav"}]}
    if name == "test_embedded_resource":
        return {"content": [{"type": "resource", "resource": {
            "uri": "test://embedded-resource", "mimeType": "text/plain",
            "text": "This is an embedded resource content."}}]}
    if name == "test_multiple_content_types":
        return {"content": [
            {"type": "text", "text": "Multiple content types test:"},
            {"type": "image", "data": PNG, "mimeType": "image/png"},
            {"type": "resource", "resource": {"uri": "test://mixed-content-resource",
                                              "mimeType": "application/json",
                                              "text": '{"test":"data","value":123}'}}]}
    if name == "test_error_handling":
        return text("This tool intentionally returns an error for testing", is_error=True)
    if name == "test_tool_with_progress":
        for value in (0, 50, 100):
            progress(token, value, 100)
            if value != 100:
                time.sleep(0.05)
        return text("Progress tool completed")
    if name == "test_tool_with_logging":
        log("info", "Tool execution started")
        time.sleep(0.05)
        log("info", "Tool processing data")
        time.sleep(0.05)
        log("info", "Tool execution completed")
        return text("Logging tool completed")
    if name == "test_reconnection":
        # A stdio server cannot close the client's HTTP stream; the proxy owns that. Slow enough
        # (past the proxy's 3 s JSON window) that the answer is an SSE stream, which is what
        # the scenario examines; a quick answer comes back as plain JSON and the scenario
        # calls itself not applicable.
        time.sleep(3.5)
        return text("Reconnection test completed successfully")
    if name == "test_sampling":
        if "sampling" not in _state["client_capabilities"]:
            return text("client does not support sampling", is_error=True)
        reply = request_client("sampling/createMessage", {
            "messages": [{"role": "user", "content": {"type": "text", "text": args.get("prompt", "")}}],
            "maxTokens": 100})
        if "error" in reply:
            return text(f"sampling failed: {reply['error']}", is_error=True)
        content = reply["result"].get("content") or {}
        return text(f"LLM response: {content.get('text', content)}")
    if name == "test_elicitation":
        if "elicitation" not in _state["client_capabilities"]:
            return text("client does not support elicitation", is_error=True)
        reply = request_client("elicitation/create", {
            "message": args.get("message", ""),
            "requestedSchema": _schema({
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"}},
                ["username", "email"])})
        if "error" in reply:
            return text(f"elicitation failed: {reply['error']}", is_error=True)
        result = reply["result"]
        return text(f"User response: action={result.get('action')}, "
                    f"content={json.dumps(result.get('content'), sort_keys=True)}")
    raise KeyError(name)


def handle_request(msg: dict) -> None:
    rid, method, params = msg["id"], msg["method"], msg.get("params") or {}
    try:
        if method == "initialize":
            asked = params.get("protocolVersion")
            _state["client_capabilities"] = params.get("capabilities") or {}
            result = {
                "protocolVersion": asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0],
                "capabilities": {"tools": {}, "logging": {}},
                "serverInfo": {"name": "switchboard-conformance-fixture", "version": "1.0.0"},
            }
        elif method == "ping":
            result = {}
        elif method == "tools/list":
            result = {"tools": TOOLS}
        elif method == "logging/setLevel":
            level = params.get("level")
            if level not in LEVELS:
                send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": f"bad level {level!r}"}})
                return
            _state["log_level"] = level
            result = {}
        elif method == "tools/call":
            try:
                result = call_tool(params)
            except KeyError:
                send({"jsonrpc": "2.0", "id": rid,
                      "error": {"code": -32602, "message": f"Unknown tool: {params.get('name')}"}})
                return
        else:
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": f"Method not found: {method}"}})
            return
        send({"jsonrpc": "2.0", "id": rid, "result": result})
    except Exception as exc:  # noqa: BLE001 - a fixture reports, never dies
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32603, "message": f"{type(exc).__name__}: {exc}"}})


def main() -> None:
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            print(f"fixture: unparsable line {line[:200]!r}", file=sys.stderr, flush=True)
            continue
        if "method" in msg and "id" in msg:
            threading.Thread(target=handle_request, args=(msg,), daemon=True).start()
        elif "method" in msg:
            pass  # notifications (initialized, cancelled, roots/list_changed) need no answer here
        elif "id" in msg:
            with _pending_cv:
                _pending[str(msg["id"])] = msg
                _pending_cv.notify_all()


if __name__ == "__main__":
    main()
