"""python-snap7's S7 server on 127.0.0.1:PORT until SIGTERM, answering only CRs whose called
TSAP is TSAP (hex, e.g. 0102 for a PG connection to rack 0 slot 2), as a CPU does for its own
rack and slot (for tests/probe.rs).

python-snap7 3.3 itself accepts every TSAP; this script wraps its CR parser so that a CR with
another called TSAP (or none) is refused: the server then closes the connection without a CC,
which is what the probe must report as a transport refusal."""
import sys

from snap7.server import Server, ServerISOConnection
from snap7.type import SrvArea

from _serve import until_sigterm

port = int(sys.argv[1])
wanted = bytes.fromhex(sys.argv[2])
parse_cr = ServerISOConnection._parse_cotp_cr


def parse_cr_checking_tsap(self, data):
    if not parse_cr(self, data):
        return False
    return self.called_tsap == wanted


ServerISOConnection._parse_cotp_cr = parse_cr_checking_tsap
server = Server(log=False)
db1 = bytearray(64)
server.register_area(SrvArea.DB, 1, db1)
server.start_to("127.0.0.1", port)
until_sigterm()
server.stop()
