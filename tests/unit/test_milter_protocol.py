"""The milter codec (mailguard/milter/protocol.py) and the header edits (edits.py), byte by byte.

The packets of the MTA side are written here by hand, as Postfix's milter8.c writes them."""
from __future__ import annotations

import struct

import pytest

from mailguard.milter import protocol as p
from mailguard.milter.edits import header_edits


def packet(letter: bytes, data: bytes = b"") -> bytes:
    return struct.pack("!I", 1 + len(data)) + letter + data


def decode_packet(raw: bytes) -> p.Command:
    length = p.packet_length(raw[:4])
    assert len(raw) == 4 + length
    return p.decode(raw[4:])


POSTFIX_ACTIONS = 0x1FF
POSTFIX_V6_STEPS = 0x1FFFFF  # every NO*, NR_*, SKIP, RCPT_REJ and HDR_LEADSPC bit


def test_negotiation_takes_what_we_want_of_what_is_offered():
    offer = decode_packet(packet(b"O", struct.pack("!III", 6, POSTFIX_ACTIONS, POSTFIX_V6_STEPS)))
    assert offer == p.OptNeg(6, p.Action(POSTFIX_ACTIONS), p.Step(POSTFIX_V6_STEPS))
    answer = p.negotiate(offer)
    assert answer.version == 6
    assert answer.actions == p.Action.ADDHDRS | p.Action.CHGHDRS | p.Action.DELRCPT  # DELRCPT: ads held per recipient
    assert p.Step.HDR_LEADSPC in answer.steps and p.Step.NR_HDR in answer.steps
    assert p.Step.NOHDRS not in answer.steps and p.Step.NOBODY not in answer.steps
    assert p.encode(answer) == packet(b"O", struct.pack("!III", 6, 0x19, int(answer.steps)))


def test_negotiation_with_an_older_mta_asks_only_for_what_it_knows():
    v2_steps = 0x7F  # NOCONNECT..NOEOH
    answer = p.negotiate(p.OptNeg(2, p.Action(0x3F), p.Step(v2_steps)))
    assert answer.version == 2 and answer.steps == p.Step(0)  # no NR_*, no HDR_LEADSPC
    with pytest.raises(p.ProtocolError):
        p.negotiate(p.OptNeg(6, p.Action.ADDHDRS, p.Step(v2_steps)))  # cannot change headers


def test_connect_ipv4_ipv6_unix_and_unknown():
    data = b"mail.example\x004" + struct.pack("!H", 40000) + b"192.0.2.7\x00"
    assert decode_packet(packet(b"C", data)) == p.Connect("mail.example", "4", 40000, "192.0.2.7")
    data = b"[2001:db8::5]\x006" + struct.pack("!H", 2525) + b"2001:db8::5\x00"
    assert decode_packet(packet(b"C", data)) == p.Connect("[2001:db8::5]", "6", 2525, "2001:db8::5")
    data = b"localhost\x00L" + struct.pack("!H", 0) + b"/run/smtpd\x00"
    assert decode_packet(packet(b"C", data)).family == "L"
    assert decode_packet(packet(b"C", b"unknown\x00U")) == p.Connect("unknown", "U", None, None)


def test_macros_helo_mail_rcpt():
    macro = decode_packet(packet(b"D", b"M" + b"i\x004Xyz1\x00{mail_addr}\x00a@b.example\x00"))
    assert macro == p.Macro("M", {"i": "4Xyz1", "{mail_addr}": "a@b.example"})
    assert decode_packet(packet(b"H", b"client.example\x00")) == p.Helo("client.example")
    mail = decode_packet(packet(b"M", b"<a@b.example>\x00SIZE=100\x00SMTPUTF8\x00"))
    assert mail.address == "a@b.example" and mail.has_param("SMTPUTF8") and not mail.has_param("BODY")
    assert decode_packet(packet(b"M", b"<>\x00")).address == ""
    assert decode_packet(packet(b"R", b"<user@test.example>\x00")).address == "user@test.example"
    # 8-bit bytes survive the round trip through str
    assert decode_packet(packet(b"R", "<tú@test.example>\x00".encode())).address == "tú@test.example"


def test_header_body_and_the_events_without_data():
    assert decode_packet(packet(b"L", b"Subject\x00 hello\n\tworld\x00")) == p.Header(b"Subject", b" hello\n\tworld")
    assert decode_packet(packet(b"B", b"line\r\n\x00binary\xff")) == p.Body(b"line\r\n\x00binary\xff")
    assert decode_packet(packet(b"E")) == p.EndOfMessage(b"")
    for letter, value in ((b"N", p.EndOfHeaders()), (b"A", p.Abort()), (b"Q", p.Quit()),
                          (b"K", p.QuitNewConnection()), (b"T", p.Data())):
        assert decode_packet(packet(letter)) == value


