"""Importing customers, purchases and contacts: mapping, dry run, upsert, undo, one transaction."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from smbcrm.core.errors import UserError
from smbcrm.core.progress import Cancelled, CancelToken
from smbcrm.models.tables import Customer, ImportBatch, Purchase, PurchaseLine
from smbcrm.services import customers as cs
from smbcrm.services import importing
from smbcrm.services.duplicates import merge_customers
from smbcrm.services.shop import open_shop
from smbcrm.transfer import xlsx_slices
from smbcrm.transfer.tables import normalise_cell as tables_normalise

HEADERS = ["Nombre", "Apellidos", "Correo electrónico", "Teléfono", "Ciudad", "Fecha de nacimiento",
           "Etiquetas", "Acepta correos"]  # fmt: skip
ROWS = [
    [
        "Ana María",
        "Gómez",
        "ana@correo.co",
        3001234567,
        "Medellín",
        "29/02/1988",
        "VIP, Vecino",
        "sí",
    ],
    ["Luis", "Pérez", "luis@correo.co", "315 000 1111", "Cali", "15/07/1990", "", "no"],
    ["Marta", "Ruiz", "no-es-un-correo", "320 555 0000", "Bogotá", "", "", ""],
    ["Jhon", "Ríos", "", "(318) 222-3333", "Pasto", "31/12/1985", "Mayorista", ""],
]


def workbook(path, headers=HEADERS, rows=ROWS, title=True):
    book = Workbook()
    sheet = book.active
    sheet.title = "Clientes"
    if title:
        sheet.append(["Clientes de la tienda — exportado en 2026"])
        sheet.append([])
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_a_spanish_excel_file_is_mapped_and_imported(shop, tmp_path):
    result = importing.import_customers(shop, workbook(tmp_path / "clientes.xlsx"))
    assert (result.rows, result.created, result.updated, len(result.errors)) == (4, 3, 0, 1)
    assert result.errors[0].row == 6 and "not a valid email" in result.errors[0].message
    ana = cs.customer_detail(shop, cs.search(shop, "ana gomez")[0].id)
    assert ana.phone == "3001234567" and not ana.phone_flagged
    assert ana.birthday == date(1988, 2, 29)
    assert ana.tags == ("Vecino", "VIP")
    assert ana.email_consent == "granted"
    assert ana.consent_history[0].source == "import clientes.xlsx row 4"
    jhon = Customer.get(Customer.first_name == "Jhon")
    assert jhon.phone_e164 == "+573182223333"


def test_preview_shows_rows_as_stored_and_the_problems(shop, tmp_path):
    preview = importing.preview_customers(shop, workbook(tmp_path / "clientes.xlsx"))
    assert preview.info.header_row == 3
    assert set(preview.mapping.values()) >= {
        "first_name",
        "last_name",
        "email",
        "phone",
        "birthday",
    }
    assert preview.rows[0].values["phone"] == "+573001234567"
    assert preview.rows[0].values["birthday"] == "1988-02-29"
    assert "not a valid email" in preview.rows[2].error


def test_a_dry_run_reports_everything_and_changes_nothing(shop, tmp_path):
    result = importing.import_customers(shop, workbook(tmp_path / "c.xlsx"), dry_run=True)
    assert result.dry_run and result.created == 3 and len(result.errors) == 1
    assert result.batch_id is None
    assert Customer.select().count() == 0 and ImportBatch.select().count() == 0


def test_upsert_by_email_then_phone_never_blanking_by_default(shop, tmp_path):
    importing.import_customers(shop, workbook(tmp_path / "first.xlsx"))
    update = [
        ["Ana María", "Gómez Restrepo", "ana@correo.co", "", "", "", "Nueva", ""],  # by email
        ["Luisito", "", "", "+57 315 000 1111", "Palmira", "", "", ""],  # by phone
        ["Sofía", "Mejía", "sofia@correo.co", "", "", "", "", ""],  # new
    ]
    result = importing.import_customers(shop, workbook(tmp_path / "second.xlsx", rows=update))
    assert (result.created, result.updated) == (1, 2)
    ana = cs.customer_detail(shop, cs.search(shop, "ana@correo")[0].id)
    assert ana.last_name == "Gómez Restrepo" and ana.city == "Medellín"  # empty cells kept values
    assert ana.tags == ("Nueva", "Vecino", "VIP")
    luis = Customer.get(Customer.phone_e164 == "+573150001111")
    assert (luis.first_name, luis.last_name, luis.city) == ("Luisito", "Pérez", "Palmira")


def test_create_only_update_only_and_blanking(shop, tmp_path):
    importing.import_customers(shop, workbook(tmp_path / "first.xlsx"))
    rows = [
        ["Ana", "", "ana@correo.co", "", "", "", "", ""],
        ["Nueva", "", "n@correo.co", "", "", "", "", ""],
    ]
    path = workbook(tmp_path / "again.xlsx", rows=rows)
    only_new = importing.import_customers(
        shop, path, options=importing.ImportOptions(mode="create"), dry_run=True
    )
    assert (only_new.created, only_new.updated, only_new.skipped) == (1, 0, 1)
    only_old = importing.import_customers(
        shop, path, options=importing.ImportOptions(mode="update"), dry_run=True
    )
    assert (only_old.created, only_old.updated, only_old.skipped) == (0, 1, 1)
    importing.import_customers(shop, path, options=importing.ImportOptions(blank_overwrites=True))
    ana = Customer.get(Customer.email == "ana@correo.co")
    assert (ana.first_name, ana.last_name, ana.city) == ("Ana", "", "")


def test_undo_an_import_with_its_updates(shop, tmp_path):
    first = importing.import_customers(shop, workbook(tmp_path / "first.xlsx"))
    rows = [["Ana", "Otra", "ana@correo.co", "", "Cali", "", "Extra", "no"],
            ["Nuevo", "Cliente", "nuevo@correo.co", "", "", "", "", ""]]  # fmt: skip
    second = importing.import_customers(shop, workbook(tmp_path / "second.xlsx", rows=rows))
    importing.undo_import(shop, second.batch_id)
    ana = cs.customer_detail(shop, Customer.get(Customer.email == "ana@correo.co").id)
    assert (ana.first_name, ana.last_name, ana.city, ana.tags) == (
        "Ana María",
        "Gómez",
        "Medellín",
        ("Vecino", "VIP"),
    )
    assert ana.email_consent == "granted"
    assert not Customer.select().where(Customer.email == "nuevo@correo.co").exists()
    with pytest.raises(UserError, match="already undone"):
        importing.undo_import(shop, second.batch_id)
    importing.undo_import(shop, first.batch_id)
    assert Customer.select().count() == 0
    assert [i.undone_at is not None for i in importing.list_imports(shop)] == [True, True]


def test_a_cancelled_import_leaves_nothing(shop, tmp_path):
    rows = [[f"Cliente {i}", "", f"c{i}@correo.co", "", "", "", "", ""] for i in range(1200)]
    token = CancelToken()

    def progress(done, total, message):
        token.cancel()

    with pytest.raises(Cancelled):
        importing.import_customers(
            shop, workbook(tmp_path / "big.xlsx", rows=rows), progress=progress, cancel=token
        )
    assert Customer.select().count() == 0 and ImportBatch.select().count() == 0


def _stored_customers():
    fields = (Customer.first_name, Customer.last_name, Customer.email, Customer.phone_e164,
              Customer.city, Customer.birthday, Customer.email_consent)  # fmt: skip
    return sorted(Customer.select(*fields).tuples())


def test_a_big_file_read_in_a_child_process_imports_the_same(shop, tmp_path, monkeypatch):
    path = workbook(tmp_path / "clientes.xlsx")
    in_process = importing.import_customers(shop, path, dry_run=True)
    monkeypatch.setattr(importing, "WORKER_FILE_BYTES", 0)  # every file counts as big
    result = importing.import_customers(shop, path)
    assert (result.rows, result.created, result.errors) == (
        in_process.rows,
        in_process.created,
        in_process.errors,
    )
    ana = cs.customer_detail(shop, cs.search(shop, "ana gomez")[0].id)
    assert (ana.birthday, ana.tags, ana.email_consent) == (
        date(1988, 2, 29),
        ("Vecino", "VIP"),
        "granted",
    )
    stored = _stored_customers()
    importing.undo_import(shop, result.batch_id)
    monkeypatch.setattr(importing, "WORKER_FILE_BYTES", 1 << 40)
    importing.import_customers(shop, path)
    assert _stored_customers() == stored


def test_a_sheet_read_in_slices_by_the_child_imports_as_read_whole(shop, tmp_path, monkeypatch):
    rows = [[f"Cliente {i}", f"Apellido {i % 97}", f"c{i}@correo.co", f"300 {i:07d}", "Cali",
             f"{1 + i % 28:02d}/0{1 + i % 9}/1990", "VIP" if i % 3 else "", "sí" if i % 2 else ""]
            for i in range(10_000)]  # fmt: skip
    path = workbook(tmp_path / "grande.xlsx", rows=rows)
    assert xlsx_slices.worth_slicing(path, "xl/worksheets/sheet1.xml")
    monkeypatch.setattr(importing, "WORKER_FILE_BYTES", 0)
    sliced = importing.import_customers(shop, path)
    stored = _stored_customers()
    importing.undo_import(shop, sliced.batch_id)
    monkeypatch.setattr(importing, "WORKER_FILE_BYTES", 1 << 40)
    monkeypatch.setattr(xlsx_slices, "SLICE_FROM_BYTES", 1 << 40)
    whole = importing.import_customers(shop, path)
    assert (sliced.created, sliced.errors) == (whole.created, whole.errors) == (10_000, ())
    assert _stored_customers() == stored


def _customer_indexes(db):
    return db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customer' "
        "ORDER BY name"
    ).fetchall()


def _statements_of(db, work):
    statements: list[str] = []
    db.connection().set_trace_callback(statements.append)
    try:
        work()
    finally:
        db.connection().set_trace_callback(None)
    return statements


def test_a_big_import_into_a_small_shop_builds_the_customer_indexes_again(
    shop, tmp_path, monkeypatch
):
    before = _customer_indexes(shop)
    assert len(before) >= 8
    monkeypatch.setattr(importing, "WORKER_FILE_BYTES", 0)
    path = workbook(tmp_path / "c.xlsx")
    messages = []
    statements = _statements_of(
        shop,
        lambda: importing.import_customers(
            shop, path, progress=lambda done, total, message: messages.append(message)
        ),
    )
    assert messages[-1] == "Saving the imported customers…"  # while the indexes are built
    dropped = [s for s in statements if s.startswith("DROP INDEX")]
    # All but the unique index on the code and those whose keys a new customer adds in order.
    assert len(dropped) == len(before) - 1 - len(importing._KEPT_INDEXES)
    assert _customer_indexes(shop) == before
    assert shop.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"  # entries match rows
    plan = shop.execute_sql(
        "EXPLAIN QUERY PLAN SELECT id FROM customer WHERE email = ?", ("ana@correo.co",)
    ).fetchall()
    assert "customer_email" in str(plan)
    assert [hit.name for hit in cs.search(shop, "ana gomez")] == ["Ana María Gómez"]
    # A shop with more customers than that keeps its indexes and adds to them.
    monkeypatch.setattr(importing, "REBUILD_INDEXES_BELOW", 1)
    statements = _statements_of(shop, lambda: importing.import_customers(shop, path))
    assert not [s for s in statements if s.startswith("DROP INDEX")]


def test_a_file_the_child_refuses_or_cancel_leaves_nothing(shop, tmp_path, monkeypatch):
    monkeypatch.setattr(importing, "WORKER_FILE_BYTES", 0)
    indexes = _customer_indexes(shop)
    unmatched = workbook(tmp_path / "raro.xlsx", headers=["Xyz", "Qwe"], rows=[["a", "b"]])
    with pytest.raises(UserError, match="No column of this file"):
        importing.import_customers(shop, unmatched)
    rows = [[f"Cliente {i}", "", f"c{i}@correo.co", "", "", "", "", ""] for i in range(3000)]
    token = CancelToken()
    path = workbook(tmp_path / "big.xlsx", rows=rows)

    def cancelled():
        with pytest.raises(Cancelled):
            importing.import_customers(
                shop, path, progress=lambda done, total, message: token.cancel(), cancel=token
            )

    statements = _statements_of(shop, cancelled)
    assert Customer.select().count() == 0 and ImportBatch.select().count() == 0
    # The indexes dropped for the import are back with the rollback, not built over rows that
    # are thrown away: Cancel takes effect at once.
    assert [s for s in statements if s.startswith("DROP INDEX")]
    assert not [s for s in statements if s.startswith("CREATE INDEX")]
    assert _customer_indexes(shop) == indexes


def purchases_csv(path, rows, delimiter=";"):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(
            ["Correo", "Fecha", "Factura", "Producto", "Categoría", "Cantidad", "Total"]
        )
        writer.writerows(rows)
    return path


def test_identical_lines_of_one_file_all_count_and_a_longer_file_adds_only_its_new_lines(
    shop, tmp_path
):
    # The first import looks nothing up (no earlier lines); the second must find the overlap.
    importing.import_customers(shop, workbook(tmp_path / "clientes.xlsx"))
    same = ["ana@correo.co", "03/11/2026", "F-1", "Pan de bono x6", "Panadería", "1", "9.000"]
    first = importing.import_purchases(shop, purchases_csv(tmp_path / "a.csv", [same, same]))
    assert (first.created, first.skipped) == (2, 0)
    more = ["luis@correo.co", "04/11/2026", "F-2", "Café molido 500 g", "Café", "1", "18.900"]
    longer = purchases_csv(tmp_path / "b.csv", [same, same, same, more])
    second = importing.import_purchases(shop, longer)
    assert (second.created, second.skipped) == (2, 2)
    assert PurchaseLine.select().count() == 4
    # The receipt's third line comes in as a purchase of its own: each import owns its
    # purchases, so undoing it takes them away whole.
    ana = Customer.get(Customer.email == "ana@correo.co")
    assert (ana.purchase_count, ana.total_spent) == (2, 2_700_000)


def test_the_keys_of_imported_lines_never_change(shop, tmp_path):
    # Re-importing a file adds nothing twice only while a line's key stays what an earlier
    # version of smbcrm stored: these are the keys it stored before the reader was rewritten.
    people = tmp_path / "personas.csv"
    people.write_text("Nombre,Correo\nAna,ana@correo.co\nLuis,luis@correo.co\n", encoding="utf-8")
    importing.import_customers(shop, people)
    rows = [
        ["ana@correo.co", "03/11/2026", "F-1", "Café molido 500 g", "Café", "2", "37.800"],
        ["ana@correo.co", "03/11/2026", "F-1", "Pan de bono x6", "Panadería", "1,5", "9.000"],
        ["ana@correo.co", "03/11/2026", "F-1", "Pan de bono x6", "Panadería", "1,5", "9.000"],
        ["luis@correo.co", "04/11/2026", "", "Café molido 500 g", "Café", "", "18.900"],
    ]
    result = importing.import_purchases(shop, purchases_csv(tmp_path / "ventas.csv", rows))
    assert (result.created, result.errors) == (4, ())
    stored = PurchaseLine.select(
        PurchaseLine.import_key, PurchaseLine.quantity, PurchaseLine.amount
    )
    assert list(stored.order_by(PurchaseLine.id).tuples()) == [
        ("90aeda1cf72d4009d040928db3b339c563141499", 2.0, 3_780_000),
        ("bda5f8e6a01d8c25ac90741b53975d54d2223324", 1.5, 900_000),
        ("ed449af0d135b9560e01b2b291b197d5f34670fc", 1.5, 900_000),
        ("7f7a7a71e308d8103daae92b372ce89182605dc6", 1.0, 1_890_000),
    ]


def test_a_bad_number_is_named_and_an_unknown_customer_is_said_first(shop, tmp_path):
    importing.import_customers(shop, workbook(tmp_path / "clientes.xlsx"))
    rows = [
        ["ana@correo.co", "03/11/2026", "F-1", "Café", "Café", "dos", "37.800"],
        ["ana@correo.co", "03/11/2026", "F-1", "Café", "Café", "1", "mucho"],
        ["nadie@correo.co", "03/11/2026", "F-2", "Café", "Café", "dos", "37.800"],
        ["ana@correo.co", "03/11/2026", "F-1", "Café", "Café", "1", ""],
    ]
    result = importing.import_purchases(shop, purchases_csv(tmp_path / "malas.csv", rows))
    assert [error.message for error in result.errors] == [
        "The quantity “dos” is not a number.",
        "The amount “mucho” is not a number.",
        "No customer matches nadie@correo.co.",
        "The row has no amount.",
    ]
    assert result.created == 0


def test_a_row_naming_too_many_tags_fails_alone(shop, tmp_path):
    # Each new tag costs queries of its own: 20,000 in one vCard's CATEGORIES took 5.6 s.
    many = ", ".join(f"Etiqueta {number}" for number in range(51))
    rows = [["Ana", "Gómez", "ana@correo.co", many], ["Luis", "Pérez", "luis@correo.co", "VIP"]]
    headers = ["Nombre", "Apellidos", "Correo electrónico", "Etiquetas"]
    result = importing.import_customers(shop, workbook(tmp_path / "t.xlsx", headers, rows))
    assert [(error.row, error.message) for error in result.errors] == [
        (4, "The row names 51 tags; an import gives a customer at most 50.")
    ]
    assert result.created == 1
    cards = tmp_path / "t.vcf"
    cards.write_text(f"BEGIN:VCARD\nFN:Eva Ruiz\nCATEGORIES:{many.replace(', ', ',')}\nEND:VCARD\n")
    result = importing.import_vcards(shop, cards)
    assert [error.message for error in result.errors] == [
        "The row names 51 tags; an import gives a customer at most 50."
    ]


def test_a_purchases_mapping_may_name_a_column_the_file_does_not_have(shop, tmp_path):
    # Cells are picked by position in one call when every mapped column is in the file; a
    # saved mapping naming one past its last column still reads the rest.
    importing.import_customers(shop, workbook(tmp_path / "clientes.xlsx"))
    rows = [["ana@correo.co", "03/11/2026", "F-1", "Café", "Café", "2", "37.800"]]
    path = purchases_csv(tmp_path / "ventas.csv", rows)
    mapping = {0: "customer_email", 1: "date", 2: "reference", 3: "product", 4: "category",
               5: "quantity", 6: "amount"}  # fmt: skip
    result = importing.import_purchases(shop, path, mapping=mapping | {9: "sku"})
    assert (result.created, result.errors) == (1, ())
    line = PurchaseLine.get()
    assert (line.quantity, line.amount, line.product.name) == (2, 3_780_000, "Café")


def test_an_amount_too_large_fails_its_row_alone(shop, tmp_path):
    # A 20-digit invoice number mapped to the total overflowed SQLite's integers and stopped
    # the whole import with a traceback.
    importing.import_customers(shop, workbook(tmp_path / "clientes.xlsx"))
    rows = [
        ["ana@correo.co", "03/11/2026", "F-1", "Café", "Café", "1", "37.800"],
        ["ana@correo.co", "03/11/2026", "F-2", "Café", "Café", "1", "99999999999999999999"],
        ["ana@correo.co", "03/11/2026", "F-3", "Café", "Café", "1000000000000", "1"],
        ["ana@correo.co", "03/11/2026", "F-4", "Té", "Té", "999999999", "99999999999"],
        ["ana@correo.co", "03/11/2026", "F-5", "Té", "Té", "2", "100.000.000.000.000"],
        ["ana@correo.co", "03/11/2026", "F-6", "Té", "Té", "1", "9" * 100_000],  # 1 s to parse
    ]
    result = importing.import_purchases(shop, purchases_csv(tmp_path / "grandes.csv", rows))
    assert [(error.row, error.message) for error in result.errors] == [
        (3, "The amount “99999999999999999999” is too large for a sale."),
        (4, "The quantity “1000000000000” is too large for a sale."),
        (6, "The amount “100.000.000.000.000” is too large for a sale."),
        (7, f"The amount “{'9' * 40}” is too large for a sale."),
    ]
    assert result.created == 2  # the first row, and 999,999,999 units at 99,999,999,999 in all


def test_purchases_group_by_receipt_create_products_and_never_twice(shop, tmp_path):
    importing.import_customers(shop, workbook(tmp_path / "clientes.xlsx"))
    rows = [
        ["ana@correo.co", "03/11/2026", "F-1", "Café molido 500 g", "Café", "2", "37.800"],
        ["ana@correo.co", "03/11/2026", "F-1", "Pan de bono x6", "Panadería", "1", "9.000"],
        ["luis@correo.co", "04/11/2026", "F-2", "Café molido 500 g", "Café", "1", "18.900"],
        ["nadie@correo.co", "04/11/2026", "F-3", "Pan de bono x6", "Panadería", "1", "9.000"],
        ["ana@correo.co", "mañana", "F-4", "Pan de bono x6", "Panadería", "1", "9.000"],
    ]
    path = purchases_csv(tmp_path / "ventas.csv", rows)
    result = importing.import_purchases(shop, path)
    assert (result.rows, result.created, len(result.errors)) == (5, 3, 2)
    assert (
        "nadie@correo.co" in result.errors[0].message and "not a date" in result.errors[1].message
    )
    ana = Customer.get(Customer.email == "ana@correo.co")
    assert (ana.purchase_count, ana.total_spent) == (1, 4_680_000)
    assert PurchaseLine.select().count() == 3
    again = importing.import_purchases(shop, path)
    assert (again.created, again.skipped) == (0, 3)
    assert PurchaseLine.select().count() == 3
    create = importing.import_purchases(
        shop, path, options=importing.ImportOptions(create_missing_customers=True)
    )
    assert (
        create.created == 1
        and Customer.select().where(Customer.email == "nadie@correo.co").exists()
    )
    importing.undo_import(shop, create.batch_id)
    assert not Customer.select().where(Customer.email == "nadie@correo.co").exists()
    assert Purchase.select().count() == 2


VCARDS = (
    "BEGIN:VCARD\r\nVERSION:2.1\r\n"
    "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:G=C3=B3mez;Luc=C3=ADa;;;\r\n"
    "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Luc=C3=ADa G=C3=B3mez\r\n"
    "TEL;CELL:+57 300 765 4321\r\nEMAIL;HOME:lucia@correo.co\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Pedro Páramo\r\nN:Páramo;Pedro;;;\r\n"
    "TEL;TYPE=CELL:310 111 2222\r\nCATEGORIES:Proveedores\r\nEND:VCARD\r\n"
)


def test_vcards_from_a_phone_become_customers(shop, tmp_path):
    path = tmp_path / "contactos.vcf"
    path.write_text(VCARDS, encoding="utf-8")
    result = importing.import_vcards(shop, path)
    assert (result.rows, result.created, result.errors) == (2, 2, ())
    lucia = Customer.get(Customer.email == "lucia@correo.co")
    assert (lucia.first_name, lucia.last_name, lucia.phone_e164) == (
        "Lucía",
        "Gómez",
        "+573007654321",
    )
    assert cs.customer_detail(shop, Customer.get(Customer.first_name == "Pedro").id).tags == (
        "Proveedores",
    )


def test_a_file_that_is_not_a_spreadsheet_is_refused_and_nothing_changes(shop, tmp_path):
    fake = tmp_path / "clientes.xlsx"
    fake.write_bytes(b"<html><body>no</body></html>")
    with pytest.raises(UserError):
        importing.import_customers(shop, fake)
    assert ImportBatch.select().count() == 0


def test_a_customer_code_taken_by_another_customer_fails_alone(shop, tmp_path):
    headers = ["Código", "Nombre", "Correo"]
    rows = [["C1", "Ana", "ana@correo.co"], ["C2", "Luis", "luis@correo.co"],
            ["C1", "Luis Alberto", "luis@correo.co"], ["C3", "Eva", ""]]  # fmt: skip
    result = importing.import_customers(shop, workbook(tmp_path / "c.xlsx", headers, rows))
    assert (result.created, result.updated, [e.row for e in result.errors]) == (3, 0, [6])
    assert "code C1" in result.errors[0].message
    luis = Customer.get(Customer.email == "luis@correo.co")
    assert (luis.first_name, luis.code) == ("Luis", "C2")
    assert cs.search(shop, "eva")[0].name == "Eva"


def _search_entries(shop, sql):
    return {
        (row[0], *(" ".join(sorted(value.split())) for value in row[1:]))
        for row in shop.execute_sql(sql)
    }


def test_imported_customers_get_the_search_entries_the_view_would_give(shop, tmp_path):
    cs.create_customer(
        shop, cs.CustomerInput(first_name="Luis", email="luis@correo.co"), region="CO"
    )
    cs.set_tags(shop, Customer.get().id, ["vip"])  # an existing tag spelled another way
    rows = [*ROWS, ["Pía", "", "pia@correo.co", "", "", "", "vip; Nueva", ""]]
    importing.import_customers(shop, workbook(tmp_path / "c.xlsx", rows=rows))
    stored = _search_entries(
        shop, "SELECT rowid, name, email, phone, place, tags, notes FROM customer_search"
    )
    expected = _search_entries(shop, "SELECT * FROM customer_search_source")
    assert stored == expected and len(stored) == 4  # Marta is refused: a bad email
    assert [hit.name for hit in cs.search(shop, "nueva")] == ["Pía"]


@pytest.mark.parametrize("search_every", [3, 100])
def test_search_entries_written_in_rounds_match_the_view(shop, tmp_path, monkeypatch, search_every):
    # Search entries wait for many customers before they are written; a customer created and
    # then changed by a later row of the same file must still be found by its new name only.
    monkeypatch.setattr(importing, "_FLUSH_EVERY", 2)
    monkeypatch.setattr(importing, "_SEARCH_EVERY", search_every)
    rows = [[f"Cliente{n}", "", f"c{n}@correo.co", "", "", "", "vip" if n % 2 else "", ""]
            for n in range(9)]  # fmt: skip
    rows.append(["Renombrada", "", "c1@correo.co", "", "", "", "nueva", ""])
    result = importing.import_customers(shop, workbook(tmp_path / "c.xlsx", rows=rows))
    assert (result.created, result.updated) == (9, 1)
    stored = _search_entries(
        shop, "SELECT rowid, name, email, phone, place, tags, notes FROM customer_search"
    )
    assert stored == _search_entries(shop, "SELECT * FROM customer_search_source")
    assert len(stored) == 9
    assert [hit.name for hit in cs.search(shop, "renombrada")] == ["Renombrada"]
    assert cs.search(shop, "cliente1") == []


def test_an_import_leaves_the_page_cache_as_it_found_it(shop, tmp_path):
    usual = shop.execute_sql("PRAGMA cache_size").fetchone()[0]
    importing.import_customers(shop, workbook(tmp_path / "c.xlsx"))
    with pytest.raises(UserError):
        importing.import_purchases(shop, workbook(tmp_path / "c.xlsx"))  # no purchase columns
    assert shop.execute_sql("PRAGMA cache_size").fetchone()[0] == usual


def _odd_rows(count: int, seed: int):
    """Rows mixing what shop files hold with what clean_customer must refuse or tidy."""
    rng = random.Random(seed)

    def pick(pool):  # most cells plain (the first three of each pool), the rest anything
        return rng.choice(pool[:3] if rng.random() < 0.7 else pool)

    names = ["Ana", "José María", "  Luis ", "Ana  María", "Zoë", "", None, "a" * 101, "Tab\there",
             "Línea\ndos", "Ñandú", "Rosa\u200b", "O'Neil", 12345, "مريم", "🙂 Sol", "Luis ",
             " Ana", "Ana | Luis", "Luis |", "| Ana"]  # fmt: skip
    emails = ["ana@correo.co", "ANA@Correo.CO", "", None, "no-es-correo", "a@b", "ñu@correo.co",
              "x@localhost", "a" * 65 + "@correo.co", " luis@correo.co ", "a..b@correo.co",
              "pepe@test", "user+tag@gmail.com"]  # fmt: skip
    phones = ["300 123 4567", "+57 315 000 1111", 3001234567, 3001234567.0, "", None, "12",
              "(604) 444 5555", "+52 55 1234 5678", "abc", "57 300 123 4567", "300-123-4567 ext 5",
              "\u0663001234567", "+573001234567", "300 123 4567 "]  # fmt: skip
    birthdays = ["29/02/1988", "1990-07-15", "31/12/1899", "15/07/2099", "32/01/1990", "", None,
                 date(1985, 5, 6), datetime(1970, 1, 2, 0, 0), 32874, "07/15/1990", "hoy"]  # fmt: skip
    consents = ["sí", "no", "x", "", None, "quizás", True, 1]
    tags = ["VIP", "VIP, Vecino", "", None, "a;b|c", " , ", "x" * 60]
    cities = ["Medellín", "", None, "Bogotá  D.C.", "Cali\x07", "c" * 101]
    codes = ["C001", "", None, 7, "0042", "C\t1", "k" * 51]
    countries = ["CO", "co", "Colombia", "", None, "MX", "1", "U S", " co", "C\tO"]
    for _ in range(count):
        yield [pick(names), pick(names), pick(emails), pick(phones), pick(cities), pick(cities),
               pick(countries), pick(birthdays), pick(names + ["nota\nlarga", "n" * 10_001]),
               pick(codes), pick(consents), pick(tags)]  # fmt: skip


def _odd_rows_mapping(full_name: bool, consent: bool = True) -> dict[int, str]:
    """_odd_rows' columns mapped to fields; full_name: its second column holds full names."""
    fields = ["first_name", "last_name", "email", "phone", "city", "region", "country",
              "birthday", "notes", "code", "consent", "tags"]  # fmt: skip
    if full_name:
        fields[1] = "full_name"
    mapping = dict(enumerate(fields))
    if not consent:
        del mapping[10]
    return mapping


