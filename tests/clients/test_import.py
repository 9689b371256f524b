"""Issue 12: servers configured in another client run behind Switchboard after an import.
A Claude Desktop config (in a fake home) names the demo server and
`@modelcontextprotocol/server-everything`, with a plaintext token in one server's env;
`switchboard import --from claude-desktop` brings them in, and the official Python SDK then
calls both through Switchboard."""

from __future__ import annotations

import json
import os
import subprocess

from _support import http_client, run, texts
from conftest import server_catalog, switchboard_binary


def test_imported_claude_desktop_servers_run_behind_switchboard(proxy_factory, tmp_path):
    home = tmp_path / "home"
    claude = home / ".config" / "Claude"
    claude.mkdir(parents=True)
    catalog = server_catalog()
    desktop = {
        "mcpServers": {
            "demo": dict(catalog["demo"]),
            "everything": dict(catalog["everything"], env={"LOG_LEVEL": "info"}),
        },
        "globalShortcut": "Ctrl+Space",
    }
    (claude / "claude_desktop_config.json").write_text(json.dumps(desktop, indent=2))
    config = tmp_path / "switchboard.json"
    config.write_text('{"mcpServers": {}}')
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent/bus")
    done = subprocess.run([str(switchboard_binary()), "import", "--from", "claude-desktop", "--yes", "--config", str(config)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    imported = json.loads(config.read_text())["mcpServers"]
    assert set(imported) == {"demo", "everything"}, imported
    assert imported["everything"]["env"] == {"LOG_LEVEL": "info"}

    proxy = proxy_factory(imported)

    async def scenario():
        async with http_client(proxy, "demo") as demo:
            a = await demo.call_tool("echo", {"message": "imported demo"})
        async with http_client(proxy, "everything") as everything:
            b = await everything.call_tool("echo", {"message": "imported everything"})
        return " ".join(texts(a)), " ".join(texts(b))

    demo, everything = run(scenario(), timeout=120)
    assert "imported demo" in demo
    assert "imported everything" in everything