def test_limits_and_malformed_packets():
    with pytest.raises(p.ProtocolError, match="limit"):
        p.packet_length(struct.pack("!I", p.MAX_PACKET + 1))
    with pytest.raises(p.ProtocolError):
        p.packet_length(struct.pack("!I", 0))
    assert p.packet_length(struct.pack("!I", p.BODY_CHUNK + 1)) == p.BODY_CHUNK + 1
    for raw in (b"Z", b"Lname-without-value\x00", b"O\x00\x00", b"C"):
        with pytest.raises(p.ProtocolError):
            p.decode(raw)


def test_responses():
    assert p.encode(p.CONTINUE) == packet(b"c")
    assert p.encode(p.ACCEPT) == packet(b"a")
    assert p.encode(p.DISCARD) == packet(b"d")
    assert p.encode(p.TEMPFAIL) == packet(b"t")
    assert p.encode(p.REJECT) == packet(b"r")
    assert p.encode(p.PROGRESS) == packet(b"p")
    assert p.encode(p.ReplyCode(550, "5.7.1 Message rejected as spam (GTUBE)")) == \
        packet(b"y", b"550 5.7.1 Message rejected as spam (GTUBE)\x00")
    # several lines; a '%' doubled (Postfix reads the reply as Sendmail's format string)
    assert p.encode(p.ReplyCode(451, "4.7.1 one\n4.7.1 100% two")) == packet(b"y", b"451-4.7.1 one\r\n451 4.7.1 100%% two\x00")
    with pytest.raises(ValueError):
        p.encode(p.ReplyCode(250, "2.0.0 fine"))
    assert p.encode(p.AddHeader("X-A", " b")) == packet(b"h", b"X-A\x00 b\x00")
    assert p.encode(p.InsertHeader(1, "X-A", " b\n\tc")) == packet(b"i", struct.pack("!I", 1) + b"X-A\x00 b\n\tc\x00")
    assert p.encode(p.ChangeHeader(2, "X-Spam-Flag", "")) == packet(b"m", struct.pack("!I", 2) + b"X-Spam-Flag\x00\x00")


OURS = ["Authentication-Results: mx.test; spf=none", "X-Spam-Flag: NO", "X-Spam-Status: No, score=0.0 required=5.0\r\n\ttests=A,B"]


def test_edits_insert_ours_first_in_order_and_delete_forged_copies():
    received = [(b"X-Spam-Flag", b" YES"), (b"Subject", b" hi"), (b"x-spam-flag", b" YES"),
                (b"Authentication-Results", b" mx.test; dkim=pass"), (b"Authentication-Results", b" other.example; spf=pass"),
                (b"Received", b" from a\n\tby b")]
    edits = header_edits(received, OURS, authserv_id="mx.test")
    assert edits == [
        p.ChangeHeader(1, "Authentication-Results", ""),  # ours by authserv-id; other.example's stays
        p.ChangeHeader(2, "x-spam-flag", ""),  # highest index of a name first
        p.ChangeHeader(1, "X-Spam-Flag", ""),
        p.InsertHeader(1, "Authentication-Results", " mx.test; spf=none"),
        p.InsertHeader(2, "X-Spam-Flag", " NO"),
        p.InsertHeader(3, "X-Spam-Status", " No, score=0.0 required=5.0\n\ttests=A,B"),
    ]


def test_edits_tag_the_subject_once_or_add_one():
    assert header_edits([(b"Subject", b" hello")], [], authserv_id="", subject_tag="***SPAM***") == \
        [p.ChangeHeader(1, "Subject", " ***SPAM*** hello")]
    assert header_edits([(b"Subject", b" ***SPAM*** hello")], [], authserv_id="", subject_tag="***SPAM***") == []
    assert header_edits([(b"From", b" a@b")], [], authserv_id="", subject_tag="[QC]") == [p.AddHeader("Subject", " [QC]")]
    # without HDR_LEADSPC the MTA strips and adds the space after the colon itself
    assert header_edits([(b"Subject", b"hello")], ["X-Spam-Flag: YES"], authserv_id="", subject_tag="T",
                        leading_space=False) == [p.InsertHeader(1, "X-Spam-Flag", "YES"), p.ChangeHeader(1, "Subject", "T hello")]


def test_edits_never_let_a_value_end_the_field():
    (edit,) = header_edits([], ["X-Mailguard-Symbols: a\r\nInjected: yes"], authserv_id="")
    assert "\n" not in edit.value and edit.value.endswith("?Injected: yes")
