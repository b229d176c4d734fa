import pytest

from smbcrm.core.errors import UserError
from smbcrm.services import custom_fields as cf
from smbcrm.services.customers import CustomerInput, create_customer, customer_detail


def test_each_kind_of_field_checks_and_stores_its_values(shop):
    ana = create_customer(shop, CustomerInput(first_name="Ana"), region="CO")
    ids = {
        kind: cf.add_field(shop, name, kind, choices)
        for kind, name, choices in [
            ("text", "Empresa", None),
            ("number", "Hijos", None),
            ("date", "Aniversario", None),
            ("yesno", "Factura", None),
            ("choice", "Talla", ["S", "M", "L"]),
        ]
    }
    cf.set_custom_values(shop, ana, {ids["text"]: "Panadería  Sol", ids["number"]: "2,5",
                                     ids["date"]: "14/02/2015", ids["yesno"]: "Sí",
                                     ids["choice"]: "l"})  # fmt: skip
    assert customer_detail(shop, ana).custom_values == {
        ids["text"]: "Panadería Sol",
        ids["number"]: "2.5",
        ids["date"]: "2015-02-14",
        ids["yesno"]: "yes",
        ids["choice"]: "L",
    }
    for kind, bad in [("number", "dos"), ("date", "mañana"), ("yesno", "quizás"), ("choice", "XL")]:
        with pytest.raises(UserError, match="does not fit"):
            cf.set_custom_values(shop, ana, {ids[kind]: bad})
    cf.set_custom_values(shop, ana, {ids["text"]: ""})
    assert ids["text"] not in customer_detail(shop, ana).custom_values


def test_field_definitions_are_checked(shop):
    cf.add_field(shop, "Talla", "choice", ["S"])
    with pytest.raises(UserError, match="already"):
        cf.add_field(shop, "talla", "text")
    with pytest.raises(UserError, match="at least one choice"):
        cf.add_field(shop, "Color", "choice", [])
    with pytest.raises(UserError, match="kind"):
        cf.add_field(shop, "Color", "colour")
    assert [f.name for f in cf.list_fields(shop)] == ["Talla"]