@pytest.mark.parametrize("full_name", [False, True])
def test_the_quick_check_of_a_row_agrees_with_clean_customer(monkeypatch, full_name):
    mapping = _odd_rows_mapping(full_name)
    checked_row = importing._checked_row
    slow = []
    monkeypatch.setattr(importing, "_checked_row", lambda *row: slow.append(1) or checked_row(*row))
    quick_rows, agreed = 0, 0
    for order in (importing.DateOrder("DMY", False), None):
        quick = importing._QuickRows(mapping, order, False, "CO")
        for number, cells in enumerate(_odd_rows(3_000, seed=len(mapping) + bool(order))):
            cells = [tables_normalise(value) for value in cells]
            expected = checked_row(number, cells, mapping, order, False, "CO")
            before = len(slow)
            found = _each_item(_parts(quick, [(number, cells)]))
            assert found == [expected], (cells, found, expected)
            quick_rows += len(slow) == before  # checked without clean_customer
            agreed += len(expected) == 4
    assert quick_rows > 1_000 and agreed > quick_rows  # the quick way is taken, not always


def _plain_rows(count: int, seed: int):
    """Rows as most shop files hold them, in _odd_rows' columns."""
    rng = random.Random(seed)
    for number in range(count):
        yield [rng.choice(["Ana", "Luis", "José María", "Zoë"]), rng.choice(["Gómez", "", "Ruiz"]),
               rng.choice([f"c{number}@correo.co", f"C{number}@Correo.co", ""]),
               rng.choice([f"300 {number:07d}", f"+57 315{number:07d}", "", 3001234567]),
               "Medellín", "Antioquia", rng.choice(["CO", "", "co"]),
               rng.choice(["29/02/1988", "1990-07-15", "", date(1985, 5, 6), None]),
               rng.choice(["", "nota"]), rng.choice([f"K{number}", "", 7]), rng.choice(["", None]),
               rng.choice(["VIP", "VIP, Vecino", ""] * 30 + [", ".join(map(str, range(60)))])]  # fmt: skip


