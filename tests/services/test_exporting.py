"""Exports are safe against formula injection and come back in without loss."""

from __future__ import annotations

import csv
import shutil
import subprocess

import pytest
from openpyxl import load_workbook

from smbcrm.models.tables import Customer
from smbcrm.services import customers as cs
from smbcrm.services import exporting, importing
from smbcrm.services.demo import create_demo_shop
from smbcrm.services.shop import open_shop

HOSTILE = '=HYPERLINK("http://x","clic")'


def test_customer_export_xlsx_csv_vcf_with_formula_injection_neutralised(shop, tmp_path):
    cs.create_customer(shop, cs.CustomerInput(first_name=HOSTILE, last_name="+1-1", email="a@correo.co",
                                              notes="@SUM(A1)"), region="CO")  # fmt: skip
    cs.create_customer(shop, cs.CustomerInput(first_name="Ana", email="ana@correo.co"), region="CO")
    xlsx, text, vcf = tmp_path / "c.xlsx", tmp_path / "c.csv", tmp_path / "c.vcf"
    assert exporting.export_customers(shop, xlsx) == 2
    assert exporting.export_customers(shop, text, delimiter=";") == 2
    assert exporting.export_customers(shop, vcf) == 2
    sheet = load_workbook(xlsx).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value == HOSTILE]
    assert cells and all(cell.data_type == "s" for cell in cells)
    with text.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    flat = [value for row in rows for value in row]
    assert "'" + HOSTILE in flat and "'+1-1" in flat and "'@SUM(A1)" in flat
    assert "BEGIN:VCARD" in vcf.read_text(encoding="utf-8")


def test_the_customer_list_goes_out_and_comes_back(shop, tmp_path):
    create_demo_shop(shop, 150, seed=4)
    path = tmp_path / "clientes.xlsx"
    exporting.export_customers(shop, path)
    other = open_shop(tmp_path / "otra.db")
    try:
        result = importing.import_customers(other, path)
        assert result.errors == ()
        original = {(c.email, c.phone_e164, c.first_name, c.last_name, c.birthday, c.city)
                    for c in Customer.select().where(~Customer.archived)}  # fmt: skip
    finally:
        other.close_for_good()
    assert result.created == len(original)


def test_the_whole_shop_round_trips_through_one_workbook(shop, tmp_path):
    create_demo_shop(shop, 120, seed=6)
    cs.add_note(shop, 1, "Nota con =fórmula y acentos ñ")
    path = tmp_path / "tienda.xlsx"
    exporting.export_shop(shop, path)

    def dump(db, table):
        order = exporting.primary_key_order(db, table)
        return db.execute_sql(f"SELECT * FROM {table} ORDER BY {order}").fetchall()

    tables = {t: dump(shop, t) for t in exporting.SHOP_TABLES}
    customer_totals = shop.execute_sql(
        "SELECT id, purchase_count, total_spent FROM customer ORDER BY id"
    ).fetchall()
    copy = open_shop(tmp_path / "copia.db")
    try:
        exporting.import_shop(copy, path)
        for table, rows in tables.items():
            assert dump(copy, table) == rows, table
        assert (
            copy.execute_sql(
                "SELECT id, purchase_count, total_spent FROM customer ORDER BY id"
            ).fetchall()
            == customer_totals
        )
        assert [r.id for r in cs.search(copy, "fórmula")] == [1]
    finally:
        copy.close_for_good()


@pytest.mark.skipif(shutil.which("libreoffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_evaluates_nothing_in_our_exports(shop, tmp_path):
    cs.create_customer(
        shop,
        cs.CustomerInput(first_name="=1+1", last_name="-2+3", email="a@correo.co"),
        region="CO",
    )
    exporting.export_customers(shop, tmp_path / "c.xlsx")
    converted = subprocess.run(
        ["libreoffice", "--headless", "--convert-to", "csv", "--outdir", str(tmp_path / "out"),
         str(tmp_path / "c.xlsx")], capture_output=True, timeout=120,
    )  # fmt: skip
    assert converted.returncode == 0
    text = (tmp_path / "out" / "c.csv").read_text(encoding="utf-8", errors="replace")
    assert "=1+1" in text and "-2+3" in text
    assert ",2," not in text and ",1," not in text
