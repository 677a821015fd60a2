"""python-snap7's S7 server on 127.0.0.1:PORT until SIGTERM (for tests/interop.rs)."""
import sys

from snap7.server import Server
from snap7.type import SrvArea

from _serve import until_sigterm

port = int(sys.argv[1])
server = Server(log=False)
db1 = bytearray(64)
db1[0] = 0x5A
server.register_area(SrvArea.DB, 1, db1)
server.start_to("127.0.0.1", port)
until_sigterm()
server.stop()
