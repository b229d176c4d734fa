"""MIME composition: parts, encoded names, Message-ID, unsubscribe, header injection refused."""

from __future__ import annotations

import email
from email.header import decode_header, make_header
from email.policy import default

import pytest

from smbcrm.messaging.compose import HeaderInjectionError, Sender, compose_message
from smbcrm.messaging.templates import MailTemplate, RenderedMail

SENDER = Sender("Tienda Doña Rosa", "rosa@tienda.test", reply_to="rosa.personal@example.test")


def rendered(
    subject="¡Hola Ana!", html="<p>Hola Ana &amp; familia</p>", text="Hola Ana & familia\n"
):
    return RenderedMail(subject, html, text, ())


def parse(message):
    return email.message_from_bytes(message.as_bytes(), policy=default)


def test_multipart_alternative_with_text_then_html_in_utf8():
    message, message_id = compose_message(
        sender=SENDER, to_name="Ana Gómez", to_address="ana@example.test",
        rendered=rendered(), message_id_domain="tienda.test",
    )  # fmt: skip
    parsed = parse(message)
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.get_payload()
    assert text.get_content_type() == "text/plain" and text.get_content_charset() == "utf-8"
    assert text.get_content() == "Hola Ana & familia\n"
    assert html.get_content() == "<p>Hola Ana &amp; familia</p>"
    assert str(parsed["From"]) == "Tienda Doña Rosa <rosa@tienda.test>"
    assert parsed["From"].addresses[0].display_name == "Tienda Doña Rosa"
    assert str(parsed["To"]) == "Ana Gómez <ana@example.test>"
    assert str(parsed["Subject"]) == "¡Hola Ana!"
    assert str(parsed["Reply-To"]) == "rosa.personal@example.test"
    assert parsed["Date"].datetime is not None
    assert parsed["Message-ID"] == message_id
    assert message_id.startswith("<") and message_id.endswith("@tienda.test>")
    assert message.as_bytes().isascii()  # 7-bit clean: any server takes it


def test_each_message_gets_a_fresh_message_id():
    ids = {
        compose_message(sender=SENDER, to_name="", to_address="a@example.test",
                        rendered=rendered(), message_id_domain="tienda.test")[1]
        for _ in range(50)
    }  # fmt: skip
    assert len(ids) == 50


def test_display_names_with_quotes_and_commas_stay_one_address():
    message, _ = compose_message(
        sender=Sender('Rosa "La Tienda", Cali', "rosa@tienda.test"), to_name="Gómez, Ana",
        to_address="ana@example.test", rendered=rendered(), message_id_domain="tienda.test",
    )  # fmt: skip
    parsed = parse(message)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ana@example.test"]
    assert parsed["To"].addresses[0].display_name == "Gómez, Ana"
    assert parsed["From"].addresses[0].display_name == 'Rosa "La Tienda", Cali'


def test_unsubscribe_header_and_visible_line_in_both_parts():
    message, _ = compose_message(
        sender=SENDER, to_name="Ana", to_address="ana@example.test",
        rendered=rendered(html="<html><body><p>Hola</p></body></html>", text="Hola\n"),
        message_id_domain="tienda.test", unsubscribe_mailto="baja@tienda.test",
        unsubscribe_line="¿No quieres más correos? Responde <BAJA>.",
    )  # fmt: skip
    parsed = parse(message)
    assert parsed["List-Unsubscribe"] == "<mailto:baja@tienda.test?subject=unsubscribe>"
    text, html = parsed.get_payload()
    assert text.get_content().endswith("¿No quieres más correos? Responde <BAJA>.\n")
    assert (
        "¿No quieres más correos? Responde &lt;BAJA&gt;.</p>\n</body></html>" in html.get_content()
    )


def test_default_unsubscribe_line():
    message, _ = compose_message(
        sender=SENDER, to_name="Ana", to_address="ana@example.test", rendered=rendered(),
        message_id_domain="tienda.test", unsubscribe_mailto="baja@tienda.test",
    )  # fmt: skip
    text = parse(message).get_payload()[0].get_content()
    assert "UNSUBSCRIBE" in text and "baja@tienda.test" in text


def test_extra_headers():
    message, _ = compose_message(
        sender=SENDER, to_name="Ana", to_address="ana@example.test", rendered=rendered(),
        message_id_domain="tienda.test", extra_headers={"X-Smbcrm-Campaign": "Regreso ñ"},
    )  # fmt: skip
    assert str(parse(message)["X-Smbcrm-Campaign"]) == "Regreso ñ"


