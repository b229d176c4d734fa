"""Mail templates: merge fields, missing values, the sandbox, caps on size and time, plain text."""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass
from datetime import date

import pytest

from smbcrm.core.i18n import set_language
from smbcrm.messaging.templates import MailTemplate, TemplateError, html_to_text


def render(body: str, context=None, subject: str = "Hola", **options):
    functions = options.pop("functions", None)
    return MailTemplate(subject, body, **options).render(context or {}, functions=functions)


def test_merge_fields_and_autoescape():
    mail = render(
        "<p>Hola {{ first_name }} de {{ city }}</p>",
        {"first_name": "Ana <b>", "city": "Medellín"},
        subject="{{ first_name }}, tenemos algo para ti",
    )
    assert mail.html == "<p>Hola Ana &lt;b&gt; de Medellín</p>"
    assert mail.subject == "Ana <b>, tenemos algo para ti"  # the subject is not HTML
    assert mail.text == "Hola Ana <b> de Medellín\n"
    assert mail.missing == ()


def test_missing_fields_are_reported_and_render_empty():
    mail = render(
        "<p>Hola {{ first_name }}, {{ last_purchase.product }} {{ visit.when }} {{ phone }}</p>",
        {"visit": {"where": "tienda"}, "phone": None, "city": ""},
        subject="{{ city }}",
    )
    assert mail.html == "<p>Hola ,   </p>"
    assert mail.missing == ("city", "first_name", "last_purchase.product", "visit.when", "phone")


def test_default_filter_fills_in_and_is_not_missing():
    mail = render('<p>Hola {{ first_name | default("amigo") }}</p>', {})
    assert mail.html == "<p>Hola amigo</p>"
    assert mail.missing == ()
    assert render('{{ first_name | default("amigo") }}', {"first_name": "Ana"}).html == "Ana"


def test_a_guarded_field_is_not_missing():
    mail = render("{% if first_name %}Hola {{ first_name }}{% else %}Hola{% endif %}", {})
    assert mail.html == "Hola" and mail.missing == ()


def test_none_never_prints_as_none():
    assert (
        render("[{{ x }}][{{ None }}][{{ d.k }}]", {"x": None, "d": {"k": None}}).html == "[][][]"
    )


def test_caller_filters_and_functions():
    @dataclass
    class Product:
        name: str
        category: str
        price: int

    def recommended(count):
        return [Product("Café", "Bebidas", 12000), Product("Taza", "Hogar", 9000)][:count]

    mail = render(
        "{{ total | money }} {{ absent | money }}"
        "{% for p in recommended(2) %}<li>{{ p.name }} ({{ p.category }}) {{ p.price | money }}</li>{% endfor %}",
        {"total": 45000},
        filters={"money": lambda minor: f"${minor:,}".replace(",", ".")},
        functions={"recommended": recommended},
    )
    assert mail.html == "$45.000 <li>Café (Bebidas) $12.000</li><li>Taza (Hogar) $9.000</li>"
    assert mail.missing == ("absent",)


def test_date_filter():
    assert (
        render("{{ d | date }} {{ d | date('%Y') }}", {"d": date(2026, 3, 9)}).html
        == "09/03/2026 2026"
    )


def test_subject_is_one_line():
    mail = render("x", {"name": "Ana\r\nBcc: everyone@example.com"}, subject="Hola {{ name }}\n!")
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.subject == "Hola Ana Bcc: everyone@example.com !"


