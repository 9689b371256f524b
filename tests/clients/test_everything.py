"""(d) `@modelcontextprotocol/server-everything` (stdio) behind the proxy, driven by the Python
SDK client: progress, and the server->client requests sampling, elicitation and roots, which the
proxy must route back to the session whose tool call caused them (or, for the unsolicited
roots/list, to that session's GET stream)."""

from __future__ import annotations

import asyncio
import uuid

import mcp_types as types
import pytest

from _support import http_client, run, sse_session, texts

pytestmark = pytest.mark.parametrize("proxy", [["everything"]], indirect=True)

CAPABILITY_GATED = {"trigger-sampling-request", "trigger-elicitation-request", "get-roots-list"}


class Recorder:
    """Client callbacks that answer with distinctive values and remember what they were asked."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex[:12]
        self.sampling: list[types.CreateMessageRequestParams] = []
        self.elicitation: list[types.ElicitRequestParams] = []
        self.roots_calls = 0
        self.roots = [
            types.Root(uri=f"file:///tmp/switchboard-root-a-{self.token}", name=f"alpha-{self.token}"),
            types.Root(uri=f"file:///tmp/switchboard-root-b-{self.token}", name=f"beta-{self.token}"),
        ]

    async def sample(self, _ctx, params):
        self.sampling.append(params)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"sampled answer {self.token}"),
            model=f"fake-model-{self.token}",
            stop_reason="endTurn",
        )

    async def elicit(self, _ctx, params):
        self.elicitation.append(params)
        return types.ElicitResult(action="accept", content={"name": f"Ada {self.token}"})

    async def list_roots(self, _ctx):
        self.roots_calls += 1
        return types.ListRootsResult(roots=list(self.roots))

    def callbacks(self) -> dict:
        return {"sampling_callback": self.sample, "elicitation_callback": self.elicit,
                "list_roots_callback": self.list_roots}


def test_capability_gated_tools_appear_only_when_declared(proxy):
    async def scenario():
        async with http_client(proxy, "everything") as plain:
            plain_tools = {tool.name for tool in (await plain.list_tools()).tools}
        async with http_client(proxy, "everything", **Recorder().callbacks()) as capable:
            capable_tools = {tool.name for tool in (await capable.list_tools()).tools}
        assert "trigger-long-running-operation" in plain_tools
        assert not CAPABILITY_GATED & plain_tools, plain_tools
        assert CAPABILITY_GATED <= capable_tools, capable_tools

    run(scenario())


def test_progress_notifications_arrive_in_order(proxy):
    steps = 5
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress, total, _message):
        seen.append((progress, total))

    async def scenario():
        async with http_client(proxy, "everything") as client:
            result = await client.call_tool(
                "trigger-long-running-operation", {"duration": 1, "steps": steps}, progress_callback=on_progress)
            assert not result.is_error
            assert f"Steps: {steps}" in " ".join(texts(result))

    run(scenario())
    assert seen == [(float(step), float(steps)) for step in range(1, steps + 1)]


def test_sampling_round_trip(proxy):
    recorder = Recorder()
    prompt = f"write a haiku about {recorder.token}"

    async def scenario():
        async with http_client(proxy, "everything", **recorder.callbacks()) as client:
            result = await client.call_tool("trigger-sampling-request", {"prompt": prompt, "maxTokens": 33})
            assert not result.is_error
            return " ".join(texts(result))

    text = run(scenario())
    assert len(recorder.sampling) == 1
    request = recorder.sampling[0]
    assert request.max_tokens == 33
    assert prompt in request.messages[0].content.text
    assert f"sampled answer {recorder.token}" in text
    assert f"fake-model-{recorder.token}" in text


def test_elicitation_round_trip(proxy):
    recorder = Recorder()

    async def scenario():
        async with http_client(proxy, "everything", **recorder.callbacks()) as client:
            result = await client.call_tool("trigger-elicitation-request", {})
            assert not result.is_error
            return "\n".join(texts(result))

    text = run(scenario())
    assert len(recorder.elicitation) == 1
    assert "name" in recorder.elicitation[0].requested_schema["properties"]
    assert f"Ada {recorder.token}" in text
    assert '"action": "accept"' in text


def test_roots_round_trip(proxy):
    """The roots the client lists come back from `get-roots-list`; after the client changes them
    and sends `notifications/roots/list_changed`, the server asks again (unsolicited roots/list on
    the session's GET stream) and reports the new set."""
    recorder = Recorder()

    async def roots_text(client) -> str:
        result = await client.call_tool("get-roots-list", {})
        assert not result.is_error
        return "\n".join(texts(result))

    async def scenario():
        async with http_client(proxy, "everything", **recorder.callbacks()) as client:
            text = await roots_text(client)
            for root in recorder.roots:
                assert str(root.uri) in text and root.name in text, text
            assert recorder.roots_calls >= 1

            changed = types.Root(uri=f"file:///tmp/switchboard-root-c-{recorder.token}", name=f"gamma-{recorder.token}")
            recorder.roots = [changed]
            calls_before = recorder.roots_calls
            await client.send_roots_list_changed()
            while recorder.roots_calls == calls_before:  # bounded by run()'s timeout
                await asyncio.sleep(0.05)
            while str(changed.uri) not in (text := await roots_text(client)):
                await asyncio.sleep(0.05)
            assert "switchboard-root-a" not in text

    run(scenario())


def test_server_requests_over_legacy_sse(proxy):
    """The same server->client round trips through the legacy HTTP+SSE front door."""
    recorder = Recorder()

    async def scenario():
        async with sse_session(proxy, "everything", **recorder.callbacks()) as session:
            sampled = await session.call_tool("trigger-sampling-request", {"prompt": f"sse {recorder.token}"})
            elicited = await session.call_tool("trigger-elicitation-request", {})
            roots = await session.call_tool("get-roots-list", {})
            return [" ".join(texts(r)) for r in (sampled, elicited, roots)]

    sampled, elicited, roots = run(scenario())
    assert f"sampled answer {recorder.token}" in sampled
    assert f"Ada {recorder.token}" in elicited
    assert recorder.roots[0].name in roots


def test_concurrent_sessions_get_their_own_server_requests(proxy):
    """Three sessions trigger sampling at once; each callback sees only its own prompt and each
    tool result carries only its own session's answer."""
    recorders = [Recorder() for _ in range(3)]

    async def one(recorder: Recorder) -> str:
        async with http_client(proxy, "everything", **recorder.callbacks()) as client:
            result = await client.call_tool("trigger-sampling-request", {"prompt": f"prompt {recorder.token}"})
            return " ".join(texts(result))

    async def scenario():
        return await asyncio.gather(*(one(r) for r in recorders))

    results = run(scenario(), timeout=120)
    for recorder, text in zip(recorders, results):
        assert [f"prompt {recorder.token}" in p.messages[0].content.text for p in recorder.sampling] == [True]
        assert f"sampled answer {recorder.token}" in text
        for other in recorders:
            if other is not recorder:
                assert other.token not in text
