"""Campaigns and the outbox against a real SMTP server on 127.0.0.1, scripted reply by reply."""

from __future__ import annotations

import email
import threading
import time
from datetime import datetime, timedelta
from email import policy

import pytest

from smbcrm.core.dates import utc_now
from smbcrm.core.errors import UserError
from smbcrm.core.progress import CancelToken
from smbcrm.models.tables import (
    AccountSend,
    Campaign,
    Customer,
    EmailAccount,
    OutboxMessage,
    Suppression,
)
from smbcrm.services import campaigns
from smbcrm.services.customers import unsubscribe
from smbcrm.services.email_accounts import AccountForm, save_account
from smbcrm.services.privacy import email_hash, erase_customer
from smbcrm.services.settings import save_settings
from smbcrm.services.timeline import timeline
from tests.conftest import (
    MemoryPasswords,
    make_account,
    make_campaign,
    make_customer,
    make_purchase,
    queue,
)


def customers(count: int, **fields) -> list[int]:
    return [
        make_customer(first_name=f"Cliente{n}", email=f"c{n}@example.com",
                      email_consent="granted", **fields).id
        for n in range(count)
    ]  # fmt: skip


def send(db, campaign, **options):
    options.setdefault("passwords", MemoryPasswords())
    options.setdefault("max_wait", 0)
    return campaigns.send_campaign(db, campaign.id, **options)


def states(db, campaign) -> dict[str, int]:
    return {k: v for k, v in campaigns.counts(db, campaign.id).items() if v}


def recipients(server) -> list[str]:
    return [rcpt for _from, rcpt, _data in server.received]


def test_every_recipient_gets_one_personal_message(shop, mail_server):
    ids = customers(5)
    account = make_account(shop, mail_server)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    outcome = send(shop, campaign)
    assert outcome.state == "finished"
    assert sorted(recipients(mail_server)) == sorted(f"c{n}@example.com" for n in range(5))
    message = email.message_from_bytes(mail_server.received[0][2], policy=policy.default)
    assert message["List-Unsubscribe"].startswith("<mailto:tienda@example.com")
    text = message.get_body(("plain",)).get_content()
    assert "Hola Cliente" in text
    row = OutboxMessage.get(OutboxMessage.customer == ids[0])
    assert row.state == "sent" and row.server_reply.startswith("250") and row.message_id
    assert Campaign.get_by_id(campaign.id).state == "finished"
    assert AccountSend.select().count() == 5
    events = timeline(shop, ids[0])
    assert any(e.kind == "email" and "Promo" in e.detail for e in events)


def test_the_check_lists_who_cannot_get_it_and_why(shop, mail_server):
    make_customer(first_name="Sin", email=None, email_consent="granted")
    make_customer(first_name="Baja", email="baja@example.com", email_consent="withdrawn")
    make_customer(first_name="Nunca", email="nunca@example.com", email_consent="unknown")
    make_customer(first_name="Rebote", email="rebote@example.com", email_consent="granted")
    Suppression.create(email_hash=email_hash("rebote@example.com"), reason="bounced",
                       created_at=utc_now())  # fmt: skip
    make_customer(first_name="", email="anon@example.com", email_consent="granted")
    make_customer(first_name="Bien", email="bien@example.com", email_consent="granted")
    account = make_account(shop, mail_server)
    campaign = make_campaign(shop, account)
    check = campaigns.check_campaign(shop, campaign.id)
    assert check.total == 6
    assert check.counts == {"no_email": 1, "unsubscribed": 1, "no_consent": 1, "bounced": 1,
                            "missing_values": 1}  # fmt: skip
    assert check.sendable == 2
    empty = next(p for p in check.problems if p.kind == "missing_values")
    assert "first_name" in empty.text
    # Nothing is queued by a check.
    assert OutboxMessage.select().count() == 0
    campaigns.queue_campaign(shop, check)
    send(shop, campaign)
    assert sorted(recipients(mail_server)) == ["anon@example.com", "bien@example.com"]
    assert states(shop, campaign) == {"sent": 2, "suppressed": 4}


def test_a_message_that_is_not_a_promotion_needs_no_marketing_consent(shop, mail_server):
    make_customer(email="nunca@example.com", email_consent="unknown")
    account = make_account(shop, mail_server)
    campaign = make_campaign(shop, account, marketing=False)
    queue(shop, campaign)
    send(shop, campaign)
    assert recipients(mail_server) == ["nunca@example.com"]
    assert "List-Unsubscribe" not in email.message_from_bytes(
        mail_server.received[0][2], policy=policy.default
    )


def test_suppression_is_checked_when_each_message_goes(shop, mail_server):
    first, second = customers(2)
    account = make_account(shop, mail_server)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    unsubscribe(shop, second, source="replied STOP")
    send(shop, campaign)
    assert recipients(mail_server) == ["c0@example.com"]
    assert OutboxMessage.get(OutboxMessage.customer == second).state == "suppressed"


