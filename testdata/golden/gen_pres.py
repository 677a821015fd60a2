#!/usr/bin/env python3
"""Generate testdata/golden/presentation.json (and pres-handbuilt.pcap) with tshark.

Run by hand, once, from anywhere:   python3 testdata/golden/gen_pres.py
Tests read the committed files and never call tshark.  Python 3 standard library only.

Inputs:
  * every capture in testdata/captures/ in which tshark dissects a presentation (`pres`) or
    ACSE (`acse`) layer;
  * pres-handbuilt.pcap, written by this script: one TCP connection (port 102) whose OSI PDUs
    are built byte by byte below, so that the PPDUs no capture holds (AC, ACA, TTD in session
    TD SPDUs, RS and RSA in session RS/RA SPDUs, a normal-mode ARU with a context identifier
    list, an ARP) are dissected by tshark too.

For every input it runs

    tshark -n -r FILE -T json

(default preferences) and reads the JSON with the key order and repeated keys kept.  In each
frame the layers are walked in order: every `pres` layer is one PPDU, carried by the SPDU of
the `ses` layer before it; the `acse` layer that follows it (before the next `ses`/`pres`)
is the APDU inside it.  Each PPDU becomes a record of the fields tshark shows (see
testdata/golden/README.md), in the names `osi dump --format json` uses.  Records are grouped
per TCP stream and direction (client = sender of the SYN, else of the COTP CR, else the side
not on port 102), in the order tshark dissects them; runs of identical consecutive records
(the P-DATA of a long association) are stored once with `repeat`.

Frames tshark marks malformed (`_ws.malformed`) are listed with the protocol tshark names
(from `tshark -T pdml`, "Malformed Packet: PRES"); a malformed frame without a `pres` layer
is also a placeholder record `{"malformed": …}` in its direction, so a test can tell where
in the sequence the error belongs.

The output is deterministic: inputs in sorted order, frames in capture order, sorted keys.
"""

import json
import os
import re
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.dirname(HERE)
CAPTURES = os.path.join(TESTDATA, "captures")
HANDBUILT = os.path.join(HERE, "pres-handbuilt.pcap")
OUT = os.path.join(HERE, "presentation.json")

TSHARK = os.environ.get("TSHARK", "tshark")
TSHARK_ARGS = ["-n", "-T", "json"]
SERVER_PORTS = (102,)


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


def integer(v):
    return tlv(0x02, bytes([v]))


def pi(code, value):
    assert len(value) < 255
    return bytes([code, len(value)]) + value


def spdu(si, params, info=b""):
    body = b"".join(params)
    assert len(body) < 255
    return bytes([si, len(body)]) + body + info


def dt_tpkt(tsdu):
    payload = b"\x02\xf0\x80" + tsdu
    return struct.pack("!BBH", 3, 0, 4 + len(payload)) + payload


CR = bytes.fromhex("0300001611e00000000100c0010ac1020001c2020001")
CC = bytes.fromhex("0300001611d00001000100c0010ac1020001c2020001")
BER = bytes.fromhex("5101")                            # 2.1.1 basic-encoding
ACSE_AS = bytes.fromhex("52010001")                    # 2.2.1.0.1
MMS_AS = bytes.fromhex("28ca220201")                   # 1.0.9506.2.1
MMS_AC = bytes.fromhex("28ca220203")                   # 1.0.9506.2.3
PRIVATE_AS = bytes.fromhex("2bce0f05")                 # 1.3.9999.5: no tshark dissector


def context(ident, abstract):
    return tlv(0x30, integer(ident) + tlv(0x06, abstract) + tlv(0x30, tlv(0x06, BER)))


def context_id(ident):
    """One Presentation-context-identifier-list item: the context and its transfer syntax."""
    return tlv(0x30, integer(ident) + tlv(0x06, BER))


def result(code, transfer=None, reason=None):
    body = tlv(0x80, bytes([code]))
    if transfer is not None:
        body += tlv(0x81, transfer)
    if reason is not None:
        body += tlv(0x82, bytes([reason]))
    return tlv(0x30, body)


