"""(f) `switchboard connect <name>`: the stdio bridge for stdio-only clients (Claude Desktop),
driven by the Python `mcp` SDK's stdio client. The bridge finds the proxy by `--port` (or the
config) and sends the key from SWITCHBOARD_API_KEY; everything crosses stdio -> bridge ->
proxy -> server and back, including server->client requests and notifications."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from _support import run, texts
from conftest import START_TIMEOUT, Proxy, free_port, switchboard_binary

BRIDGE_EXIT_TIMEOUT = 30.0


def payload(tag: str) -> str:
    # Non-ASCII, JSON-special characters and a unique id, so a mix-up or a re-encoding shows.
    return f"{tag} ✓ ünïcödé 日本語 \"quoted\" \\ {{brace}} </script> \u2028 {uuid.uuid4().hex}"


def big_payload(size: int) -> str:
    unit = "é✓ab"  # 2 + 3 + 2 bytes of UTF-8
    return (unit * (size // 7 + 1))[: size // 7 * 4] + uuid.uuid4().hex


def api_key(proxy: Proxy) -> str:
    auth = proxy.headers.get("Authorization", "")
    assert auth.startswith("Bearer "), "the binary under test does not check API keys"
    return auth.removeprefix("Bearer ")


def bridge_argv(proxy_port: int, server: str | None, config_path: Path | None = None) -> list[str]:
    """`switchboard connect <server>`; with no server, the aggregate of every server."""
    argv = [str(switchboard_binary()), "connect", *([server] if server else []), "--port", str(proxy_port)]
    if config_path is not None:
        argv += ["--config", str(config_path)]
    return argv


def bridge_env(key: str) -> dict[str, str]:
    env = dict(os.environ)
    env["SWITCHBOARD_API_KEY"] = key
    env.pop("RUST_LOG", None)
    return env


@asynccontextmanager
async def bridged(proxy: Proxy, server: str | None, stderr_path: Path, **kwargs: Any) -> AsyncIterator[ClientSession]:
    """An initialized `ClientSession` over stdio to `switchboard connect <server>`."""
    argv = bridge_argv(proxy.port, server, proxy.config_path)
    params = StdioServerParameters(command=argv[0], args=argv[1:], env={"SWITCHBOARD_API_KEY": api_key(proxy)})
    with open(stderr_path, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write, **kwargs) as session:
                await session.initialize()
                yield session


def stderr_of(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:] if path.exists() else ""


async def wait_for_no_sessions(proxy: Proxy, server: str) -> None:
    """Closing the bridge (stdin EOF) ends its session and stops its child; polled, bounded by
    run()'s timeout."""
    while (status := await asyncio.to_thread(proxy.server_status, server))["sessions"] or status["pids"]:
        await asyncio.sleep(0.1)


def run_bridge(argv: list[str], env: dict[str, str], lines: list[dict[str, Any]]) -> tuple[int, list[dict], str]:
    """Feeds `lines` to a bridge, closes its stdin and waits for it to exit. Returns (exit code,
    the JSON messages it wrote on stdout, stderr); fails if stdout carries anything but JSON."""
    stdin = "".join(json.dumps(line) + "\n" for line in lines)
    try:
        done = subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True,
                              timeout=BRIDGE_EXIT_TIMEOUT, start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the bridge did not exit within {BRIDGE_EXIT_TIMEOUT}s\nstderr:\n{exc.stderr}") from None
    messages = []
    # Not splitlines(): that also splits at U+2028, which JSON strings may carry raw.
    for line in done.stdout.split("\n")[:-1]:
        try:
            messages.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"stdout carried a non-JSON line: {line[:300]!r}\nstderr:\n{done.stderr}") from None
    assert done.stdout.endswith("\n") or not done.stdout, f"stdout ends mid-line\nstderr:\n{done.stderr}"
    return done.returncode, messages, done.stderr


