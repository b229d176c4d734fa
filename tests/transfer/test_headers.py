"""Column recognition for Spanish Excel files and Google / Outlook exports; saved mappings."""

from __future__ import annotations

import pytest

from smbcrm.core.errors import UserError
from smbcrm.transfer.headers import (
    CUSTOMER_FIELDS,
    PURCHASE_FIELDS,
    guess_mapping,
    mapping_from_json,
    mapping_to_json,
    normalise_header,
)

GOOGLE_CONTACTS = [
    "Name",
    "Given Name",
    "Additional Name",
    "Family Name",
    "Nickname",
    "Birthday",
    "Notes",
    "Group Membership",
    "E-mail 1 - Type",
    "E-mail 1 - Value",
    "E-mail 2 - Type",
    "E-mail 2 - Value",
    "Phone 1 - Type",
    "Phone 1 - Value",
    "Address 1 - Type",
    "Address 1 - City",
    "Address 1 - Region",
    "Address 1 - Country",
]
GOOGLE_CONTACTS_2023 = [
    "First Name",
    "Middle Name",
    "Last Name",
    "Birthday",
    "Notes",
    "Labels",
    "E-mail 1 - Label",
    "E-mail 1 - Value",
    "Phone 1 - Label",
    "Phone 1 - Value",
    "Address 1 - City",
]
OUTLOOK = [
    "First Name",
    "Middle Name",
    "Last Name",
    "Title",
    "E-mail Address",
    "E-mail 2 Address",
    "Business Phone",
    "Home Phone",
    "Mobile Phone",
    "Business City",
    "Business State",
    "Home City",
    "Home State",
    "Home Country/Region",
    "Birthday",
    "Notes",
    "Categories",
]
SPANISH_EXCEL = [
    "Nombre",
    "Apellidos",
    "Correo electrónico",
    "Teléfono",
    "Celular",
    "Ciudad",
    "Departamento",
    "País",
    "Fecha de nacimiento",
    "Notas",
    "Código",
    "Etiquetas",
    "Acepta publicidad",
]


def named(headers, fields=CUSTOMER_FIELDS):
    return {headers[column]: field for column, field in guess_mapping(headers, fields).items()}


def test_google_contacts_layouts():
    assert named(GOOGLE_CONTACTS) == {
        "Name": "full_name",
        "Given Name": "first_name",
        "Family Name": "last_name",
        "Birthday": "birthday",
        "Notes": "notes",
        "Group Membership": "tags",
        "E-mail 1 - Value": "email",
        "Phone 1 - Value": "phone",
        "Address 1 - City": "city",
        "Address 1 - Region": "region",
        "Address 1 - Country": "country",
    }
    assert named(GOOGLE_CONTACTS_2023) == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Birthday": "birthday",
        "Notes": "notes",
        "Labels": "tags",
        "E-mail 1 - Value": "email",
        "Phone 1 - Value": "phone",
        "Address 1 - City": "city",
    }


def test_outlook_layout_prefers_mobile_and_home():
    assert named(OUTLOOK) == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "E-mail Address": "email",
        "Mobile Phone": "phone",
        "Home City": "city",
        "Home State": "region",
        "Home Country/Region": "country",
        "Birthday": "birthday",
        "Notes": "notes",
        "Categories": "tags",
    }


def test_spanish_excel_layout_accent_and_case_insensitive():
    assert named(SPANISH_EXCEL) == {
        "Nombre": "first_name",
        "Apellidos": "last_name",
        "Correo electrónico": "email",
        "Celular": "phone",
        "Ciudad": "city",
        "Departamento": "region",
        "País": "country",
        "Fecha de nacimiento": "birthday",
        "Notas": "notes",
        "Código": "code",
        "Etiquetas": "tags",
        "Acepta publicidad": "consent",
    }
    assert named(["CORREO ELECTRONICO", "teléfono:", "Cumpleaños", "MÓVIL"]) == {
        "CORREO ELECTRONICO": "email",
        "MÓVIL": "phone",
        "Cumpleaños": "birthday",
    }


def test_each_field_once_and_lone_nombre_is_the_full_name():
    assert named(["Nombre", "Correo", "Email"]) == {"Nombre": "full_name", "Correo": "email"}
    assert named(["Nombre completo", "E-mail"]) == {
        "Nombre completo": "full_name",
        "E-mail": "email",
    }
    assert guess_mapping(["Color favorito", ""], CUSTOMER_FIELDS) == {}


def test_purchase_reports():
    assert named(
        [
            "Fecha",
            "No. Factura",
            "Cliente",
            "Correo",
            "Celular",
            "Producto",
            "SKU",
            "Categoría",
            "Cantidad",
            "Precio unitario",
            "Total",
        ],
        PURCHASE_FIELDS,
    ) == {
        "Fecha": "date",
        "No. Factura": "reference",
        "Cliente": "customer_name",
        "Correo": "customer_email",
        "Celular": "customer_phone",
        "Producto": "product",
        "SKU": "sku",
        "Categoría": "category",
        "Cantidad": "quantity",
        "Precio unitario": "unit_price",
        "Total": "amount",
    }
    assert normalise_header("E-mail 1 - Value") == "e mail 1 value"


def test_saved_mapping_follows_columns_that_moved():
    headers = ["Nombre", "Apellidos", "Correo electrónico", "Celular"]
    saved = mapping_to_json({0: "first_name", 1: "last_name", 3: "phone"}, headers)
    moved = ["celular", "Correo electrónico", "Nombre", "Extra"]
    assert mapping_from_json(saved, moved) == {0: "phone", 2: "first_name"}
    with pytest.raises(UserError, match="mapping"):
        mapping_from_json("{not json", headers)