def pdv(ctx, value, encoding=0xA0):
    return tlv(0x30, integer(ctx) + tlv(encoding, value))


def fully(*pdvs):
    return tlv(0x61, b"".join(pdvs))


MMS_CONCLUDE = bytes.fromhex("8b00")                   # MMS conclude-RequestPDU
AARQ = tlv(0x60, tlv(0xA1, tlv(0x06, MMS_AC)))
AARE = tlv(0x61, tlv(0xA1, tlv(0x06, MMS_AC)) + tlv(0xA2, integer(0))
           + tlv(0xA3, tlv(0xA1, integer(0))))
ABRT = tlv(0x64, tlv(0x80, b"\x00"))
CONTEXT_MANAGEMENT = tlv(0x88, b"\x06\xc0")            # {context-management, restoration}

CP = tlv(0x31, tlv(0xA0, tlv(0x80, b"\x01"))
         + tlv(0xA2, tlv(0x81, b"\x00\x00\x00\x01") + tlv(0x82, b"\x00\x00\x00\x01")
               + tlv(0xA4, context(1, ACSE_AS) + context(3, MMS_AS))
               + CONTEXT_MANAGEMENT + fully(pdv(1, AARQ))))
CPA = tlv(0x31, tlv(0xA0, tlv(0x80, b"\x01"))
          + tlv(0xA2, tlv(0x83, b"\x00\x00\x00\x01")
                + tlv(0xA5, result(0, BER) + result(0, BER))
                + CONTEXT_MANAGEMENT + fully(pdv(1, AARE))))

# The constructed PPDUs of tests/presentation.rs (same bytes; keep the two in step).
PPDUS = [
    # (name, session SPDU, PPDU)
    ("AC: add context 5, delete context 3, octet-aligned user data on context 5", "TD",
     tlv(0xA0, tlv(0xA0, context(5, PRIVATE_AS)) + tlv(0xA1, integer(3))
         + fully(pdv(5, b"\x01\x02\x03", 0x81)))),
    ("AC: delete contexts 3 and 5 only", "TD",
     tlv(0xA0, tlv(0xA1, integer(3) + integer(5)))),
    ("ACA: addition accepted (BER), deletion accepted, user data on context 5", "TD",
     tlv(0xA1, tlv(0xA0, result(0, BER)) + tlv(0xA1, integer(0))
         + fully(pdv(5, b"\x01\x02\x03", 0x81)))),
    ("ACA: addition provider-rejected (abstract syntax not supported), deletion user-rejected",
     "TD", tlv(0xA1, tlv(0xA0, result(2, None, 1)) + tlv(0xA1, integer(1)))),
    ("TTD: MMS conclude-RequestPDU on context 3", "TD", fully(pdv(3, MMS_CONCLUDE))),
    ("RS: contexts 1 and 3 with BER, MMS conclude-RequestPDU on context 3", "RS",
     tlv(0x30, tlv(0xA0, context_id(1) + context_id(3)) + fully(pdv(3, MMS_CONCLUDE)))),
    ("RSA: contexts 1 and 3 with BER", "RA",
     tlv(0x30, tlv(0xA0, context_id(1) + context_id(3)))),
    ("ARU (normal mode): context 1 with BER, ABRT from the ACSE user", "AB",
     tlv(0xA0, tlv(0xA0, context_id(1)) + fully(pdv(1, ABRT)))),
    ("ARP: unrecognized-ppdu, event cp-PPDU (spec P6)", "AB",
     tlv(0x30, tlv(0x80, b"\x01") + tlv(0x81, b"\x00"))),
]

CONNECT_ITEM = pi(5, pi(19, b"\x00") + pi(22, b"\x02"))
REQUIREMENTS = pi(20, b"\x04\x22")        # duplex, resynchronize, typed data


