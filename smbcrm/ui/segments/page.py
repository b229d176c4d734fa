"""Segments: built-in and saved segments with their counts, the RFM grid and the value tiers;
new segments through the rule builder; each segment shown, exported, tagged or frozen."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from babel.numbers import format_decimal

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from smbcrm.core.i18n import _, ngettext
from smbcrm.services import exporting
from smbcrm.services import segments as sg
from smbcrm.services.customers import CustomerQuery
from smbcrm.services.settings import SPECS, load_settings, save_settings, shop_profile

from smbcrm.ui.context import ShopContext
from smbcrm.ui.segments.members_dialog import StaticListDialog
from smbcrm.ui.segments.rule_builder import RuleBuilderDialog
from smbcrm.ui.title_page import heading

KEY_ROLE = Qt.ItemDataRole.UserRole
UNSAFE_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|]')  # a name like "Lista 22/11/2026"
GROUP_COLOURS = {
    "rfm_champions": "#2e7d32",
    "rfm_loyal": "#66bb6a",
    "rfm_need_attention": "#f9a825",
    "rfm_at_risk": "#ef6c00",
    "rfm_lost": "#c62828",
}
BUILTIN_SETTINGS = ("segment_new_days", "segment_active_days", "segment_lapsed_days",
                    "segment_top_percent", "tier_silver", "tier_gold", "tier_platinum")  # fmt: skip


def _light(colour: str) -> str:
    return QColor(colour).lighter(170).name()


class SegmentsPage(QWidget):
    # A segment's key and name: the window shows its customers on the Customers page.
    show_customers = Signal(str, str)
    changed = Signal()  # segments or customers' tags changed

    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.overview: sg.SegmentsOverview | None = None
        self._generation = 0

        self.title_label = heading()
        self.description_label = QLabel()
        self.description_label.setWordWrap(True)
        self.new_button = QPushButton()
        self.edit_button = QPushButton()
        self.show_button = QPushButton()
        self.export_button = QPushButton()
        # Less frequent actions sit in a menu, so the row fits a narrow window in Spanish.
        self.more_button = QPushButton()
        self.more_menu = QMenu(self)
        self.tag_action = self.more_menu.addAction("")
        self.freeze_action = self.more_menu.addAction("")
        self.more_menu.addSeparator()
        self.rename_action = self.more_menu.addAction("")
        self.delete_action = self.more_menu.addAction("")
        self.more_button.setMenu(self.more_menu)
        self.settings_button = QPushButton()
        self.new_button.clicked.connect(self.new_segment)
        self.edit_button.clicked.connect(self.edit_current)
        self.show_button.clicked.connect(self.show_current)
        self.export_button.clicked.connect(self.export_current)
        self.tag_action.triggered.connect(self.tag_current)
        self.freeze_action.triggered.connect(self.freeze_current)
        self.delete_action.triggered.connect(self.delete_current)
        self.rename_action.triggered.connect(self.rename_current)
        self.settings_button.clicked.connect(self.edit_settings)
        QShortcut(QKeySequence.StandardKey.New, self, activated=self.new_segment)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(False)
        self.tree.itemDoubleClicked.connect(lambda _item, _col: self.open_current())
        self.tree.currentItemChanged.connect(lambda _now, _before: self._selection_changed())
        QShortcut(QKeySequence(Qt.Key.Key_Return), self.tree, activated=self.open_current)
        QShortcut(QKeySequence(Qt.Key.Key_Enter), self.tree, activated=self.open_current)
        QShortcut(QKeySequence(Qt.Key.Key_Delete), self.tree, activated=self.delete_current)
        QShortcut(QKeySequence(Qt.Key.Key_F2), self.tree, activated=self.rename_current)
        self.selected_label = QLabel()
        self.selected_label.setWordWrap(True)

        self.rfm_box = QGroupBox()
        self.rfm_explained = QLabel()
        self.rfm_explained.setWordWrap(True)
        self.recency_label = QLabel()
        self.recency_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.value_label = QLabel()
        self.value_label.setWordWrap(True)
        self.value_label.setMaximumWidth(90)
        self.cells: dict[tuple[int, int], QPushButton] = {}
        grid = QGridLayout()
        grid.setSpacing(3)
        for value in range(5, 0, -1):
            for recency in range(1, 6):
                cell = QPushButton("…")
                cell.setMinimumSize(52, 34)
                group = sg.rfm_group(recency, value)
                cell.setStyleSheet(
                    f"QPushButton {{ background: {_light(GROUP_COLOURS[group])}; "
                    f"border: 1px solid {GROUP_COLOURS[group]}; }}"
                )
                cell.clicked.connect(lambda _c=False, r=recency, v=value: self.show_cell(r, v))
                self.cells[(recency, value)] = cell
                grid.addWidget(cell, 5 - value, recency)
        grid.addWidget(self.value_label, 0, 0, 5, 1)
        grid.addWidget(self.recency_label, 5, 1, 1, 5)
        self.group_buttons: dict[str, QPushButton] = {}
        legend = QGridLayout()
        for index, key in enumerate(sg.RFM_GROUPS):
            button = QPushButton()
            button.setStyleSheet(
                f"QPushButton {{ text-align: left; padding: 4px 8px; "
                f"border-left: 8px solid {GROUP_COLOURS[key]}; }}"
            )
            button.clicked.connect(lambda _c=False, k=key: self.show_segment(k))
            self.group_buttons[key] = button
            legend.addWidget(button, index // 2, index % 2)
        rfm_layout = QVBoxLayout(self.rfm_box)
        rfm_layout.addWidget(self.rfm_explained)
        rfm_layout.addLayout(grid)
        rfm_layout.addLayout(legend)

        self.tier_box = QGroupBox()
        self.tier_buttons: dict[str, QPushButton] = {}
        self.tier_labels: dict[str, QLabel] = {}
        tiers = QGridLayout(self.tier_box)
        for row, key in enumerate(sg.TIERS):
            button = QPushButton()
            button.setStyleSheet("QPushButton { text-align: left; padding: 4px 8px; }")
            button.clicked.connect(lambda _c=False, k=key: self.show_segment(k))
            label = QLabel()
            label.setWordWrap(True)
            self.tier_buttons[key] = button
            self.tier_labels[key] = label
            tiers.addWidget(button, row, 0)
            tiers.addWidget(label, row, 1)
        tiers.setColumnStretch(1, 1)

        actions = QHBoxLayout()
        for button in (self.new_button, self.edit_button, self.show_button, self.export_button,
                       self.more_button):  # fmt: skip
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.settings_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.tree, 1)
        left_layout.addWidget(self.selected_label)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.rfm_box)
        right_layout.addWidget(self.tier_box)
        right_layout.addStretch(1)
        # The grid keeps its size in a short window: the panel scrolls instead of squeezing it.
        right_scroll = QScrollArea()
        right_scroll.setWidgetResizable(True)
        right_scroll.setFrameShape(QFrame.Shape.NoFrame)
        right_scroll.setWidget(right)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right_scroll)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 12)
        layout.addWidget(self.title_label)
        layout.addWidget(self.description_label)
        layout.addLayout(actions)
        layout.addWidget(splitter, 1)
        self.retranslate()
        self._selection_changed()

    # ---- texts --------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.title_label.setText(_("Segments"))
        self.description_label.setText(
            _("Groups of customers by what they buy, how often, how much and where. "
              "Counts are always up to date.")
        )  # fmt: skip
        texts = {
            self.new_button: (_("&New segment…"), QKeySequence.StandardKey.New),
            self.edit_button: (_("&Edit…"), None),
            self.show_button: (_("&Show customers"), None),
            self.export_button: (_("E&xport…"), None),
            self.more_button: (_("&More"), None),
            self.settings_button: (_("Settings…"), None),
        }
        for button, (text, shortcut) in texts.items():
            button.setText(text)
            if shortcut is not None:
                button.setToolTip(QKeySequence(shortcut).toString())
        self.tag_action.setText(_("&Tag all…"))
        self.freeze_action.setText(_("&Freeze as a list…"))
        # The keys work on the list (shortcuts below); the menu only shows them.
        self.rename_action.setText(_("&Rename…") + "\tF2")
        self.delete_action.setText(_("&Delete") + "\t" + QKeySequence(Qt.Key.Key_Delete).toString())
        self.freeze_action.setToolTip(
            _("Keep today's customers of this segment as a list that no longer changes by itself")
        )
        self.settings_button.setToolTip(_("Days and amounts of the built-in segments and tiers"))
        self.tree.setHeaderLabels([_("Segment"), _("Customers")])
        self.rfm_box.setTitle(_("Recency, frequency and money (RFM)"))
        self.rfm_explained.setText(
            _("Every customer who bought gets a score of 1 to 5 for how recently they bought, "
              "and one for how often and how much. Click a square or a group to see who is in it.")
        )  # fmt: skip
        self.recency_label.setText(_("bought more recently →"))
        self.value_label.setText(_("buys more often and spends more ↑"))
        self.tier_box.setTitle(_("Value tiers (spend in the last 12 months)"))
        self._show()

    # ---- loading ---------------------------------------------------------------------------------
    def refresh(self, select: str = "") -> None:
        self._generation += 1
        generation, db = self._generation, self.context.db

        def loaded(overview: sg.SegmentsOverview) -> None:
            if generation == self._generation:
                self.overview = overview
                self._show()
                if select:
                    self.select(select)

        self.context.runner.run(
            lambda progress, cancel: sg.segments_overview(db),
            show_progress=False,
            on_success=loaded,
            parent=self,
        )

    def showEvent(self, event) -> None:
        """Counts follow the customers: coming back to the page counts again (on a worker)."""
        super().showEvent(event)
        if self.overview is not None:
            self.refresh(select=self.current_key())

    def _number(self, count: int) -> str:
        return format_decimal(count, locale=self.context.profile.locale)

    def _show(self) -> None:
        overview = self.overview
        if overview is None:
            return
        chosen = self.current_key()
        self.tree.clear()
        sections = (
            (_("Activity"), ("activity",)),
            (_("Your segments"), ("saved",)),
            (_("Lists"), ("static",)),
            (_("RFM groups"), ("rfm",)),
            (_("Value tiers"), ("tier",)),
        )
        for title, families in sections:
            members = [s for s in overview.segments if s.family in families]
            if not members and "saved" not in families:
                continue
            header = QTreeWidgetItem([title, ""])
            font = header.font(0)
            font.setBold(True)
            header.setFont(0, font)
            header.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(header)
            if not members:
                hint = QTreeWidgetItem([_("None yet: press “New segment…” to make one."), ""])
                hint.setFlags(Qt.ItemFlag.ItemIsEnabled)
                hint.setForeground(0, QBrush(QColor("#757575")))
                self.tree.addTopLevelItem(hint)
            for segment in members:
                item = QTreeWidgetItem(["    " + segment.name, self._number(segment.count)])
                item.setData(0, KEY_ROLE, segment)
                item.setTextAlignment(
                    1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                )
                if segment.description:
                    item.setToolTip(0, segment.description)
                if segment.problems:
                    item.setForeground(0, QBrush(QColor("#c62828")))
                    item.setToolTip(0, _("Part of this segment names something that was deleted; "
                                         "that part matches nobody."))  # fmt: skip
                self.tree.addTopLevelItem(item)
                if segment.key == chosen:
                    self.tree.setCurrentItem(item)
        for (recency, value), cell in self.cells.items():
            cell.setText(self._number(overview.grid.count(recency, value)))
            cell.setToolTip(
                _("Recency {recency}, value {value}: {group}").format(
                    recency=recency, value=value,
                    group=_(sg.BUILTIN_BY_KEY[sg.rfm_group(recency, value)].name),
                )
            )  # fmt: skip
        by_key = {s.key: s for s in overview.segments}
        for key, button in self.group_buttons.items():
            button.setText(f"{by_key[key].name}: {self._number(by_key[key].count)}")
            button.setToolTip(by_key[key].description)
        for key, button in self.tier_buttons.items():
            segment = by_key[key]
            button.setText(f"{segment.name}: {self._number(segment.count)}")
            self.tier_labels[key].setText(segment.description)
        self._selection_changed()

    # ---- the chosen segment ------------------------------------------------------------------------
    def current_segment(self) -> sg.SegmentSummary | None:
        item = self.tree.currentItem()
        return item.data(0, KEY_ROLE) if item is not None else None

    def current_key(self) -> str:
        segment = self.current_segment()
        return segment.key if segment else ""

    def select(self, key: str) -> None:
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            segment = item.data(0, KEY_ROLE)
            if segment is not None and segment.key == key:
                self.tree.setCurrentItem(item)
                return

    def _selection_changed(self) -> None:
        segment = self.current_segment()
        for button in (self.show_button, self.export_button, self.more_button):
            button.setEnabled(segment is not None)
        editable = segment is not None and not segment.builtin
        self.edit_button.setEnabled(editable)
        self.rename_action.setEnabled(editable)
        self.delete_action.setEnabled(editable)
        if segment is None:
            self.selected_label.setText("")
            return
        text = ngettext("{name}: {count} customer.", "{name}: {count} customers.", segment.count)
        parts = [text.format(name=segment.name, count=self._number(segment.count))]
        if segment.description:
            parts.append(segment.description)
        if segment.static:
            parts.append(_("A list: it changes only when you add or remove customers."))
        self.selected_label.setText(" ".join(parts))

    def open_current(self) -> None:
        segment = self.current_segment()
        if segment is None:
            return
        if segment.builtin:
            self.show_current()
        else:
            self.edit_current()

    def show_current(self) -> None:
        segment = self.current_segment()
        if segment is not None:
            self.show_customers.emit(segment.key, segment.name)

    def show_segment(self, key: str) -> None:
        segment = next((s for s in (self.overview.segments if self.overview else ()) if s.key == key),
                       None)  # fmt: skip
        self.show_customers.emit(key, segment.name if segment else key)

    def show_cell(self, recency: int, value: int) -> None:
        name = _("RFM: recency {recency}, value {value}").format(recency=recency, value=value)
        self.show_customers.emit(f"rfm_cell_{recency}_{value}", name)

    # ---- making and changing segments --------------------------------------------------------------
    def new_segment(self) -> RuleBuilderDialog:
        return self._open_builder(None)

    def edit_current(self) -> RuleBuilderDialog | StaticListDialog | None:
        segment = self.current_segment()
        if segment is None or segment.builtin or segment.id is None:
            return None
        if segment.static:
            dialog = StaticListDialog(self.context, segment.id, segment.name, self)
            dialog.changed.connect(lambda: self._after_change(segment.key))
            dialog.show()
            return dialog
        return self._open_builder(segment.id)

    def _open_builder(self, segment_id: int | None) -> RuleBuilderDialog:
        dialog = RuleBuilderDialog(self.context, segment_id, self)
        dialog.saved.connect(lambda saved_id: self._after_change(f"{sg.SAVED_PREFIX}{saved_id}"))
        dialog.finished.connect(dialog.deleteLater)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _after_change(self, key: str = "") -> None:
        self.refresh(select=key)
        self.changed.emit()

    def delete_current(self) -> None:
        segment = self.current_segment()
        if segment is None or segment.builtin or segment.id is None:
            return
        answer = QMessageBox.question(
            self,
            _("Delete segment"),
            _("Delete “{name}”? Its customers are not touched.").format(name=segment.name),
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        db, segment_id = self.context.db, segment.id
        self.context.runner.run(
            lambda progress, cancel: sg.delete_segment(db, segment_id),
            show_progress=False,
            on_success=lambda _r: self._after_change(),
            parent=self,
        )

    def rename_current(self) -> None:
        segment = self.current_segment()
        if segment is None or segment.builtin or segment.id is None:
            return
        name, accepted = QInputDialog.getText(self, _("Rename"), _("New name:"), text=segment.name)
        if not accepted or name == segment.name:
            return
        db, segment_id = self.context.db, segment.id
        self.context.runner.run(
            lambda progress, cancel: sg.rename_segment(db, segment_id, name),
            show_progress=False,
            on_success=lambda _r: self._after_change(segment.key),
            parent=self,
        )

    def freeze_current(self) -> None:
        segment = self.current_segment()
        if segment is None:
            return
        suggested = f"{segment.name} {date.today():%d/%m/%Y}"
        name, accepted = QInputDialog.getText(
            self, _("Freeze as a list"), _("Name of the list:"), text=suggested
        )
        if not accepted:
            return
        db, key = self.context.db, segment.key
        self.context.runner.run(
            lambda progress, cancel: sg.freeze_segment(db, key, name),
            title=_("Making the list…"),
            on_success=lambda list_id: self._after_change(f"{sg.SAVED_PREFIX}{list_id}"),
            parent=self,
        )

    def tag_current(self) -> None:
        segment = self.current_segment()
        if segment is None:
            return
        tag, accepted = QInputDialog.getText(
            self,
            _("Tag all"),
            ngettext("Tag to give the {count} customer of “{name}”:",
                     "Tag to give the {count} customers of “{name}”:", segment.count).format(
                count=self._number(segment.count), name=segment.name),
        )  # fmt: skip
        if not accepted or not tag.strip():
            return
        db, key = self.context.db, segment.key

        def done(count: int) -> None:
            QMessageBox.information(
                self,
                _("Tag all"),
                ngettext("{count} customer got the tag “{tag}”.",
                         "{count} customers got the tag “{tag}”.", count).format(
                    count=self._number(count), tag=tag.strip()),
            )  # fmt: skip
            self._after_change(key)

        self.context.runner.run(
            lambda progress, cancel: sg.tag_segment_members(db, key, tag, progress=progress,
                                                            cancel=cancel),
            title=_("Tagging customers…"),
            on_success=done,
            parent=self,
        )  # fmt: skip

    def export_current(self) -> None:
        segment = self.current_segment()
        if segment is None:
            return
        chosen, _filter = QFileDialog.getSaveFileName(
            self,
            _("Export “{name}”").format(name=segment.name),
            UNSAFE_IN_FILE_NAMES.sub("-", segment.name) + ".xlsx",
            _("Excel (*.xlsx);;CSV (*.csv);;Contacts (*.vcf)"),
        )
        if chosen:
            self.export_to(Path(chosen), segment.key)

    def export_to(self, path: Path, key: str) -> None:
        db = self.context.db
        self.context.runner.run(
            lambda progress, cancel: exporting.export_customers(
                db, path, query=CustomerQuery(segment=key), progress=progress, cancel=cancel
            ),
            title=_("Exporting…"),
            parent=self,
            on_success=lambda count: QMessageBox.information(
                self, _("Export"), _("Exported to {path}").format(path=path)
            ),
        )

    def edit_settings(self) -> None:
        dialog = BuiltinSettingsDialog(self.context, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._after_change(self.current_key())


class BuiltinSettingsDialog(QDialog):
    """The days and amounts behind the built-in segments and the value tiers."""

    def __init__(self, context: ShopContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle(_("Built-in segments"))
        values = load_settings(context.db)
        currency = context.profile.currency
        form = QFormLayout()
        self.spins: dict[str, QSpinBox] = {}
        for key in BUILTIN_SETTINGS:
            spin = QSpinBox()
            spin.setGroupSeparatorShown(True)
            if key.startswith("tier_"):
                spin.setRange(0, 2_000_000_000)
                spin.setSingleStep(50_000)
                spin.setSuffix(f" {currency}")
            elif key == "segment_top_percent":
                spin.setRange(1, 100)
                spin.setSuffix(" %")
            else:
                spin.setRange(1, 3650)
                spin.setSuffix(" " + _("days"))
            spin.setValue(int(values[key]))
            self.spins[key] = spin
            form.addRow(_(SPECS[key].label) + ":", spin)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def save(self) -> None:
        values = {key: spin.value() for key, spin in self.spins.items()}
        db = self.context.db

        def work(progress, cancel):
            save_settings(db, **values)
            return shop_profile(db)

        self.context.runner.run(
            work, show_progress=False, on_success=lambda _p: self.accept(), parent=self
        )
