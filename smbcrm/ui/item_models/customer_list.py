"""The customer list as a Qt table model: ids for the whole result, rows fetched a page at a time."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from babel.dates import format_date

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from smbcrm.core.dates import to_local
from smbcrm.core.i18n import _, current_language
from smbcrm.core.money import format_money
from smbcrm.services.customers import CustomerRow, customer_rows

from smbcrm.ui.context import ShopContext

PAGE_SIZE = 200
CACHED_PAGES = 20
COLUMNS = ("name", "email", "phone", "city", "tags", "last_purchase", "total_spent")
SORTABLE = {"name", "email", "phone", "city", "last_purchase", "total_spent"}


class CustomerListModel(QAbstractTableModel):
    """Holds only the ordered ids of the current result (ints); rows are read by primary key a
    page of 200 at a time (about a millisecond each) and a few pages are kept."""

    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.ids: list[int] = []
        self._pages: OrderedDict[int, list[CustomerRow]] = OrderedDict()

    def set_ids(self, ids: list[int]) -> None:
        self.beginResetModel()
        self.ids = ids
        self._pages.clear()
        self.endResetModel()

    def refresh_rows(self) -> None:
        """Re-read the rows shown (after an edit) without changing the result."""
        self._pages.clear()
        if self.ids:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.ids) - 1, len(COLUMNS) - 1))

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.ids)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def row_at(self, row: int) -> CustomerRow | None:
        if not 0 <= row < len(self.ids):
            return None
        page = row // PAGE_SIZE
        rows = self._pages.get(page)
        if rows is None:
            start = page * PAGE_SIZE
            rows = customer_rows(self.context.db, self.ids[start : start + PAGE_SIZE])
            self._pages[page] = rows
            while len(self._pages) > CACHED_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page)
        offset = row - page * PAGE_SIZE
        return rows[offset] if offset < len(rows) else None

    def customer_id(self, row: int) -> int | None:
        return self.ids[row] if 0 <= row < len(self.ids) else None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        return {
            "name": _("Name"),
            "email": _("Email"),
            "phone": _("Phone"),
            "city": _("City"),
            "tags": _("Tags"),
            "last_purchase": _("Last purchase"),
            "total_spent": _("Total spent"),
        }[COLUMNS[section]]

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and column == "total_spent":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                        Qt.ItemDataRole.ForegroundRole):  # fmt: skip
            return None
        row = self.row_at(index.row())
        if row is None:
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == "phone" and row.phone_flagged:
                return QBrush(QColor("#b3261e"))
            return QBrush(QColor("#777777")) if row.archived else None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == "phone" and row.phone_flagged:
                return _("This phone could not be recognised; it is kept as typed.")
            return None
        profile = self.context.profile
        if column == "last_purchase":
            if row.last_purchase_at is None:
                return ""
            return format_date(to_local(row.last_purchase_at), "medium", locale=current_language())
        if column == "total_spent":
            return format_money(row.total_spent, profile.currency, profile.locale)
        if column == "phone" and row.phone_flagged:
            return f"⚠ {row.phone}"
        return getattr(row, column)
