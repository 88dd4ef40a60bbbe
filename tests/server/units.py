"""Time in server tests: one bound for waits that must end, one small unit for timers under test.

Nothing sleeps hoping something happened: tests wait for a condition and fail after ``T`` seconds. Timers
being tested (keepalive, close and handshake timeouts) run in multiples of ``UNIT``. Both scale with
environment variables on a slow machine.
"""

from __future__ import annotations

import os

__all__ = ["UNIT", "T"]

#: Upper bound on any single wait (seconds); only a broken server ever reaches it.
T = float(os.environ.get("LIVEWS_TEST_TIMEOUT", "10"))
#: Base unit of the timers a test configures (seconds).
UNIT = float(os.environ.get("LIVEWS_TEST_UNIT", "0.05"))
