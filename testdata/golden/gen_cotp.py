#!/usr/bin/env python3
"""Generate testdata/golden/cotp.json and testdata/golden/frames.json with tshark.

Run by hand, once, from anywhere:   python3 testdata/golden/gen_cotp.py
Tests read the committed JSON and never call tshark.  Python 3 standard library only.

For every capture in testdata/captures/ and every *.pcap in testdata/transcripts/ it runs

    tshark -n -r FILE -T json -x

(default preferences: TCP and COTP reassembly on) and walks the layers of each frame in
order.  Every `tpkt` layer that carries a version/length starts one TPKT; the `cotp` layer
that follows it (if any) belongs to it.  The bytes of the whole TPKT are taken from the data
source its `tpkt_raw` position refers to: the frame itself, or the reassembled TCP buffer
(`tcp.reassembled.data`) when tshark reassembled the TPKT across TCP segments.  A data source
is accepted only if both the 4-octet TPKT header and the COTP header (`cotp_raw`) are found at
the positions tshark gives.

cotp.json: one vector per distinct COTP "shape" (see testdata/golden/README.md), with the
field values tshark shows.  frames.json: per-file / per-direction counts at the TPKT/COTP
(and session SPDU type) level, the SPDU identifiers of each direction in order
(`ses_sequence`), plus malformed/expert-error frames.

Every vector is then checked again: its bytes alone are wrapped in a synthetic TCP
connection (port 102, or 3389 for RDP sources), re-dissected by tshark, and the fields must
equal the recorded "expect" object.  The script exits non-zero if any check fails.

The output is deterministic: files are processed in sorted order, frames in capture order,
and all maps are written with sorted keys.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.dirname(HERE)
CAPTURES = os.path.join(TESTDATA, "captures")
TRANSCRIPTS = os.path.join(TESTDATA, "transcripts")

TSHARK = os.environ.get("TSHARK", "tshark")
TSHARK_ARGS = ["-n", "-T", "json", "-x"]
MALFORMED_ARGS = ["-n", "-Y", "_ws.malformed || _ws.expert.severity >= 8388608", "-T", "pdml"]

DT_CUT = 64  # DT vectors keep at most this many data octets

TYPE_NAMES = {0xE: "CR", 0xD: "CC", 0xF: "DT", 0x8: "DR", 0xC: "DC", 0x7: "ER",
              0x6: "AK", 0x1: "ED", 0x2: "EA", 0x5: "RJ"}
SEVERITY_ERROR = 8388608


# --------------------------------------------------------------------------- tshark

def tshark_version():
    out = subprocess.run([TSHARK, "--version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].strip()


def tshark_json(path):
    out = subprocess.run([TSHARK, "-r", path] + TSHARK_ARGS, capture_output=True, check=True).stdout
    # object_pairs_hook keeps duplicate keys (several tpkt/cotp layers in one frame) in order
    return json.loads(out, object_pairs_hook=lambda pairs: pairs)


def is_tree(v):
    return isinstance(v, list) and (not v or isinstance(v[0], tuple))


def walk(pairs):
    """Yield (key, value) for every leaf of a tshark JSON tree, depth first, in order."""
    for k, v in pairs:
        if is_tree(v):
            yield k, None
            yield from walk(v)
        else:
            yield k, v


def first(pairs, key):
    for k, v in walk(pairs):
        if k == key:
            return v
    return None


def all_of(pairs, key):
    return [v for k, v in walk(pairs) if k == key]


def unhex(s):
    return bytes.fromhex(s.replace(":", ""))


# --------------------------------------------------------------------------- per frame

class Tpkt:
    """One TPKT as tshark saw it."""

    def __init__(self, frame, tpkt_raw, tpkt_tree):
        self.frame = frame
        self.tpkt_raw = tpkt_raw          # [hex, pos, len, bitmask, type]
        self.tpkt_tree = tpkt_tree
        self.length = int(first(tpkt_tree, "tpkt.length"))
        self.cotp_raw = None
        self.cotp_tree = None
        self.next_layers = []             # (name, raw) of the layers after cotp, before next tpkt
        self.extra_cotp = 0               # further cotp layers before the next tpkt
        self.data = None                  # bytes of the whole TPKT


def frame_info(pkt):
    layers = dict(pkt)["_source"]
    layers = dict(layers)["layers"]
    frame = dict(layers).get("frame")
    number = int(first(frame, "frame.number"))
    buffers = []
    frame_raw = dict(layers).get("frame_raw")
    if frame_raw:
        buffers.append(unhex(frame_raw[0]))
    for k, v in walk(layers):
        if k == "tcp.reassembled.data" and v:
            buffers.append(unhex(v))
    tcp = dict(layers).get("tcp")
    payload = first(tcp, "tcp.payload") if tcp else None
    info = {
        "tcp_payload": payload.replace(":", "") if payload else None,
        "frame": number,
        "stream": int(first(tcp, "tcp.stream")) if tcp else None,
        "src": None, "dst": None,
        "tpkts": [], "continuations": 0, "ses_types": [],
    }
    ipsrc = ipdst = None
    for lname in ("ip", "ipv6"):
        t = dict(layers).get(lname)
        if t:
            ipsrc = first(t, lname + ".src")
            ipdst = first(t, lname + ".dst")
    if tcp:
        info["src"] = "%s:%s" % (ipsrc, first(tcp, "tcp.srcport"))
        info["dst"] = "%s:%s" % (ipdst, first(tcp, "tcp.dstport"))

    cur = None
    raws = {}
    for k, v in layers:
        if k.endswith("_raw"):
            raws[k[:-4]] = v
            continue
        raw = raws.pop(k, None)
        if k == "tpkt":
            if first(v, "tpkt.length") is None:
                info["continuations"] += 1          # "TPKT Continuation"
                cur = None
            else:
                cur = Tpkt(number, raw, v)
                info["tpkts"].append(cur)
        elif k == "cotp" and cur is not None:
            if cur.cotp_tree is None:
                cur.cotp_raw = raw
                cur.cotp_tree = v
            else:
                cur.extra_cotp += 1
        elif cur is not None and not k.startswith("_ws"):
            cur.next_layers.append((k, raw))
    info["ses_types"] = [int(t) for t in all_of(layers, "ses.type")]

    for t in info["tpkts"]:
        resolve_bytes(t, buffers)
    return info


def malformed_frames(path):
    """{frame: [message, ...]} for frames with _ws.malformed or an expert item of severity
    error, from PDML (which names the layer: "Malformed Packet: PRES")."""
    import xml.etree.ElementTree as ET
    out = subprocess.run([TSHARK, "-r", path] + MALFORMED_ARGS, capture_output=True,
                         check=True).stdout
    res = {}
    for packet in ET.fromstring(out).iter("packet"):
        number = None
        msgs = []
        last = None
        for child in packet:
            name = child.get("name")
            if child.tag == "proto" and name == "frame":
                for f in child.iter("field"):
                    if f.get("name") == "frame.number":
                        number = int(f.get("show"))
            if child.tag == "proto" and name == "_ws.malformed":
                if child.get("hide") != "yes":
                    msgs.append(child.get("showname", "Malformed Packet").strip("[]"))
                continue
            if child.tag == "proto":
                last = name
            experts = [child] if name == "_ws.expert" else []
            experts += [f for f in child.iter("field") if f.get("name") == "_ws.expert" and f is not child]
            for f in experts:
                sev = [int(x.get("show")) for x in f.iter("field")
                       if x.get("name") == "_ws.expert.severity"]
                msg = [x.get("show") for x in f.iter("field") if x.get("name") == "_ws.expert.message"]
                if any(v >= SEVERITY_ERROR for v in sev):
                    where = name if child.tag == "proto" else "after %s" % last
                    msgs.append("expert error (%s): %s" % (where, msg[0] if msg else "?"))
        if number is not None and msgs:
            res[number] = msgs
    return res


def resolve_bytes(t, buffers):
    hdr_hex, pos = t.tpkt_raw[0], t.tpkt_raw[1]
    hdr = unhex(hdr_hex)
    for buf in buffers:
        if buf[pos:pos + 4] != hdr or len(buf) < pos + t.length:
            continue
        if t.cotp_raw is not None:
            c = unhex(t.cotp_raw[0])
            cpos = t.cotp_raw[1]
            if buf[cpos:cpos + len(c)] != c:
                continue
        t.data = buf[pos:pos + t.length]
        return
    t.data = None


# --------------------------------------------------------------------------- COTP fields

def flag(v):
    return v in ("1", "True", "true")


def cotp_expect(t):
    """Flat object of the values tshark shows for this TPKT/COTP."""
    c = t.cotp_tree
    e = {"tpkt_length": t.length}
    leaves = list(walk(c))
    keys = [k for k, _ in leaves]

    def get(name):
        return first(c, name)

    e["li"] = int(get("cotp.li"))
    e["type"] = int(get("cotp.type"), 16)
    # DST-REF only when it is on the wire (tshark adds a generated 0 on class-0 DT, without _raw)
    if get("cotp.destref") is not None and get("cotp.destref_raw") is not None:
        e["dst_ref"] = int(get("cotp.destref"), 16)
    if get("cotp.srcref") is not None:
        e["src_ref"] = int(get("cotp.srcref"), 16)
    if get("cotp.class") is not None:
        e["class"] = int(get("cotp.class"))
    if get("cotp.opts.extended_formats") is not None:
        e["extended_formats"] = flag(get("cotp.opts.extended_formats"))
    if get("cotp.opts.no_explicit_flow_control") is not None:
        e["no_explicit_flow_control"] = flag(get("cotp.opts.no_explicit_flow_control"))
    if get("cotp.eot") is not None:
        e["eot"] = flag(get("cotp.eot"))
    if get("cotp.tpdu-number") is not None:
        e["tpdu_nr"] = int(get("cotp.tpdu-number"), 16)
    if get("cotp.src-tsap-bytes") is not None:
        e["calling_tsap"] = get("cotp.src-tsap-bytes").replace(":", "").lower()
    if get("cotp.dst-tsap-bytes") is not None:
        e["called_tsap"] = get("cotp.dst-tsap-bytes").replace(":", "").lower()
    if get("cotp.tpdu_size") is not None:
        e["tpdu_size"] = int(get("cotp.tpdu_size"))
    if get("cotp.preferred_maximum_tpdu_size") is not None:
        e["pref_max_tpdu_size"] = int(get("cotp.preferred_maximum_tpdu_size"))
    if get("cotp.cause") is not None:
        e["dr_reason"] = int(get("cotp.cause"), 0)
    if get("cotp.reject_cause") is not None:
        e["reject_cause"] = int(get("cotp.reject_cause"), 0)
    # unknown / unparsed parameters: cotp.parameter_code items that tshark did not decode
    # into a named field (it then shows cotp.parameter_value, or nothing if truncated)
    unknown = []
    groups = []
    for k, v in leaves:
        if k.endswith("_raw"):
            continue
        if k == "cotp.parameter_code":
            groups.append([("code", int(v, 16))])
        elif groups:
            groups[-1].append((k, v))
    for g in groups:
        names = [k for k, _ in g[1:]]
        known = [k for k in names if k not in ("cotp.parameter_length", "cotp.parameter_value")
                 and not k.startswith("_ws")]
        if known:
            continue
        item = {"code": g[0][1]}
        vals = [v for k, v in g if k == "cotp.parameter_value"]
        if vals:
            item["value"] = vals[0].replace(":", "").lower()
        else:
            item["truncated"] = True
        unknown.append(item)
    if unknown:
        e["unknown_params"] = unknown
    handled = {"cotp.li", "cotp.type", "cotp.destref", "cotp.srcref", "cotp.class",
               "cotp.opts.extended_formats", "cotp.opts.no_explicit_flow_control", "cotp.eot",
               "cotp.tpdu-number", "cotp.src-tsap-bytes", "cotp.dst-tsap-bytes", "cotp.src-tsap",
               "cotp.dst-tsap", "cotp.tpdu_size", "cotp.preferred_maximum_tpdu_size", "cotp.cause",
               "cotp.reject_cause", "cotp.parameter_code", "cotp.parameter_length",
               "cotp.parameter_value", "cotp.type_tree", "_ws.expert", "_ws.expert.message",
               "_ws.expert.severity", "_ws.expert.group", "cotp.disconnect_request",
               "cotp.disconnect_confirm", "cotp.connection_request", "cotp.connection_confirm",
               "cotp.segment", "cotp.segments", "cotp.segment.count", "cotp.reassembled.length",
               "cotp.reassembled.data", "cotp.reassembled_in", "cotp.fragment", "cotp.fragments",
               "cotp.fragment.count", "cotp.reassembled.in", "cotp.multiple_tpdus",
               "cotp.segment_data"}
    other = sorted({k for k in keys if not k.endswith("_raw") and k not in handled})
    return e, other


def user_data(t, tpdu, li):
    """CR/CC user data: bytes after the header, or (RDP) the bytes tshark hands to the
    next dissector from inside the LI-counted header."""
    if len(tpdu) > li + 1:
        return tpdu[li + 1:].hex(), False
    for name, raw in t.next_layers:
        if raw is None:
            continue
        pos = raw[1]
        start = pos - t.tpkt_raw[1] - 4
        if 0 <= start < len(tpdu) and raw[0]:
            return tpdu[start:].hex(), True
    return None, False


# --------------------------------------------------------------------------- main

def family_of(name, transcript):
    if transcript:
        return "peer-" + name.split("-")[0]
    return name.split("__")[0]


def input_files():
    files = []
    for f in sorted(os.listdir(CAPTURES)):
        if f.endswith((".pcap", ".pcapng")):
            files.append((f, os.path.join(CAPTURES, f), False))
    for f in sorted(os.listdir(TRANSCRIPTS)):
        if f.endswith(".pcap"):
            files.append((f, os.path.join(TRANSCRIPTS, f), True))
    return files


def main():
    version = tshark_version()
    shapes = {}        # key -> vector
    shape_seen = {}    # key -> set of files
    undissected = []
    problems = []
    frames_out = []

    for name, path, transcript in input_files():
        fam = family_of(name, transcript)
        pkts = tshark_json(path)
        per_dir = {}
        total = new_counts()
        malformed = malformed_frames(path)
        continuation_frames, nocotp_frames = [], []
        ses_sequences = {}
        for pkt in pkts:
            info = frame_info(pkt)
            key = (info["stream"], info["src"], info["dst"])
            if info["tpkts"] or info["ses_types"] or info["continuations"]:
                d = per_dir.setdefault(key, new_counts())
            else:
                d = None
            if info["ses_types"]:
                ses_sequences.setdefault(key, []).extend(int(t) for t in info["ses_types"])
            if info["continuations"]:
                continuation_frames.append(info["frame"])
            if any(t.cotp_tree is None for t in info["tpkts"]):
                nocotp_frames.append(info["frame"])
            for c in ([d] if d else []) + [total]:
                c["tpkt_count"] += len(info["tpkts"])
                c["tpkt_continuations"] += info["continuations"]
                for st in info["ses_types"]:
                    c["ses_types"][str(st)] = c["ses_types"].get(str(st), 0) + 1
                if info["ses_types"]:
                    seq = ",".join(str(s) for s in info["ses_types"])
                    c["ses_type_sequences"][seq] = c["ses_type_sequences"].get(seq, 0) + 1
            for t in info["tpkts"]:
                for c in ([d] if d else []) + [total]:
                    count_tpkt(c, t)
                if t.data is None:
                    problems.append("%s frame %d: TPKT bytes not found" % (name, t.frame))
                    continue
                if t.cotp_tree is None:
                    u = {
                        "source": name, "frame": t.frame, "tpkt": t.data.hex(),
                        "tshark_shows": [n for n, _ in t.next_layers] or ["nothing"],
                        "tcp_payload": info["tcp_payload"],
                    }
                    if len(t.data) > 4 and t.data[4] == 0:
                        u["note"] = "LI = 0: no TPDU code inside the header; tshark shows the TPKT payload as data"
                    undissected.append(u)
                    continue
                tpdu = t.data[4:]
                e, other = cotp_expect(t)
                li = e["li"]
                # verification
                if int.from_bytes(t.data[2:4], "big") != len(t.data):
                    problems.append("%s frame %d: length mismatch" % (name, t.frame))
                if tpdu[0] != li:
                    problems.append("%s frame %d: LI mismatch" % (name, t.frame))
                if unhex(t.cotp_raw[0]) != tpdu[:len(unhex(t.cotp_raw[0]))]:
                    problems.append("%s frame %d: cotp_raw mismatch" % (name, t.frame))
                if t.extra_cotp:
                    problems.append("%s frame %d: %d more COTP TPDUs in this TPKT" % (name, t.frame, t.extra_cotp))
                if other:
                    problems.append("%s frame %d: unhandled cotp fields %s" % (name, t.frame, other))
                typ = e["type"]
                vec = {"source": name, "frame": t.frame}
                if typ == 0xF and li == 2:
                    header = tpdu[:3]
                    has_data = len(tpdu) > 3
                    skey = ("DT", fam, header.hex(), has_data)
                    data = tpdu[3:3 + DT_CUT]
                    new = t.data[:4] + header + data
                    new = new[:2] + len(new).to_bytes(2, "big") + new[4:]
                    if len(new) != len(t.data):
                        vec["cut_from_tpkt_length"] = len(t.data)
                        e["tpkt_length"] = len(new)
                    vec["family"] = fam
                    vec["tpkt"] = new.hex()
                else:
                    header = tpdu[:li + 1]
                    skey = (TYPE_NAMES.get(typ, str(typ)), "", header.hex(), None)
                    vec["tpkt"] = t.data.hex()
                    if typ in (0xE, 0xD):
                        ud, in_li = user_data(t, tpdu, li)
                        if ud:
                            e["user_data"] = ud
                            if in_li:
                                e["user_data_in_li"] = True
                                vec["note"] = ("RDP X.224: LI covers the RDP routing token/cookie and "
                                               "RDP_NEG_* structure, which are not TLV parameters; "
                                               "tshark passes them to its RDP dissector")
                if any(u.get("truncated") or (u["code"] & 0xC0) == 0 for u in e.get("unknown_params", [])):
                    vec["note"] = ("variable part is not valid X.224: parameter code with bits 8-7 = 00 "
                                   "and/or a parameter truncated by LI; tshark shows it as unknown parameters")
                vec["expect"] = e
                shape_seen.setdefault(skey, set()).add(name)
                if skey not in shapes:
                    shapes[skey] = vec
        fo = {"file": name, "dir": "transcripts" if transcript else "captures"}
        fo.update(total)
        fo["tpkt_continuation_frames"] = continuation_frames
        fo["tpkt_without_cotp_frames"] = nocotp_frames
        fo["malformed_frames"] = sorted(malformed)
        fo["malformed_detail"] = {str(k): malformed[k] for k in sorted(malformed)}
        fo["directions"] = []
        for (stream, src, dst), c in sorted(per_dir.items(), key=lambda kv: (
                -1 if kv[0][0] is None else kv[0][0], str(kv[0][1]), str(kv[0][2]))):
            dd = {"tcp_stream": stream, "src": src, "dst": dst}
            dd.update(c)
            # The SPDU identifiers of this direction, in order.
            dd["ses_sequence"] = ",".join(str(t) for t in ses_sequences.get((stream, src, dst), []))
            fo["directions"].append(dd)
        frames_out.append(fo)

    order = {"CR": 0, "CC": 1, "DR": 2, "DC": 3, "ER": 4, "DT": 5, "ED": 6, "AK": 7, "EA": 8, "RJ": 9}
    vectors = []
    for skey in sorted(shapes, key=lambda k: (order.get(k[0], 99), k[1], k[2], str(k[3]))):
        v = shapes[skey]
        v["tpdu"] = skey[0]
        v["header"] = skey[2]
        others = sorted(shape_seen[skey] - {v["source"]})
        if others:
            v["also_in"] = others
        vectors.append(v)

    cotp = {
        "generator": "testdata/golden/gen_cotp.py",
        "tshark": version,
        "tshark_command": " ".join([TSHARK, "-r", "FILE"] + TSHARK_ARGS),
        "vectors": vectors,
        "undissected_tpkts": undissected,
    }
    with open(os.path.join(HERE, "cotp.json"), "w") as f:
        json.dump(cotp, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(HERE, "frames.json"), "w") as f:
        json.dump({"tshark": version, "files": frames_out}, f, indent=1, sort_keys=True)
        f.write("\n")
    problems.extend(verify(vectors))
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    counts = {}
    for v in vectors:
        counts[v["tpdu"]] = counts.get(v["tpdu"], 0) + 1
    print("vectors:", json.dumps(counts, sort_keys=True), "undissected:", len(undissected),
          "problems:", len(problems), file=sys.stderr)
    return 1 if problems else 0


def write_pcap(path, vectors):
    """Each vector's TPKT in its own synthetic TCP connection (port 102, or 3389 for RDP)."""
    import struct

    def csum(b):
        if len(b) % 2:
            b += b"\0"
        x = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        x = (x >> 16) + (x & 0xFFFF)
        x += x >> 16
        return ~x & 0xFFFF

    def pkt(src, dst, sport, dport, seq, ack, flags, payload):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        return b"\0\0\0\0\0\1" + b"\0\0\0\0\0\2" + b"\x08\x00" + ip + tcp

    C, S = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2])
    frames, where = [], {}
    for i, v in enumerate(vectors):
        sport = 20000 + i
        dport = 3389 if "rdp" in v["source"] else 102
        frames.append(pkt(C, S, sport, dport, 99, 0, 0x02, b""))
        frames.append(pkt(S, C, dport, sport, 499, 100, 0x12, b""))
        frames.append(pkt(C, S, sport, dport, 100, 500, 0x10, b""))
        frames.append(pkt(C, S, sport, dport, 100, 500, 0x18, bytes.fromhex(v["tpkt"])))
        where[len(frames)] = i
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, n, len(fr), len(fr)) + fr)
    return where