def _parts(quick: importing._QuickRows, rows: list[tuple[int, list]]) -> list[tuple]:
    """quick.parts of (number, cells) rows of one width, given as a Table's block gives them."""
    numbers = [number for number, _cells in rows]
    columns = zip(*(cells for _number, cells in rows), strict=True)
    return quick.parts(numbers, [list(column) for column in columns])


def _each_item(parts: list[tuple]) -> list[tuple]:
    """The rows of a batch's parts one by one, as _checked_row gives them."""
    items = []
    for part in parts:
        if part[0] == "new":
            _kind, numbers, columns, tags = part
            rows = zip(numbers, zip(*columns, strict=True), tags, strict=True)
            items += [(number, fields, list(names), None) for number, fields, names in rows]
        else:
            items += part[1]
    return items


@pytest.mark.parametrize(("consent", "full_name"), [(False, False), (True, False), (True, True)])
def test_a_batch_checked_a_column_at_a_time_gives_what_each_row_gives(consent, full_name):
    mapping = _odd_rows_mapping(full_name, consent)
    rng = random.Random(8)
    plain = _plain_rows(20_000, seed=1)
    odd = _odd_rows(20_000, seed=2)
    columns = refused = 0
    for order in (importing.DateOrder("DMY", False), None):
        quick = importing._QuickRows(mapping, order, False, "CO")
        for round_ in range(300):
            share = rng.choice([0, 0, 0.02, 0.2, 1])  # of odd rows in the batch
            batch = [(round_ * 100 + at, [tables_normalise(value) for value in
                      (next(odd) if rng.random() < share else next(plain))])
                     for at in range(rng.randint(1, 60))]  # fmt: skip
            expected = [importing._checked_row(number, cells, mapping, order, False, "CO")
                        for number, cells in batch]  # fmt: skip
            parts = _parts(quick, batch)
            assert _each_item(parts) == expected, batch
            for part in parts:  # what _Upserter.add_new may take
                assert part[0] != "new" or max(map(len, part[3])) <= importing.MAX_TAGS_A_ROW
            columns += sum(len(part[1]) for part in parts if part[0] == "new")
            refused += sum(len(item) == 2 for item in expected)
    assert columns > 5_000 and refused > 500  # both ways taken


