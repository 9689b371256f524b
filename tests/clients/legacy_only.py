#!/usr/bin/env python3
"""Runs a stdio MCP server as if it spoke only the session era: `server/discover` is
answered "Method not found" (as session-era servers such as server-everything answer it)
and never reaches the server; everything else passes through unchanged, both ways.

Usage: legacy_only.py COMMAND [ARGS...]. Used to put a full-featured fixture behind
Switchboard's era bridge (tests/clients/test_modern_conformance.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading


def main() -> int:
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    out_lock = threading.Lock()

    def write(line: bytes) -> None:
        with out_lock:
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()

    def pump_out() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            write(line)

    threading.Thread(target=pump_out, daemon=True).start()
    assert child.stdin is not None
    for line in sys.stdin.buffer:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if isinstance(message, dict) and message.get("method") == "server/discover" and "id" in message:
            answer = {"jsonrpc": "2.0", "id": message["id"],
                      "error": {"code": -32601, "message": "Method not found"}}
            write((json.dumps(answer) + "\n").encode())
            continue
        child.stdin.write(line)
        child.stdin.flush()
    child.stdin.close()
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
