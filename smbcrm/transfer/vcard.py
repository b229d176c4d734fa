"""vCard contacts in (2.1, 3.0, 4.0, as phones and mail programs export them) and out (3.0)."""

from __future__ import annotations

import codecs
import quopri
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _, format_count
from smbcrm.transfer.tables import MAX_ROWS


@dataclass(frozen=True)
class Contact:
    first_name: str = ""
    last_name: str = ""
    full_name: str = ""
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    city: str = ""
    region: str = ""
    country: str = ""
    birthday: date | None = None
    notes: str = ""
    categories: tuple[str, ...] = ()


def read_vcards(path: Path) -> Iterator[tuple[int, Contact]]:
    """(1-based card number, contact) for every card that could be read; broken cards are left
    out (read_vcards_with_errors says which and why)."""
    for number, contact, _error in read_vcards_with_errors(path):
        if contact is not None:
            yield number, contact


# A file is read line by line, never whole. A logical line (folded lines joined) keeps at most
# this many characters: far more than any field smbcrm stores (the longest, notes, is 10,000;
# past that the field is refused as too long), and a photo's base64 line, which is dropped
# anyway. A card keeps at most this many lines. Without these bounds, 40 MB of folded lines
# took 781 MB.
MAX_LINE_CHARS = 1 << 20
MAX_CARD_LINES = 10_000
# A card keeps lines up to this many characters in all (photos are the big ones; the short lines
# after them still fit).
MAX_CARD_CHARS = 4 << 20
# As many contacts as a table may have rows (each refused card is a message kept for the report:
# 13 MB of "BEGIN:VCARD" lines made a million of them).
MAX_CARDS = MAX_ROWS


def read_vcards_with_errors(path: Path) -> Iterator[tuple[int, Contact | None, str | None]]:
    """(card number, contact, None) for a good card and (card number, None, translated message)
    for a card that could not be read. Raises UserError only when the file itself cannot be
    read or holds no vCard at all."""
    path = Path(path)
    number = size = 0
    card: list[str] | None = None
    for line in _logical_lines(_text_lines(path)):
        keyword = line.strip().upper()
        if keyword == "BEGIN:VCARD":
            if card is not None:
                yield number, None, _incomplete(number)
            if number >= MAX_CARDS:
                raise UserError(
                    _(
                        "The file {name} holds more than {limit} contacts, more than smbcrm can "
                        "import at once. Split it into smaller files and import them one by one."
                    ).format(name=path.name, limit=format_count(MAX_CARDS))
                )
            number += 1
            card, size = [], 0
        elif keyword == "END:VCARD":
            if card is None:
                continue
            try:
                yield number, _contact(card), None
            except ValueError:
                yield (
                    number,
                    None,
                    _("Contact {number} has no name, email or phone, so it was skipped.").format(
                        number=number
                    ),
                )
            card = None
        elif card is not None and len(card) < MAX_CARD_LINES and size + len(line) <= MAX_CARD_CHARS:
            card.append(line)
            size += len(line)
    if card is not None:
        yield number, None, _incomplete(number)
    if number == 0:
        raise UserError(
            _(
                "The file {name} holds no contacts (no BEGIN:VCARD). Export the contacts again "
                "as a .vcf file and import that."
            ).format(name=path.name)
        )


def _incomplete(number: int) -> str:
    return _(
        "Contact {number} is cut short (it has no END:VCARD), so it was skipped. Export the "
        "contacts again if it is missing."
    ).format(number=number)


def _text_lines(path: Path) -> Iterator[str]:
    """The file's lines, decoded as UTF-16 when it starts with its mark, else UTF-8 when all
    of it is, else as Windows writes Spanish (cp1252); read in blocks."""
    try:
        with path.open("rb") as probe:
            start = probe.read(2)
        encoding = "utf-16" if start in (b"\xff\xfe", b"\xfe\xff") else _utf8_or_cp1252(path)
        with path.open(encoding=encoding, errors="replace", newline=None) as text:
            while line := text.readline(MAX_LINE_CHARS):
                yield line
                while not line.endswith("\n") and len(line) == MAX_LINE_CHARS:
                    line = text.readline(MAX_LINE_CHARS)  # the rest of a line too long: dropped
    except FileNotFoundError:
        raise UserError(_("The file {name} was not found.").format(name=path.name)) from None
    except OSError as error:
        raise UserError(
            _("The file {name} cannot be read ({reason}).").format(
                name=path.name, reason=error.strerror or error
            )
        ) from None


