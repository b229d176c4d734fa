"""Settings > Custom fields and tags: define the fields every profile shows, tidy up tags."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from smbcrm.core.i18n import _, ngettext
from smbcrm.services import custom_fields as cf
from smbcrm.services.customers import delete_tag, list_tags, rename_tag

from smbcrm.ui.context import ShopContext


class FieldsAndTags(QWidget):
    changed = Signal()

    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.fields_group = QGroupBox()
        self.field_list = QListWidget()
        self.field_list.setMaximumHeight(120)
        self.name_edit = QLineEdit()
        self.kind_combo = QComboBox()
        for kind in cf.KINDS:
            self.kind_combo.addItem("", kind)
        self.choices_edit = QLineEdit()
        self.add_button = QPushButton()
        self.remove_field_button = QPushButton()
        self.add_button.clicked.connect(self.add_field)
        self.remove_field_button.clicked.connect(self.remove_field)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        adder = QHBoxLayout()
        adder.addWidget(self.name_edit, 2)
        adder.addWidget(self.kind_combo, 1)
        adder.addWidget(self.choices_edit, 2)
        adder.addWidget(self.add_button)
        field_layout = QVBoxLayout(self.fields_group)
        field_layout.addWidget(self.field_list)
        field_layout.addLayout(adder)
        field_layout.addWidget(self.remove_field_button, 0, Qt.AlignmentFlag.AlignLeft)

        self.tags_group = QGroupBox()
        self.tag_list = QListWidget()
        self.tag_list.setMaximumHeight(120)
        self.rename_button = QPushButton()
        self.delete_tag_button = QPushButton()
        self.rename_button.clicked.connect(self.rename_tag)
        self.delete_tag_button.clicked.connect(self.delete_tag)
        tag_buttons = QHBoxLayout()
        tag_buttons.addWidget(self.rename_button)
        tag_buttons.addWidget(self.delete_tag_button)
        tag_buttons.addStretch(1)
        tag_layout = QVBoxLayout(self.tags_group)
        tag_layout.addWidget(self.tag_list)
        tag_layout.addLayout(tag_buttons)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.fields_group, 3)
        layout.addWidget(self.tags_group, 2)
        self.retranslate()
        self._kind_changed()

    def retranslate(self) -> None:
        self.fields_group.setTitle(_("Custom fields"))
        self.name_edit.setPlaceholderText(_("New field, e.g. Size"))
        for index in range(self.kind_combo.count()):
            self.kind_combo.setItemText(index, _(cf.KINDS[self.kind_combo.itemData(index)]))
        self.choices_edit.setPlaceholderText(_("choices, separated by commas"))
        self.add_button.setText(_("A&dd field"))
        self.remove_field_button.setText(_("Remove the selected field"))
        self.tags_group.setTitle(_("Tags"))
        self.rename_button.setText(_("Rena&me…"))
        self.delete_tag_button.setText(_("Remove"))

    def _kind_changed(self) -> None:
        self.choices_edit.setEnabled(self.kind_combo.currentData() == "choice")

    def refresh(self) -> None:
        db = self.context.db
        self.context.runner.run(
            lambda progress, cancel: (cf.list_fields(db), list_tags(db)),
            show_progress=False,
            on_success=self._show,
            parent=self,
        )

    def _show(self, result) -> None:
        fields, tags = result
        self.field_list.clear()
        for info in fields:
            text = f"{info.name} — {info.kind_text}"
            if info.choices:
                text += f": {', '.join(info.choices)}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            self.field_list.addItem(item)
        self.tag_list.clear()
        for tag in tags:
            text = ngettext("{tag} ({count} customer)", "{tag} ({count} customers)", tag.customers)
            item = QListWidgetItem(text.format(tag=tag.name, count=tag.customers))
            item.setData(Qt.ItemDataRole.UserRole, (tag.id, tag.name))
            self.tag_list.addItem(item)

    def _run(self, work) -> None:
        def done(_result) -> None:
            self.refresh()
            self.changed.emit()

        self.context.runner.run(work, show_progress=False, parent=self, on_success=done)

    def add_field(self) -> None:
        db = self.context.db
        name, kind = self.name_edit.text(), self.kind_combo.currentData()
        choices = self.choices_edit.text().split(",") if kind == "choice" else None
        self._run(lambda progress, cancel: cf.add_field(db, name, kind, choices))
        self.name_edit.clear()
        self.choices_edit.clear()

    def remove_field(self) -> None:
        item = self.field_list.currentItem()
        if item is None:
            return
        answer = QMessageBox.question(
            self,
            _("Custom fields"),
            _("Remove the field “{name}” and every value customers have in it?").format(
                name=item.text().split(" — ")[0]
            ),
        )
        if answer == QMessageBox.StandardButton.Yes:
            db, field_id = self.context.db, item.data(Qt.ItemDataRole.UserRole)
            self._run(lambda progress, cancel: cf.delete_field(db, field_id))

    def rename_tag(self) -> None:
        item = self.tag_list.currentItem()
        if item is None:
            return
        tag_id, old = item.data(Qt.ItemDataRole.UserRole)
        new, ok = QInputDialog.getText(self, _("Rename tag"), _("New name:"), text=old)
        if ok and new.strip():
            db = self.context.db
            self._run(lambda progress, cancel: rename_tag(db, tag_id, new))

    def delete_tag(self) -> None:
        item = self.tag_list.currentItem()
        if item is None:
            return
        tag_id, name = item.data(Qt.ItemDataRole.UserRole)
        answer = QMessageBox.question(
            self, _("Tags"), _("Remove the tag “{tag}” from every customer?").format(tag=name)
        )
        if answer == QMessageBox.StandardButton.Yes:
            db = self.context.db
            self._run(lambda progress, cancel: delete_tag(db, tag_id))
