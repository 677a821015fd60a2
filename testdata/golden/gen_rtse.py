#!/usr/bin/env python3
"""Generate testdata/golden/rtse.json (and rtse-handbuilt.pcap) with tshark.

Run by hand, once, from anywhere:   python3 testdata/golden/gen_rtse.py
Tests read the committed files and never call tshark.  Python 3 standard library only.

Inputs:
  * the three X.400 captures testdata/captures/x400-rtse__wswiki__*.pcap;
  * rtse-handbuilt.pcap, written by this script: synthetic TCP connections (port 102) whose
    OSI PDUs are built below byte by byte, so that every RTSE APDU type and field, and the
    X.410-1984-mode PPDUs, which no capture holds, are dissected by tshark too.

For every input it runs

    tshark -n -r FILE -T json -x --no-duplicate-keys

and collects every RTSE APDU tshark dissects: each `rtse` layer that holds an APDU (its
`rtse_raw` bytes are the APDU), and each X.410-1984-mode parameter set inside a `pres` layer
(`pres.x410_mode_parameters_element` of CP/CPA, `pres.x400_mode_parameters_element` of
CPR/ARU; their raw bytes are the SET's components).  The field values tshark shows are
recorded as `expect` (see testdata/golden/README.md for the keys).  Expert warnings or
malformed marks tshark raises inside those layers are recorded as `tshark_problems`.

The output is deterministic: inputs in a fixed order, frames in capture order, sorted keys.
"""

import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.dirname(HERE)
CAPTURES = os.path.join(TESTDATA, "captures")
HANDBUILT = os.path.join(HERE, "rtse-handbuilt.pcap")
OUT = os.path.join(HERE, "rtse.json")

TSHARK = os.environ.get("TSHARK", "tshark")
TSHARK_ARGS = ["-n", "-T", "json", "-x", "--no-duplicate-keys"]

CAPTURE_FILES = [
    "x400-rtse__wswiki__p772-transfer-success.pcap",
    "x400-rtse__wswiki__x400-ping-refuse.pcap",
    "x400-rtse__wswiki__x400-ping-success.pcap",
]


# --------------------------------------------------------------------------- BER / OSI builders

def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + length + content


def pi(code, value):
    assert len(value) < 255
    return bytes([code, len(value)]) + value


def spdu(si, params):
    body = b"".join(params)
    assert len(body) < 255
    return bytes([si, len(body)]) + body


def dt_tpkt(tsdu):
    payload = b"\x02\xf0\x80" + tsdu
    return struct.pack("!BBH", 3, 0, 4 + len(payload)) + payload


CR = bytes.fromhex("0300001611e00000000100c0010ac102000 1c2020001".replace(" ", ""))
CC = bytes.fromhex("0300001611d00001000100c0010ac102000 1c2020001".replace(" ", ""))
BER = tlv(0x06, bytes.fromhex("5101"))                 # 2.1.1
ACSE_AS = bytes.fromhex("52010001")                    # 2.2.1.0.1
MTA_RTSE_AS = bytes.fromhex("5600020c")                # 2.6.0.2.12 id-as-mta-rtse
MTSE_AS = bytes.fromhex("56000207")                    # 2.6.0.2.7 id-as-mtse
MTS_TRANSFER_AC = bytes.fromhex("56000106")            # 2.6.0.1.6


def context(ident, abstract):
    return tlv(0x30, tlv(0x02, bytes([ident])) + tlv(0x06, abstract) + tlv(0x30, BER))


CONTEXTS = tlv(0xA4, context(1, ACSE_AS) + context(3, MTA_RTSE_AS) + context(5, MTSE_AS))


def pdv(ctx, value):
    return tlv(0x30, tlv(0x02, bytes([ctx])) + tlv(0xA0, value))


def fully(*pdvs):
    return tlv(0x61, b"".join(pdvs))


def external(ctx, value):
    return tlv(0x28, BER + tlv(0x02, bytes([ctx])) + tlv(0xA0, value))


AC_NAME = tlv(0xA1, tlv(0x06, MTS_TRANSFER_AC))


def aarq(rtse):
    return tlv(0x60, AC_NAME + tlv(0xBE, external(3, rtse)))


def aare(result, rtse):
    diag = tlv(0xA3, tlv(0xA1, tlv(0x02, b"\x00")))
    return tlv(0x61, AC_NAME + tlv(0xA2, tlv(0x02, bytes([result]))) + diag
               + tlv(0xBE, external(3, rtse)))