def test_fields_used():
    template = MailTemplate(
        "{{ first_name }}",
        "{% for p in recommended(3) %}{{ p.name }}{% endfor %}{{ last_purchase.product }}"
        "{% set x = 1 %}{{ x }}{{ range(2) | list }}",
    )
    assert template.fields_used() == {"first_name", "recommended", "last_purchase"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Hola\n\n{{ first_name ", "Line 3: a “{{” is not closed with “}}”."),
        ("{% if x %}hola", "Line 1: a “{% if %}” has no “{% endif %}”."),
        ("a\n{% for p in x %}", "Line 2: a “{% for %}” has no “{% endfor %}”."),
        ("{{ x | nope }}", "Line 1: there is no filter called “nope”."),
        ("{% endfor %}", "Line 1: “{% endfor %}” closes a “{% for %}” that was never opened."),
        ("{# note", "Line 1: a “{#” is not closed with “#}”."),
        (
            'x\n{% include "other.html" %}',
            "Line 2: a mail template cannot use “{% include %}”: write everything in this template.",
        ),
        (
            '{% extends "base.html" %}',
            "Line 1: a mail template cannot use “{% extends %}”: write everything in this template.",
        ),
        (
            '{% from "m" import x %}',
            "Line 1: a mail template cannot use “{% import %}”: write everything in this template.",
        ),
    ],
)
def test_syntax_errors_say_what_and_where(source, message):
    with pytest.raises(TemplateError) as caught:
        MailTemplate("Hola", source)
    assert str(caught.value) == message


def test_syntax_error_in_the_subject():
    with pytest.raises(TemplateError, match="^Subject: a “{{” is not closed"):
        MailTemplate("Hola {{ name", "<p>x</p>")


def test_errors_are_translated():
    set_language("es")
    with pytest.raises(TemplateError) as caught:
        MailTemplate("Hola", "{{ x ")
    assert str(caught.value).startswith("Línea 1:")


def test_runtime_error_names_the_line():
    with pytest.raises(TemplateError) as caught:
        render("uno\ndos\n{{ recommended(3) }}")
    assert str(caught.value).startswith("Line 3: “recommended” has no value here")
    assert caught.value.line == 3


def test_a_missing_value_in_a_comparison_fails_that_recipient_with_a_hint():
    template = MailTemplate("Hola", "<p>\n{% if points > 100 %}¡Premio!{% endif %}</p>")
    assert template.render({"points": 150}).html == "<p>\n¡Premio!</p>"
    with pytest.raises(TemplateError) as caught:
        template.render({})
    assert str(caught.value) == (
        "Line 2: “points” has no value here and cannot be used like this; check the name, or "
        'give it a fallback such as “{{ points | default("") }}”.'
    )


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ x | attr('format') }}",
        "{{ x | attr('__class__') }}",
        "{{ ''.format }}",
        "{{ 'a{0.__class__}'.format(x) }}",
        "{{ '{}'.format_map(x) }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ x['__class__'] }}",
        "{{ range.__globals__ }}",
        "{{ (x|list).append(1) }}",
        "{{ 'x'.ljust(100000000) }}",
    ],
)
def test_sandbox_refuses_attribute_escapes(payload):
    with pytest.raises(TemplateError) as caught:
        render(payload, {"x": "abc"})
    assert "tries to use something that is not allowed" in str(caught.value)


@pytest.mark.parametrize(
    "payload",
    [
        "{{ 'x' * 100000000 }}",
        "{{ 100000000 * 'x' }}",
        "{{ ['x'] * 100000000 }}",
        "{{ '%100000000s' % 'x' }}",
        "{{ '%*s' % (100000000, 'x') }}",
        "{{ 'x' | center(100000000) }}",
        "{{ 'x' | indent(100000000, true) }}",
        "{{ ('x' * 1000) | replace('x', 'y' * 100000) }}",
        "{{ 'x' | format }}{{ '%100000000d' | format(1) }}",
        "{% set a = 'x' * 1000000 %}{% set b = a ~ a %}{% set c = b ~ b %}{{ c }}",
        "{% set a = 'x' * 1000000 %}{% set b = a + a %}{% set c = b + b %}{{ c }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
        "{% set s %}{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}{% endset %}{{ s|length }}",
        "{% set s %}{% for i in range(90000) %}" + "z" * 1000 + "{% endfor %}{% endset %}",
        "{{ 10 ** 100000000 }}",
        "{% set l = range(99999) | list %}" + "{{ l * 20 }}" * 50,
        "{{ ('<' * 1999999) | forceescape | forceescape }}",
        "{{ ('x' * 1999999) | wordwrap(1) }}",
        "{% set a = 10 ** 1000 %}{{ a * a * a * a * a }}",
        "{% macro d(n) %}{% if n %}{{ d(n-1) }}{{ d(n-1) }}{% else %}{{ 'x' * 1000 }}{% endif %}{% endmacro %}{{ d(30) }}",
    ],
)
def test_a_template_that_would_render_100_mb_is_stopped_without_allocating_it(payload):
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError) as caught:
            render(payload, max_seconds=10)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "far too long" in str(caught.value) or "takes too long" in str(caught.value)
    assert peak < 30_000_000