def session_tsdu(kind, ud, for_tshark=False):
    if kind == "TD" and for_tshark:
        # tshark's session heuristic (packet-ses.c, dissect_ses_heur) wants the octet after
        # the first SPDU's header to be a known SPDU type; the user information of a lone TD
        # never is, so tshark reads a copy in which the TD follows a GT. X.225 forbids that
        # (TD is category 1) and `osi dump` refuses it; the PPDU octets are the same.
        return b"\x01\x00" + session_tsdu(kind, ud)
    if kind == "CN":
        return spdu(0x0D, [CONNECT_ITEM, REQUIREMENTS, pi(193, ud)])
    if kind == "AC":
        return spdu(0x0E, [CONNECT_ITEM, REQUIREMENTS, pi(193, ud)])
    if kind == "TD":                      # category 1: alone, user information field
        return spdu(0x21, [], ud)
    if kind == "RS":                      # category 2: after a GT
        return b"\x01\x00" + spdu(0x35, [pi(26, b"\x00"), pi(27, b"\x00"), pi(42, b"1"),
                                         pi(193, ud)])
    if kind == "RA":
        return b"\x01\x00" + spdu(0x22, [pi(26, b"\x00"), pi(42, b"1"), pi(193, ud)])
    if kind == "AB":                      # transport disconnect: release, user abort
        return spdu(0x19, [pi(17, b"\x03"), pi(193, ud)])
    raise ValueError(kind)


def handbuilt_connections(for_tshark):
    """[(from_client, tpkt bytes)] per synthetic TCP connection. The ARU and the ARP each end
    a connection of their own."""
    opening = [(True, CR), (False, CC), (True, dt_tpkt(session_tsdu("CN", CP))),
               (False, dt_tpkt(session_tsdu("AC", CPA)))]
    main = list(opening)
    for n, (_, kind, ppdu) in enumerate(PPDUS[:-2]):
        main.append((n % 2 == 0, dt_tpkt(session_tsdu(kind, ppdu, for_tshark))))
    aru = opening + [(True, dt_tpkt(session_tsdu("AB", PPDUS[-2][2])))]
    arp = opening + [(False, dt_tpkt(session_tsdu("AB", PPDUS[-1][2])))]
    return [main, aru, arp]


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


def write_handbuilt(path, for_tshark=False):
    """Writes the pcap; returns {ppdu hex: frame number} for the PPDUS."""
    client, server = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2])
    frames, where = [], {}
    for n, msgs in enumerate(handbuilt_connections(for_tshark)):
        port = 30001 + n
        cs, ss = 1000, 5000
        frames.append(tcp_frame(client, server, port, 102, cs - 1, 0, 0x02, b""))
        frames.append(tcp_frame(server, client, 102, port, ss - 1, cs, 0x12, b""))
        frames.append(tcp_frame(client, server, port, 102, cs, ss, 0x10, b""))
        for from_client, data in msgs:
            for _, _, ppdu in PPDUS:
                if data.endswith(ppdu):
                    where.setdefault(ppdu.hex(), len(frames) + 1)
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
    return where


# --------------------------------------------------------------------------- tshark output

