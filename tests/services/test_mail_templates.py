"""Templates of the shop: ready-made ones in both languages, merge fields, custom fields, preview."""

from __future__ import annotations

import pytest

from smbcrm.core.errors import UserError
from smbcrm.services import mail_templates as mt
from smbcrm.services.custom_fields import add_field, set_custom_values
from smbcrm.services.settings import save_settings
from smbcrm.services.template_library import LIBRARY
from tests.conftest import make_customer, make_purchase


@pytest.mark.parametrize("language", sorted(LIBRARY))
def test_every_ready_made_template_renders_for_a_regular_and_a_brand_new_customer(shop, language):
    save_settings(shop, shop_name="Tienda La Esquina", language=language)
    regular = make_customer(first_name="Ana", email="ana@example.com", birthday="1990-02-28")
    make_purchase(regular, amounts=(42_500,))
    newcomer = make_customer(first_name="", last_name="", email="nuevo@example.com")
    assert mt.add_ready_templates(shop, language) == 5
    assert mt.add_ready_templates(shop, language) == 0  # once only
    for template in mt.list_templates(shop):
        _recipient, mail = mt.preview(shop, template.subject, template.body_html, regular.id)
        assert "Ana" in mail.subject + mail.html and "None" not in mail.html
        assert "Tienda La Esquina" in mail.html
        _recipient, mail = mt.preview(shop, template.subject, template.body_html, newcomer.id)
        assert mail.missing == () and "None" not in mail.html  # defaults cover what is missing


def test_custom_fields_are_merge_fields(shop):
    field_id = add_field(shop, "Talla de zapato", "text")
    ana = make_customer(email="ana@example.com")
    set_custom_values(shop, ana.id, {field_id: "38"})
    assert mt.field_key("Talla de zapato") == "talla_de_zapato"
    assert mt.field_key("City") == "field_city"  # never hides a standard field
    assert any(f.placeholder == "{{ talla_de_zapato }}" for f in mt.merge_fields(shop))
    _recipient, mail = mt.preview(shop, "Hola", "<p>Tu talla: {{ talla_de_zapato }}</p>", ana.id)
    assert "Tu talla: 38" in mail.html


def test_a_broken_template_is_refused_with_the_line(shop):
    with pytest.raises(UserError, match="Line 2"):
        mt.save_template(shop, "Roto", "Hola", "<p>Hola</p>\n<p>{{ first_name </p>")
    with pytest.raises(UserError):
        mt.save_template(shop, "Sin asunto", "  ", "<p>Hola</p>")
    saved = mt.save_template(shop, "Bien", "Hola", "<p>Hola</p>")
    with pytest.raises(UserError):
        mt.save_template(shop, "bien", "Hola", "<p>Otra</p>")  # names are unique, any case
    mt.delete_template(shop, saved.id)
    assert mt.list_templates(shop) == []