@pytest.mark.parametrize(
    "payload",
    [
        "{% for i in range(10**6) %}{% for j in range(10**6) %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for i in range(1000) %}{% for j in range(1000) %}{{ j }}{% endfor %}{% endfor %}",
        "{% for i in 'x' * 100000 %}{% for j in 'x' * 100000 %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        "{% for i in range(99999) %}{% for j in range(2) %}{% endfor %}{% endfor %}",
    ],
)
def test_runaway_loops_are_stopped_quickly(payload):
    started = time.perf_counter()
    with pytest.raises(TemplateError, match="takes too long|far too long"):
        render(payload, max_seconds=30)
    assert time.perf_counter() - started < 10  # the iteration budget, not the clock, stopped it


def test_the_clock_stops_what_the_budgets_allow():
    payload = (
        "{% macro d(n) %}{% if n %}{{ d(n-1) }}{{ d(n-1) }}{% endif %}{% endmacro %}{{ d(40) }}"
    )
    with pytest.raises(TemplateError, match="takes too long"):
        render(payload, max_seconds=0.2)


def test_output_cap_is_configurable_and_normal_loops_work():
    body = "{% for i in range(500) %}<li>{{ i }}</li>{% endfor %}"
    assert render(body).html.count("<li>") == 500
    with pytest.raises(TemplateError, match="more than 1,000 characters"):
        render(body, max_output_chars=1000)


def test_the_same_template_renders_many_recipients_independently():
    template = MailTemplate("Hola {{ name }}", "<p>{{ name }} {{ city }}</p>")
    first = template.render({"name": "Ana"})
    second = template.render({"name": "Luis", "city": "Cali"})
    assert first.missing == ("city",) and second.missing == ()
    assert second.html == "<p>Luis Cali</p>"


def test_html_to_text():
    html = (
        "<html><head><style>p{color:red}</style><title>x</title></head><body>"
        "<h1>Hola   Ana</h1><p>Primera línea<br>segunda &amp; tercera&nbsp;parte</p>"
        "<ul><li>Café</li><li>Té <b>verde</b></li></ul>"
        '<p>Mira <a href="https://tienda.test/ofertas">las ofertas</a> o escribe a '
        '<a href="mailto:rosa@tienda.test">rosa@tienda.test</a>.</p>'
        "<script>alert(1)</script></body></html>"
    )
    assert html_to_text(html) == (
        "Hola Ana\n\n"
        "Primera línea\nsegunda & tercera parte\n\n"
        "- Café\n- Té verde\n\n"
        "Mira las ofertas (https://tienda.test/ofertas) o escribe a rosa@tienda.test.\n"
    )


def test_html_to_text_of_plain_words():
    assert html_to_text("Solo texto") == "Solo texto\n"
    assert html_to_text("") == "\n"


def test_html_to_text_of_awkward_html():
    html = (
        '<!DOCTYPE html><!-- a note --><p class="x > y">Precio: 5 < 7 &lt; 9</p>'
        "<table><tr><td>Café</td><td>$12.000</td></tr><tr><td>Té</td><td>$9.000</td></tr></table>"
        '<p><img src="logo.png" alt="Tienda Rosa"/><br/>Calle 10 &#35; 4-20</p>'
        "<ol><li>uno<ul><li>dos</li></ul></li></ol>"
        '<a href="https://tienda.test">https://tienda.test</a> <a href="#top">arriba</a>'
        "<p>sin cerrar"
    )
    assert html_to_text(html) == (
        "Precio: 5 < 7 < 9\n\n"
        "Café $12.000\nTé $9.000\n\n"
        "Tienda Rosa\nCalle 10 # 4-20\n\n"
        "- uno\n- dos\n\n"
        "https://tienda.test arriba\n\n"
        "sin cerrar\n"
    )


def test_renders_in_two_threads_keep_their_own_missing_fields():
    from concurrent.futures import ThreadPoolExecutor

    template = MailTemplate("Hola", "{% for i in range(50) %}{{ a }}{{ b }}{% endfor %}")

    def work(index):
        context = {"a": "x"} if index % 2 else {"b": "y"}
        return index, template.render(context).missing

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(200)))
    assert all(missing == (("b",) if index % 2 else ("a",)) for index, missing in results)
