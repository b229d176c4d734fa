from decimal import Decimal

import pytest

from smbcrm.core.errors import UserError
from smbcrm.core.money import format_money, from_minor, minor_digits, to_minor


def test_minor_units_follow_the_currency():
    assert minor_digits("COP") == 2
    assert minor_digits("CLP") == 0
    assert to_minor("12500", "COP") == 1_250_000
    assert to_minor("12500.505", "COP") == 1_250_051  # half up
    assert to_minor(990, "CLP") == 990
    assert from_minor(1_250_000, "COP") == Decimal("12500.00")


def test_money_is_written_as_the_country_writes_it():
    assert format_money(1_250_000, "COP", "es_CO") == "$12.500"
    assert format_money(1_250_050, "COP", "es_CO") == "$12.500,50"
    assert format_money(990, "CLP", "es_CL") == "$990"
    assert format_money(123_456_789, "MXN", "es_MX") == "$1,234,567.89"
    assert format_money(150_000, "USD", "en_US") == "$1,500"


@pytest.mark.parametrize("bad", ["", "doce", "1e400000", "NaN", "inf"])
def test_bad_amounts_are_refused_with_a_message(bad):
    with pytest.raises(UserError):
        to_minor(bad, "COP")