def verify(vectors):
    """Re-dissect every vector's bytes alone with tshark and compare with its expect."""
    import tempfile
    problems = []
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vectors.pcap")
        where = write_pcap(path, vectors)
        seen = set()
        for pkt in tshark_json(path):
            info = frame_info(pkt)
            if info["frame"] not in where:
                continue
            v = vectors[where[info["frame"]]]
            seen.add(info["frame"])
            tag = "verify %s frame %d" % (v["source"], v["frame"])
            if len(info["tpkts"]) != 1 or info["tpkts"][0].cotp_tree is None:
                problems.append(tag + ": not one TPKT with COTP")
                continue
            t = info["tpkts"][0]
            e, _ = cotp_expect(t)
            tpdu = t.data[4:]
            if e["type"] in (0xE, 0xD):
                ud, in_li = user_data(t, tpdu, e["li"])
                if ud:
                    e["user_data"] = ud
                    if in_li:
                        e["user_data_in_li"] = True
            if e != v["expect"]:
                problems.append(tag + ": %r != %r" % (e, v["expect"]))
            b = bytes.fromhex(v["tpkt"])
            if int.from_bytes(b[2:4], "big") != len(b) or b[4] != v["expect"]["li"]:
                problems.append(tag + ": length/LI check failed")
        if len(seen) != len(vectors):
            problems.append("verify: %d of %d vectors seen" % (len(seen), len(vectors)))
    print("verified %d vectors by re-dissecting them alone" % len(vectors), file=sys.stderr)
    return problems


def new_counts():
    return {"tpkt_count": 0, "tpkt_continuations": 0, "tpkt_without_cotp": 0, "cotp_types": {},
            "dt_eot0": 0, "ses_types": {}, "ses_type_sequences": {}}


def count_tpkt(c, t):
    if t.cotp_tree is None:
        c["tpkt_without_cotp"] += 1
        return
    typ = int(first(t.cotp_tree, "cotp.type"), 16)
    name = TYPE_NAMES.get(typ, "0x%x" % typ)
    c["cotp_types"][name] = c["cotp_types"].get(name, 0) + 1
    if typ == 0xF and first(t.cotp_tree, "cotp.eot") is not None and not flag(first(t.cotp_tree, "cotp.eot")):
        c["dt_eot0"] += 1


if __name__ == "__main__":
    sys.exit(main())
