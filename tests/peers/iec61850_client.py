"""libiec61850's client (pyiec61850-ng IedConnection) against 127.0.0.1:PORT: connect (CR,
CN+CP+AARQ with an MMS initiate-request), then release (an MMS conclude-request, then FN+RLRQ
once the conclude-response came), then wait until the connection is closed. No other MMS
service is used. Prints one JSON object per step; exit status 0 when connect and release
succeeded and the connection closed (for tests/interop.rs)."""
import json
import sys
import time

import pyiec61850.pyiec61850 as iec

port = int(sys.argv[1])


def report(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def first(result):
    """SWIG returns (value, error) for calls with an output argument, else the value."""
    return result[-1] if isinstance(result, (tuple, list)) else result


con = iec.IedConnection_create()
ok = False
try:
    err = first(iec.IedConnection_connect(con, "127.0.0.1", port))
    state = iec.IedConnection_getState(con)
    report("connect", error=err, state=state)
    if err == iec.IED_ERROR_OK and state == iec.IED_STATE_CONNECTED:
        err = first(iec.IedConnection_release(con))
        report("release", error=err)
        if err == iec.IED_ERROR_OK:
            # The FN+RLRQ / DN+RLRE exchange runs on the connection's thread: bounded wait
            # (100 x 50 ms) for the closed state.
            for _ in range(100):
                state = iec.IedConnection_getState(con)
                if state == iec.IED_STATE_CLOSED:
                    break
                time.sleep(0.05)
            report("closed", state=state, closed=state == iec.IED_STATE_CLOSED)
            ok = state == iec.IED_STATE_CLOSED
finally:
    iec.IedConnection_destroy(con)
sys.exit(0 if ok else 1)