def tshark_version():
    out = subprocess.run([TSHARK, "--version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].strip()


def tshark_json(path):
    out = subprocess.run([TSHARK, "-r", path] + TSHARK_ARGS, capture_output=True,
                         check=True).stdout
    # Keep key order and repeated keys: every object is a list of (key, value) pairs.
    return json.loads(out, object_pairs_hook=list)


def malformed_protocols(path):
    """{frame: ["Malformed Packet: PRES", …]} from the PDML of the malformed frames."""
    out = subprocess.run([TSHARK, "-r", path, "-n", "-Y", "_ws.malformed", "-T", "pdml"],
                         capture_output=True, text=True, check=True).stdout
    result, frame = {}, None
    for line in out.splitlines():
        m = re.search(r'<field name="frame.number" [^>]*show="(\d+)"', line)
        if m:
            frame = int(m.group(1))
        m = re.search(r'<proto name="_ws.malformed" showname="\[?([^"\]]*)', line)
        if m and frame is not None:
            result.setdefault(frame, []).append(m.group(1))
    return result


def is_pairs(v):
    return isinstance(v, list) and all(isinstance(p, (list, tuple)) and len(p) == 2
                                       and isinstance(p[0], str) for p in v)


def get(pairs, key):
    for k, v in pairs:
        if k == key:
            return v
    return None


def get_all(pairs, key):
    return [v for k, v in pairs if k == key]


def find(tree, key):
    """First value of `key` anywhere in `tree` (depth first, in order)."""
    if is_pairs(tree):
        for k, v in tree:
            if k == key:
                return v
            r = find(v, key)
            if r is not None:
                return r
    return None


def find_all(tree, key, out=None):
    out = [] if out is None else out
    if is_pairs(tree):
        for k, v in tree:
            if k == key:
                out.append(v)
            else:
                find_all(v, key, out)
    return out


def without(tree, key):
    """`tree` with the subtree under `key` (and `key`) left out."""
    if not is_pairs(tree):
        return tree
    return [[k, without(v, key)] for k, v in tree if k != key]


def sel(v):
    return v.replace(":", "")


# --------------------------------------------------------------------------- PPDU records

PPDU_ELEMENTS = [
    ("pres.cptype", "CP"), ("pres.cpapdu", "CPA"), ("pres.cprtype", "CPR"),
    ("pres.aru_ppdu", "ARU"), ("pres.arp_ppdu_element", "ARP"),
    ("pres.acPPDU_element", "AC"), ("pres.acaPPDU_element", "ACA"), ("pres.ttdPPDU", "TTD"),
]
SES_NAMES = {13: "CN", 14: "AC", 12: "RF", 9: "FN", 10: "DN", 8: "NF", 25: "AB", 26: "AA",
             1: "DT", 2: "PT", 5: "EX", 33: "TD", 41: "MAP", 42: "MAA", 53: "RS", 34: "RA"}
ENCODINGS = {"0": "single-asn1-type", "1": "octet-aligned", "2": "arbitrary"}


def ppdu_type(pres, si):
    params = without(pres, "pres.user_data_tree")
    for key, name in PPDU_ELEMENTS:
        if find(params, key) is not None:
            return name
    if si == 53:
        return "RS"
    if si == 34:
        return "RSA"
    if get(pres, "pres.user_data") is not None:
        return "TD"
    return None


def contexts(tree):
    out = []
    for item in find_all(tree, "pres.Context_list_item_element"):
        out.append({"id": int(get(item, "pres.presentation_context_identifier")),
                    "abstract_syntax": get(item, "pres.abstract_syntax_name"),
                    "transfer_syntaxes": find_all(item, "pres.Transfer_syntax_name")})
    return out


def results(tree):
    out = []
    for item in find_all(tree, "pres.Result_list_item_element"):
        r = {"result": int(get(item, "pres.result"))}
        t = get(item, "pres.transfer_syntax_name")
        if t is not None:
            r["transfer_syntax"] = t
        p = get(item, "pres.provider_reason")
        if p is not None:
            r["reason"] = int(p)
        out.append(r)
    return out


def context_ids(tree):
    return [{"id": int(get(item, "pres.presentation_context_identifier")),
             "transfer_syntax": get(item, "pres.transfer_syntax_name")}
            for item in find_all(tree, "pres.Presentation_context_identifier_list_item_element")]


def pdvs(user_data_tree):
    out = []
    for item in find_all(user_data_tree, "pres.PDV_list_element"):
        out.append({"context": int(get(item, "pres.presentation_context_identifier")),
                    "encoding": ENCODINGS[get(item, "pres.presentation_data_values")]})
    return out


def pres_record(pres, si):
    """The fields tshark shows for one PPDU, under the keys of `osi dump`'s presentation."""
    kind = ppdu_type(pres, si)
    r = {"type": kind}
    # The user data, looked at apart so that its PDV items are not taken for parameters.
    ud_tree = find(pres, "pres.user_data_tree")
    if ud_tree is None and kind == "TTD":
        ud_tree = find(pres, "pres.ttdPPDU_tree")
    params = without(pres, "pres.user_data_tree")
    if kind == "TTD":
        params = []
    mode = find(params, "pres.mode_value")
    if mode is not None:
        r["mode"] = {"0": "x410", "1": "normal"}[mode]
    # CPR-PPDU and ARU-PPDU are CHOICEs of x400-mode-parameters (0) and normal mode (1).
    for key, choice in (("pres.cprtype", "CPR"), ("pres.aru_ppdu", "ARU")):
        v = find(params, key) if kind == choice else None
        if v is not None:
            r["mode"] = {"0": "x410", "1": "normal"}[v]
    for key, name in (("pres.calling_presentation_selector", "calling_psel"),
                      ("pres.called_presentation_selector", "called_psel"),
                      ("pres.responding_presentation_selector", "responding_psel")):
        v = find(params, key)
        if v is not None:
            r[name] = sel(v)
    if find(params, "pres.presentation_context_definition_list") is not None \
            or find(params, "pres.presentation_context_addition_list") is not None:
        r["contexts"] = contexts(params)
    if find(params, "pres.presentation_context_definition_result_list") is not None \
            or find(params, "pres.presentation_context_addition_result_list") is not None:
        r["results"] = results(params)
    if find(params, "pres.presentation_context_deletion_list") is not None:
        r["deleted_contexts"] = [int(v) for v in
                                 find_all(params, "pres.Presentation_context_identifier")]
    if find(params, "pres.presentation_context_deletion_result_list") is not None:
        r["deletion_results"] = [int(v) for v in find_all(
            params, "pres.Presentation_context_deletion_result_list_item")]
    if find(params, "pres.presentation_context_identifier_list") is not None:
        r["context_ids"] = context_ids(params)
    # provider-reason of a CPR (outside the result list) or abort-reason of an ARP.
    top_reason = find(without(params, "pres.Result_list_item_element"), "pres.provider_reason")
    if top_reason is not None:
        r["provider_reason"] = int(top_reason)
    ev = find(params, "pres.event_identifier")
    if ev is not None:
        r["event_identifier"] = int(ev)
    if ud_tree is not None:
        if find(ud_tree, "pres.simply_encoded_data") is not None:
            r["simply_encoded"] = True
        else:
            r["pdvs"] = pdvs(ud_tree)
    if find(pres, "pres.dissector_not_available") is not None \
            or find(pres, "_ws.expert") is not None:
        msgs = find_all(pres, "_ws.expert.message")
        r["tshark_expert"] = sorted(set(msgs))
    return r


def ap_title(tree, key):
    t = get(tree, key + "_tree")
    if t is None:
        return None
    v = find(t, "acse.ap_title_form2")
    return v if v is not None else {"form": "other"}


def ae_qualifier(tree, key):
    t = get(tree, key + "_tree")
    if t is None:
        return None
    v = find(t, "acse.aso_qualifier_form2")
    return int(v) if v is not None else {"form": "other"}


ACSE_ELEMENTS = [("acse.aarq_element", "AARQ"), ("acse.aare_element", "AARE"),
                 ("acse.rlrq_element", "RLRQ"), ("acse.rlre_element", "RLRE"),
                 ("acse.abrt_element", "ABRT")]


def acse_record(acse):
    for key, name in ACSE_ELEMENTS:
        tree = get(acse, key)
        if tree is not None:
            break
    else:
        return {"type": None}
    tree = tree if is_pairs(tree) else []
    r = {"type": name}
    v = get(tree, "acse.aSO_context_name")
    if v is not None:
        r["application_context"] = v
    for side in ("called", "calling", "responding"):
        t = ap_title(tree, "acse.%s_AP_title" % side)
        if t is not None:
            r[side + "_ap_title"] = t
        q = ae_qualifier(tree, "acse.%s_AE_qualifier" % side)
        if q is not None:
            r[side + "_ae_qualifier"] = q
        for what in ("AP", "AE"):
            v = get(tree, "acse.%s_%s_invocation_identifier" % (side, what))
            if v is not None:
                r["%s_%s_invocation_id" % (side, what.lower())] = int(v)
    for key, name in (("acse.result", "result"), ("acse.reason", "reason"),
                      ("acse.abort_source", "abort_source"),
                      ("acse.abort_diagnostic", "abort_diagnostic")):
        v = get(tree, key)
        if v is not None:
            r[name] = int(v)
    diag = get(tree, "acse.result_source_diagnostic_tree")
    if diag is not None:
        for key, source in (("acse.service_user", "acse-service-user"),
                            ("acse.service_provider", "acse-service-provider")):
            v = get(diag, key)
            if v is not None:
                r["diagnostic"] = {"source": source, "value": int(v)}
    v = get(tree, "acse.mechanism_name")
    if v is not None:
        r["mechanism"] = v
    return r


def collect(path):
    """(directions, malformed) of one capture."""
    packets = tshark_json(path)
    malformed_names = malformed_protocols(path)
    streams = {}      # tcp.stream -> {"ends": [a, b], "client": end or None, "cr": end}
    order = []        # tcp.streams on port 102, in order of first appearance
    per_dir = {}      # (tcp.stream, end index) -> [records]
    malformed = []
    for pkt in packets:
        layers = get(get(pkt, "_source"), "layers")
        frame = int(get(get(layers, "frame"), "frame.number"))
        ip = get(layers, "ip") or get(layers, "ipv6")
        tcp = get(layers, "tcp")
        if ip is None or tcp is None:
            continue
        src_ip = get(ip, "ip.src") or get(ip, "ipv6.src")
        dst_ip = get(ip, "ip.dst") or get(ip, "ipv6.dst")
        sport, dport = int(get(tcp, "tcp.srcport")), int(get(tcp, "tcp.dstport"))
        if sport not in SERVER_PORTS and dport not in SERVER_PORTS:
            continue
        sid = int(get(tcp, "tcp.stream"))
        src, dst = "%s:%d" % (src_ip, sport), "%s:%d" % (dst_ip, dport)
        st = streams.get(sid)
        if st is None:
            st = streams[sid] = {"ends": [src, dst], "ports": [sport, dport], "client": None}
            order.append(sid)
        side = st["ends"].index(src)
        flags = find(tcp, "tcp.flags_tree") or []
        syn, ack = get(flags, "tcp.flags.syn") == "1", get(flags, "tcp.flags.ack") == "1"
        if syn and st["client"] is None:
            st["client"] = side if not ack else 1 - side
        cotp_types = [get(c, "cotp.type") for c in get_all(layers, "cotp") if is_pairs(c)]
        if st["client"] is None and "0x0e" in cotp_types:
            st["client"] = side
        if st["client"] is None and "0x0d" in cotp_types:
            st["client"] = 1 - side
        records = per_dir.setdefault((sid, side), [])
        si, current, in_frame = None, None, []
        for k, v in layers:
            if k == "ses" and is_pairs(v):
                si = int(get(v, "ses.type"))
                current = None
            elif k == "pres" and is_pairs(v):
                current = pres_record(v, si)
                current["frame"] = frame
                current["spdu"] = SES_NAMES.get(si, str(si))
                records.append(current)
                in_frame.append(current)
            elif k == "acse" and is_pairs(v) and current is not None:
                current["acse"] = acse_record(v)
                current = None
        if frame in malformed_names or get(layers, "_ws.malformed") is not None:
            # "Malformed Packet: PRES" names the protocol; the bare label adds nothing.
            names = sorted({n for n in malformed_names.get(frame, []) if ":" in n}) \
                or ["Malformed Packet"]
            malformed.append({"frame": frame, "tcp_stream": sid, "side": side,
                              "tshark": names, "with_ppdu": bool(in_frame)})
            if in_frame:
                in_frame[-1]["malformed"] = names
            else:
                records.append({"frame": frame, "malformed": names})
    # Our stream numbering: streams on port 102 in order of first appearance.
    number = {sid: n for n, sid in enumerate(order)}

    def client_of(st):
        if st["client"] is not None:
            return st["client"]
        p0, p1 = st["ports"]
        server = 0 if (p0 in SERVER_PORTS and p1 not in SERVER_PORTS) else \
            1 if (p1 in SERVER_PORTS and p0 not in SERVER_PORTS) else int(p1 < p0)
        return 1 - server

    directions = []
    for (sid, side), records in sorted(per_dir.items(), key=lambda kv: (number[kv[0][0]],
                                                                        kv[0][1])):
        if not records:
            continue
        st = streams[sid]
        dirname = "c>s" if side == client_of(st) else "s>c"
        directions.append({"stream": number[sid], "tcp_stream": sid, "dir": dirname,
                           "src": st["ends"][side], "dst": st["ends"][1 - side],
                           "ppdus": collapse(records)})
    directions.sort(key=lambda d: (d["stream"], d["dir"]))
    for m in malformed:
        st = streams[m["tcp_stream"]]
        m["stream"] = number[m["tcp_stream"]]
        m["dir"] = "c>s" if m.pop("side") == client_of(st) else "s>c"
    return directions, malformed


def collapse(records):
    """Runs of records equal but for their frame numbers become one record with `repeat`."""
    out = []
    for r in records:
        body = {k: v for k, v in r.items() if k != "frame"}
        if out:
            last = out[-1]
            last_body = {k: v for k, v in last.items()
                         if k not in ("frame", "last_frame", "repeat")}
            if last_body == body and "malformed" not in body:
                last["repeat"] = last.get("repeat", 1) + 1
                last["last_frame"] = r["frame"]
                continue
        out.append(dict(r))
    return out


def has_upper_layers(path):
    out = subprocess.run([TSHARK, "-r", path, "-n", "-Y", "pres || acse", "-T", "fields",
                          "-e", "frame.number"], capture_output=True, text=True,
                         check=True).stdout
    return bool(out.strip())


def main():
    where = write_handbuilt(HANDBUILT)
    with tempfile.TemporaryDirectory() as tmp:
        variant = os.path.join(tmp, "pres-handbuilt-tshark.pcap")
        assert write_handbuilt(variant, for_tshark=True) == where
        return run(where, variant)


def run(where, variant):
    inputs = [("captures", name) for name in sorted(os.listdir(CAPTURES))
              if name.endswith((".pcap", ".pcapng"))
              and has_upper_layers(os.path.join(CAPTURES, name))]
    inputs.append(("golden", os.path.basename(HANDBUILT)))
    files = []
    for d, name in inputs:
        path = os.path.join(TESTDATA, d, name)
        entry = {"file": name, "dir": d}
        if path == HANDBUILT:
            path = variant
            entry["tshark_read"] = ("a copy with a GT (01 00) before each TD SPDU, which "
                                    "tshark's session heuristic needs; same PPDUs and frames")
        directions, malformed = collect(path)
        entry.update({"directions": directions, "malformed": malformed})
        files.append(entry)
        n = sum(r.get("repeat", 1) for x in directions for r in x["ppdus"])
        print("%s: %d records, %d malformed frames" % (name, n, len(malformed)),
              file=sys.stderr)
    # What tshark shows for each constructed PPDU.
    handbuilt = files[-1]
    shown = {r["frame"]: r for x in handbuilt["directions"] for r in x["ppdus"]}
    vectors = []
    for name, kind, ppdu in PPDUS:
        frame = where[ppdu.hex()]
        rec = {k: v for k, v in shown[frame].items() if k not in ("frame",)}
        vectors.append({"name": name, "spdu": kind, "ppdu": ppdu.hex(), "frame": frame,
                        "tshark_shows": rec})
    out = {
        "tshark": tshark_version(),
        "tshark_command": "tshark -n -r FILE -T json (and -Y _ws.malformed -T pdml)",
        "generator": "testdata/golden/gen_pres.py",
        "handbuilt_vectors": vectors,
        "files": files,
    }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    bad = [v for v in vectors if "malformed" in v["tshark_shows"] or
           v["tshark_shows"].get("type") is None]
    if bad:
        print("tshark did not dissect: %s" % [v["name"] for v in bad], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
