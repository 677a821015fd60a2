"""libiec61850's client (pyiec61850-ng IedConnection) against 127.0.0.1:PORT: connect (CR,
CN+CP+AARQ with an MMS initiate-request), then release (an MMS conclude-request, then FN+RLRQ
once the conclude-response came, DN+RLRE), until the connection is closed. No other MMS service
is used. Prints one JSON object per step; exit status 0 when connect and release succeeded and
the connection closed (for tests/interop.rs).

A race in libiec61850 1.6 (MmsConnection_connectAsync marks the MMS connection "connecting"
after its connection thread has started): when the peer completes the association before the
calling thread gets there, "connected" is overwritten, IedConnection_connect still reports
success, and the release fails at once with "connection lost" (3) without sending anything. The
script reports that as a `race` step and tries again on a new connection, at most 5 times
(under heavy CPU load about one attempt in four hits the race).
(`IedConnection_createEx(None, False)`, which would avoid the thread, is refused by the Python
binding: "TLSConfiguration is NULL".)"""
import json
import sys
import time

import pyiec61850.pyiec61850 as iec

port = int(sys.argv[1])


def report(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def error_of(result):
    """SWIG returns the IedClientError output argument last (alone, or after the value)."""
    return result[-1] if isinstance(result, (tuple, list)) else result


def attempt(n):
    """One connection: True (released and closed), False (failed), None (the race: retry)."""
    con = iec.IedConnection_create()
    try:
        err = error_of(iec.IedConnection_connect(con, "127.0.0.1", port))
        state = iec.IedConnection_getState(con)
        report("connect", attempt=n, error=err, state=state)
        if err != iec.IED_ERROR_OK or state != iec.IED_STATE_CONNECTED:
            return False
        err = error_of(iec.IedConnection_release(con))
        if err == iec.IED_ERROR_CONNECTION_LOST:
            report("race", attempt=n, error=err)
            return None
        report("release", attempt=n, error=err)
        if err != iec.IED_ERROR_OK:
            return False
        # The FN+RLRQ / DN+RLRE exchange runs on the connection's thread: bounded wait
        # (200 x 50 ms) for the closed state.
        for _ in range(200):
            state = iec.IedConnection_getState(con)
            if state == iec.IED_STATE_CLOSED:
                break
            time.sleep(0.05)
        report("closed", attempt=n, state=state, closed=state == iec.IED_STATE_CLOSED)
        return state == iec.IED_STATE_CLOSED
    finally:
        iec.IedConnection_destroy(con)


ok = False
for n in range(1, 6):
    result = attempt(n)
    if result is not None:
        ok = result
        break
sys.exit(0 if ok else 1)