def abrt(rtse):
    return tlv(0x64, tlv(0x80, b"\x00") + tlv(0xBE, external(3, rtse)))


CONNECT_ITEM = pi(5, pi(19, b"\x00") + pi(22, b"\x02"))
REQUIREMENTS = pi(20, b"\x02\x49")        # half-duplex, minor sync, activity mgmt, exceptions


def cn(ud):
    return spdu(0x0D, [CONNECT_ITEM, REQUIREMENTS, pi(193, ud)])


def ac(ud):
    return spdu(0x0E, [CONNECT_ITEM, REQUIREMENTS, pi(193, ud)])


def rf(ud):
    return spdu(0x0C, [REQUIREMENTS, bytes([50, 1 + len(ud), 2]) + ud])


def ab(ud):
    return spdu(0x19, [pi(17, b"\x03"), pi(193, ud)])


def pt(ud):
    return spdu(0x02, [pi(193, ud)])


def gt_dt(ud):
    return b"\x01\x00" + b"\x01\x00" + ud


def normal_cp(rtorq):
    return tlv(0x31, tlv(0xA0, tlv(0x80, b"\x01"))
               + tlv(0xA2, CONTEXTS + fully(pdv(1, aarq(rtorq)))))


NULL = tlv(0x05, b"")
# Normal mode: every APDU type and every field.
RTORQ_RECOVER = tlv(0xB0, tlv(0x80, b"\x1e") + tlv(0x81, b"\x05") + tlv(0x82, b"\x01")
                    + tlv(0xA3, tlv(0xA1, tlv(0x04, b"\x01\x02\x03")
                                     + tlv(0x17, b"051001145108Z") + tlv(0x80, b"extra"))))
RTOAC_OPEN = tlv(0xB1, tlv(0x81, b"\x02") + tlv(0xA2, tlv(0xA0, NULL)))
RTTP = tlv(0x02, b"\x05")
RTTR = tlv(0x04, b"hello rtse")
RTAB = tlv(0xB6, tlv(0x80, b"\x06") + tlv(0x81, b"\x07\x80") + tlv(0xA2, NULL))
RTORJ = tlv(0xB2, tlv(0x80, b"\x00") + tlv(0xA1, NULL))
RTORQ_T61 = tlv(0xB0, tlv(0x84, b"\x0c")
                + tlv(0xA3, tlv(0xA1, tlv(0x14, b"MTA") + tlv(0x17, b"991231235959Z"))))
# X.410-1984 mode (X.226 §8.2): the PPDUs carry RTSE components.
X_RTORQ = (tlv(0x80, b"\x1e") + tlv(0x81, b"\x05") + tlv(0xA3, tlv(0xA0, NULL))
           + tlv(0x84, b"\x01"))
X_RTORQ_P9 = (tlv(0x80, b"\x1e") + tlv(0x81, b"\x05") + tlv(0xA3, tlv(0x80, b""))
              + tlv(0x84, b"\x01"))                     # spec/presentation-acse.md P9
X_RTOAC = tlv(0x80, b"\x1e") + tlv(0xA2, tlv(0xA0, NULL))
X_RTAB = tlv(0x80, b"\x01") + tlv(0x81, b"\x07\x80")
X_RTORJ = tlv(0x80, b"\x02")


def x410_cp(components):
    return tlv(0x31, tlv(0xA0, tlv(0x80, b"\x00")) + tlv(0xA1, components))


def x410_cpa(components):
    return tlv(0x31, tlv(0xA0, tlv(0x80, b"\x00")) + tlv(0xA1, components))