def test_a_row_finds_the_customer_an_earlier_row_gave_its_code_or_email(shop, tmp_path):
    path = workbook(tmp_path / "codigos.xlsx", headers=["Código", "Nombre", "Correo electrónico",
                                                       "Teléfono"], rows=[  # fmt: skip
        ["K1", "Ana", "ana@correo.co", "300 111 2222"],
        ["K2", "Ana", "ana@correo.co", ""],  # Ana's code becomes K2
        ["K2", "Ana", "otro@correo.co", ""],  # K2 is Ana: her email changes
        ["", "Ana", "", "300 111 2222"],  # found by phone: still Ana
        ["", "Ana", "otro@correo.co", ""],  # found by her new email
    ], title=False)  # fmt: skip
    result = importing.import_customers(shop, path)
    assert (result.created, result.updated, result.skipped, result.errors) == (1, 2, 2, ())
    assert shop.execute_sql("SELECT code, email FROM customer").fetchall() == [
        ("K2", "otro@correo.co")
    ]


def _shop_state(db) -> dict[str, list]:
    """Every row an import writes, times left out (each import stamps its own)."""
    queries = {
        "customer": "SELECT id, code, first_name, last_name, email, phone, phone_e164, "
        "phone_digits, city, region, country, birthday, notes, email_consent FROM customer",
        "search": "SELECT rowid, name, email, phone, place, tags, notes FROM customer_search",
        "tags": "SELECT customer_id, t.name FROM customer_tag JOIN tag t ON t.id = tag_id",
        "activity": "SELECT customer_id, kind, summary FROM activity",
        "changes": "SELECT customer_id, action, previous FROM import_change",
        "consent": "SELECT customer_id, state, source FROM consent_event",
    }
    return {name: sorted(db.execute_sql(sql).fetchall(), key=repr) for name, sql in queries.items()}


