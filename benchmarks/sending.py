"""Campaign figures against aiosmtpd on 127.0.0.1; prints one JSON object last.

    .venv/bin/python benchmarks/sending.py [--recipients 10000] [--messages 5000]

render_check_10k_s: check_campaign over 10,000 recipients of a demo shop with the ready-made
"we miss you" template (merge fields, last purchase, three recommendations each).
send_5k_msgs_per_s: send_campaign of 5,000 messages through the outbox, no rate limit.
bare_smtplib_msgs_per_s: smtplib send_message over one reused connection to the same server in
the same run, sending one of the campaign's own messages prepared once (best of alternating
rounds); send_ratio: the two. message_bytes: that message's size.
"""

from __future__ import annotations

import argparse
import email.policy
import json
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smbcrm.core.i18n import set_language  # noqa: E402
from smbcrm.messaging.compose import Sender, compose_message  # noqa: E402
from smbcrm.services import campaigns  # noqa: E402
from smbcrm.services.demo import create_demo_shop  # noqa: E402
from smbcrm.services.email_accounts import AccountForm, save_account  # noqa: E402
from smbcrm.services.mail_templates import (  # noqa: E402
    RecipientRenderer,
    add_ready_templates,
    find_template,
)
from smbcrm.services.shop import open_shop  # noqa: E402


class NoPasswords:
    def get(self, account: str) -> None:
        return None

    def set(self, account: str, password: str) -> None: ...

    def delete(self, account: str) -> None: ...


def bare_loop(port: int, count: int, message: bytes) -> float:
    """smtplib over one connection, sending one prepared message (its bytes) again and again."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for n in range(count):
            smtp.sendmail("tienda@example.com", [f"bare{n}@example.com"], message)
    return count / (time.perf_counter() - started)


def campaign_like_message(db, template) -> bytes:
    """One of the campaign's own messages, prepared once: the bare loop then asks the server
    for the same work per message as the campaign does, and the ratio shows what smbcrm adds
    (rendering, composing, the outbox), not how much bigger a personal mail is."""
    renderer = RecipientRenderer(db, template.subject, template.body_html)
    first_id = db.execute_sql("SELECT id FROM customer ORDER BY id LIMIT 1").fetchone()[0]
    recipient = next(iter(renderer.recipients([first_id])))
    composed, _message_id = compose_message(
        sender=Sender("Tienda La Esquina", "tienda@example.com"),
        to_name=recipient.name,
        to_address=recipient.email or "c@example.com",
        rendered=renderer.render(recipient),
        message_id_domain="example.com",
        unsubscribe_mailto="tienda@example.com",
    )
    return composed.as_bytes(policy=email.policy.SMTP)


class SinkServer:
    """aiosmtpd in its own process, as a real server would be: the sender does not share its
    interpreter lock with the server, for our loop and the bare loop alike."""

    def __enter__(self) -> SinkServer:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
             "-c", "aiosmtpd.handlers.Sink"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the benchmark's SMTP server did not start")

    def __exit__(self, *exc_info: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    set_language("es")
    folder = Path(tempfile.mkdtemp(prefix="smbcrm-sending-"))
    db = open_shop(folder / "shop.db")
    create_demo_shop(db, args.recipients, seed=3)
    with db.atomic():
        # Everyone reachable, so the check renders every recipient.
        db.execute_sql(
            "UPDATE customer SET email_consent = 'granted', "
            "email = COALESCE(email, 'c' || id || '@example.com')"
        )
    add_ready_templates(db, "es")
    template = find_template(db, "Te extrañamos")
    figures: dict[str, float] = {}
    with SinkServer() as server:
        account = save_account(
            db,
            AccountForm(name="Local", host="127.0.0.1", port=server.port, security="none",
                        from_address="tienda@example.com"),
        )  # fmt: skip
        check_campaign = campaigns.create_campaign(
            db, "Check", template_id=template.id, account_id=account.id, audience="all"
        )
        started = time.perf_counter()
        check = campaigns.check_campaign(db, check_campaign.id)
        figures["render_check_10k_s"] = round(
            (time.perf_counter() - started) * 10_000 / max(check.total, 1), 2
        )
        figures["checked_recipients"] = check.total

        ids = [
            row[0] for row in db.execute_sql("SELECT id FROM customer LIMIT ?", (args.messages,))
        ]
        message = campaign_like_message(db, template)
        figures["message_bytes"] = len(message)
        bare, ours = [], []
        for round_number in range(args.rounds):
            bare.append(bare_loop(server.port, args.messages, message))
            name = f"Send {round_number}"
            sending = campaigns.create_campaign(
                db, name, template_id=template.id, account_id=account.id,
                audience="customers:" + ",".join(map(str, ids)),
            )  # fmt: skip
            campaigns.queue_campaign(db, campaigns.check_campaign(db, sending.id))
            # The weekly cap would stop the second round: this measures speed, not the cap.
            db.execute_sql("UPDATE setting SET value = '0' WHERE key = 'marketing_emails_per_week'")
            db.execute_sql(
                "INSERT OR REPLACE INTO setting (key, value) VALUES ('marketing_emails_per_week', '0')"
            )
            started = time.perf_counter()
            outcome = campaigns.send_campaign(db, sending.id, passwords=NoPasswords(), max_wait=0)
            elapsed = time.perf_counter() - started
            assert outcome.state == "finished", outcome
            ours.append(outcome.counts["sent"] / elapsed)
        figures["send_5k_msgs_per_s"] = round(max(ours))
        figures["bare_smtplib_msgs_per_s"] = round(max(bare))
        figures["send_ratio"] = round(max(ours) / max(bare), 2)
    db.close_for_good()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
