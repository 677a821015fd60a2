"""Shared by the peer scripts: announce readiness, then wait until SIGTERM."""
import signal
import time


def until_sigterm():
    """Blocks until SIGTERM, or until the test kills the process by PID."""
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    print("listening", flush=True)
    while not stopped:
        time.sleep(0.1)
