"""Tools > Find duplicates: candidate pairs, a field-by-field merge, or "not the same person"."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from smbcrm.core.i18n import _, ngettext
from smbcrm.services import customers as cs
from smbcrm.services.duplicates import (
    DuplicatePair,
    dismiss_duplicate,
    find_duplicates,
    merge_customers,
)

from smbcrm.ui.context import ShopContext

# Fields the person chooses between; the phone's normalised forms follow the phone.
CHOSEN_FIELDS = ("first_name", "last_name", "email", "phone", "city", "region", "birthday",
                 "notes", "code")  # fmt: skip
FOLLOWERS = {"phone": ("phone_e164", "phone_digits")}


class MergeDialog(QDialog):
    """Pick, field by field, which customer's value the merged customer keeps."""

    def __init__(self, first: cs.CustomerDetail, second: cs.CustomerDetail, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Merge two customers"))
        self.first, self.second = first, second
        intro = QLabel(
            _(
                "Everything both customers have — purchases, notes, messages, consent, tags and "
                "points — will belong to one customer. Choose the value to keep for each field. "
                "The merge can be undone from the customer's history."
            )
        )
        intro.setWordWrap(True)
        grid = QGridLayout()
        grid.addWidget(QLabel(f"<b>{first.name}</b>"), 0, 1)
        grid.addWidget(QLabel(f"<b>{second.name}</b>"), 0, 2)
        self.groups: dict[str, QButtonGroup] = {}
        labels = cs.FIELD_LABELS
        row = 1
        for name in CHOSEN_FIELDS:
            left, right = self._shown(first, name), self._shown(second, name)
            if left == right:
                continue
            group = QButtonGroup(self)
            keep, take = QRadioButton(left or _("(empty)")), QRadioButton(right or _("(empty)"))
            group.addButton(keep, 0)
            group.addButton(take, 1)
            (take if not left and right else keep).setChecked(True)
            self.groups[name] = group
            grid.addWidget(QLabel(_(labels[name])), row, 0)
            grid.addWidget(keep, row, 1)
            grid.addWidget(take, row, 2)
            row += 1
        if row == 1:
            grid.addWidget(QLabel(_("Both have the same values in every field.")), 1, 0, 1, 3)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.merge_button = buttons.addButton(_("&Merge"), QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(grid)
        layout.addWidget(buttons)
        self.setMinimumWidth(640)

    @staticmethod
    def _shown(detail: cs.CustomerDetail, name: str) -> str:
        value = getattr(detail, name)
        if name == "birthday":
            return value.strftime("%d/%m/%Y") if value else ""
        return value or ""

    def take_from_second(self) -> tuple[str, ...]:
        chosen = []
        for name, group in self.groups.items():
            if group.checkedId() == 1:
                chosen.append(name)
                chosen.extend(FOLLOWERS.get(name, ()))
        return tuple(chosen)


class DuplicatesDialog(QDialog):
    merged = Signal()

    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.pairs: list[DuplicatePair] = []
        self.setWindowTitle(_("Find duplicates"))
        self.resize(900, 520)
        self.status_label = QLabel(_("Looking for customers entered twice…"))
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels([_("Customer"), _("Possible duplicate"), _("Why")])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 320)
        self.table.setColumnWidth(1, 320)
        self.merge_button = QPushButton(_("&Merge…"))
        self.dismiss_button = QPushButton(_("&Not the same person"))
        close_button = QPushButton(_("Close"))
        self.merge_button.clicked.connect(self.merge_selected)
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        close_button.clicked.connect(self.reject)
        self.table.doubleClicked.connect(lambda _index: self.merge_selected())
        buttons = QHBoxLayout()
        buttons.addWidget(self.merge_button)
        buttons.addWidget(self.dismiss_button)
        buttons.addStretch(1)
        buttons.addWidget(close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.search()

    def search(self) -> None:
        db = self.context.db
        self.context.runner.run(
            lambda progress, cancel: find_duplicates(db),
            title=_("Looking for customers entered twice…"),
            parent=self,
            on_success=self._show,
            cancellable=False,
        )

    @staticmethod
    def _describe(row: cs.CustomerRow) -> str:
        return " · ".join(part for part in (row.name, row.email, row.phone, row.city) if part)

    def _show(self, pairs: list[DuplicatePair]) -> None:
        self.pairs = pairs
        self.table.setRowCount(len(pairs))
        for index, pair in enumerate(pairs):
            for column, text in enumerate(
                (self._describe(pair.first), self._describe(pair.second), pair.reason_text)
            ):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(index, column, item)
        self.status_label.setText(
            ngettext(
                "{count} possible duplicate. Select it to merge it or to mark it as two "
                "different people.",
                "{count} possible duplicates. Select a pair to merge it or to mark it as two "
                "different people.",
                len(pairs),
            ).format(count=len(pairs))
            if pairs
            else _("No duplicates found.")
        )
        self.merge_button.setEnabled(bool(pairs))
        self.dismiss_button.setEnabled(bool(pairs))
        if pairs:
            self.table.selectRow(0)

    def selected(self) -> DuplicatePair | None:
        row = self.table.currentRow()
        return self.pairs[row] if 0 <= row < len(self.pairs) else None

    def merge_selected(self) -> None:
        pair = self.selected()
        if pair is None:
            return
        db = self.context.db
        first, second = (
            cs.customer_detail(db, pair.first.id),
            cs.customer_detail(db, pair.second.id),
        )
        dialog = MergeDialog(first, second, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        take = dialog.take_from_second()
        self.context.runner.run(
            lambda progress, cancel: merge_customers(db, first.id, second.id, take),
            show_progress=False,
            parent=self,
            on_success=self._merged,
        )

    def _merged(self, _merge_id: int) -> None:
        self.merged.emit()
        self.search()

    def dismiss_selected(self) -> None:
        pair = self.selected()
        if pair is None:
            return
        db = self.context.db
        self.context.runner.run(
            lambda progress, cancel: dismiss_duplicate(db, pair.first.id, pair.second.id),
            show_progress=False,
            parent=self,
            on_success=lambda _r: self.search(),
        )
