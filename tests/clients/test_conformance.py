"""(c) The official conformance suite (`@modelcontextprotocol/conformance`, server scenarios,
spec 2025-11-25) run against servers *behind the proxy*:

- `demo`: the built-in demo server;
- `everything`: `@modelcontextprotocol/server-everything` (stdio), the reference server;
- `conformance`: conformance_fixture.py, a stdio server with the suite's fixture tools
  (`test_reconnection`, `test_tool_with_progress`, `test_sampling`, ...).

Every check in checks.json must be SUCCESS (or INFO). A scenario that fails because of a known
proxy deviation is marked xfail(strict=True, raises=KnownDeviation) with the failing check ids:
it xfails only if exactly (a subset of) those checks fail, and turns into a failure (XPASS
strict) once the proxy is fixed, so the marker gets removed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _support import run_cli
from conftest import npm_tool

SPEC_VERSION = "2025-11-25"
OK_STATUSES = {"SUCCESS", "INFO"}
SERVERS = ["demo", "everything", "conformance"]

TRANSPORT_SCENARIOS = [
    "server-initialize",
    "server-session-lifecycle",
    "ping",
    "tools-list",
    "server-sse-multiple-streams",
]
FIXTURE_SCENARIOS = [
    "tools-call-simple-text",
    "tools-call-image",
    "tools-call-audio",
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    "tools-call-error",
    "tools-call-with-progress",
    "tools-call-with-logging",
    "tools-call-sampling",
    "tools-call-elicitation",
]


class KnownDeviation(AssertionError):
    """Exactly the checks listed as a known proxy deviation failed."""


def known(check_ids: set[str], reason: str, condition: bool = True) -> dict:
    return {"known": frozenset(check_ids),
            "marks": pytest.mark.xfail(condition, strict=True, raises=KnownDeviation, reason=reason)}


def cases():
    def case(server: str, scenario: str, spec: dict | None = None):
        spec = spec or {}
        return pytest.param(server, scenario, spec.get("known", frozenset()),
                            marks=spec.get("marks", ()), id=f"{scenario}@{server}")

    for scenario in TRANSPORT_SCENARIOS:
        for server in SERVERS:
            yield case(server, scenario)
    yield case("conformance", "server-sse-polling")
    yield case("everything", "logging-set-level")
    yield case("conformance", "logging-set-level")
    for scenario in FIXTURE_SCENARIOS:
        yield case("conformance", scenario)
    yield case("demo", "dns-rebinding-protection")


@pytest.fixture
def proxy(proxy_factory):
    # The conformance CLI cannot send an API key header, so this proxy runs without key checks
    # (`--insecure-no-auth`); the Host/Origin guard still applies.
    return proxy_factory(SERVERS, auth=False)


def run_scenario(node: Path, url: str, scenario: str, out_dir: Path, env: dict[str, str]) -> tuple[list, str]:
    cli = npm_tool("@modelcontextprotocol/conformance", "dist/index.js")
    argv = [str(node), str(cli), "server", "--url", url, "--scenario", scenario,
            "--spec-version", SPEC_VERSION, "--timeout", "60000", "-o", str(out_dir)]
    code, stdout, stderr = run_cli(argv, env=env, timeout=150)
    log = f"$ {' '.join(argv)}\nexit {code}\nstdout:\n{stdout[-6000:]}\nstderr:\n{stderr[-3000:]}"
    files = sorted(out_dir.glob("*/checks.json"))
    assert len(files) == 1, f"expected one checks.json under {out_dir}, found {files}\n{log}"
    return json.loads(files[0].read_text()), log


def describe(check: dict) -> str:
    details = json.dumps(check.get("details"), ensure_ascii=False)
    if len(details) > 1500:
        details = details[:1500] + "…"
    return (f"  [{check.get('status')}] {check.get('id')}: {check.get('description')}\n"
            f"      error: {check.get('errorMessage')}\n      details: {details}")


@pytest.mark.parametrize(("server", "scenario", "known_failures"), list(cases()))
def test_conformance_scenario(proxy, node, tool_env, tmp_path, server, scenario, known_failures):
    checks, log = run_scenario(node, proxy.mcp_url(server), scenario, tmp_path / "results", tool_env)
    assert checks, f"{scenario}: checks.json is empty\n{log}"
    bad = [check for check in checks if check.get("status") not in OK_STATUSES]
    if not bad:
        assert any(check.get("status") == "SUCCESS" for check in checks), (
            f"{scenario}: no check succeeded (only INFO)\n" + "\n".join(map(describe, checks)))
        return
    report = (f"{scenario} against {proxy.mcp_url(server)}: {len(bad)} of {len(checks)} checks did not pass\n"
              + "\n".join(map(describe, bad)))
    if known_failures and {check.get("id") for check in bad} <= known_failures:
        raise KnownDeviation(report)
    pytest.fail(report + f"\n\n{log}")


# The same scenarios through the aggregate endpoint `/mcp`. The suite expects the fixture's
# own tool names (`test_simple_text`, ...), so its only server is the conformance fixture with
# an empty `prefix`: the aggregate then exposes the names unchanged, and everything else
# (sessions, streams, progress, logging, sampling, elicitation) takes the aggregate's path.
AGGREGATE_SCENARIOS = TRANSPORT_SCENARIOS + ["server-sse-polling", "logging-set-level"] + FIXTURE_SCENARIOS


@pytest.mark.parametrize("scenario", AGGREGATE_SCENARIOS)
def test_conformance_scenario_through_the_aggregate(proxy_factory, node, tool_env, tmp_path, scenario):
    proxy = proxy_factory({"conformance": {"prefix": ""}}, auth=False)
    url = f"{proxy.base_url}/mcp"
    checks, log = run_scenario(node, url, scenario, tmp_path / "results", tool_env)
    assert checks, f"{scenario}: checks.json is empty\n{log}"
    bad = [check for check in checks if check.get("status") not in OK_STATUSES]
    assert not bad, (f"{scenario} against {url}: {len(bad)} of {len(checks)} checks did not pass\n"
                     + "\n".join(map(describe, bad)) + f"\n\n{log}")
