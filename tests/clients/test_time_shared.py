"""(e) `mcp-server-time` (stdio, from the test venv) behind the proxy with `"sharing": "shared"`:
one child serves every session, so the proxy must rewrite the colliding JSON-RPC ids of
concurrent sessions and route each answer back to its own session."""

from __future__ import annotations

import asyncio

import pytest

from _support import http_client, run, sse_session

pytestmark = pytest.mark.parametrize("proxy", [{"time": {"sharing": "shared"}}], indirect=True)

ZONES = ["Europe/Berlin", "Asia/Tokyo", "America/New_York", "Australia/Sydney"]
CALLS = 5


async def _session_calls(open_session, zone: str, ready: asyncio.Semaphore, go: asyncio.Event) -> list[dict]:
    async with open_session() as client:
        ready.release()
        await go.wait()
        results = await asyncio.gather(*(client.call_tool("get_current_time", {"timezone": zone})
                                         for _ in range(CALLS)))
        converted = await client.call_tool(
            "convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": zone})
        out = []
        for result in [*results, converted]:
            assert not result.is_error, result
            out.append(result.structured_content)
        return out


def _run_sessions(proxy, openers) -> None:
    async def scenario():
        ready = asyncio.Semaphore(0)
        go = asyncio.Event()
        tasks = [asyncio.create_task(_session_calls(opener, zone, ready, go)) for opener, zone in openers]
        try:
            for _ in tasks:
                await ready.acquire()
            status = await asyncio.to_thread(proxy.server_status, "time")
            assert status["sharing"] == "shared", status
            assert status["sessions"] == len(tasks), status
            assert len(status["pids"]) == 1, f"a shared server runs one child for all sessions: {status}"
        finally:
            go.set()
        return await asyncio.gather(*tasks)

    outcomes = run(scenario(), timeout=120)
    for (_opener, zone), outcome in zip(openers, outcomes):
        *times, converted = outcome
        assert [t["timezone"] for t in times] == [zone] * CALLS
        assert converted["target"]["timezone"] == zone
        assert converted["source"]["timezone"] == "UTC"


def test_two_concurrent_sessions_share_one_child(proxy):
    _run_sessions(proxy, [(lambda: http_client(proxy, "time"), zone) for zone in ZONES[:2]])


def test_streamable_http_and_legacy_sse_sessions_share_one_child(proxy):
    openers = [
        (lambda: http_client(proxy, "time"), ZONES[0]),
        (lambda: http_client(proxy, "time", mode="legacy"), ZONES[1]),
        (lambda: sse_session(proxy, "time"), ZONES[2]),
        (lambda: sse_session(proxy, "time"), ZONES[3]),
    ]
    _run_sessions(proxy, openers)
