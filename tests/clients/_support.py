"""Client-side helpers shared by the suites: run a coroutine with a hard timeout, and open the
official Python SDK's clients against a proxy (always with the proxy's headers)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from mcp import Client, ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

DEFAULT_TIMEOUT = 60.0


def run(coro: Coroutine[Any, Any, Any], timeout: float = DEFAULT_TIMEOUT) -> Any:
    """asyncio.run with a hard timeout, so a stuck stream fails the test instead of hanging it."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@asynccontextmanager
async def http_client(proxy, server: str, *, mode: str = "legacy", **kwargs: Any) -> AsyncIterator[Client]:
    """`mcp.Client` over Streamable HTTP to `/servers/<server>/mcp`."""
    async with create_mcp_http_client(headers=dict(proxy.headers)) as http:
        transport = streamable_http_client(proxy.mcp_url(server), http_client=http)
        async with Client(transport, mode=mode, **kwargs) as client:
            yield client


@asynccontextmanager
async def aggregate_client(proxy, *, mode: str = "legacy", **kwargs: Any) -> AsyncIterator[Client]:
    """`mcp.Client` over Streamable HTTP to the aggregate endpoint `/mcp`."""
    async with create_mcp_http_client(headers=dict(proxy.headers)) as http:
        transport = streamable_http_client(f"{proxy.base_url}/mcp", http_client=http)
        async with Client(transport, mode=mode, **kwargs) as client:
            yield client


@asynccontextmanager
async def sse_session(proxy, server: str, **kwargs: Any) -> AsyncIterator[ClientSession]:
    """An initialized `ClientSession` over the legacy HTTP+SSE front door `/servers/<server>/sse`."""
    async with sse_client(proxy.sse_url(server), headers=dict(proxy.headers)) as (read, write):
        async with ClientSession(read, write, **kwargs) as session:
            await session.initialize()
            yield session


def texts(result: Any) -> list[str]:
    """The text items of a CallToolResult."""
    return [item.text for item in result.content if getattr(item, "type", None) == "text"]


def run_json_cli(argv: list[str], *, env: dict[str, str], timeout: float = 90.0) -> tuple[int, Any, str]:
    """Runs a CLI that prints one JSON document on stdout; returns (exit code, parsed stdout, stderr)."""
    code, stdout, stderr = run_cli(argv, env=env, timeout=timeout)
    try:
        parsed = json.loads(stdout) if stdout.strip() else None
    except json.JSONDecodeError:
        parsed = None
    return code, parsed, f"stdout:\n{stdout[-4000:]}\nstderr:\n{stderr[-4000:]}"


def run_cli(argv: list[str], *, env: dict[str, str], timeout: float, cwd: str | None = None) -> tuple[int, str, str]:
    """Runs a command in its own process group; on timeout the whole group is killed and the test fails."""
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise AssertionError(
            f"{argv[:3]}... did not finish within {timeout}s\nstdout:\n{stdout[-4000:]}\nstderr:\n{stderr[-4000:]}"
        ) from None
    finally:
        try:  # nothing it started may outlive it
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    return proc.returncode, stdout, stderr
