"""The aggregate endpoint `/mcp` with three real servers behind it (the demo server,
`@modelcontextprotocol/server-everything`, `mcp-server-time`), driven by the official Python
SDK client: one list with every server's tools under `<server>__<tool>` names, calls that reach
the server owning the name, a resource read and a prompt through the merged lists, paging, and
server->client requests (sampling, elicitation) and progress reaching the session whose call
caused them, and no other."""

from __future__ import annotations

import asyncio
import re

import pytest

from _support import aggregate_client, run, run_json_cli, texts
from conftest import npm_tool
from test_everything import Recorder

pytestmark = pytest.mark.parametrize("proxy", [["demo", "everything", "time"]], indirect=True)

VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def test_one_list_of_every_servers_tools_with_valid_prefixed_names(proxy):
    async def scenario():
        async with aggregate_client(proxy) as client:
            return [tool.name for tool in (await client.list_tools()).tools]

    names = run(scenario(), timeout=120)
    assert all(VALID.match(name) for name in names), names
    assert len(set(names)) == len(names)
    assert "demo__echo" in names and "time__get_current_time" in names, names
    assert "everything__echo" in names, names
    assert {name.split("__", 1)[0] for name in names} == {"demo", "everything", "time"}


def test_calls_reach_the_server_that_owns_the_name(proxy):
    async def scenario():
        async with aggregate_client(proxy) as client:
            demo = await client.call_tool("demo__echo", {"message": "from the aggregate"})
            everything = await client.call_tool("everything__echo", {"message": "hi everything"})
            time = await client.call_tool("time__get_current_time", {"timezone": "UTC"})
            return [" ".join(texts(r)) for r in (demo, everything, time)]

    demo, everything, time = run(scenario(), timeout=120)
    assert "from the aggregate" in demo
    assert "hi everything" in everything
    assert "UTC" in time


def test_a_resource_and_a_prompt_through_the_merged_lists(proxy):
    async def scenario():
        async with aggregate_client(proxy) as client:
            resources = (await client.list_resources()).resources
            assert resources, "server-everything lists resources"
            read = await client.read_resource(resources[0].uri)
            prompts = (await client.list_prompts()).prompts
            plain = next(p for p in prompts if not any(a.required for a in (p.arguments or [])))
            assert plain.name.startswith("everything__"), plain.name
            got = await client.get_prompt(plain.name, {})
            return read, got

    read, got = run(scenario(), timeout=120)
    assert read.contents
    assert got.messages


def test_a_subscription_goes_to_the_server_that_owns_the_resource(proxy):
    async def scenario():
        async with aggregate_client(proxy) as client:
            resources = (await client.list_resources()).resources
            uri = resources[0].uri
            await client.subscribe_resource(uri)
            await client.unsubscribe_resource(uri)
            # A URI no server has is refused by the aggregate itself, with a JSON-RPC error.
            try:
                await client.subscribe_resource("nowhere://nothing")
            except Exception as error:  # McpError
                return str(error)
            return None

    refused = run(scenario(), timeout=120)
    assert refused and "Resource not found" in refused, refused


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_the_inspector_cli_lists_and_calls_through_the_aggregate(proxy, node, tool_env, transport):
    url = f"{proxy.base_url}/mcp" if transport == "http" else f"{proxy.base_url}/sse"
    launcher = npm_tool("@modelcontextprotocol/inspector", "clients/launcher/build/index.js")
    base = [str(node), str(launcher), "--cli", url, "--transport", transport, *proxy.header_args()]
    code, out, log = run_json_cli([*base, "--method", "tools/list", "--format", "json"], env=tool_env)
    assert code == 0, log
    names = {tool["name"] for tool in out["result"]["tools"]}
    assert {"demo__echo", "everything__echo", "time__get_current_time"} <= names, log
    code, out, log = run_json_cli(
        [*base, "--method", "tools/call", "--tool-name", "demo__echo", "--tool-arg", f"message=via {transport}",
         "--format", "json"], env=tool_env)
    assert code == 0, log
    assert out["result"]["content"] == [{"type": "text", "text": f"via {transport}"}], log


def test_paging_through_the_merged_resources(proxy):
    async def scenario():
        async with aggregate_client(proxy) as client:
            seen, cursor, pages = [], None, 0
            while True:
                page = await client.list_resources(cursor=cursor) if cursor else await client.list_resources()
                seen += [str(r.uri) for r in page.resources]
                pages += 1
                cursor = page.next_cursor
                if not cursor:
                    return seen, pages

    seen, pages = run(scenario(), timeout=120)
    assert len(seen) == len(set(seen)), "a resource came twice"
    assert pages == max(1, -(-len(seen) // 100)), (pages, len(seen))


def test_progress_and_server_requests_reach_only_their_own_session(proxy):
    recorders = [Recorder() for _ in range(3)]
    progress: dict[str, list[float]] = {r.token: [] for r in recorders}

    async def one(recorder: Recorder) -> tuple[str, str]:
        async def on_progress(value, _total, _message):
            progress[recorder.token].append(value)

        async with aggregate_client(proxy, **recorder.callbacks()) as client:
            sampled = await client.call_tool(
                "everything__trigger-sampling-request", {"prompt": f"prompt {recorder.token}"})
            elicited = await client.call_tool("everything__trigger-elicitation-request", {})
            await client.call_tool(
                "everything__trigger-long-running-operation", {"duration": 1, "steps": 3},
                progress_callback=on_progress)
            return " ".join(texts(sampled)), "\n".join(texts(elicited))

    async def scenario():
        return await asyncio.gather(*(one(r) for r in recorders))

    results = run(scenario(), timeout=180)
    for recorder, (sampled, elicited) in zip(recorders, results):
        assert [f"prompt {recorder.token}" in p.messages[0].content.text for p in recorder.sampling] == [True]
        assert f"sampled answer {recorder.token}" in sampled
        assert f"Ada {recorder.token}" in elicited
        assert progress[recorder.token] == [1.0, 2.0, 3.0]
        for other in recorders:
            if other is not recorder:
                assert other.token not in sampled and other.token not in elicited