@pytest.mark.parametrize(
    "field",
    [
        {"to_name": "Ana\r\nBcc: all@example.test"},
        {"to_name": "Ana\nBcc: all@example.test"},
        {"to_name": "Ana\x00"},
        {"to_name": "Ana\u2028Bcc: x"},
        {"to_address": "ana@example.test\r\nBcc: all@example.test"},
        {"to_address": "ana@example.test>, <all@example.test"},
        {"to_address": "not an address"},
        {"rendered": RenderedMail("Hola\r\nBcc: all@example.test", "<p>x</p>", "x", ())},
        {"sender": Sender("Rosa\r\nBcc: x@example.test", "rosa@tienda.test")},
        {"sender": Sender("Rosa", "rosa@tienda.test", reply_to="a@b.test\nBcc: x@example.test")},
        {"extra_headers": {"X-Note": "a\r\nBcc: x@example.test"}},
        {"extra_headers": {"X-Note\r\nBcc": "x"}},
        {"unsubscribe_mailto": "baja@tienda.test\r\nBcc: x@example.test"},
    ],
)
def test_header_injection_is_refused(field):
    arguments = dict(
        sender=SENDER, to_name="Ana", to_address="ana@example.test", rendered=rendered(),
        message_id_domain="tienda.test",
    )  # fmt: skip
    arguments.update(field)
    with pytest.raises(HeaderInjectionError):
        compose_message(**arguments)


def test_one_bad_recipient_fails_alone():
    template = MailTemplate("Hola {{ name }}", "<p>Hola {{ name }}</p>")
    sent, refused = [], []
    for name, address in [("Ana", "ana@example.test"), ("Luis\r\nBcc: x@example.test", "luis@example.test"),
                          ("Eva", "eva@example.test")]:  # fmt: skip
        try:
            compose_message(sender=SENDER, to_name=name, to_address=address,
                            rendered=template.render({"name": name}), message_id_domain="tienda.test")  # fmt: skip
            sent.append(address)
        except HeaderInjectionError as error:
            refused.append((address, str(error)))
    assert sent == ["ana@example.test", "eva@example.test"]
    assert refused[0][0] == "luis@example.test" and "line break" in refused[0][1]


def test_long_subject_is_folded_and_decodes_back():
    subject = "Novedades en café, té y chocolate para ti " * 5
    message, _ = compose_message(
        sender=SENDER, to_name="Ana", to_address="ana@example.test",
        rendered=rendered(subject=subject.strip()), message_id_domain="tienda.test",
    )  # fmt: skip
    raw = message.as_bytes()
    assert max(len(line) for line in raw.split(b"\n")) <= 998
    header = email.message_from_bytes(raw)["Subject"]
    assert str(make_header(decode_header(header))) == subject.strip()


def test_international_domain_is_encoded_and_accented_local_part_refused():
    message, _ = compose_message(
        sender=SENDER, to_name="Ana", to_address="ana@niñez.co", rendered=rendered(),
        message_id_domain="tienda.test",
    )  # fmt: skip
    assert parse(message)["To"].addresses[0].addr_spec == "ana@xn--niez-hqa.co"
    with pytest.raises(HeaderInjectionError, match="outside the basic alphabet"):
        compose_message(
            sender=SENDER, to_name="José", to_address="josé@example.test", rendered=rendered(),
            message_id_domain="tienda.test",
        )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("Ana María Gómez", "¡Feliz cumpleaños, Ana María! Tenemos un detalle para ti " * 3),
        ('Pérez, "el Mono"', "Plain subject"),
        ("", "日本語の件名と絵文字 🎉 " * 4),
    ],
)
def test_the_direct_wire_form_reads_back_like_the_email_package_output(name, subject):
    from smbcrm.messaging.compose import message_bytes

    message, _message_id = compose_message(
        sender=SENDER, to_name=name, to_address="ana@example.test",
        rendered=rendered(subject=subject, html="<p>Línea uno</p>\n.<p>punto</p>"),
        message_id_domain="tienda.test", unsubscribe_mailto="rosa@tienda.test",
    )  # fmt: skip
    direct = message_bytes(message)
    assert direct is not None
    assert all(len(line) <= 998 for line in direct.split(b"\r\n"))
    ours = email.message_from_bytes(direct, policy=default)
    theirs = email.message_from_bytes(message.as_bytes(), policy=default)
    for header in ("From", "To", "Subject", "Reply-To", "Message-ID", "List-Unsubscribe"):
        assert str(ours[header]) == str(theirs[header])
    assert str(ours["Subject"]) == subject
    assert [p.get_content() for p in ours.iter_parts()] == [
        p.get_content() for p in theirs.iter_parts()
    ]
