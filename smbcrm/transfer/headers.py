"""Recognising columns from their header names (Spanish, English, common export layouts)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _

CUSTOMER_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "city",
    "region",
    "country",
    "birthday",
    "notes",
    "code",
    "tags",
    "consent",
)
PURCHASE_FIELDS = (
    "customer_email",
    "customer_phone",
    "customer_code",
    "customer_name",
    "date",
    "reference",
    "product",
    "sku",
    "category",
    "quantity",
    "unit_price",
    "amount",
)

# Header names per field, best first, written as normalise_header() leaves them.
# The position in the list is the match's rank: a better-ranked name wins the field even when
# it comes later in the file (Outlook's "Mobile Phone" beats its earlier "Business Phone").
_NAMES: dict[str, tuple[str, ...]] = {
    "first_name": (
        "nombre",
        "nombres",
        "primer nombre",
        "first name",
        "given name",
        "firstname",
        "first",
        "name first",
        "nombre de pila",
        "nombre del cliente",
    ),
    "last_name": (
        "apellidos",
        "apellido",
        "primer apellido",
        "last name",
        "family name",
        "surname",
        "lastname",
        "last",
        "name last",
        "apellido paterno",
    ),
    "full_name": (
        "nombre completo",
        "nombre y apellidos",
        "nombres y apellidos",
        "nombre y apellido",
        "full name",
        "name",
        "display name",
        "cliente",
        "customer",
        "contact",
        "contacto",
        "customer name",
        "razon social",
    ),
    "email": (
        "correo electronico",
        "correo",
        "email",
        "e mail",
        "mail",
        "e mail address",
        "email address",
        "e mail 1 value",
        "email 1 value",
        "correo electronico 1",
        "primary email",
        "e mail 2 address",
        "e mail 1 address",
        "emails",
    ),
    "phone": (
        "celular",
        "movil",
        "telefono movil",
        "telefono celular",
        "whatsapp",
        "mobile phone",
        "mobile",
        "cell phone",
        "cell",
        "telefono",
        "tel",
        "telefonos",
        "phone",
        "phone number",
        "numero de telefono",
        "numero celular",
        "phone 1 value",
        "primary phone",
        "home phone",
        "business phone",
        "telefono fijo",
        "phone 2 value",
    ),
    "city": (
        "ciudad",
        "municipio",
        "localidad",
        "poblacion",
        "city",
        "town",
        "address 1 city",
        "home city",
        "business city",
        "other city",
        "ciudad de residencia",
    ),
    "region": (
        "departamento",
        "estado",
        "provincia",
        "region",
        "comuna",
        "state",
        "province",
        "address 1 region",
        "home state",
        "business state",
        "other state",
        "state region",
    ),
    "country": (
        "pais",
        "country",
        "address 1 country",
        "home country region",
        "home country",
        "business country region",
        "business country",
        "country region",
        "other country region",
    ),
    "birthday": (
        "fecha de nacimiento",
        "cumpleanos",
        "nacimiento",
        "fecha nacimiento",
        "f nacimiento",
        "fec nacimiento",
        "fecha de cumpleanos",
        "birthday",
        "birth date",
        "date of birth",
        "birthdate",
        "dob",
        "cumple",
    ),
    "notes": (
        "notas",
        "nota",
        "observaciones",
        "observacion",
        "comentarios",
        "comentario",
        "notes",
        "note",
        "comments",
        "comment",
    ),
    "code": (
        "codigo",
        "codigo cliente",
        "codigo de cliente",
        "cod cliente",
        "id cliente",
        "cliente id",
        "numero de cliente",
        "no cliente",
        "code",
        "customer code",
        "customer id",
        "client id",
        "customer number",
        "id",
        "documento",
        "cedula",
        "dni",
        "nit",
        "rut",
        "numero de documento",
        "n documento",
    ),
    "tags": (
        "etiquetas",
        "etiqueta",
        "tags",
        "tag",
        "labels",
        "group membership",
        "categories",
        "grupos",
        "grupo",
        "segmento",
        "categorias",
    ),
    "consent": (
        "consentimiento",
        "acepta publicidad",
        "acepta comunicaciones",
        "autoriza",
        "autorizacion",
        "autoriza datos",
        "habeas data",
        "acepta marketing",
        "consent",
        "marketing consent",
        "opt in",
        "accepts marketing",
        "email marketing consent",
        "newsletter",
        "suscrito",
        "acepta correos",
    ),
    "customer_email": (
        "correo electronico",
        "correo",
        "email",
        "e mail",
        "correo cliente",
        "email cliente",
        "customer email",
        "email address",
        "mail",
    ),
    "customer_phone": (
        "celular",
        "telefono",
        "movil",
        "whatsapp",
        "telefono cliente",
        "celular cliente",
        "phone",
        "customer phone",
        "mobile",
        "billing phone",
        "tel",
    ),
    "customer_code": (
        "codigo cliente",
        "codigo de cliente",
        "id cliente",
        "cliente id",
        "cod cliente",
        "customer code",
        "customer id",
        "client id",
        "numero de cliente",
        "documento",
        "cedula",
        "nit",
        "dni",
        "rut",
    ),
    "customer_name": (
        "cliente",
        "nombre cliente",
        "nombre del cliente",
        "customer",
        "customer name",
        "nombre",
        "name",
        "billing name",
        "razon social",
    ),
    "date": (
        "fecha",
        "fecha de compra",
        "fecha compra",
        "fecha de venta",
        "fecha venta",
        "fecha factura",
        "fecha de factura",
        "date",
        "order date",
        "purchase date",
        "created at",
        "paid at",
        "fecha pedido",
        "fecha del pedido",
    ),
    "reference": (
        "factura",
        "numero de factura",
        "no factura",
        "n factura",
        "nro factura",
        "referencia",
        "ticket",
        "recibo",
        "pedido",
        "numero de pedido",
        "orden",
        "comprobante",
        "invoice",
        "invoice number",
        "order",
        "order id",
        "order number",
        "reference",
        "receipt",
        "name",
    ),
    "product": (
        "producto",
        "productos",
        "descripcion",
        "articulo",
        "item",
        "product",
        "product name",
        "lineitem name",
        "descripcion del producto",
        "servicio",
        "nombre producto",
    ),
    "sku": (
        "sku",
        "codigo producto",
        "codigo de producto",
        "cod producto",
        "referencia producto",
        "ref producto",
        "product code",
        "item code",
        "lineitem sku",
        "codigo de barras",
        "barcode",
        "ean",
    ),
    "category": (
        "categoria",
        "categorias",
        "linea",
        "familia",
        "grupo",
        "departamento",
        "category",
        "product type",
        "tipo de producto",
        "tipo",
    ),
    "quantity": (
        "cantidad",
        "cant",
        "unidades",
        "und",
        "quantity",
        "qty",
        "units",
        "lineitem quantity",
    ),
    "unit_price": (
        "precio unitario",
        "valor unitario",
        "precio",
        "precio unidad",
        "vr unitario",
        "unit price",
        "price",
        "lineitem price",
        "precio de venta",
    ),
    "amount": (
        "total",
        "valor total",
        "monto",
        "importe",
        "valor",
        "total venta",
        "total factura",
        "subtotal",
        "amount",
        "total amount",
        "total price",
        "venta",
        "valor de la compra",
        "neto",
        "total neto",
    ),
}


def normalise_header(text: str) -> str:
    """Lower case, no accents, punctuation as single spaces: 'E-mail 1 - Value' -> 'e mail 1 value'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = plain.casefold().replace("º", "").replace("°", "")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain).split())


