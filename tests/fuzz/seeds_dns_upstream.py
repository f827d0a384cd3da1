#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_dns_upstream.c: for each of the
target's fixed queries (the first byte picks one), a few replies an
upstream could send: the answer, the answer with the name's case changed, a
bare SERVFAIL, and the question written as a compression pointer."""
import os
import struct
import sys

UP_ID = 0xBEEF
QUERIES = [("www.example.com", 1), ("MiXeD-Case.Example.ORG", 28),
           ("_sip._udp.a.b.c.d.e.f.example.net", 33)]


def name(text):
    out = b""
    for label in text.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(flags, qd, an=0):
    return struct.pack(">HHHHHH", UP_ID, flags, qd, an, 0, 0)


def answer(qname, qtype):
    rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 30, 4) + bytes([192, 0, 2, 1])
    return header(0x8180, 1, 1) + name(qname) + struct.pack(">HH", qtype, 1) + rr


def main(out):
    os.makedirs(out, exist_ok=True)
    for i, (qname, qtype) in enumerate(QUERIES):
        seeds = {
            "answer": answer(qname, qtype),
            "case": answer(qname.swapcase(), qtype),
            "servfail": header(0x8182, 0),
            "pointer": header(0x8180, 1) + b"\xc0\x0c" + struct.pack(">HH", qtype, 1),
        }
        for tag, body in seeds.items():
            with open(os.path.join(out, f"q{i}-{tag}"), "wb") as f:
                f.write(bytes([i]) + body)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus/fuzz_dns_upstream")