def _utf8_or_cp1252(path: Path) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as data:
        try:
            while block := data.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


_QP_PARAM = re.compile(r"(?:^|;)(?:ENCODING=)?QUOTED-PRINTABLE(?:;|:|$)", re.IGNORECASE)


def _logical_lines(lines: Iterable[str]) -> Iterator[str]:
    """Unfold continuation lines (a leading space or tab) and quoted-printable soft line
    breaks (a line ending in '=' inside a QUOTED-PRINTABLE value), each line at most
    MAX_LINE_CHARS long (the rest is dropped). Pieces are joined once, at the end of the line:
    joining them one by one took quadratic time (5,000,000 soft breaks never finished)."""
    pieces: list[str] = []
    size = 0
    quoted_printable = soft_break = False
    for line in lines:
        raw = line.rstrip("\r\n")
        if pieces and quoted_printable and soft_break:
            piece = raw.lstrip(" \t") if raw[:1] in " \t" else raw
        elif pieces and raw[:1] in (" ", "\t") and raw.strip():
            piece = raw[1:]
        else:
            if pieces:
                yield "".join(pieces)
            pieces, size = [], 0
            piece = raw
            quoted_printable = bool(_QP_PARAM.search(raw.split(":", 1)[0]))
        soft_break = piece.endswith("=")
        if soft_break and quoted_printable:
            piece = piece[:-1]
        if piece and size < MAX_LINE_CHARS:
            pieces.append(piece[: MAX_LINE_CHARS - size])
            size += len(pieces[-1])
    if pieces:
        yield "".join(pieces)


