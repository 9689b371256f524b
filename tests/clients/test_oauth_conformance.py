"""(d) The official conformance suite's client authorization scenarios
(`@modelcontextprotocol/conformance`, `client --scenario auth/...`) against Switchboard's own
OAuth client: `oauth-conformance-client` (tests/src/bin) configures a remote server with
`auth.type: oauth` exactly as a gateway is configured and signs in with core's `oauth` code,
playing only the browser (it fetches the authorization URL and hands the redirect to
Switchboard's loopback listener).

Every scenario that applies to an authorization-code or client-credentials client runs, at
the wire version the suite gives it and, for the base suite, at 2026-07-28 as well. The
suite's verdict counts warnings as failures; so does this test: every check must be SUCCESS
or INFO, and the runner must exit 0.

Not run, because they are not the authorization-code or client-credentials grant:
- `auth/enterprise-managed-authorization` (an ID-JAG token exchange at an enterprise IdP);
- `auth/wif-jwt-bearer` (workload identity: the JWT-bearer grant);
- `auth/dpop`, `auth/dpop-nonce` (DPoP-bound tokens, an extension Switchboard does not use).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from _support import run_cli
from conftest import REPO, npm_tool

OK_STATUSES = {"SUCCESS", "INFO"}

# `--suite auth`: the 2025-11-25 tier.
BASE = [
    "auth/metadata-default",
    "auth/metadata-var1",
    "auth/metadata-var2",
    "auth/metadata-var3",
    "auth/basic-cimd",
    "auth/scope-from-www-authenticate",
    "auth/scope-from-scopes-supported",
    "auth/scope-omitted-when-undefined",
    "auth/scope-step-up",
    "auth/scope-retry-limit",
    "auth/token-endpoint-auth-basic",
    "auth/token-endpoint-auth-post",
    "auth/token-endpoint-auth-none",
    "auth/pre-registration",
]
# Servers of the 2025-03-26 revision (no protected resource metadata).
BACKCOMPAT = [
    "auth/2025-03-26-oauth-metadata-backcompat",
    "auth/2025-03-26-oauth-endpoint-fallback",
]
# Introduced by 2026-07-28; they always run on its stateless wire.
DRAFT = [
    "auth/resource-mismatch",
    "auth/offline-access-scope",
    "auth/offline-access-not-supported",
    "auth/authorization-server-migration",
    "auth/iss-supported",
    "auth/iss-not-advertised",
    "auth/iss-supported-missing",
    "auth/iss-wrong-issuer",
    "auth/iss-unexpected",
    "auth/iss-normalized",
    "auth/metadata-issuer-mismatch",
]
# The client-credentials extension (machine to machine).
CLIENT_CREDENTIALS = [
    "auth/client-credentials-basic",
    "auth/client-credentials-jwt",
]


def cases():
    for scenario in BASE:
        yield pytest.param(scenario, None, id=scenario)
        yield pytest.param(scenario, "2026-07-28", id=f"{scenario}@2026-07-28")
    for scenario in BACKCOMPAT + DRAFT + CLIENT_CREDENTIALS:
        yield pytest.param(scenario, None, id=scenario)


def client_binary() -> Path:
    explicit = os.environ.get("OAUTH_CONFORMANCE_CLIENT")
    if explicit:
        return Path(explicit).resolve()
    target = Path(os.environ.get("CARGO_TARGET_DIR") or "target")
    if not target.is_absolute():
        target = REPO / target
    return target / "debug" / "oauth-conformance-client"


@pytest.mark.parametrize(("scenario", "spec_version"), list(cases()))
def test_oauth_client_scenario(node, tool_env, tmp_path, scenario, spec_version):
    binary = client_binary()
    if not binary.exists():
        pytest.fail(f"{binary} is missing: cargo build -p switchboard-blackbox --bin oauth-conformance-client")
    cli = npm_tool("@modelcontextprotocol/conformance", "dist/index.js")
    out_dir = tmp_path / "results"
    argv = [str(node), str(cli), "client", "--command", str(binary), "--scenario", scenario,
            "--timeout", "30000", "-o", str(out_dir)]
    if spec_version:
        argv += ["--spec-version", spec_version]
    code, stdout, stderr = run_cli(argv, env=tool_env, timeout=120)
    log = f"$ {' '.join(argv)}\nexit {code}\nstdout:\n{stdout[-8000:]}\nstderr:\n{stderr[-4000:]}"
    files = sorted(out_dir.glob("**/checks.json"))
    assert len(files) == 1, f"expected one checks.json under {out_dir}, found {files}\n{log}"
    checks = json.loads(files[0].read_text())
    bad = [c for c in checks if c.get("status") not in OK_STATUSES]
    assert not bad, (f"{scenario}: {len(bad)} of {len(checks)} checks did not pass\n"
                     + "\n".join(f"  [{c.get('status')}] {c.get('id')}: {c.get('errorMessage') or c.get('description')}"
                                 for c in bad) + f"\n\n{log}")
    assert any(c.get("status") == "SUCCESS" for c in checks), f"{scenario}: no check succeeded\n{log}"
    assert code == 0, f"{scenario}: the conformance runner failed\n{log}"
