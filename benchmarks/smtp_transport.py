"""The mail layer's own figures, against aiosmtpd on 127.0.0.1; prints one JSON object last.

    .venv/bin/python benchmarks/smtp_transport.py [--messages 5000] [--renders 10000] [--rounds 3]

bare_smtplib_msgs_per_s: smtplib.SMTP.send_message over one reused connection (the reference);
session_msgs_per_s: SmtpSession.send over one reused connection, the same prepared messages and
server, alternating rounds with the bare loop (best round of each); ratio: session / bare.
render_check_10k_s: rendering a realistic personal template for 10,000 recipients without the
plain-text part (the check before a campaign); render_compose_10k_s: rendering with the text
part and composing the MIME message for each (what sending adds per message).
"""

from __future__ import annotations

import argparse
import json
import smtplib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smbcrm.messaging.compose import Sender, compose_message  # noqa: E402
from smbcrm.messaging.templates import MailTemplate  # noqa: E402
from smbcrm.messaging.transport import SmtpServer, SmtpSession  # noqa: E402
from tests.mailserver import MailServer  # noqa: E402

SUBJECT = "{{ first_name | default('Hola') }}, te extrañamos en {{ shop_name }}"
BODY = """<p>Hola {{ first_name | default("amigo") }},</p>
<p>Hace {{ days_since_last_purchase }} días que no te vemos por {{ shop_name }} en {{ city }}.
Tu última compra fue <b>{{ last_purchase.product }}</b> por {{ last_purchase.amount | money }}.</p>
<p>Creemos que te pueden gustar:</p>
<ul>
{% for p in recommended(3) %}<li>{{ p.name }} ({{ p.category }}) — {{ p.price | money }}</li>
{% endfor %}</ul>
<p>Tienes {{ points }} puntos. Ven esta semana y recibe un 10% de descuento en tu próxima compra.</p>
<p><a href="https://tienda.example/cupon?c={{ code }}">Ver mi cupón</a></p>
<p>Un abrazo,<br>{{ owner_name }}<br>{{ shop_name }}</p>"""
PRODUCTS = [
    {"name": "Café de Huila 500 g", "category": "Café", "price": 3_200_000},
    {"name": "Taza de cerámica", "category": "Hogar", "price": 1_500_000},
    {"name": "Filtro de tela", "category": "Café", "price": 900_000},
]
SENDER = Sender("Tienda Doña Rosa", "rosa@tienda.example", reply_to="rosa@gmail.com")


def money(minor: int) -> str:
    return "$" + f"{minor // 100:,}".replace(",", ".")


def context(index: int) -> dict[str, object]:
    values: dict[str, object] = {
        "first_name": f"Cliente{index}",
        "shop_name": "Tienda Doña Rosa",
        "city": "Medellín",
        "days_since_last_purchase": 30 + index % 200,
        "last_purchase": {"product": "Café de Huila", "amount": 4_500_000 + index},
        "points": index % 500,
        "owner_name": "Rosa",
        "code": f"C{index:06d}",
    }
    if index % 10 == 0:
        del values["first_name"]  # some customers have no first name
    return values


def render_figures(count: int) -> dict[str, float]:
    template = MailTemplate(SUBJECT, BODY, filters={"money": money})
    functions = {"recommended": lambda n: PRODUCTS[:n]}
    started = time.perf_counter()
    missing = 0
    for index in range(count):
        missing += bool(
            template.render(context(index), functions=functions, with_text=False).missing
        )
    check = time.perf_counter() - started
    started = time.perf_counter()
    for index in range(count):
        rendered = template.render(context(index), functions=functions)
        compose_message(
            sender=SENDER,
            to_name=f"Cliente {index}",
            to_address=f"cliente{index}@example.com",
            rendered=rendered,
            message_id_domain="tienda.example",
            unsubscribe_mailto="baja@tienda.example",
        )
    compose = time.perf_counter() - started
    return {"render_check_10k_s": round(check * 10_000 / count, 3),
            "render_compose_10k_s": round(compose * 10_000 / count, 3),
            "recipients_with_missing_fields": missing}  # fmt: skip


def prepared_messages(count: int):
    template = MailTemplate(SUBJECT, BODY, filters={"money": money})
    functions = {"recommended": lambda n: PRODUCTS[:n]}
    messages = []
    for index in range(count):
        address = f"cliente{index}@example.com"
        message, _id = compose_message(
            sender=SENDER, to_name=f"Cliente {index}", to_address=address,
            rendered=template.render(context(index), functions=functions),
            message_id_domain="tienda.example", unsubscribe_mailto="baja@tienda.example",
        )  # fmt: skip
        messages.append((message, address))
    return messages


def bare_loop(port: int, messages) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for message, address in messages:
            smtp.send_message(message, SENDER.address, [address])
    return len(messages) / (time.perf_counter() - started)


def session_loop(port: int, messages) -> float:
    started = time.perf_counter()
    with SmtpSession(SmtpServer("127.0.0.1", port, "none"), None) as session:
        for message, address in messages:
            session.send(message, SENDER.address, address)
    return len(messages) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--renders", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    figures: dict[str, object] = {}
    messages = prepared_messages(options.messages)
    bare: list[float] = []
    session: list[float] = []
    with MailServer() as server:
        for _round in range(options.rounds):
            bare.append(bare_loop(server.port, messages))
            session.append(session_loop(server.port, messages))
        assert len(server.received) == 2 * options.rounds * options.messages
    figures["messages"] = options.messages
    figures["bare_smtplib_msgs_per_s"] = round(max(bare), 1)
    figures["session_msgs_per_s"] = round(max(session), 1)
    figures["ratio"] = round(max(session) / max(bare), 3)
    figures["rounds"] = {"bare": [round(x) for x in bare], "session": [round(x) for x in session]}
    figures.update(render_figures(options.renders))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
