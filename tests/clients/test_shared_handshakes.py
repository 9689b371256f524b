"""(d) A shared server gives each session the answer it would get alone.

`server-everything` lists its sampling, elicitation and roots tools only to a client that
declared those capabilities. With `"sharing": "shared"`, the proxy used to replay the first
session's `initialize` to every later one, so a capable client that came second saw the
first client's (smaller) tool list. Sessions are now grouped by protocol version and
declared capabilities, one shared child per group.
"""

from __future__ import annotations

import pytest

from _support import http_client, run
from test_everything import CAPABILITY_GATED, Recorder


@pytest.fixture
def shared_everything(proxy_factory):
    return proxy_factory({"everything": {"sharing": "shared"}})


def test_a_capable_client_after_a_plain_one_gets_its_own_tools(shared_everything):
    async def scenario():
        async with http_client(shared_everything, "everything") as plain:
            plain_tools = {t.name for t in (await plain.list_tools()).tools}
            async with http_client(shared_everything, "everything", **Recorder().callbacks()) as capable:
                capable_tools = {t.name for t in (await capable.list_tools()).tools}
                # Both groups run side by side.
                children = shared_everything.server_status("everything").get("pids", [])
                # A second plain client joins the first group's child.
                async with http_client(shared_everything, "everything") as plain_again:
                    again = {t.name for t in (await plain_again.list_tools()).tools}
                    later = shared_everything.server_status("everything").get("pids", [])
        return plain_tools, capable_tools, again, children, later

    plain_tools, capable_tools, again, children, later = run(scenario())
    assert not CAPABILITY_GATED & plain_tools, plain_tools
    assert CAPABILITY_GATED <= capable_tools, capable_tools
    assert again == plain_tools
    assert len(children) == 2, children
    assert sorted(later) == sorted(children), (children, later)


def test_a_capable_clients_sampling_goes_to_it_on_its_own_child(shared_everything):
    recorder = Recorder()

    async def scenario():
        async with http_client(shared_everything, "everything") as plain:
            await plain.list_tools()
            async with http_client(shared_everything, "everything", **recorder.callbacks()) as capable:
                result = await capable.call_tool("trigger-sampling-request", {"prompt": "hi", "maxTokens": 5})
                assert not result.is_error, result

    run(scenario())
    assert len(recorder.sampling) == 1
