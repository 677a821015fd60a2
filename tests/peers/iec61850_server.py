"""libiec61850's MMS server (pyiec61850-ng) on 127.0.0.1:PORT until SIGTERM, with a one-LN model
(for tests/interop.rs)."""
import sys

import pyiec61850.pyiec61850 as iec

from _serve import until_sigterm

port = int(sys.argv[1])
model = iec.IedModel_create("OSI")
device = iec.LogicalDevice_create("STACK", model)
lln0 = iec.LogicalNode_create("LLN0", device)
iec.CDC_ENS_create("Mod", iec.toModelNode(lln0), 0)
server = iec.IedServer_create(model)
iec.IedServer_setLocalIpAddress(server, "127.0.0.1")
iec.IedServer_start(server, port)
if not iec.IedServer_isRunning(server):
    sys.exit("libiec61850 server did not start")
until_sigterm()
iec.IedServer_stop(server)
iec.IedServer_destroy(server)
iec.IedModel_destroy(model)