def guess_mapping(headers: Sequence[str], fields: Sequence[str]) -> dict[int, str]:
    """Column index -> field for the columns recognised, from Spanish and English header names
    and common export layouts (Google Contacts, Outlook CSV, Excel in Spanish). Accent-, case-
    and punctuation-insensitive; each field and each column is used at most once, the best-ranked
    name first and then the leftmost column. A lone "Nombre" column with no surname column is
    taken as the full name when full_name is among the fields."""
    normalised = [normalise_header(header) for header in headers]
    candidates: list[tuple[int, int, str]] = []  # (rank, column, field)
    for field in fields:
        names = _NAMES.get(field, ())
        for column, text in enumerate(normalised):
            if not text:
                continue
            if text in names:
                candidates.append((names.index(text), column, field))
            elif text.replace(" ", "") in (name.replace(" ", "") for name in names):
                candidates.append((len(names), column, field))
    candidates.sort()
    mapping: dict[int, str] = {}
    taken_fields: set[str] = set()
    for _rank, column, field in candidates:
        if column in mapping or field in taken_fields:
            continue
        mapping[column] = field
        taken_fields.add(field)
    if (
        "full_name" in fields
        and "first_name" in taken_fields
        and "last_name" not in taken_fields
        and "full_name" not in taken_fields
    ):
        column = next(index for index, field in mapping.items() if field == "first_name")
        if normalised[column] in ("nombre", "nombres", "name"):
            mapping[column] = "full_name"
    return dict(sorted(mapping.items()))


def mapping_to_json(mapping: Mapping[int, str], headers: Sequence[str]) -> str:
    """A mapping as JSON keyed by header text, so it still applies after columns move."""
    columns = [
        {"header": headers[column], "field": field}
        for column, field in sorted(mapping.items())
        if 0 <= column < len(headers)
    ]
    return json.dumps({"version": 1, "columns": columns}, ensure_ascii=False, indent=2)


def mapping_from_json(text: str, headers: Sequence[str]) -> dict[int, str]:
    """A saved mapping applied to these headers: each saved header is found by its exact text,
    else by its normalised text; saved headers missing from the file are left out."""
    try:
        data = json.loads(text)
        columns = data["columns"]
        pairs = [(str(item["header"]), str(item["field"])) for item in columns]
    except (ValueError, TypeError, KeyError):
        raise UserError(
            _(
                "The saved column mapping cannot be read: the file is not a mapping saved by "
                "smbcrm. Map the columns again and save the mapping anew."
            )
        ) from None
    normalised = [normalise_header(header) for header in headers]
    mapping: dict[int, str] = {}
    for header, field in pairs:
        column = next(
            (
                index
                for index, text in enumerate(headers)
                if text == header and index not in mapping
            ),
            None,
        )
        if column is None:
            wanted = normalise_header(header)
            column = next(
                (
                    index
                    for index, text in enumerate(normalised)
                    if text == wanted and index not in mapping
                ),
                None,
            )
        if column is not None and field not in mapping.values():
            mapping[column] = field
    return dict(sorted(mapping.items()))
