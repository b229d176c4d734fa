"""A customer's timeline as a list model that loads older events as the view scrolls down."""

from __future__ import annotations

from typing import Any

from babel.dates import format_date, format_time

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt

from smbcrm.core.dates import to_local
from smbcrm.core.i18n import current_language
from smbcrm.core.money import format_money
from smbcrm.services.timeline import PAGE, TimelineEvent, timeline

from smbcrm.ui.context import ShopContext

EventRole = Qt.ItemDataRole.UserRole + 1


class TimelineModel(QAbstractListModel):
    """Qt asks canFetchMore/fetchMore when the view nears the end: a page of 50 per call."""

    def __init__(self, context: ShopContext, customer_id: int, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.customer_id = customer_id
        self.events: list[TimelineEvent] = []
        self._exhausted = False

    def reload(self) -> None:
        self.beginResetModel()
        self.events = []
        self._exhausted = False
        self.endResetModel()
        self.fetchMore(QModelIndex())

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.events)

    def canFetchMore(self, parent: QModelIndex) -> bool:
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: QModelIndex) -> None:
        if parent.isValid() or self._exhausted:
            return
        more = timeline(self.context.db, self.customer_id, offset=len(self.events), limit=PAGE)
        if len(more) < PAGE:
            self._exhausted = True
        if more:
            start = len(self.events)
            self.beginInsertRows(QModelIndex(), start, start + len(more) - 1)
            self.events.extend(more)
            self.endInsertRows()

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        event = self.events[index.row()]
        if role == EventRole:
            return event
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        moment = to_local(event.occurred_at)
        language = current_language()
        when = f"{format_date(moment, 'medium', locale=language)}, {format_time(moment, 'short', locale=language)}"
        heading = f"{when} · {event.title}"
        if event.amount is not None:
            profile = self.context.profile
            heading += f" · {format_money(event.amount, profile.currency, profile.locale)}"
        return f"{heading}\n{event.detail}" if event.detail else heading
