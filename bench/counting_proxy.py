#!/usr/bin/env python3
"""The tests' fault proxy (tests/support/fault_proxy.py), used here only to count requests, with its
replies written in one piece: unbuffered, it sends headers and body as two small writes, and a
sequential client then waits on Nagle's algorithm and delayed ACKs (about 40 ms a call), which would
measure the proxy rather than the client.

Usage: same as fault_proxy.py.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "support"))
import fault_proxy  # noqa: E402

fault_proxy.Handler.wbufsize = 1 << 16

if __name__ == "__main__":
    sys.exit(fault_proxy.main())
