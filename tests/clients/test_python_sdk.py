"""(a) The official Python `mcp` SDK client through the proxy: Streamable HTTP (the legacy
handshake) and the legacy HTTP+SSE front door. Its stateless modes (`"2026-07-28"`, `"auto"`)
are in test_modern.py."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from _support import http_client, run, sse_session, texts

SESSIONS = 5
CALLS_PER_SESSION = 4


def payload(tag: str) -> str:
    # Non-ASCII, JSON-special characters and a unique id, so a mix-up or a re-encoding shows.
    return f"{tag} ✓ \"quoted\" \\ {{brace}} </script> {uuid.uuid4().hex}"


def test_streamable_http_echo(proxy):
    message = payload("http-legacy")

    async def scenario():
        async with http_client(proxy, "demo", mode="legacy") as client:
            assert client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
            assert client.server_info is not None and client.server_info.name == "switchboard-demo"
            tools = await client.list_tools()
            assert {"echo", "time"} <= {tool.name for tool in tools.tools}
            result = await client.call_tool("echo", {"message": message})
            assert not result.is_error
            assert texts(result) == [message]

    run(scenario())


def test_legacy_sse_echo(proxy):
    message = payload("sse")

    async def scenario():
        async with sse_session(proxy, "demo") as session:
            tools = await session.list_tools()
            assert {"echo", "time"} <= {tool.name for tool in tools.tools}
            result = await session.call_tool("echo", {"message": message})
            assert not result.is_error
            assert texts(result) == [message]

    run(scenario())


async def _concurrent_sessions(proxy, open_session) -> None:
    """SESSIONS sessions, all open at once (so each has its own child), each sending its own
    payloads concurrently; every answer must be the session's own."""
    ready = asyncio.Semaphore(0)
    go = asyncio.Event()

    async def one(index: int) -> list[tuple[str, list[str]]]:
        async with open_session() as session:
            ready.release()
            await go.wait()
            messages = [payload(f"session-{index}-call-{n}") for n in range(CALLS_PER_SESSION)]
            results = await asyncio.gather(*(session.call_tool("echo", {"message": m}) for m in messages))
            return [(m, texts(r)) for m, r in zip(messages, results)]

    tasks = [asyncio.create_task(one(i)) for i in range(SESSIONS)]
    try:
        for _ in tasks:
            await ready.acquire()
        demo = await asyncio.to_thread(proxy.server_status, "demo")
        assert demo["sessions"] == SESSIONS, demo
        assert len(set(demo["pids"])) == SESSIONS, f"per-session sharing needs one child per session: {demo}"
    finally:
        go.set()
    for outcome in await asyncio.gather(*tasks):
        for sent, received in outcome:
            assert received == [sent]
    # Closing a client (DELETE for Streamable HTTP, dropping the GET stream for legacy SSE) ends
    # its session and stops its child; poll, bounded by run()'s timeout.
    while (demo := await asyncio.to_thread(proxy.server_status, "demo"))["sessions"] or demo["pids"]:
        await asyncio.sleep(0.1)


def test_streamable_http_concurrent_sessions_are_isolated(proxy):
    run(_concurrent_sessions(proxy, lambda: http_client(proxy, "demo")), timeout=120)


def test_legacy_sse_concurrent_sessions_are_isolated(proxy):
    run(_concurrent_sessions(proxy, lambda: sse_session(proxy, "demo")), timeout=120)


def big_payload(size: int) -> str:
    unit = "é✓ab"  # 2 + 3 + 2 bytes of UTF-8
    return (unit * (size // 7 + 1))[: size // 7 * 4] + uuid.uuid4().hex


def test_large_results_are_relayed_intact(proxy):
    """A 12 MB non-ASCII echo survives both directions (client SSE event limit switched off)."""
    message = big_payload(12_000_000)

    async def scenario():
        async with create_mcp_http_client(headers=dict(proxy.headers)) as http:
            transport = streamable_http_client(proxy.mcp_url("demo"), http_client=http, max_sse_event_size=None)
            async with Client(transport, mode="legacy") as client:
                result = await client.call_tool("echo", {"message": message})
                assert texts(result) == [message]

    run(scenario(), timeout=120)


class SseEventLimit(AssertionError):
    """The Python SDK refused an SSE event over its 1 MiB limit."""


def test_results_over_one_mib_with_default_client_settings(proxy):
    """The SDK caps one SSE event at 1 MiB but not a JSON body: the proxy answers as JSON when
    the response is the first thing the server says about a request."""
    message = big_payload(2_000_000)

    async def scenario():
        async with http_client(proxy, "demo") as client:
            result = await client.call_tool("echo", {"message": message})
            assert texts(result) == [message]

    try:
        run(scenario(), timeout=120)
    except BaseException as exc:  # an ExceptionGroup from the SDK's task groups
        if "exceeded the 1048576 byte limit" in repr(exc):
            raise SseEventLimit(repr(exc)[:500]) from exc
        raise


def test_the_harness_key_is_what_lets_clients_in(proxy):
    """The clients above pass only because the harness sends `Proxy.headers`: without them the
    proxy refuses the same SDK client with 401."""
    assert proxy.headers, "the harness should have set an Authorization header"

    async def without_key():
        async with create_mcp_http_client() as http:
            async with Client(streamable_http_client(proxy.mcp_url("demo"), http_client=http), mode="legacy"):
                pass

    with pytest.raises(BaseException) as refused:
        run(without_key(), timeout=30)
    assert "401" in repr(refused.value) or "nauthorized" in repr(refused.value), repr(refused.value)