def test_the_weekly_cap_holds_back_promotions(shop, mail_server):
    save_settings(shop, marketing_emails_per_week=1)
    customers(2)
    account = make_account(shop, mail_server)
    first = make_campaign(shop, account, name="Uno")
    queue(shop, first)
    send(shop, first)
    second = make_campaign(shop, account, name="Dos")
    check = campaigns.check_campaign(shop, second.id)
    assert check.counts == {"frequency_cap": 2} and check.sendable == 0


def test_a_recipient_the_server_refuses_fails_alone_and_is_not_mailed_again(
    shop, mail_server_factory
):
    server = mail_server_factory(replies={"c1@example.com": (550, "5.1.1 User unknown")})
    customers(3)
    account = make_account(shop, server)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    outcome = send(shop, campaign)
    assert outcome.state == "finished"
    assert sorted(recipients(server)) == ["c0@example.com", "c2@example.com"]
    failed = OutboxMessage.get(OutboxMessage.state == "failed")
    assert "5.1.1" in failed.reason
    assert (
        Suppression.get(Suppression.email_hash == email_hash("c1@example.com")).reason == "bounced"
    )


def test_a_temporary_refusal_is_tried_again_later(shop, mail_server_factory):
    server = mail_server_factory(replies={"c0@example.com": (452, "4.2.2 Mailbox full")})
    customers(2)
    account = make_account(shop, server)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    outcome = send(shop, campaign)
    assert outcome.state == "waiting" and outcome.resume_at is not None
    row = OutboxMessage.get(OutboxMessage.state == "deferred")
    assert row.next_attempt_at > utc_now()
    assert Campaign.get_by_id(campaign.id).state == "queued"  # never finished with a row open
    server.replies = None
    OutboxMessage.update(next_attempt_at=utc_now() - timedelta(seconds=1)).execute()
    assert send(shop, campaign).state == "finished"
    assert sorted(recipients(server)) == ["c0@example.com", "c1@example.com"]


@pytest.mark.parametrize(
    ("reply", "held"),
    [
        ((535, "5.7.8 Username and Password not accepted"), False),
        ((550, "5.4.5 Daily user sending quota exceeded."), True),
    ],
)
def test_an_account_problem_pauses_the_campaign_and_fails_nobody(
    shop, mail_server_factory, reply, held
):
    if reply[0] == 535:
        server = mail_server_factory(auth=("tienda", "right"), auth_require_tls=False)
        account = make_account(shop, server, username="tienda")
    else:
        server = mail_server_factory(mail_reply=reply)
        account = make_account(shop, server)
    customers(3)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    passwords = MemoryPasswords(**{account.password_key: "wrong"})
    outcome = send(shop, campaign, passwords=passwords)
    assert outcome.state == "paused"
    assert outcome.message
    assert states(shop, campaign) == {"queued": 3}
    assert Campaign.get_by_id(campaign.id).pause_reason
    assert (EmailAccount.get_by_id(account.id).held_until is not None) is held


def test_a_message_whose_reply_never_came_is_uncertain_and_never_resent_by_itself(
    shop, mail_server_factory
):
    server = mail_server_factory(drop="after_data", drop_count=1)
    customers(3)
    account = make_account(shop, server)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    outcome = send(shop, campaign)
    assert outcome.state == "needs_decision"
    assert states(shop, campaign) == {"sent": 2, "uncertain": 1}
    assert Campaign.get_by_id(campaign.id).state == "queued"
    assert campaigns.resolve_uncertain(shop, campaign.id, resend=True) == 1
    assert send(shop, campaign).state == "finished"
    assert len(server.received) == 3


def test_skipping_uncertain_messages_finishes_the_campaign(shop, mail_server_factory):
    server = mail_server_factory(drop="after_data", drop_count=1)
    customers(2)
    account = make_account(shop, server)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    send(shop, campaign)
    campaigns.resolve_uncertain(shop, campaign.id, resend=False)
    assert Campaign.get_by_id(campaign.id).state == "finished"
    assert states(shop, campaign) == {"sent": 1, "failed": 1}


