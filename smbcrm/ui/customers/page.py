"""Customers: find anyone as you type, filter, sort, and open a profile."""

from __future__ import annotations

from babel.numbers import format_decimal

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _, ngettext
from smbcrm.services.custom_fields import FieldInfo, list_fields
from smbcrm.services.customers import CustomerLister, CustomerQuery, TagInfo, list_tags
from smbcrm.services.segments import segment_choices

from smbcrm.ui.context import ShopContext
from smbcrm.ui.customers.profile_dialog import ProfileDialog
from smbcrm.ui.item_models.customer_list import COLUMNS, SORTABLE, CustomerListModel
from smbcrm.ui.tasks import show_error
from smbcrm.ui.title_page import heading

SEARCH_DELAY_MS = 60


class CustomersPage(QWidget):
    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.sort = ""
        self.descending = False
        self._generation = 0
        self.dialogs: dict[int | None, ProfileDialog] = {}
        self._tags: list[TagInfo] = []
        self._fields: list[FieldInfo] = []
        self._segments: tuple[tuple[str, str], ...] = ()

        self.title_label = heading()
        self.search_edit = QLineEdit()
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(300)
        self.tag_combo = QComboBox()
        self.tag_combo.setMinimumWidth(150)
        self.field_combo = QComboBox()  # "Size: M" for choice and yes/no fields
        self.field_combo.setMinimumWidth(130)
        self.segment_combo = QComboBox()  # the customers of one segment (services.segments)
        # Sized by a short name, not by the longest segment's, so the row fits a narrow window.
        self.segment_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.segment_combo.setMinimumContentsLength(18)
        self.email_check = QCheckBox()
        self.phone_check = QCheckBox()
        self.archived_check = QCheckBox()
        self.new_button = QPushButton()
        self.count_label = QLabel()

        self.lister = CustomerLister(context.db)
        self.model = CustomerListModel(context, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setStretchLastSection(False)
        # The name takes what is left; the others start at a width that fits typical values.
        widths = {"email": 200, "phone": 130, "city": 100, "tags": 120, "last_purchase": 105,
                  "total_spent": 110}  # fmt: skip
        for index, column in enumerate(COLUMNS):
            if column in widths:
                self.table.setColumnWidth(index, widths[column])
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(60)
        header.sectionClicked.connect(self._header_clicked)
        self.table.doubleClicked.connect(lambda index: self.open_row(index.row()))
        QShortcut(QKeySequence(Qt.Key.Key_Return), self.table, activated=self.open_current)
        QShortcut(QKeySequence(Qt.Key.Key_Enter), self.table, activated=self.open_current)
        QShortcut(QKeySequence.StandardKey.Find, self, activated=self.focus_search)
        QShortcut(QKeySequence.StandardKey.New, self, activated=self.new_customer)

        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)
        self.search_timer.timeout.connect(self.reload)
        self.search_edit.textChanged.connect(lambda _text: self.search_timer.start())
        self.search_edit.returnPressed.connect(self._search_entered)
        for check in (self.email_check, self.phone_check, self.archived_check):
            check.toggled.connect(lambda _on: self.reload())
        self.tag_combo.activated.connect(lambda _index: self.reload())
        self.field_combo.activated.connect(lambda _index: self.reload())
        self.segment_combo.activated.connect(lambda _index: self.reload())
        self.new_button.clicked.connect(self.new_customer)

        filters = QHBoxLayout()
        filters.addWidget(self.search_edit, 2)
        filters.addWidget(self.tag_combo, 1)
        filters.addWidget(self.field_combo, 1)
        filters.addWidget(self.segment_combo, 1)
        filters.addWidget(self.email_check)
        filters.addWidget(self.phone_check)
        filters.addWidget(self.archived_check)
        filters.addStretch(1)
        filters.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 12)
        layout.addWidget(self.title_label)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)
        self.retranslate()

    def retranslate(self) -> None:
        self.title_label.setText(_("Customers"))
        self.search_edit.setPlaceholderText(
            _("Search by name, email, phone, city, tag or note (Ctrl+F)")
        )
        self.email_check.setText(_("with &email"))
        self.phone_check.setText(_("with p&hone"))
        self.archived_check.setText(_("a&rchived"))
        self.new_button.setText(_("&New customer"))
        self.new_button.setToolTip(QKeySequence(QKeySequence.StandardKey.New).toString())
        self._fill_tags(self._tags)
        self._fill_fields(self._fields)
        self._fill_segments(self._segments)
        self.model.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1)
        self._show_count()

    def _filters_loaded(self, loaded) -> None:
        tags, fields, segments = loaded
        self._fill_tags(tags)
        self._fill_fields(fields)
        self._fill_segments(segments)

    def _fill_segments(self, segments: tuple[tuple[str, str], ...]) -> None:
        chosen = self.segment_combo.currentData()
        chosen_name = self.segment_combo.currentText()
        self._segments = segments
        self.segment_combo.clear()
        self.segment_combo.addItem(_("All segments"), "")
        for key, name in segments:
            self.segment_combo.addItem(name, key)
        if chosen and chosen.startswith("rfm_cell_") and self.segment_combo.findData(chosen) < 0:
            self.segment_combo.addItem(chosen_name, chosen)  # e.g. a cell of the RFM grid
        self.segment_combo.setCurrentIndex(max(0, self.segment_combo.findData(chosen)))

    def show_segment(self, key: str, name: str) -> None:
        """Show only the customers of a segment (from the Segments page)."""
        if self.segment_combo.findData(key) < 0:
            self.segment_combo.addItem(name, key)
        self.segment_combo.setCurrentIndex(self.segment_combo.findData(key))
        self.reload()

    def _fill_tags(self, tags: list[TagInfo]) -> None:
        chosen = self.tag_combo.currentData()
        self._tags = tags
        self.tag_combo.clear()
        self.tag_combo.addItem(_("All tags"), None)
        for tag in tags:
            self.tag_combo.addItem(f"{tag.name} ({tag.customers})", tag.id)
        self.tag_combo.setCurrentIndex(max(0, self.tag_combo.findData(chosen)))

    def _fill_fields(self, fields: list[FieldInfo]) -> None:
        chosen = self.field_combo.currentData()
        self._fields = fields
        self.field_combo.clear()
        self.field_combo.addItem(_("Any field"), None)
        for info in fields:
            if info.kind == "yesno":
                options = [("yes", _("Yes")), ("no", _("No"))]
            elif info.kind == "choice":
                options = [(choice, choice) for choice in info.choices]
            else:
                continue
            for value, text in options:
                self.field_combo.addItem(f"{info.name}: {text}", (info.id, value))
        self.field_combo.setCurrentIndex(max(0, self.field_combo.findData(chosen)))
        self.field_combo.setVisible(self.field_combo.count() > 1)

    def query(self) -> CustomerQuery:
        tag = self.tag_combo.currentData()
        field = self.field_combo.currentData()
        return CustomerQuery(
            field_id=field[0] if field else None,
            field_value=field[1] if field else "",
            text=self.search_edit.text(),
            tag_ids=(tag,) if tag is not None else (),
            has_email=self.email_check.isChecked(),
            has_phone=self.phone_check.isChecked(),
            archived=self.archived_check.isChecked(),
            sort=self.sort,
            descending=self.descending,
            segment=self.segment_combo.currentData() or "",
        )

    def refresh(self) -> None:
        """After a change to the shop: forget the cached order and read again."""
        self.lister.invalidate()
        db = self.context.db
        self.context.runner.run(
            lambda progress, cancel: (list_tags(db), list_fields(db), segment_choices(db)),
            show_progress=False,
            on_success=self._filters_loaded,
            parent=self,
        )
        self.reload()

    def reload(self) -> None:
        """Ask for the ids of the current search on a worker; the newest answer wins."""
        self._generation += 1
        generation, query, lister = self._generation, self.query(), self.lister

        def show(ids: list[int]) -> None:
            if generation == self._generation:
                self.model.set_ids(ids)
                self._show_count()

        def failed(error: BaseException) -> None:
            if query.segment and isinstance(error, UserError):  # the segment was just deleted
                self.segment_combo.setCurrentIndex(0)
                self.reload()
            else:
                show_error(self, error)

        self.context.runner.run(
            lambda progress, cancel: lister.ids(query),
            show_progress=False,
            on_success=show,
            on_failure=failed,
            parent=self,
        )

    def _show_count(self) -> None:
        count = format_decimal(len(self.model.ids), locale=self.context.profile.locale)
        text = self.search_edit.text().strip()
        total = len(self.model.ids)
        if text:
            message = ngettext(
                "{count} customer matches “{text}”", "{count} customers match “{text}”", total
            )
        else:
            message = ngettext("{count} customer", "{count} customers", total)
        self.count_label.setText(message.format(count=count, text=text))

    def _header_clicked(self, section: int) -> None:
        column = COLUMNS[section]
        if column not in SORTABLE:
            return
        self.descending = not self.descending if self.sort == column else column in (
            "last_purchase", "total_spent"
        )  # fmt: skip
        self.sort = column
        order = Qt.SortOrder.DescendingOrder if self.descending else Qt.SortOrder.AscendingOrder
        self.table.horizontalHeader().setSortIndicatorShown(True)
        self.table.horizontalHeader().setSortIndicator(section, order)
        self.reload()

    def _search_entered(self) -> None:
        self.search_timer.stop()
        self.reload()
        self.table.setFocus()
        self.table.selectRow(0)

    def focus_search(self) -> None:
        self.search_edit.setFocus()
        self.search_edit.selectAll()

    def open_current(self) -> None:
        index = self.table.currentIndex()
        if index.isValid():
            self.open_row(index.row())

    def open_row(self, row: int) -> None:
        customer_id = self.model.customer_id(row)
        if customer_id is not None:
            self.open_customer(customer_id)

    def new_customer(self) -> None:
        self.open_customer(None)

    def open_customer(self, customer_id: int | None) -> ProfileDialog:
        dialog = self.dialogs.get(customer_id)
        if dialog is None:
            dialog = ProfileDialog(self.context, customer_id, self)
            dialog.changed.connect(self._customer_changed)
            dialog.open_customer.connect(self.open_customer)
            dialog.finished.connect(lambda _result, key=customer_id: self._dialog_closed(key))
            self.dialogs[customer_id] = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _dialog_closed(self, key: int | None) -> None:
        dialog = self.dialogs.pop(key, None)
        if dialog is not None:
            dialog.deleteLater()

    def _customer_changed(self, _customer_id: int) -> None:
        self.refresh()
