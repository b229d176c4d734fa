"""One mail for one recipient: headers checked against injection, text and HTML parts, Message-ID."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.policy import compat32
from email.utils import formatdate

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _
from smbcrm.messaging.templates import RenderedMail, escape_html


@dataclass(frozen=True)
class Sender:
    name: str
    address: str
    reply_to: str | None = None


class HeaderInjectionError(UserError):
    """A value meant for a header holds a line break or another control character."""


# CR, LF and the other C0 controls (and DEL, and the Unicode line separators) end or break a
# header line somewhere between us and the reader: never let customer data carry them.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u0085\u2028\u2029]")
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")


def _clean(label: str, value: str) -> str:
    if _CONTROL.search(value):
        raise HeaderInjectionError(
            _(
                "The {field} “{value}” contains a line break or another hidden character; "
                "it cannot go in a mail header. Correct it and try again."
            ).format(field=label, value=_CONTROL.sub("⏎", value)[:80])
        )
    return value.replace("\t", " ")


def _address(label: str, display_name: str, address: str) -> Address:
    _clean(label, display_name)
    _clean(label, address)
    local, at, domain = address.strip().rpartition("@")
    if (
        not at
        or not local
        or not domain
        or " " in address.strip()
        or "<" in address
        or ">" in address
    ):
        raise HeaderInjectionError(
            _("The {field} “{value}” is not an email address.").format(field=label, value=address)
        )
    if not domain.isascii():
        try:  # niñez.co -> xn--nie-8ma.co: the form every server understands
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise HeaderInjectionError(
                _("The {field} “{value}” is not an email address.").format(
                    field=label, value=address
                )
            ) from None
    if not local.isascii():
        # Needs SMTPUTF8 end to end, which few shop accounts offer: refuse it plainly.
        raise HeaderInjectionError(
            _(
                "The {field} “{value}” has accents or other letters outside the basic alphabet "
                "before the @; most mail servers cannot deliver to it."
            ).format(field=label, value=address)
        )
    try:
        return Address(display_name=display_name.strip(), username=local, domain=domain)
    except (ValueError, IndexError) as error:
        raise HeaderInjectionError(
            _("The {field} “{value}” is not an email address.").format(field=label, value=address)
        ) from error


def ascii_address(address: str) -> str:
    """The address with an international domain in its ASCII form (ana@niñez.co ->
    ana@xn--niez-hqa.co), as the envelope and the headers carry it; unchanged otherwise."""
    local, at, domain = address.strip().rpartition("@")
    if not at or domain.isascii():
        return address.strip()
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address.strip()


def default_unsubscribe_line(address: str) -> str:
    return _(
        "If you prefer not to receive these emails, reply with the word UNSUBSCRIBE "
        "or write to {address}."
    ).format(address=address)


def compose_message(
    *,
    sender: Sender,
    to_name: str,
    to_address: str,
    rendered: RenderedMail,
    message_id_domain: str,
    unsubscribe_mailto: str | None = None,
    unsubscribe_line: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> tuple[EmailMessage, str]:
    """The message (multipart/alternative: text then HTML, UTF-8) and its Message-ID.

    Raises HeaderInjectionError when a name, address, subject or extra header holds a line break
    or another control character: that recipient fails alone."""
    from_address = _address(_("sender address"), sender.name, sender.address)
    to = _address(_("recipient address"), to_name, to_address)
    subject = _clean(_("subject"), rendered.subject)
    domain = _clean(_("Message-ID domain"), message_id_domain).strip() or "localhost"
    if not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            domain = "localhost"
    message_id = f"<{uuid.uuid4().hex}@{domain}>"

    # compat32 headers, encoded here: the modern header registry would parse and refold every
    # header again and costs about ten times as much per message.
    message = EmailMessage(policy=compat32)
    message["From"] = _mailbox(from_address)
    message["To"] = _mailbox(to)
    if sender.reply_to:
        message["Reply-To"] = _address(_("reply-to address"), "", sender.reply_to).addr_spec
    message["Subject"] = _encoded_words(subject)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id
    text, html = rendered.text, rendered.html
    if unsubscribe_mailto:
        mailto = _address(_("unsubscribe address"), "", unsubscribe_mailto).addr_spec
        message["List-Unsubscribe"] = f"<mailto:{mailto}?subject=unsubscribe>"
        line = unsubscribe_line or default_unsubscribe_line(mailto)
        text = f"{text.rstrip()}\n\n--\n{line}\n"
        footer = f'<p style="font-size:small;color:#666">{escape_html(line)}</p>'
        html = _append_to_body(html, footer)
    for name, value in (extra_headers or {}).items():
        if not _HEADER_NAME.match(name):
            raise HeaderInjectionError(
                _("“{name}” cannot be the name of a mail header.").format(name=name[:40])
            )
        value = _clean(name, value)
        message[name] = _encoded_words(value)
    message["MIME-Version"] = "1.0"
    message["Content-Type"] = "multipart/alternative"
    message.set_boundary(f"=_{uuid.uuid4().hex}")
    message.set_payload([_text_part(text, "plain"), _text_part(html, "html")])
    return message, message_id


_SPECIALS = re.compile(r'[()<>@,;:\\".\[\]]')
_WORD_BYTES = 39  # 39 bytes -> 52 base64 characters: "Subject: " and one word fit in 78


def _encoded_words(text: str) -> str:
    """Header text in ASCII: as it is when it is ASCII, else RFC 2047 'B' encoded words."""
    if text.isascii():
        return text
    words, chunk, size = [], [], 0
    for char in text:
        width = len(char.encode("utf-8"))
        if size + width > _WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    words.append("".join(chunk))
    return " ".join(
        f"=?utf-8?b?{base64.b64encode(word.encode('utf-8')).decode('ascii')}?=" for word in words
    )


def _mailbox(address: Address) -> str:
    name = address.display_name
    if not name:
        return address.addr_spec
    if not name.isascii():
        name = _encoded_words(name)
    elif _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address.addr_spec}>"


def _folded(name: str, value: str) -> str:
    """One header line, folded before a space where it passes 78 characters."""
    line = f"{name}: {value}"
    if len(line) <= 78:
        return line
    first, *words = value.split(" ")
    out, current = [], f"{name}: {first}"  # never fold right after the name
    for word in words:
        if len(current) + 1 + len(word) > 78:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    out.append(current)
    return "\r\n ".join(out)


_BOUNDARY = re.compile(r'boundary="([^"]+)"')


def message_bytes(message: Message) -> bytes | None:
    """The wire form of a message built by compose_message, written directly (the email
    package's generator re-encodes every header and costs most of a send); None for any other
    message, which the caller then flattens the usual way. Reads the compat32 message's own
    header list and payload, as its generator does."""
    headers = getattr(message, "_headers", None)
    parts = getattr(message, "_payload", None)
    if message.policy is not compat32 or headers is None or not isinstance(parts, list):
        return None
    lines = []
    boundary = None
    for name, value in headers:
        if not isinstance(value, str) or not value.isascii() or _CONTROL.search(value):
            return None
        if name == "Content-Type":
            found = _BOUNDARY.search(value)
            boundary = found.group(1) if found else None
        lines.append(_folded(name, value))
    if boundary is None:
        return None
    body = []
    for part in parts:
        payload = getattr(part, "_payload", None)
        part_headers = getattr(part, "_headers", None)
        if not isinstance(payload, str) or not payload.isascii() or part_headers is None:
            return None
        if not all(isinstance(value, str) and value.isascii() for _name, value in part_headers):
            return None
        head = "\r\n".join(f"{name}: {value}" for name, value in part_headers)
        text = payload.replace("\r\n", "\n").replace("\n", "\r\n")
        body.append(f"--{boundary}\r\n{head}\r\n\r\n{text}")
    wire = "\r\n".join(lines) + "\r\n\r\n" + "".join(body) + f"--{boundary}--\r\n"
    return wire.encode("ascii")


def _text_part(text: str, subtype: str) -> Message:
    part = Message(policy=compat32)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "base64"
    # base64 in 76-character lines: fast, and safe for any text (long lines, a lone ".").
    part.set_payload(base64.encodebytes(text.encode("utf-8")).decode("ascii"))
    return part


def _append_to_body(html: str, footer: str) -> str:
    end = html.lower().rfind("</body>")
    if end == -1:
        return f"{html}\n{footer}"
    return f"{html[:end]}{footer}\n{html[end:]}"
