"""The segments commands: `segments [--json]` and `export customers FILE --segment NAME`."""

from __future__ import annotations

import csv

from smbcrm.services.segments import save_segment
from smbcrm.services.shop import open_shop
from tests.test_cli import last_json, run


def test_segments_lists_every_segment_with_its_count_and_exports_one(tmp_path, capsys):
    db = str(tmp_path / "tienda.db")
    assert run(capsys, "--db", db, "demo", "--customers", "300", "--json")[0] == 0
    shop = open_shop(db)
    try:
        rule = {"version": 1, "rule": {"match": "all", "items": [
            {"type": "place", "field": "city", "op": "in", "values": ["Bogotá"]}]}}  # fmt: skip
        save_segment(shop, "Bogotanos", rule)
        in_bogota = shop.execute_sql(
            "SELECT COUNT(*) FROM customer WHERE city = 'Bogotá' AND archived = 0"
        ).fetchone()[0]
    finally:
        shop.close_for_good()

    status, out, _err = run(capsys, "--db", db, "segments", "--json")
    assert status == 0
    found = {row["name"]: row["count"] for row in last_json(out)["segments"]}
    assert found["Bogotanos"] == in_bogota > 0
    assert {"Active", "Lapsed", "Champions", "Gold"} <= set(found)
    assert found["Active"] + found["At risk"] + found["Lapsed"] <= 300

    status, out, _err = run(capsys, "--db", db, "segments")
    assert status == 0 and "Bogotanos" in out

    target = tmp_path / "bogota.csv"
    status, out, _err = run(capsys, "--db", db, "export", "customers", str(target),
                            "--segment", "bogotanos", "--json")  # fmt: skip
    assert status == 0 and last_json(out)["rows"] == in_bogota
    with target.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == in_bogota + 1

    status, out, err = run(capsys, "--db", db, "export", "customers", str(target),
                           "--segment", "Nadie", "--json")  # fmt: skip
    assert status == 1 and "no segment called “Nadie”" in last_json(out)["error"]