def handbuilt_connections():
    """(description, [(from_client, tpkt bytes)]) per synthetic TCP connection."""
    normal_accept = [
        (True, CR), (False, CC),
        (True, dt_tpkt(cn(normal_cp(RTORQ_RECOVER)))),
        (False, dt_tpkt(ac(tlv(0x31, tlv(0xA0, tlv(0x80, b"\x01"))
                                + tlv(0xA2, fully(pdv(1, aare(0, RTOAC_OPEN)))))))),
        (True, dt_tpkt(pt(fully(pdv(3, RTTP))))),
        (True, dt_tpkt(gt_dt(fully(pdv(3, RTTR))))),
        (False, dt_tpkt(ab(tlv(0xA0, fully(pdv(1, abrt(RTAB))))))),
    ]
    normal_refuse = [
        (True, CR), (False, CC),
        (True, dt_tpkt(cn(normal_cp(RTORQ_T61)))),
        (False, dt_tpkt(rf(tlv(0x30, fully(pdv(1, aare(1, RTORJ))))))),
    ]
    x410_accept = [
        (True, CR), (False, CC),
        (True, dt_tpkt(cn(x410_cp(X_RTORQ)))),
        (False, dt_tpkt(ac(x410_cpa(X_RTOAC)))),
        (True, dt_tpkt(pt(RTTP))),                       # X.410 Priority, unwrapped
        (True, dt_tpkt(gt_dt(b"raw segment"))),          # X.410 S-DATA: raw segment
        (False, dt_tpkt(ab(tlv(0x31, X_RTAB)))),
    ]
    x410_refuse = [
        (True, CR), (False, CC),
        (True, dt_tpkt(cn(x410_cp(X_RTORQ_P9)))),
        (False, dt_tpkt(rf(tlv(0x31, X_RTORJ)))),
    ]
    return [
        ("normal mode: RTORQ recover (octet string reference), RTOAC, RTTP in PT, RTTR in "
         "P-DATA, RTAB in ABRT of an ARU", normal_accept),
        ("normal mode: RTORQ with applicationProtocol and a T61String reference, RTORJ with "
         "refuseReason in a rejecting AARE", normal_refuse),
        ("X.410-1984 mode: CP, CPA, unwrapped Priority in PT, raw S-DATA segment, ARU",
         x410_accept),
        ("X.410-1984 mode: CP with open = [0] IMPLICIT NULL (spec P9), CPR", x410_refuse),
    ]


def csum(b):
    if len(b) % 2:
        b += b"\0"
    x = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    x = (x >> 16) + (x & 0xFFFF)
    x += x >> 16
    return ~x & 0xFFFF


def tcp_frame(src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    return b"\0\0\0\0\0\1" + b"\0\0\0\0\0\2" + b"\x08\x00" + ip + tcp


def write_handbuilt(path):
    client, server = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2])
    frames = []
    for n, (_, msgs) in enumerate(handbuilt_connections()):
        port = 20001 + n
        cs, ss = 100, 500
        frames.append(tcp_frame(client, server, port, 102, cs - 1, 0, 0x02, b""))
        frames.append(tcp_frame(server, client, 102, port, ss - 1, cs, 0x12, b""))
        frames.append(tcp_frame(client, server, port, 102, cs, ss, 0x10, b""))
        for from_client, data in msgs:
            if from_client:
                frames.append(tcp_frame(client, server, port, 102, cs, ss, 0x18, data))
                cs += len(data)
            else:
                frames.append(tcp_frame(server, client, 102, port, ss, cs, 0x18, data))
                ss += len(data)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, n, len(fr), len(fr)) + fr)


# --------------------------------------------------------------------------- tshark JSON