@pytest.mark.parametrize(
    ("mode", "compact"), [("both", False), ("both", True), ("create", False), ("update", False)]
)
def test_new_customers_written_a_batch_at_a_time_are_those_made_row_by_row(
    tmp_path, monkeypatch, mode, compact
):
    """_Upserter.add_new (whole runs of new customers) against __call__ (one row at a time),
    on a file that mixes every case the fast path must hand back to the slow one: rows that
    repeat an email, phone or code of this file or of the shop (a merged customer's code too),
    in the same batch or a later one, consent given, too many tags, a tag that cannot be one,
    refused rows."""
    monkeypatch.setattr(importing, "_BATCH_ROWS", 40)
    if compact:  # the keys move to CompactKeys tables early
        monkeypatch.setattr(importing._Index, "COMPACT_AFTER", 30)
    headers = ["Código", "Nombre", "Apellidos", "Correo electrónico", "Teléfono", "Ciudad",
               "Etiquetas", "Acepta correos", "Notas"]  # fmt: skip
    rng = random.Random(7)
    rows = []
    for i in range(400):
        email, phone, code = f"c{i}@correo.co", f"300 {i:07d}", f"K{i}"
        # In each batch of 40: rows 4-7 and 10-19 may be new, between rows that give consent;
        # row 7 repeats row 4's email, rows 25 and 26 one of rows 10-19, of this batch and of
        # the one before; the other rows are drawn at random.
        slot = i % 40
        kind = 2 if slot in (3, 8, 9, 20) else 99 if 4 <= slot <= 19 else rng.randrange(12)
        if slot == 7:
            email = f"c{i - 3}@correo.co"
        elif slot in (25, 26) and i > 40:
            email = f"c{i - 13 - (slot - 25) * 40}@correo.co"
        elif kind == 0 and i:  # an email, phone or code of an earlier row
            earlier = rng.randrange(i)
            email, phone, code = rng.choice([
                (f"c{earlier}@correo.co", phone, code), (email, f"300 {earlier:07d}", code),
                (email, phone, f"K{earlier}"),
            ])  # fmt: skip
        elif kind == 1:  # a customer the shop has
            email, phone, code = rng.choice([("vieja@correo.co", phone, code),
                                             (email, "310 999 0000", code), (email, phone, "K-OLD")])  # fmt: skip
        tags = rng.choice(["", "VIP", "VIP, Vecino"])
        if i % 50 == 13:
            tags = ", ".join(f"t{n}" for n in range(60))
        elif i % 50 == 14:  # a tag that cannot be one (a line inside the cell, too long)
            tags = rng.choice(["VIP\nVecino", "x" * 60])
        elif i % 50 == 37:
            code = "K-MERGED"  # the code of a customer merged into another
        consent = "sí" if kind == 2 else ""
        email = "no-es-correo" if kind == 3 else email
        rows.append([code, f"Cliente {i}", f"Apellido {i % 7}", email, phone, "Cali", tags,
                     consent, "nota" if i % 5 else ""])  # fmt: skip
    path = workbook(tmp_path / "mezcla.xlsx", headers=headers, rows=rows)
    states, results, taken = [], [], []
    add_new = importing._Upserter.add_new

    def counted(self, columns, tags):
        taken.append(add_new(self, columns, tags))
        return taken[-1]

    for batched in (True, False):
        monkeypatch.setattr(importing._Upserter, "add_new", counted if batched else
                            lambda self, columns, tags: False)  # fmt: skip
        db = open_shop(tmp_path / f"shop-{batched}.db")
        try:
            cs.create_customer(db, cs.CustomerInput(first_name="Vieja", email="vieja@correo.co"),
                               region="CO", tags=["Antigua"])  # fmt: skip
            cs.create_customer(db, cs.CustomerInput(first_name="Tel", phone="310 999 0000"),
                               region="CO")  # fmt: skip
            cs.create_customer(db, cs.CustomerInput(first_name="Cod", code="K-OLD"), region="CO")
            merged = cs.create_customer(db, cs.CustomerInput(first_name="Ida", code="K-MERGED"),
                                        region="CO")  # fmt: skip
            merge_customers(db, 1, merged)
            monkeypatch.setattr(importing, "WORKER_FILE_BYTES", 0)
            result = importing.import_customers(db, path, options=importing.ImportOptions(mode))
            results.append((result.rows, result.created, result.updated, result.skipped,
                            result.errors))  # fmt: skip
            states.append(_shop_state(db))
        finally:
            db.close_for_good()
    assert results[0] == results[1]
    assert results[0][1] > 200 if mode != "update" else results[0][1] == 0
    rows = [error.row for error in results[0][4]]
    assert rows == sorted(rows) and len(rows) > 20  # in the file's order
    assert states[0] == states[1]
    # Both ways were taken: whole runs, and runs handed back to go row by row.
    assert (True in taken, False in taken) == (mode != "update", True)