def test_a_crash_leaves_rows_that_tell_the_truth(shop, mail_server):
    customers(4)
    account = make_account(shop, mail_server)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    rows = list(OutboxMessage.select().order_by(OutboxMessage.id))
    boot = campaigns.boot_identity()
    # As a kill would leave them: one handed over, one only claimed, one claimed before a restart.
    OutboxMessage.update(state="sending", handed_over=True, claimed_boot=boot, attempts=1).where(
        OutboxMessage.id == rows[0].id).execute()  # fmt: skip
    OutboxMessage.update(state="sending", claimed_boot=boot, attempts=1).where(
        OutboxMessage.id == rows[1].id).execute()  # fmt: skip
    OutboxMessage.update(state="sending", claimed_boot="another boot", attempts=1).where(
        OutboxMessage.id == rows[2].id).execute()  # fmt: skip
    assert campaigns.recover_interrupted(shop, campaign.id) == 2
    assert [OutboxMessage.get_by_id(r.id).state for r in rows] == [
        "uncertain", "queued", "uncertain", "queued"]  # fmt: skip
    assert OutboxMessage.get_by_id(rows[1].id).attempts == 0
    # A message that had been tried before goes back to 'will try again', due now.
    OutboxMessage.update(state="sending", claimed_boot=boot, attempts=3).where(
        OutboxMessage.id == rows[3].id).execute()  # fmt: skip
    campaigns.recover_interrupted(shop, campaign.id)
    assert OutboxMessage.get_by_id(rows[3].id).state == "deferred"
    campaigns.resolve_uncertain(shop, campaign.id, resend=False)
    assert send(shop, campaign).state == "finished"
    assert len(mail_server.received) == 2


def test_the_daily_limit_spreads_a_campaign_over_days_and_counts_test_sends(shop, mail_server):
    from smbcrm.services.email_accounts import send_test

    customers(5)
    account = make_account(shop, mail_server, per_day=4)
    send_test(shop, account.id, MemoryPasswords())
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    outcome = send(shop, campaign, max_wait=5)
    assert outcome.state == "waiting"
    assert outcome.resume_at > utc_now() + timedelta(hours=23)
    assert "limit" in outcome.message
    assert states(shop, campaign) == {"sent": 3, "queued": 2}
    assert len(mail_server.received) == 4  # the test message and three of the campaign


def test_a_per_minute_limit_waits_and_goes_on(shop, mail_server):
    customers(3)
    account = make_account(shop, mail_server, per_minute=2)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    slept = []

    def fast_forward(seconds: float) -> None:
        slept.append(seconds)
        shop.execute_sql("UPDATE account_send SET sent_at = datetime(sent_at, '-2 minutes')")

    outcome = send(shop, campaign, max_wait=120, sleep=fast_forward)
    # The limiter re-reads the shop's sends only from time to time; a fresh run sees the clock.
    if outcome.state != "finished":
        outcome = send(shop, campaign, max_wait=120, sleep=fast_forward)
    assert slept
    assert len(mail_server.received) == 3


def test_pause_and_resume_fifty_times_sends_each_message_once(shop, mail_server_factory):
    server = mail_server_factory(data_delay=0.002)
    customers(120)
    account = make_account(shop, server)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    for round_number in range(50):
        token = CancelToken()
        worker = threading.Thread(
            target=send, args=(shop, campaign), kwargs={"cancel": token}, daemon=True
        )
        worker.start()
        time.sleep(0.001 * (round_number % 7))
        campaigns.pause_campaign(shop, campaign.id, "paused by the test")
        token.cancel()
        worker.join(30)
        assert not worker.is_alive()
        save_account(
            shop,
            AccountForm(name="Tienda", host="127.0.0.1", port=server.port, security="none",
                        from_address="tienda@example.com",
                        per_minute=None if round_number % 2 else 100_000),
            account_id=account.id,
        )  # fmt: skip
        campaigns.resume_campaign(shop, campaign.id)
    assert send(shop, campaign).state == "finished"
    got = recipients(server)
    assert len(got) == 120 and len(set(got)) == 120


def test_a_cancelled_campaign_drops_what_was_not_sent(shop, mail_server):
    customers(3)
    account = make_account(shop, mail_server)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    campaigns.cancel_campaign(shop, campaign.id)
    assert OutboxMessage.select().count() == 0
    assert send(shop, campaign).state == "cancelled"
    assert mail_server.received == []


def test_audiences(shop, mail_server):
    from smbcrm.services.customers import set_tags

    first, second, third = customers(3)
    set_tags(shop, second, ["VIP"])
    make_customer(email="archivada@example.com", email_consent="granted", archived=True)
    assert len(campaigns.audience_ids(shop, "all")) == 3
    assert campaigns.audience_ids(shop, "tag:vip") == [second]
    assert campaigns.audience_ids(shop, f"customers:{first},{third}") == [first, third]
    for wrong in ("tag:nobody", "everyone", "customers:x"):
        with pytest.raises(UserError):
            campaigns.audience_ids(shop, wrong)


