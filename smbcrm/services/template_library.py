"""Ready-made email templates in Spanish and English; copied into a shop, then the owner's to edit.

They are content the owner edits, not interface text, so they live here per language rather
than in the gettext catalogue."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadyTemplate:
    key: str
    name: str
    subject: str
    body_html: str
    marketing: bool = True


_FOOTER_ES = "<p>Un abrazo,<br>{{ shop_name }}</p>"
_FOOTER_EN = "<p>Warm regards,<br>{{ shop_name }}</p>"
_RECOMMENDED_ES = """{% set picks = recommended(3) %}{% if picks %}
<p>Creemos que te pueden gustar:</p>
<ul>{% for p in picks %}<li>{{ p.name }}{% if p.price %} — {{ p.price | money }}{% endif %}</li>{% endfor %}</ul>
{% endif %}"""
_RECOMMENDED_EN = """{% set picks = recommended(3) %}{% if picks %}
<p>We think you might like:</p>
<ul>{% for p in picks %}<li>{{ p.name }}{% if p.price %} — {{ p.price | money }}{% endif %}</li>{% endfor %}</ul>
{% endif %}"""

LIBRARY: dict[str, tuple[ReadyTemplate, ...]] = {
    "es": (
        ReadyTemplate(
            "welcome",
            "Bienvenida",
            "¡Bienvenido a {{ shop_name }}, {{ first_name | default('amigo') }}!",
            "<p>Hola {{ first_name | default('amigo') }}:</p>\n"
            "<p>Gracias por elegir {{ shop_name }}. Desde hoy te contaremos primero nuestras "
            "novedades y promociones, sin llenarte el correo.</p>\n"
            "<p>Si tienes cualquier pregunta, responde a este correo: lo leemos nosotros "
            "mismos.</p>\n" + _FOOTER_ES,
        ),
        ReadyTemplate(
            "birthday",
            "Feliz cumpleaños",
            "¡Feliz cumpleaños, {{ first_name | default('amigo') }}!",
            "<p>Hola {{ first_name | default('amigo') }}:</p>\n"
            "<p>Todo el equipo de {{ shop_name }} te desea un muy feliz cumpleaños. "
            "Pasa por la tienda esta semana: tenemos un detalle para ti.</p>\n" + _FOOTER_ES,
        ),
        ReadyTemplate(
            "we_miss_you",
            "Te extrañamos",
            "{{ first_name | default('Hola') }}, te extrañamos en {{ shop_name }}",
            "<p>Hola {{ first_name | default('amigo') }}:</p>\n"
            "<p>Hace un tiempo no te vemos por {{ shop_name }}"
            "{% if last_purchase %} (tu última compra fue {{ last_purchase.product }}){% endif %}"
            ". Queremos saber cómo estás y contarte lo nuevo.</p>\n"
            + _RECOMMENDED_ES
            + "\n"
            + _FOOTER_ES,
        ),
        ReadyTemplate(
            "thank_you",
            "Gracias por tu compra",
            "Gracias por tu compra, {{ first_name | default('amigo') }}",
            "<p>Hola {{ first_name | default('amigo') }}:</p>\n"
            "<p>Gracias por comprar {{ last_purchase.product | default('con nosotros') }}"
            " en {{ shop_name }}. Esperamos que lo disfrutes; si algo no está bien, responde "
            "a este correo y lo arreglamos.</p>\n" + _FOOTER_ES,
            marketing=False,
        ),
        ReadyTemplate(
            "new_in_category",
            "Novedades en tu categoría favorita",
            "Novedades en {{ favourite_category | default('la tienda') }} para ti",
            "<p>Hola {{ first_name | default('amigo') }}:</p>\n"
            "<p>Llegaron productos nuevos en {{ favourite_category | default('la tienda') }}, "
            "y nos acordamos de ti.</p>\n" + _RECOMMENDED_ES + "\n" + _FOOTER_ES,
        ),
    ),
    "en": (
        ReadyTemplate(
            "welcome",
            "Welcome",
            "Welcome to {{ shop_name }}, {{ first_name | default('friend') }}!",
            "<p>Hi {{ first_name | default('friend') }},</p>\n"
            "<p>Thank you for choosing {{ shop_name }}. From today you will hear first about "
            "what is new, without filling your inbox.</p>\n"
            "<p>If you have any question, just reply to this email: we read it ourselves.</p>\n"
            + _FOOTER_EN,
        ),
        ReadyTemplate(
            "birthday",
            "Happy birthday",
            "Happy birthday, {{ first_name | default('friend') }}!",
            "<p>Hi {{ first_name | default('friend') }},</p>\n"
            "<p>Everyone at {{ shop_name }} wishes you a very happy birthday. Come by the shop "
            "this week: we have a little something for you.</p>\n" + _FOOTER_EN,
        ),
        ReadyTemplate(
            "we_miss_you",
            "We miss you",
            "{{ first_name | default('Hi') }}, we miss you at {{ shop_name }}",
            "<p>Hi {{ first_name | default('friend') }},</p>\n"
            "<p>We have not seen you at {{ shop_name }} for a while"
            "{% if last_purchase %} (your last purchase was {{ last_purchase.product }}){% endif %}"
            ". We would love to know how you are and show you what is new.</p>\n"
            + _RECOMMENDED_EN
            + "\n"
            + _FOOTER_EN,
        ),
        ReadyTemplate(
            "thank_you",
            "Thank you for your purchase",
            "Thank you for your purchase, {{ first_name | default('friend') }}",
            "<p>Hi {{ first_name | default('friend') }},</p>\n"
            "<p>Thank you for buying {{ last_purchase.product | default('from us') }} at "
            "{{ shop_name }}. We hope you enjoy it; if anything is not right, reply to this "
            "email and we will fix it.</p>\n" + _FOOTER_EN,
            marketing=False,
        ),
        ReadyTemplate(
            "new_in_category",
            "New in your favourite category",
            "New in {{ favourite_category | default('the shop') }} for you",
            "<p>Hi {{ first_name | default('friend') }},</p>\n"
            "<p>New products arrived in {{ favourite_category | default('the shop') }}, and we "
            "thought of you.</p>\n" + _RECOMMENDED_EN + "\n" + _FOOTER_EN,
        ),
    ),
}
