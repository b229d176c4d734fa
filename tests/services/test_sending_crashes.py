"""The sending program killed with SIGKILL at random moments: after resuming, the server has every
recipient exactly once, except the few reported 'uncertain' (at most one per kill)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from smbcrm.models.tables import OutboxMessage
from smbcrm.services import campaigns
from smbcrm.services.shop import open_shop
from tests.conftest import make_account, make_campaign, queue

RECIPIENTS = 2_000
KILLS = 20


def send_command(path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "smbcrm",
        "--db",
        str(path),
        "campaign",
        "send",
        "Promo",
        "--json",
    ]


@pytest.mark.slow
def test_sigkill_while_sending_never_skips_or_repeats_a_recipient(tmp_path, mail_server_factory):
    server = mail_server_factory(data_delay=0.004)  # the 250 reply comes late: kills land there
    path = tmp_path / "shop.db"
    db = open_shop(path)
    with db.atomic():
        db.connection().executemany(
            "INSERT INTO customer (first_name, email, email_consent, created_at, updated_at) "
            "VALUES (?, ?, 'granted', '2026-01-01', '2026-01-01')",
            [(f"Cliente {n}", f"c{n}@example.com") for n in range(RECIPIENTS)],
        )
    account = make_account(db, server)
    queue(db, make_campaign(db, account))
    db.close_for_good()

    rng = random.Random(5)
    for _attempt in range(KILLS):
        before = len(server.received)
        child = subprocess.Popen(send_command(path), stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while len(server.received) == before and time.monotonic() < deadline:
            time.sleep(0.005)  # wait until mail is going out, then kill at a random moment
        time.sleep(rng.uniform(0, 0.25))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert len(server.received) > before, "each kill should land while mail is going out"

    for _run in range(5):  # resume until nothing is left but the owner's decision
        finished = subprocess.run(send_command(path), capture_output=True, text=True, timeout=120)
        outcome = json.loads(finished.stdout.strip().splitlines()[-1])
        if outcome["state"] in ("finished", "needs_decision"):
            break
    assert outcome["state"] in ("finished", "needs_decision"), finished.stderr

    db = open_shop(path)
    try:
        found = campaigns.counts(db, 1)
        uncertain = {row.email for row in OutboxMessage.select().where(
            OutboxMessage.state == "uncertain")}  # fmt: skip
        sent = {row.email for row in OutboxMessage.select().where(OutboxMessage.state == "sent")}
        assert found["queued"] == found["sending"] == found["deferred"] == 0
        assert 0 < len(uncertain) <= KILLS  # only the message in flight at each kill
        assert len(sent) + len(uncertain) == RECIPIENTS
        delivered = Counter(rcpt for _from, rcpt, _data in server.received)
        assert max(delivered.values()) == 1  # nothing twice
        assert sent <= set(delivered)  # every 'sent' really reached the server
        assert set(delivered) - sent <= uncertain  # the rest are reported, never silent
        campaigns.resolve_uncertain(db, 1, resend=False)
        assert campaigns.campaign(db, 1).state == "finished"
    finally:
        db.close_for_good()
