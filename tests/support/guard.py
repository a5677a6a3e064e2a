#!/usr/bin/env python3
"""Runs a command until this process's stdin closes, then stops it.

The Rust test support starts services (moto, the SMTP server) through this guard and keeps the pipe
to its stdin open; when the test process ends for any reason, the pipe closes and the service stops,
so no test run leaves a server behind.

Usage: guard.py COMMAND [ARGS...]
"""
import os
import signal
import subprocess
import sys


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: guard.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, KeyboardInterrupt):
        pass
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    return 0


if __name__ == "__main__":
    os.setpgrp() if hasattr(os, "setpgrp") else None
    sys.exit(main())