def initialize_request(request_id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bridge-test", "version": "0"}}}


# ---- demo server ---------------------------------------------------------------------------------


def test_initialize_list_and_echo(proxy, tmp_path):
    message = payload("bridge")
    stderr = tmp_path / "bridge.stderr"

    async def scenario():
        async with bridged(proxy, "demo", stderr) as session:
            assert session.server_info is not None and session.server_info.name == "switchboard-demo"
            assert session.protocol_version == "2025-11-25"
            tools = await session.list_tools()
            assert {"echo", "time"} <= {tool.name for tool in tools.tools}
            result = await session.call_tool("echo", {"message": message})
            assert not result.is_error
            assert texts(result) == [message]
            demo = await asyncio.to_thread(proxy.server_status, "demo")
            assert demo["sessions"] == 1, demo
        await wait_for_no_sessions(proxy, "demo")

    try:
        run(scenario())
    except BaseException:
        print(stderr_of(stderr))
        raise


def test_connect_without_a_name_bridges_the_aggregate(proxy, tmp_path):
    stderr = tmp_path / "bridge.stderr"

    async def scenario():
        async with bridged(proxy, None, stderr) as session:
            assert session.server_info is not None and session.server_info.name == "switchboard"
            tools = await session.list_tools()
            assert {"demo__echo", "demo__time"} <= {tool.name for tool in tools.tools}
            result = await session.call_tool("demo__echo", {"message": "through all servers"})
            assert texts(result) == ["through all servers"]

    try:
        run(scenario())
    except BaseException:
        print(stderr_of(stderr))
        raise


def test_large_payload_round_trips(proxy, tmp_path):
    """2 MB of non-ASCII text each way: over the proxy's SSE answer (which the Python SDK's
    HTTP client caps at 1 MiB per event) the bridge has no limit, and stdout gets one line."""
    message = big_payload(2_000_000)
    stderr = tmp_path / "bridge.stderr"

    async def scenario():
        async with bridged(proxy, "demo", stderr) as session:
            result = await session.call_tool("echo", {"message": message})
            assert texts(result) == [message]
            small = payload("after-big")
            assert texts(await session.call_tool("echo", {"message": small})) == [small]

    try:
        run(scenario(), timeout=120)
    except BaseException:
        print(stderr_of(stderr))
        raise


def test_concurrent_calls_get_their_own_answers(proxy, tmp_path):
    calls = 12
    stderr = tmp_path / "bridge.stderr"

    async def scenario():
        async with bridged(proxy, "demo", stderr) as session:
            messages = [payload(f"call-{n}") for n in range(calls)]
            results = await asyncio.gather(
                *(session.call_tool("echo", {"message": m}) for m in messages),
                *(session.send_ping() for _ in range(4)),
                session.call_tool("time", {}),
            )
            for sent, result in zip(messages, results):
                assert texts(result) == [sent]

    try:
        run(scenario())
    except BaseException:
        print(stderr_of(stderr))
        raise


def test_stdin_eof_ends_session_and_exits_zero(proxy):
    """A piped one-shot: the answers arrive, then EOF ends the session (DELETE) and the bridge
    exits 0; stdout is nothing but JSON-RPC lines."""
    message = payload("pipe")
    code, messages, stderr = run_bridge(
        bridge_argv(proxy.port, "demo", proxy.config_path), bridge_env(api_key(proxy)), [
            initialize_request(),
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": message}}},
        ])
    assert code == 0, stderr
    by_id = {m.get("id"): m for m in messages}
    assert by_id[1]["result"]["serverInfo"]["name"] == "switchboard-demo", messages
    assert by_id[2]["result"]["content"][0]["text"] == message, messages
    run(wait_for_no_sessions(proxy, "demo"), timeout=30)


def test_restarted_proxy_gets_a_new_session(proxy_factory, tmp_path):
    """The proxy restarts on the same port (same config and key) under a live bridge: the next
    call meets 404 for the old session, and the bridge re-initializes and retries it."""
    first = proxy_factory(["demo"])
    key = api_key(first)
    stderr = tmp_path / "bridge.stderr"
    replacement: list[Proxy] = []

    async def scenario():
        async with bridged(first, "demo", stderr) as session:
            before = payload("before-restart")
            assert texts(await session.call_tool("echo", {"message": before})) == [before]
            await asyncio.to_thread(first.stop)
            replacement.append(await asyncio.to_thread(restart_proxy, first, key, tmp_path / "restarted"))
            after = payload("after-restart")
            results = await asyncio.gather(*(session.call_tool("echo", {"message": f"{after}-{n}"}) for n in range(3)))
            assert [texts(r) for r in results] == [[f"{after}-{n}"] for n in range(3)]
            demo = await asyncio.to_thread(replacement[0].server_status, "demo")
            assert demo["sessions"] == 1, demo  # the concurrent 404s reconnected once
        await wait_for_no_sessions(replacement[0], "demo")

    try:
        run(scenario(), timeout=120)
    except BaseException:
        print(stderr_of(stderr))
        raise
    finally:
        for proxy in replacement:
            proxy.stop()
    assert "no longer knows this session" in stderr_of(stderr)


def restart_proxy(old: Proxy, key: str, log_dir: Path) -> Proxy:
    """`switchboard serve` again on `old`'s port, config and key."""
    log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["SWITCHBOARD_API_KEY"] = key
    with open(log_dir / "switchboard.stdout.log", "wb") as stdout, open(log_dir / "switchboard.stderr.log", "wb") as stderr:
        proc = subprocess.Popen(
            [str(switchboard_binary()), "serve", "--config", str(old.config_path), "--port", str(old.port)],
            env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, cwd=log_dir)
    proxy = Proxy(proc=proc, port=old.port, config_path=old.config_path, log_dir=log_dir,
                  servers=old.servers, headers=dict(old.headers))
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            proxy.status(timeout=2)
            return proxy
        except (OSError, ValueError):
            time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    raise AssertionError(f"the restarted proxy did not come up\n{proxy.logs()}")


# ---- failures the user must be told about --------------------------------------------------------


def test_proxy_not_running(tmp_path):
    port = free_port()  # nothing listens there
    code, messages, stderr = run_bridge(bridge_argv(port, "demo"), bridge_env("k" * 32), [initialize_request()])
    assert code != 0
    assert f"cannot reach Switchboard on 127.0.0.1:{port}" in stderr, stderr
    assert "Start Switchboard (the desktop app, or `switchboard serve`)" in stderr, stderr
    # The client's initialize gets an answer too, so it can show why.
    assert [m["id"] for m in messages] == [1] and "error" in messages[0], messages


def test_unknown_server_name(proxy):
    code, messages, stderr = run_bridge(
        bridge_argv(proxy.port, "no-such-server"), bridge_env(api_key(proxy)), [initialize_request()])
    assert code != 0
    assert "has no enabled server named 'no-such-server'" in stderr, stderr
    assert [m["id"] for m in messages] == [1] and "no-such-server" in messages[0]["error"]["message"], messages


def test_wrong_api_key(proxy):
    code, messages, stderr = run_bridge(
        bridge_argv(proxy.port, "demo"), bridge_env("wrong-" + "x" * 32), [initialize_request()])
    assert code != 0
    assert "refused the API key" in stderr and "SWITCHBOARD_API_KEY" in stderr, stderr
    assert [m["id"] for m in messages] == [1] and "error" in messages[0], messages


def test_port_from_config_file(proxy, tmp_path):
    """Without --port the bridge reads `switchboard.port` from the config it is given."""
    config = json.loads(proxy.config_path.read_text())
    config["switchboard"] = {"port": proxy.port}
    config_path = tmp_path / "bridge-config.json"
    config_path.write_text(json.dumps(config))
    argv = [str(switchboard_binary()), "connect", "demo", "--config", str(config_path)]
    code, messages, stderr = run_bridge(argv, bridge_env(api_key(proxy)), [initialize_request()])
    assert code == 0, stderr
    assert messages[0]["result"]["serverInfo"]["name"] == "switchboard-demo", messages


# ---- server-everything: server->client messages cross the bridge --------------------------------


class Recorder:
    """Sampling and roots callbacks that answer with distinctive values and remember what they
    were asked."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex[:12]
        self.sampling: list[types.CreateMessageRequestParams] = []
        self.roots_calls = 0
        self.roots = [types.Root(uri=f"file:///tmp/bridge-root-a-{self.token}", name=f"alpha-{self.token}")]

    async def list_roots(self, _ctx):
        self.roots_calls += 1
        return types.ListRootsResult(roots=list(self.roots))

    async def sample(self, _ctx, params):
        self.sampling.append(params)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"sampled answer {self.token}"),
            model=f"fake-model-{self.token}",
            stop_reason="endTurn",
        )


@pytest.mark.parametrize("proxy", [["everything"]], indirect=True)
def test_sampling_round_trip(proxy, tmp_path):
    recorder = Recorder()
    prompt = f"write a haiku about {recorder.token}"
    stderr = tmp_path / "bridge.stderr"

    async def scenario():
        async with bridged(proxy, "everything", stderr, sampling_callback=recorder.sample) as session:
            tools = {tool.name for tool in (await session.list_tools()).tools}
            assert "trigger-sampling-request" in tools, tools
            result = await session.call_tool("trigger-sampling-request", {"prompt": prompt, "maxTokens": 33})
            assert not result.is_error
            return " ".join(texts(result))

    try:
        text = run(scenario())
    except BaseException:
        print(stderr_of(stderr))
        raise
    assert len(recorder.sampling) == 1
    assert recorder.sampling[0].max_tokens == 33
    assert prompt in recorder.sampling[0].messages[0].content.text
    assert f"sampled answer {recorder.token}" in text
    assert f"fake-model-{recorder.token}" in text


@pytest.mark.parametrize("proxy", [["everything"]], indirect=True)
def test_progress_arrives_in_order_and_a_ping_is_not_held_up(proxy, tmp_path):
    """Progress notifications of a long call cross the bridge in order; a ping sent while the
    call runs is answered before it ends (requests are not serialised behind each other)."""
    steps = 5
    seen: list[tuple[float, float | None]] = []
    stderr = tmp_path / "bridge.stderr"

    async def on_progress(progress, total, _message):
        seen.append((progress, total))

    async def scenario():
        async with bridged(proxy, "everything", stderr) as session:
            call = asyncio.create_task(session.call_tool(
                "trigger-long-running-operation", {"duration": 5, "steps": steps}, progress_callback=on_progress))
            while not seen:  # the call is under way; bounded by run()'s timeout
                await asyncio.sleep(0.02)
            await session.send_ping()
            assert not call.done(), "the ping waited for the long call"
            result = await call
            assert not result.is_error
            assert f"Steps: {steps}" in " ".join(texts(result))

    try:
        run(scenario())
    except BaseException:
        print(stderr_of(stderr))
        raise
    assert seen == [(float(step), float(steps)) for step in range(1, steps + 1)]


@pytest.mark.parametrize("proxy", [["everything"]], indirect=True)
def test_unsolicited_request_on_the_get_stream(proxy, tmp_path):
    """After `notifications/roots/list_changed` the server asks `roots/list` on its own, which
    reaches the bridge on its GET stream; the client's answer goes back and shows up in the
    next `get-roots-list`."""
    recorder = Recorder()
    stderr = tmp_path / "bridge.stderr"

    async def roots_text(session) -> str:
        result = await session.call_tool("get-roots-list", {})
        assert not result.is_error
        return "\n".join(texts(result))

    async def scenario():
        async with bridged(proxy, "everything", stderr, list_roots_callback=recorder.list_roots) as session:
            assert recorder.roots[0].name in await roots_text(session)
            changed = types.Root(uri=f"file:///tmp/bridge-root-b-{recorder.token}", name=f"beta-{recorder.token}")
            recorder.roots = [changed]
            calls_before = recorder.roots_calls
            await session.send_roots_list_changed()
            while recorder.roots_calls == calls_before:  # bounded by run()'s timeout
                await asyncio.sleep(0.05)
            while str(changed.uri) not in (text := await roots_text(session)):
                await asyncio.sleep(0.05)
            assert "bridge-root-a" not in text

    try:
        run(scenario())
    except BaseException:
        print(stderr_of(stderr))
        raise