def test_a_segment_is_an_audience_evaluated_when_the_campaign_is_queued(shop, mail_server):
    new_customer, old_customer = customers(2)
    make_purchase(Customer.get_by_id(new_customer), when=datetime.now() - timedelta(days=3))
    account = make_account(shop, mail_server)
    campaign = make_campaign(shop, account, audience="segment:new")
    assert campaigns.audience_ids(shop, "segment:new") == [new_customer]
    make_purchase(Customer.get_by_id(old_customer), when=datetime.now() - timedelta(days=1))
    queue(shop, campaign)  # evaluated now, not when the campaign was created
    send(shop, campaign)
    assert sorted(recipients(mail_server)) == ["c0@example.com", "c1@example.com"]
    with pytest.raises(UserError):
        campaigns.audience_ids(shop, "segment:no such segment")


def test_a_template_error_for_one_customer_fails_that_message_alone(shop, mail_server):
    customers(2)
    account = make_account(shop, mail_server)
    campaign = make_campaign(
        shop, account, body="<p>{{ 'x' * (10 ** 9 if first_name == 'Cliente0' else 1) }}</p>"
    )
    check = campaigns.check_campaign(shop, campaign.id)
    assert check.counts == {"template_error": 1}
    campaigns.queue_campaign(shop, check)
    send(shop, campaign)
    assert recipients(mail_server) == ["c1@example.com"]
    assert states(shop, campaign) == {"sent": 1, "failed": 1}


def test_an_erased_customer_leaves_no_address_in_the_outbox(shop, mail_server):
    (customer_id,) = customers(1)
    account = make_account(shop, mail_server)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)
    send(shop, campaign)
    erase_customer(shop, customer_id)
    row = OutboxMessage.get()
    assert row.email == "" and row.customer_id is None and row.state == "sent"


def test_account_fields_are_checked(shop):
    base = {"name": "Gmail", "host": "smtp.gmail.com", "port": 587, "security": "starttls",
            "username": "t@gmail.com", "from_address": "t@gmail.com"}  # fmt: skip
    save_account(shop, AccountForm(**base))
    for change in ({"name": "gmail"}, {"host": "smtp gmail"}, {"port": 0},
                   {"security": "none"}, {"from_address": "nope"},
                   {"from_name": "Tienda\r\nBcc: x@y.z"}, {"per_day": -1}):  # fmt: skip
        with pytest.raises(UserError):
            save_account(shop, AccountForm(**{**base, "name": "Otra", **change}))


def test_only_the_customers_the_owner_saw_checked_are_queued(shop, mail_server):
    customers(2)
    account = make_account(shop, mail_server)
    campaign = make_campaign(shop, account)
    check = campaigns.check_campaign(shop, campaign.id)
    make_customer(email="late@example.com", email_consent="granted")  # joined after the check
    campaigns.queue_campaign(shop, check)
    send(shop, campaign)
    assert sorted(recipients(mail_server)) == ["c0@example.com", "c1@example.com"]


def test_a_bounce_recorded_while_a_long_run_goes_on_is_respected(shop, mail_server):
    customers(60)
    account = make_account(shop, mail_server)
    campaign = make_campaign(shop, account)
    queue(shop, campaign)

    def progress(done, total, text):
        if done == 10:  # the first batch is going out: c55 bounces elsewhere meanwhile
            Suppression.insert(email_hash=email_hash("c55@example.com"), reason="bounced",
                               created_at=utc_now()).on_conflict_ignore().execute()  # fmt: skip

    send(shop, campaign, progress=progress)
    assert "c55@example.com" not in recipients(mail_server)
    assert len(recipients(mail_server)) == 59


def test_two_campaigns_of_one_account_take_turns(shop, mail_server):
    customers(2)
    account = make_account(shop, mail_server)
    first, second = (make_campaign(shop, account, name=name) for name in ("Uno", "Dos"))
    queue(shop, first)
    queue(shop, second)
    token, outcome = CancelToken(), []
    with campaigns._account_turn(shop, account.id, None, time.sleep, lambda *a: None):
        worker = threading.Thread(
            target=lambda: outcome.append(send(shop, second, cancel=token)), daemon=True
        )
        worker.start()
        time.sleep(0.3)
        assert worker.is_alive() and mail_server.received == []  # waiting for its turn
        token.cancel()
        worker.join(10)
    assert outcome[0].state == "stopped"
    assert send(shop, second).state == "finished" and len(mail_server.received) == 2


def test_the_saved_password_follows_a_changed_login(shop):
    passwords = MemoryPasswords()
    form = AccountForm(name="Gmail", host="smtp.gmail.com", port=587, security="starttls",
                       username="a@gmail.com", from_address="a@gmail.com")  # fmt: skip
    info = save_account(shop, form, passwords=passwords, password="secreto")
    moved = save_account(
        shop, AccountForm(**{**form.__dict__, "username": "b@gmail.com"}),
        passwords=passwords, account_id=info.id,
    )  # fmt: skip
    assert passwords.known == {moved.password_key: "secreto"}
