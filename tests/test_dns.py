"""kiln.dns, the captive portal's DNS responder, in the unix firmware on UDP 127.0.0.1, answered
by real resolvers: dnspython (requirements-dev.txt) and dig (Debian's bind9-dnsutils)."""

import shutil
import socket
import subprocess
import time

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from conftest import FIRMWARE, free_port

PORTAL_IP = "192.168.4.1"


@pytest.fixture(scope="module")
def responder(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("dns") / "console.log", "w+")
    code = ("import asyncio\nfrom kiln.dns import DNSServer\n"
            "s = DNSServer(%r, host='127.0.0.1', port=%d)\nprint('ready')\nasyncio.run(s.serve())\n"
            % (PORTAL_IP, port))
    proc = subprocess.Popen([str(FIRMWARE), "-c", code], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while "ready" not in open(log.name).read():
        assert proc.poll() is None and time.monotonic() < deadline, open(log.name).read()
        time.sleep(0.02)
    yield port, proc, log.name
    proc.terminate()
    proc.wait(5)


def ask(port, name, rdtype="A", **kw):
    q = dns.message.make_query(name, rdtype, **kw)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=2)


def raw(port, data, timeout=0.5):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, ("127.0.0.1", port))
        try:
            return s.recv(1024)
        except socket.timeout:
            return None


@pytest.mark.parametrize("name", ["connectivitycheck.gstatic.com", "captive.apple.com", "www.msftconnecttest.com",
                                  "example.org", "a.b.c.d.e.f.local", "x"])
def test_an_a_query_for_any_name_gets_the_portals_address(responder, name):
    res = ask(responder[0], name)
    assert res.rcode() == dns.rcode.NOERROR and res.flags & dns.flags.AA
    assert [(rr.name.to_text(), rr.rdtype, [r.address for r in rr]) for rr in res.answer] == [
        (name + ".", dns.rdatatype.A, [PORTAL_IP])]


def test_the_answer_echoes_the_id_and_the_question_and_works_with_edns(responder):
    q = dns.message.make_query("Example.COM", "A", use_edns=0, want_dnssec=True)
    res = dns.query.udp(q, "127.0.0.1", port=responder[0], timeout=2)
    assert res.id == q.id and q.is_response(res)  # dnspython checks id and question
    assert res.answer[0][0].address == PORTAL_IP and res.answer[0].ttl == 60


@pytest.mark.parametrize("rdtype", ["AAAA", "MX", "TXT", "HTTPS", "SRV", "PTR"])
def test_other_types_get_an_empty_noerror_answer(responder, rdtype):
    res = ask(responder[0], "example.org", rdtype)
    assert res.rcode() == dns.rcode.NOERROR and res.answer == []


def test_an_any_query_gets_the_a_record(responder):
    res = ask(responder[0], "example.org", "ANY")
    assert res.answer[0].rdtype == dns.rdatatype.A


def test_another_opcode_gets_notimp(responder):
    q = dns.message.make_query("example.org", "A")
    q.set_opcode(dns.opcode.STATUS)
    res = dns.query.udp(q, "127.0.0.1", port=responder[0], timeout=2, ignore_unexpected=True)
    assert res.rcode() == dns.rcode.NOTIMP and res.id == q.id


def test_dig_gets_the_portals_address(responder):
    dig = shutil.which("dig")
    if dig is None:
        pytest.skip("no dig: apt-get install bind9-dnsutils (tools/debian-packages.txt)")
    out = subprocess.run([dig, "@127.0.0.1", "-p", str(responder[0]), "+short", "+tries=1", "+time=2",
                          "portal.example"], capture_output=True, text=True, timeout=10).stdout
    assert out.split() == [PORTAL_IP]
    out = subprocess.run([dig, "@127.0.0.1", "-p", str(responder[0]), "+tries=1", "+time=2", "AAAA",
                          "portal.example"], capture_output=True, text=True, timeout=10).stdout
    assert "status: NOERROR" in out and "ANSWER: 0" in out


HEADER = bytes.fromhex("abcd0100") + bytes.fromhex("0001 0000 0000 0000".replace(" ", ""))


@pytest.mark.parametrize("packet, rcode", [
    (HEADER + b"\x07example", 1),                         # name runs off the end
    (HEADER + b"\x07example\x00\x00\x01", 1),             # type/class cut short
    (HEADER + b"\xc0\x0c\x00\x01\x00\x01", 1),            # a pointer in the question
    (HEADER + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01", 1),  # label over 63
    (HEADER + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01", 1),  # name over 255
    (HEADER[:4] + b"\x00\x02" + HEADER[6:] + b"\x01a\x00\x00\x01\x00\x01" * 2, 1),  # two questions
    (HEADER[:4] + b"\x00\x00" + HEADER[6:], 1),           # no question
])
def test_malformed_queries_get_formerr(responder, packet, rcode):
    res = raw(responder[0], packet)
    assert res is not None and res[:2] == b"\xab\xcd" and res[2] & 0x80 and res[3] & 0x0F == rcode


@pytest.mark.parametrize("packet", [
    b"",
    b"\x00" * 11,                                          # shorter than a header
    bytes.fromhex("abcd8180") + HEADER[4:] + b"\x01a\x00\x00\x01\x00\x01",  # a response
    HEADER + b"\x01a\x00\x00\x01\x00\x01" + b"\x00" * 600,  # over 512 bytes
])
def test_what_cannot_be_answered_is_dropped_and_the_responder_keeps_going(responder, packet):
    assert raw(responder[0], packet, timeout=0.3) is None
    assert ask(responder[0], "still.there").answer[0][0].address == PORTAL_IP
    assert responder[1].poll() is None


def test_random_garbage_never_crashes_it(responder):
    import random
    rng = random.Random(15)
    for _ in range(300):
        n = rng.randrange(0, 80)
        packet = bytes(rng.randrange(256) for _ in range(n))
        if rng.random() < 0.7 and n >= 12:
            packet = packet[:2] + bytes([packet[2] & 0x7F]) + packet[3:]
        raw(responder[0], packet, timeout=0.02)
    assert ask(responder[0], "after.garbage").answer[0][0].address == PORTAL_IP
    assert responder[1].poll() is None
    assert "Traceback" not in open(responder[2]).read()
