#!/usr/bin/env python3
"""Make testdata/golden/x400-ping-emitted.json (and x400-ping-emitted.pcap) with tshark.

Run by hand after `OSI_BLESS=1 cargo test --all-features --test x400_ping_emitted` wrote
x400-ping-emitted.frames.json (the octets osi-stack emits for the X.400 ping of the
captures: one accepted and one refused RTS open, see tests/x400_ping_emitted.rs):

    python3 testdata/golden/gen_x400_ping.py

Python 3 standard library and tshark only; tests read the committed JSON and never call
tshark.  Each connection becomes one TCP connection to port 102 (handshake, then every
transmit as one segment, in order) in x400-ping-emitted.pcap.  For every frame that carries
TPKT data the script records what tshark (default preferences, `-d tcp.port==102,tpkt`)
says: the protocol stack, whether it is malformed (`_ws.malformed`), every expert-information
entry with its severity, and the values of a fixed list of fields.
"""

import json
import os
import re
import struct
import subprocess
import xml.etree.ElementTree as ET

from gen_rtse import tcp_frame  # the Ethernet/IPv4/TCP frame writer of the other generators

HERE = os.path.dirname(os.path.abspath(__file__))
FRAMES = os.path.join(HERE, "x400-ping-emitted.frames.json")
PCAP = os.path.join(HERE, "x400-ping-emitted.pcap")
OUT = os.path.join(HERE, "x400-ping-emitted.json")
TSHARK = os.environ.get("TSHARK", "tshark")
TSHARK_ARGS = ["-n", "-d", "tcp.port==102,tpkt", "-T", "pdml"]

# Fields whose values the test compares with what the machines were given.
FIELDS = [
    "cotp.type", "cotp.src-tsap", "cotp.dst-tsap", "ses.type", "pres.abstract_syntax_name",
    "acse.aSO_context_name", "acse.result", "rtse.checkpointSize", "rtse.windowSize",
    "rtse.dialogueMode", "rtse.rtorq_apdu_element", "rtse.rtoac_apdu_element",
    "rtse.rtorj_apdu_element", "p1.authenticated.initiator-name", "p1.ia5_string",
]
# "[Expert Info (Warning/Undecoded): …]": the severity is the word after the parenthesis.
SEVERITY = re.compile(r"Expert Info \((\w+)/")


def write_pcap(connections):
    """One TCP connection per entry; returns [(name, frame number)] of the data frames."""
    client, server = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2])
    frames, data_frames = [], []
    for n, (name, transmits) in enumerate(connections):
        port = 30001 + n
        cs, ss = 1000, 5000
        frames.append(tcp_frame(client, server, port, 102, cs - 1, 0, 0x02, b""))
        frames.append(tcp_frame(server, client, 102, port, ss - 1, cs, 0x12, b""))
        frames.append(tcp_frame(client, server, port, 102, cs, ss, 0x10, b""))
        for t in transmits:
            data = bytes.fromhex(t["hex"])
            if t["from"] == "client":
                frames.append(tcp_frame(client, server, port, 102, cs, ss, 0x18, data))
                cs += len(data)
            else:
                frames.append(tcp_frame(server, client, 102, port, ss, cs, 0x18, data))
                ss += len(data)
            data_frames.append((name, len(frames)))
    with open(PCAP, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, n, len(fr), len(fr)) + fr)
    return data_frames


def verdicts(data_frames):
    pdml = subprocess.run([TSHARK, "-r", PCAP] + TSHARK_ARGS, capture_output=True,
                          check=True).stdout
    packets = ET.fromstring(pdml).findall("packet")
    out = {}
    for name, number in data_frames:
        packet = packets[number - 1]
        fields = {}
        expert = []
        malformed = False
        protocols = ""
        for f in packet.iter("field"):
            n = f.get("name", "")
            if n == "frame.protocols":
                protocols = f.get("show", "")
            if n == "_ws.malformed":
                malformed = True
            if n == "_ws.expert":
                text = f.get("showname", "")
                m = SEVERITY.search(text)
                expert.append({"text": text, "severity": m.group(1).lower() if m else "unknown"})
            if n in FIELDS:
                fields.setdefault(n, []).append(f.get("show", ""))
        for p in packet.iter("proto"):
            if p.get("name") == "_ws.malformed":
                malformed = True
        out.setdefault(name, []).append({"frame": number, "protocols": protocols,
                                         "malformed": malformed, "expert": expert,
                                         "fields": fields})
    return out


def main():
    with open(FRAMES) as f:
        emitted = json.load(f)
    connections = [(name, emitted[name]) for name in ("success", "refuse")]
    data_frames = write_pcap(connections)
    version = subprocess.run([TSHARK, "--version"], capture_output=True, text=True,
                             check=True).stdout.splitlines()[0].strip()
    golden = {
        "generator": "testdata/golden/gen_x400_ping.py",
        "tshark": verdicts(data_frames),
        "tshark_command": " ".join(["tshark", "-r", "x400-ping-emitted.pcap"] + TSHARK_ARGS),
        "tshark_version": version,
        "connections": dict(connections),
    }
    with open(OUT, "w") as f:
        json.dump(golden, f, indent=1, sort_keys=True)
        f.write("\n")
    os.remove(FRAMES)
    print("wrote", OUT, "and", PCAP)


if __name__ == "__main__":
    main()