def _split_escaped(value: str, separator: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in value:
        if escaped:
            current.append("\n" if char in "nN" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return "\\".join(
        part.replace("\\n", "\n").replace("\\N", "\n").replace("\\,", ",").replace("\\;", ";")
        for part in value.split("\\\\")
    )


def _property(line: str) -> tuple[str, dict[str, str], set[str], str] | None:
    """(NAME, KEY=VALUE params upper-cased, bare params upper-cased, raw value) of a line."""
    in_quotes = False
    for index, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            head, value = line[:index], line[index + 1 :]
            break
    else:
        return None
    pieces = head.split(";")
    name = pieces[0].rsplit(".", 1)[-1].strip().upper()
    params: dict[str, str] = {}
    bare: set[str] = set()
    for piece in pieces[1:]:
        if "=" in piece:
            key, _sep, param_value = piece.partition("=")
            key = key.strip().upper()
            param_value = param_value.strip().strip('"')
            params[key] = f"{params[key]},{param_value}" if key in params else param_value
            if key == "TYPE":
                bare.update(item.strip().upper() for item in param_value.split(","))
        elif piece.strip():
            bare.add(piece.strip().upper())
    return name, params, bare, value


def _decoded(params: dict[str, str], bare: set[str], value: str) -> str | None:
    encoding = params.get("ENCODING", "").upper()
    if encoding in ("B", "BASE64") or "BASE64" in bare:
        return None  # photos and sounds
    if encoding == "QUOTED-PRINTABLE" or "QUOTED-PRINTABLE" in bare:
        data = quopri.decodestring(value.encode("latin-1", errors="replace"))
        charset = params.get("CHARSET", "utf-8")
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                return data.decode("cp1252", errors="replace")
    return value


def _birthday(value: str) -> date | None:
    text = value.strip()
    match = re.match(r"(\d{4})-?(\d{2})-?(\d{2})", text)
    if match is None:
        return None  # "--0315" (no year) and free text cannot be a date of birth
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _contact(lines: list[str]) -> Contact:
    first = last = full = organisation = notes = ""
    city = region = country = ""
    address_rank = 99
    birthday: date | None = None
    emails: list[tuple[int, str]] = []
    phones: list[tuple[int, str]] = []
    categories: list[str] = []
    for line in lines:
        parsed = _property(line)
        if parsed is None:
            continue
        name, params, bare, raw = parsed
        value = _decoded(params, bare, raw)
        if value is None:
            continue
        preferred = 0 if ("PREF" in bare or "PREF" in params) else 1
        if name == "N":
            parts = _split_escaped(value, ";") + ["", ""]
            last, first = parts[0].strip(), parts[1].strip()
            middle = parts[2].strip() if len(parts) > 2 else ""
            if middle:
                first = f"{first} {middle}".strip()
        elif name == "FN":
            full = _unescape(value).strip()
        elif name == "ORG":
            organisation = _split_escaped(value, ";")[0].strip()
        elif name == "EMAIL":
            email = _unescape(value).strip()
            if email.lower().startswith("mailto:"):
                email = email[7:]
            if email:
                emails.append((preferred, email))
        elif name == "TEL":
            phone = _unescape(value).strip()
            if phone.lower().startswith("tel:"):
                phone = phone[4:]
            if phone:
                rank = preferred if ("CELL" in bare or "MOBILE" in bare) else preferred + 2
                phones.append((rank, phone))
        elif name == "ADR":
            rank = (0 if "HOME" in bare else 1) + (0 if preferred == 0 else 2)
            parts = [part.strip() for part in _split_escaped(value, ";")] + [""] * 7
            if rank < address_rank and any(parts[3:7]):
                city, region, country, address_rank = parts[3], parts[4], parts[6], rank
        elif name == "BDAY":
            birthday = _birthday(value)
        elif name == "NOTE":
            notes = _unescape(value).strip()
        elif name == "CATEGORIES":
            categories.extend(item.strip() for item in _split_escaped(value, ",") if item.strip())
    if not full:
        full = " ".join(part for part in (first, last) if part) or organisation
    if not (full or emails or phones):
        raise ValueError("empty card")
    return Contact(
        first_name=first,
        last_name=last,
        full_name=full,
        emails=_unique(item for _rank, item in sorted(emails, key=lambda pair: pair[0])),
        phones=_unique(item for _rank, item in sorted(phones, key=lambda pair: pair[0])),
        city=city,
        region=region,
        country=country,
        birthday=birthday,
        notes=notes,
        categories=_unique(categories),
    )


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return tuple(seen)


def write_vcards(path: Path, contacts: Iterable[Contact]) -> int:
    """vCard 3.0 in UTF-8, one card per contact; returns the number of cards written."""
    path = Path(path)
    count = 0
    try:
        with open(path, "w", encoding="utf-8", newline="") as stream:
            for contact in contacts:
                stream.write(_card(contact).serialize())
                count += 1
    except OSError as error:
        raise UserError(
            _(
                "The file {name} cannot be written ({reason}). Close it if it is open in "
                "another program, or choose another folder."
            ).format(name=path.name, reason=error.strerror or error)
        ) from None
    return count


def _card(contact: Contact):
    # Imported here, for writing only: reading parses cards itself, and vobject (with the
    # date libraries it loads) took 15 ms of each import's reading child's start.
    import vobject

    card = vobject.vCard()
    card.add("n").value = vobject.vcard.Name(family=contact.last_name, given=contact.first_name)
    full = (
        contact.full_name
        or " ".join(part for part in (contact.first_name, contact.last_name) if part)
        or next(iter(contact.emails), "")
        or next(iter(contact.phones), "")
    )
    card.add("fn").value = full
    for email in contact.emails:
        line = card.add("email")
        line.value = email
        line.type_param = "INTERNET"
    for phone in contact.phones:
        line = card.add("tel")
        line.value = phone
        line.type_param = "CELL"
    if contact.city or contact.region or contact.country:
        card.add("adr").value = vobject.vcard.Address(
            city=contact.city, region=contact.region, country=contact.country
        )
    if contact.birthday is not None:
        card.add("bday").value = contact.birthday.isoformat()
    if contact.notes:
        card.add("note").value = contact.notes
    if contact.categories:
        card.add("categories").value = list(contact.categories)
    return card
