"""The import's customer index stays exact when it moves from dicts to its compact tables."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smbcrm.core.compact_keys import CompactKeys
from smbcrm.models.tables import Customer
from smbcrm.services import customers as cs
from smbcrm.services import importing

from .test_importing import workbook

keys = st.text(min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["set", "setdefault"]), keys, st.integers(1, 2**40))))
def test_compact_keys_answer_like_a_dict(operations):
    table = CompactKeys([])
    expected: dict[str, int] = {}
    for operation, key, value in operations:
        if operation == "set":
            table[key] = value
            expected[key] = value
        else:
            assert table.setdefault(key, value) == expected.setdefault(key, value)
    assert len(table) == len(expected)
    for key, value in expected.items():
        assert key in table and table[key] == value and table.get(key) == value
    for _operation, key, _value in operations:
        missing = key + "\x00"
        if missing not in expected:
            assert missing not in table and table.get(missing, -1) == -1


def test_a_thousand_keys_survive_the_table_growing():
    table = CompactKeys((f"cliente{number}@correo.co", number) for number in range(3000))
    assert all(table[f"cliente{number}@correo.co"] == number for number in range(3000))
    assert table.get("cliente3000@correo.co") is None


def test_an_import_matches_by_email_phone_and_code_once_the_index_is_compact(
    shop, tmp_path, monkeypatch
):
    monkeypatch.setattr(importing._Index, "COMPACT_AFTER", 2)
    headers = ["Código", "Nombre", "Correo", "Teléfono"]
    first = [["C1", "Ana", "ana@correo.co", "300 123 4567"], ["C2", "Luis", "luis@correo.co", ""],
             ["C3", "Eva", "", "315 000 1111"]]  # fmt: skip
    importing.import_customers(shop, workbook(tmp_path / "a.xlsx", headers, first))
    second = [
        ["", "Anita", "ana@correo.co", ""],  # by email
        ["", "Evita", "", "+57 315 000 1111"],  # by phone
        ["C2", "Luisito", "", ""],  # by code
        ["C4", "Sofía", "sofia@correo.co", ""],  # new
        ["", "Sofi", "sofia@correo.co", ""],  # the new one again, later in the file
    ]
    result = importing.import_customers(shop, workbook(tmp_path / "b.xlsx", headers, second))
    assert (result.created, result.updated, [error.row for error in result.errors]) == (1, 4, [])
    assert isinstance(importing._Index(shop).email, CompactKeys)
    assert Customer.get(Customer.code == "C1").first_name == "Anita"
    assert Customer.get(Customer.code == "C2").first_name == "Luisito"
    assert Customer.get(Customer.code == "C3").first_name == "Evita"
    assert cs.search(shop, "sofia@correo")[0].name == "Sofi"
