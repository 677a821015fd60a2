"""python-snap7's S7 server on 127.0.0.1:PORT until SIGTERM (for tests/interop.rs)."""
import signal
import sys
import time

from snap7.server import Server
from snap7.type import SrvArea

port = int(sys.argv[1])
server = Server(log=False)
db1 = bytearray(64)
db1[0] = 0x5A
server.register_area(SrvArea.DB, 1, db1)
server.start_to("127.0.0.1", port)
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
print("listening", flush=True)
while running:
    time.sleep(0.1)
server.stop()