def tshark_version():
    out = subprocess.run([TSHARK, "--version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].strip()


def tshark_json(path):
    out = subprocess.run([TSHARK, "-r", path] + TSHARK_ARGS, capture_output=True, check=True).stdout
    return json.loads(out)


def as_list(v):
    """With --no-duplicate-keys a repeated layer is a list of its occurrences."""
    return v if isinstance(v, list) and v and not isinstance(v[0], str) else [v]


def find(tree, key):
    """First value of `key` anywhere in `tree` (depth first, in order)."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == key:
                return v
            r = find(v, key)
            if r is not None:
                return r
    elif isinstance(tree, list):
        for v in tree:
            r = find(v, key)
            if r is not None:
                return r
    return None


def raw_hex(tree, key):
    v = find(tree, key + "_raw")
    if v is None:
        return None
    if isinstance(v, list) and v and isinstance(v[0], list):
        v = v[0]
    return v[0]


def problems(tree):
    out = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == "_ws.expert.message":
                out.append(v)
            elif k == "_ws.malformed":
                out.append("malformed: " + str(v))
            else:
                out.extend(problems(v))
    elif isinstance(tree, list):
        for v in tree:
            out.extend(problems(v))
    return out


APDU_KEYS = [
    ("rtse.rtorq_apdu_element", "RTORQ"),
    ("rtse.rtoac_apdu_element", "RTOAC"),
    ("rtse.rtorj_apdu_element", "RTORJ"),
    ("rtse.rtab_apdu_element", "RTAB"),
    ("rtse.rttp_apdu", "RTTP"),
    ("rtse.segment", "RTTR"),
]


def fields(tree, kind):
    """The `expect` object: tshark's values for one APDU (or X.410 parameter set)."""
    e = {"type": kind}
    for key, name in [("rtse.checkpointSize", "checkpoint_size"), ("rtse.windowSize", "window_size"),
                      ("rtse.dialogueMode", "dialogue_mode"),
                      ("rtse.applicationProtocol", "application_protocol"),
                      ("rtse.refuseReason", "refuse_reason"), ("rtse.abortReason", "abort_reason"),
                      ("rtse.rttp_apdu", "priority")]:
        v = find(tree, key)
        if v is not None:
            e[name] = int(v)
    for key in ("rtse.connectionDataRQ", "rtse.connectionDataAC"):
        v = find(tree, key)
        if v is not None:
            e["connection_data"] = {"0": "open", "1": "recover"}[v]
            if v == "0":
                e["open"] = raw_hex(tree, key)
            else:
                for t in ("t61String", "octetString"):
                    h = raw_hex(tree, "rtse." + t)
                    if h is not None:
                        e["calling_ss_user_reference"] = {"type": t, "value": h}
                e["common_reference"] = raw_hex(tree, "rtse.commonReference")
                h = raw_hex(tree, "rtse.additionalReferenceInformation")
                if h is not None:
                    e["additional_reference_information"] = h
    h = raw_hex(tree, "rtse.reflectedParameter")
    if h is not None:
        e["reflected_parameter"] = {"unused_bits": int(find(tree, "ber.bitstring.padding") or 0),
                                    "data": h}
    if kind == "RTTR":
        e["data"] = raw_hex(tree, "rtse.segment")
    return e


def collect(source, packets):
    vectors = []
    for pkt in packets:
        layers = pkt["_source"]["layers"]
        frame = int(layers["frame"]["frame.number"])
        raws = as_list(layers.get("rtse_raw", []))
        trees = as_list(layers.get("rtse", []))
        for raw, tree in zip(raws, trees):
            kind = next((k for key, k in APDU_KEYS if find(tree, key) is not None), None)
            if kind is None:
                continue            # the reassembled EXTERNAL of a transfer, not an APDU
            e = fields(tree, kind)
            if kind == "RTORJ":
                # tshark hands userDataRJ to ROS/P1: the ROS layer's bytes are the value.
                ros = layers.get("ros_raw")
                if ros and ros[0] and ros[0] in raw[0]:
                    e["user_data"] = ros[0]
            v = {"source": source, "frame": frame, "apdu": raw[0], "expect": e}
            p = problems(tree)
            if p:
                v["tshark_problems"] = p
            vectors.append(v)
        for pres in as_list(layers.get("pres", [])):
            for key, kinds in [("pres.x410_mode_parameters_element", {"pres.cptype": "RTORQ",
                                                                       "pres.cpapdu": "RTOAC"}),
                               ("pres.x400_mode_parameters_element", {"pres.cprtype": "RTORJ",
                                                                      "pres.aborttype": "RTAB"})]:
                tree = find(pres, key)
                if tree is None:
                    continue
                kind = next(k for ppdu, k in kinds.items() if ppdu in pres)
                v = {"source": source, "frame": frame, "x410_components": raw_hex(pres, key),
                     "expect": fields(tree, kind)}
                p = problems(pres)
                if p:
                    v["tshark_problems"] = p
                vectors.append(v)
    return vectors


def main():
    write_handbuilt(HANDBUILT)
    vectors = []
    for name in CAPTURE_FILES:
        vectors += collect(name, tshark_json(os.path.join(CAPTURES, name)))
    vectors += collect("rtse-handbuilt.pcap", tshark_json(HANDBUILT))
    counts = {}
    for v in vectors:
        c = counts.setdefault(v["source"], {})
        c[v["expect"]["type"]] = c.get(v["expect"]["type"], 0) + 1
    out = {
        "generator": "testdata/golden/gen_rtse.py",
        "tshark": tshark_version(),
        "tshark_command": "tshark -n -r FILE " + " ".join(TSHARK_ARGS),
        "handbuilt_connections": [d for d, _ in handbuilt_connections()],
        "counts": counts,
        "vectors": vectors,
    }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print("rtse vectors:", json.dumps(counts, sort_keys=True), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