def test_the_reading_child_keeps_only_short_lists_of_tags_it_has_split():
    quick = importing._QuickRows({0: "first_name", 1: "tags"}, None, False, "CO")
    long_tags = ", ".join(f"etiqueta{n}" for n in range(2_000))  # 25 KB in one cell

    def tags(number, cells):
        [(_number, _fields, names, _consent)] = _each_item(_parts(quick, [(number, cells)]))
        return names

    assert tags(2, ["Ana", "VIP, Vecino"]) == ["VIP", "Vecino"]
    assert len(tags(3, ["Luis", long_tags])) == 2_000
    assert tags(4, ["Marta", "VIP, Vecino"]) == ["VIP", "Vecino"]
    # 10,000 cells of 50 KB would hold 2 GB
    assert list(quick.tag_lists) == [None, "VIP, Vecino"]


def test_the_reading_child_starts_without_the_email_and_phone_libraries():
    # The child of a big import imports this module before it reads a row; the libraries are
    # only for the addresses and numbers the fast paths cannot take (50 ms of its start).
    code = "import sys, smbcrm.services.importing; print(sorted({'email_validator', 'phonenumbers'} & set(sys.modules)))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_the_columns_of_new_customers_cross_from_the_child_as_they_were():
    columns = (["Ana", "Luis"], ["a@x.co", None], ["", ""], ["x\x1fy", "z"], [""] * 2, [7, "8"])
    part = ("new", [2, 3], columns, [(), ("VIP",)])
    kind, numbers, sent, tags = importing._joined_texts(part)
    assert (kind, numbers, tags) == ("new", [2, 3], [(), ("VIP",)])
    assert sent[0] == "Ana\x1fLuis" and sent[1] is columns[1] and sent[3] is columns[3]
    assert importing._cut_texts(sent) == tuple(columns)
    single = importing._joined_texts(("new", [4], ([""],), [()]))
    assert importing._cut_texts(single[2]) == ([""],)
    rows = ("rows", [(5, "why not")])
    assert importing._joined_texts(rows) is rows
