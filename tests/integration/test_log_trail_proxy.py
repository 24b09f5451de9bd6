"""The log trail through the real proxy and Postfix: "why was mail from X refused?" answered by
the log line and by `mailguard history --sender X` / `--id ID`, ID being the one in our reply."""
from __future__ import annotations

import json
import re
import smtplib
import uuid

from realservers import CORPORA, TEST_DOMAIN, Mailguard, wait_for

ID_IN_REPLY = re.compile(rb"\(id ([0-9A-F]{12})\)$")


def id_of(text: bytes) -> str:
    m = ID_IN_REPLY.search(text)
    assert m, text
    return m.group(1).decode()


def lines_with(mg: Mailguard, queue_id: str) -> list[str]:
    return [line for line in mg.stderr_lines if queue_id in line]


def history(mg: Mailguard, *args: str) -> list[dict]:
    res = mg.cli("history", "--json", *args)
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_a_list_refusal_at_rcpt_is_one_log_line_and_a_history_row(postfix, start_mailguard, tmp_path):
    path = tmp_path / "national.list"
    path.write_text("spam-domain.test\n")
    mg = start_mailguard(postfix.port, lists={"file": [{"name": "national", "path": str(path), "reject": True}]})
    sender = f"promo-{uuid.uuid4().hex[:8]}@mail.spam-domain.test"
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.mail(sender)
        code, text = s.rcpt(f"user@{TEST_DOMAIN}")
    assert code == 550 and text.startswith(b"5.7.1 Recipient refused: sender or client on our block list (id "), text
    assert b"LIST_" not in text  # symbol names only with [server] reply_symbols
    queue_id = id_of(text)
    (line,) = wait_for(lambda: lines_with(mg, queue_id), 10, what="the refusal's log line")
    assert f"{queue_id} refused at rcpt:" in line and re.search(r"client=\S+\[127\.0\.0\.1\] ", line)
    assert f"from=<{sender}> to=<user@{TEST_DOMAIN}>" in line
    assert "reason=blocklist" in line and "symbols=LIST_NATIONAL(" in line and text.decode() in line

    rows = wait_for(lambda: history(mg, "--sender", sender), 10, what="the history row")
    assert [r["queue_id"] for r in rows] == [queue_id]
    (row,) = rows
    assert row["rcpts"] == [f"user@{TEST_DOMAIN}"] and row["action"] == "reject"
    assert row["outcome"] == f"550 {text.decode()}" and "LIST_NATIONAL" in row["symbols"]
    assert history(mg, "--id", queue_id.lower()) == rows  # the id as the sender's admin quotes it
    assert history(mg, "--sender", "friend@outside.example") == []


def test_gtube_after_data_is_one_log_line_without_the_message_and_a_history_row(postfix, start_mailguard):
    mg = start_mailguard(postfix.port)
    subject_marker, body_marker = f"subject-{uuid.uuid4().hex}", f"body-{uuid.uuid4().hex}"
    gtube = (CORPORA / "samples" / "sample-spam.txt").read_bytes().replace(b"\n", b"\r\n")
    sender = f"a-{uuid.uuid4().hex[:8]}@outside.example"
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("client.outside.example")
        s.mail(sender)
        s.rcpt(f"other@{TEST_DOMAIN}")
        s.rcpt(f"user@{TEST_DOMAIN}")
        code, text = s.data(f"Subject: {subject_marker}\r\n".encode() + gtube + f"\r\n{body_marker}\r\n".encode())
        assert code == 550 and text.startswith(b"5.7.1 Message rejected as spam (id "), text
        refused = id_of(text)
        ham = f"Subject: {subject_marker}-ham\r\n\r\n{body_marker}-ham\r\n".encode()
        accepted = s.sendmail(sender, [f"user@{TEST_DOMAIN}"], ham)
    assert accepted == {}
    (line,) = wait_for(lambda: lines_with(mg, refused), 10, what="the refusal's log line")
    assert f"{refused} refused at data:" in line and re.search(r"client=\S+\[127\.0\.0\.1\] ", line)
    assert f"from=<{sender}> to=<other@{TEST_DOMAIN}>,<user@{TEST_DOMAIN}>" in line
    assert "reason=spam" in line and "action=reject" in line and "GTUBE(" in line and text.decode() in line
    accepted_lines = wait_for(lambda: [l for l in mg.stderr_lines if " accepted at data:" in l and sender in l], 10,
                              what="the accepted message's log line")
    assert len(accepted_lines) == 1 and "action=" in accepted_lines[0] and "queued as" in accepted_lines[0]
    assert subject_marker not in mg.log() and body_marker not in mg.log()  # no message content in the log

    (row,) = wait_for(lambda: history(mg, "--id", refused), 10, what="the history row")
    assert row["mail_from"] == sender and row["action"] == "reject" and "GTUBE" in row["symbols"]
    assert row["outcome"] == f"550 {text.decode()}"
    assert len(wait_for(lambda: (r := history(mg, "--sender", sender)) and len(r) == 2 and r, 10,
                        what="both rows of the sender")) == 2


def test_json_log_lines_carry_the_fields(postfix, start_mailguard):
    mg = start_mailguard(postfix.port, server={"log_format": "json"})
    sender = f"j-{uuid.uuid4().hex[:8]}@outside.example"
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.sendmail(sender, [f"user@{TEST_DOMAIN}"], b"Subject: hello\r\n\r\nhi\r\n")

    def entry():
        for line in mg.stderr_lines:
            if line.startswith("{") and (found := json.loads(line)).get("sender") == sender:
                return found
        return None

    found = wait_for(entry, 10, what="the message's JSON line")
    assert found["result"] == "accepted" and found["stage"] == "data" and found["rcpts"] == [f"user@{TEST_DOMAIN}"]
    assert found["client_ip"] == "127.0.0.1" and found["action"] == "accept" and isinstance(found["score"], float)
    assert isinstance(found["symbols"], dict) and found["reply"].startswith("250 ") and found["level"] == "INFO"
    assert re.fullmatch(r"[0-9A-F]{12}", found["id"])
    assert all(json.loads(line) for line in mg.stderr_lines if not line.startswith(("listening on", "milter ")))
