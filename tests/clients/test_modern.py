"""(e) The stateless protocol (2026-07-28) through the proxy, with the official Python `mcp`
SDK client in `mode="2026-07-28"` (no handshake at all) and `mode="auto"` (`server/discover`
first, then the era the answer names):

- `time` (`mcp-server-time`): a dual-era server, served directly (Switchboard's stateless
  child for it answered `server/discover`);
- `everything` (`server-everything`) and `demo`: session-era servers, served to stateless
  clients through the bridge (a child initialized once; `server/discover` answered from its
  `initialize`; results stamped with `resultType` and cache hints).

Session clients of the same servers keep working beside them (the other suites).
"""

from __future__ import annotations

import uuid

import pytest

from _support import aggregate_client, http_client, run, texts

MODERN = "2026-07-28"

pytestmark = pytest.mark.parametrize("proxy", [["time", "everything", "demo"]], indirect=True)


@pytest.mark.parametrize("mode", [MODERN, "auto"])
def test_a_dual_era_server_speaks_2026_07_28_directly(proxy, mode):
    async def scenario():
        async with http_client(proxy, "time", mode=mode) as client:
            assert client.protocol_version == MODERN
            assert client.session.initialize_result is None
            tools = await client.list_tools()
            assert "get_current_time" in {tool.name for tool in tools.tools}
            result = await client.call_tool("get_current_time", {"timezone": "Europe/Paris"})
            assert not result.is_error, result
            assert "Europe/Paris" in texts(result)[0]

    run(scenario())
    status = proxy.server_status("time")
    assert "2026-07-28" in status.get("protocol", ""), status


@pytest.mark.parametrize("server", ["everything", "demo"])
@pytest.mark.parametrize("mode", [MODERN, "auto"])
def test_a_session_era_server_is_served_through_the_bridge(proxy, server, mode):
    message = f"bridged {uuid.uuid4().hex} ✓"

    async def scenario():
        async with http_client(proxy, server, mode=mode) as client:
            assert client.protocol_version == MODERN
            if mode == "auto":
                discovered = client.session.discover_result
                assert discovered is not None and MODERN in discovered.supported_versions
            tools = await client.list_tools()
            assert "echo" in {tool.name for tool in tools.tools}
            result = await client.call_tool("echo", {"message": message})
            assert not result.is_error, result
            assert message in texts(result)[0]

    run(scenario())
    status = proxy.server_status(server)
    assert "bridge" in status.get("protocol", ""), status


@pytest.mark.parametrize("mode", [MODERN, "auto"])
def test_the_aggregate_endpoint_speaks_2026_07_28(proxy, mode):
    """`/mcp` has no stateless child: its stateless requests ride a session kept for them,
    with the aggregate's merged, prefixed lists and its routing."""
    message = f"aggregate {uuid.uuid4().hex} ✓"

    async def scenario():
        async with aggregate_client(proxy, mode=mode) as client:
            assert client.protocol_version == MODERN
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"everything__echo", "demo__echo", "time__get_current_time"} <= names, names
            result = await client.call_tool("everything__echo", {"message": message})
            assert not result.is_error, result
            assert message in texts(result)[0]
            result = await client.call_tool("time__get_current_time", {"timezone": "Asia/Tokyo"})
            assert not result.is_error, result
            assert "Asia/Tokyo" in texts(result)[0]

    run(scenario())


@pytest.mark.parametrize("tool,asked", [
    ("trigger-elicitation-request", "elicitation"),
    ("trigger-sampling-request", "sampling"),
])
def test_a_session_era_servers_question_reaches_a_stateless_client_as_input_required(proxy, tool, asked):
    """server-everything (session era) asks its client mid-call; through the bridge, the
    SDK's 2026-07-28 client gets input_required, answers with its callback, and retries."""
    from test_everything import Recorder

    recorder = Recorder()
    arguments = {"prompt": "say hi", "maxTokens": 10} if asked == "sampling" else {}

    async def scenario():
        async with http_client(proxy, "everything", mode=MODERN, **recorder.callbacks()) as client:
            assert client.protocol_version == MODERN
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, result
            return " ".join(texts(result))

    text = run(scenario())
    if asked == "elicitation":
        assert len(recorder.elicitation) == 1
        assert recorder.token in text, text
    else:
        assert len(recorder.sampling) == 1
        assert recorder.token in text, text
