"""(b) The MCP Inspector CLI (v2, run with node 24) through the proxy, over Streamable HTTP and
legacy HTTP+SSE, asserting on its `--format json` output."""

from __future__ import annotations

import json
import uuid

import pytest

from _support import run_json_cli
from conftest import npm_tool

TRANSPORTS = {"http": "mcp_url", "sse": "sse_url"}


def inspector(node, proxy, *args: str) -> list[str]:
    launcher = npm_tool("@modelcontextprotocol/inspector", "clients/launcher/build/index.js")
    return [str(node), str(launcher), "--cli", *args, *proxy.header_args(), "--format", "json"]


def target(proxy, transport: str) -> list[str]:
    return [getattr(proxy, TRANSPORTS[transport])("demo"), "--transport", transport]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tools_list(proxy, node, tool_env, transport):
    code, out, log = run_json_cli(
        inspector(node, proxy, *target(proxy, transport), "--method", "tools/list"), env=tool_env)
    assert code == 0, log
    assert out is not None, log
    tools = {tool["name"]: tool for tool in out["result"]["tools"]}
    assert {"echo", "time"} <= set(tools), log
    assert tools["echo"]["inputSchema"]["properties"]["message"]["type"] == "string"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tools_call_echo(proxy, node, tool_env, transport):
    message = f"inspector {transport} ✓ {{x}} {uuid.uuid4().hex}"
    code, out, log = run_json_cli(
        inspector(node, proxy, *target(proxy, transport), "--method", "tools/call",
                  "--tool-name", "echo", "--tool-arg", f"message={message}"),
        env=tool_env)
    assert code == 0, log
    assert out == {"result": {"content": [{"type": "text", "text": message}], "isError": False}}, log


def test_auto_era_from_config(proxy, node, tool_env, tmp_path):
    """Era selection is only possible through a config file; `protocolEra: auto` probes
    `server/discover`, which the proxy answers for the demo server through its bridge."""
    config = tmp_path / "inspector.json"
    entry = {"type": "http", "url": proxy.mcp_url("demo"), "protocolEra": "auto"}
    if proxy.headers:
        entry["headers"] = dict(proxy.headers)
    config.write_text(json.dumps({"mcpServers": {"sb": entry}}))
    message = f"inspector auto {uuid.uuid4().hex}"
    launcher = npm_tool("@modelcontextprotocol/inspector", "clients/launcher/build/index.js")
    code, out, log = run_json_cli(
        [str(node), str(launcher), "--cli", "--config", str(config), "--server", "sb", "--method", "tools/call",
         "--tool-name", "echo", "--tool-arg", f"message={message}", "--format", "json"],
        env=tool_env)
    assert code == 0, log
    assert out["result"]["content"] == [{"type": "text", "text": message}], log


def test_unknown_tool_is_reported(proxy, node, tool_env):
    code, out, log = run_json_cli(
        inspector(node, proxy, *target(proxy, "http"), "--method", "tools/call", "--tool-name", "no-such-tool"),
        env=tool_env)
    assert code == 5, log  # 5 = tool error; the error is one JSON line on stderr
    assert "tool_not_found" in log, log
