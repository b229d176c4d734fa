"""The rule builder: a segment's conditions in nested groups, with the live count as you edit.

Editors are drawn from each condition type's declared parameters (services.segment_rules), so a
new condition type needs no code here. The count runs on a worker after a short pause in typing;
the newest answer wins and typing never waits for it.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from babel.dates import get_month_names
from babel.numbers import format_decimal

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateEdit,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from smbcrm.core.i18n import _, current_language, ngettext
from smbcrm.core.money import minor_digits
from smbcrm.services import segments as sg
from smbcrm.services.segment_rules import (
    CONDITION_TYPES,
    RULE_VERSION,
    ConditionType,
    Param,
    empty_rule,
    is_group,
    problems_by_path,
    rule_root,
    rule_version,
)

from smbcrm.ui.context import ShopContext
from smbcrm.ui.segments.members_dialog import MembersDialog
from smbcrm.ui.title_page import heading

COUNT_DELAY_MS = 150
EXAMPLES = 5
PROBLEM_STYLE = "QFrame#condition { border: 1px solid #c62828; background: #fdecea; }"
# Parameters naming a row elsewhere; the rule also keeps their names, to say what went missing.
REFERENCE_KINDS = ("tag", "product", "category", "custom_field", "segment")


def _match_labels() -> list[tuple[str, str]]:
    return [
        ("all", _("all of these")),
        ("any", _("any of these")),
        ("none", _("none of these")),
    ]


class ListCompleter(QCompleter):
    """Offers known values as you type; with several, completes the value after the last comma."""

    def __init__(self, values: list[str], line: QLineEdit, *, several: bool) -> None:
        super().__init__(values, line)
        self.several = several
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterMode(Qt.MatchFlag.MatchContains)

    def splitPath(self, path: str) -> list[str]:
        return [path.rsplit(",", 1)[-1].strip()] if self.several else [path]

    def pathFromIndex(self, index) -> str:
        chosen = super().pathFromIndex(index)
        text = self.widget().text() if self.widget() else ""
        if not self.several or "," not in text:
            return chosen
        return f"{text.rsplit(',', 1)[0]}, {chosen}"


class ParamEditor(QWidget):
    """One parameter's editor; emits changed whenever its value does."""

    changed = Signal()

    def __init__(
        self,
        param: Param,
        value: Any,
        builder: RuleBuilderDialog,
        remembered: str = "",
        parent=None,
    ):
        super().__init__(parent)
        self.param = param
        self.builder = builder
        self.remembered = remembered  # the name it had when the rule was saved
        self.missing_index = -1
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        if param.label:
            layout.addWidget(QLabel(_(param.label)))
        self.editor = self._build(value)
        layout.addWidget(self.editor)
        if param.suffix:
            layout.addWidget(QLabel(_(param.suffix)))

    def _combo(self, options: list[tuple[Any, str]], value: Any) -> QComboBox:
        combo = QComboBox()
        for data, text in options:
            combo.addItem(text, data)
        index = combo.findData(value)
        if index < 0 and value not in (None, 0, ""):
            # Something the rule names that is gone: kept, and shown in red, until replaced.
            text = (
                _("(deleted: {name})").format(name=self.remembered)
                if self.remembered
                else _("(deleted)")
            )
            combo.addItem(text, value)
            index = self.missing_index = combo.count() - 1
        combo.setCurrentIndex(max(0, index))
        combo.currentIndexChanged.connect(lambda _i: self._combo_changed(combo))
        self._combo_changed(combo, emit=False)
        return combo

    def _combo_changed(self, combo: QComboBox, emit: bool = True) -> None:
        missing = self.missing_index >= 0 and combo.currentIndex() == self.missing_index
        combo.setStyleSheet("QComboBox { color: #c62828; }" if missing else "")
        if emit:
            self.changed.emit()

    def _build(self, value: Any) -> QWidget:
        param, choices = self.param, self.builder.choices
        kind = param.kind
        if kind == "choice":
            return self._combo([(v, _(label)) for v, label in param.choices], value)
        if kind == "month":
            names = get_month_names("wide", locale=current_language())
            return self._combo([(m, names[m].capitalize()) for m in range(1, 13)], value)
        lists = {
            "tag": choices.tags,
            "product": choices.products,
            "category": choices.categories,
            "custom_field": choices.custom_fields,
            "segment": [(k, n) for k, n in choices.segments if k != self.builder.key],
        }
        if kind in lists:
            return self._combo(list(lists[kind]), value)
        if kind in ("int", "money"):
            spin = QSpinBox()
            spin.setGroupSeparatorShown(True)
            if kind == "money":
                spin.setRange(0, 2_000_000_000)
                spin.setSingleStep(10_000)
                spin.setSuffix(f" {self.builder.context.profile.currency}")
                spin.setValue(int(value or 0) // self.builder.money_scale)
            else:
                spin.setRange(param.minimum, min(param.maximum, 2_000_000_000))
                spin.setValue(int(value or 0))
            spin.valueChanged.connect(lambda _v: self.changed.emit())
            spin.setMinimumWidth(90 if kind == "int" else 140)
            return spin
        if kind == "date":
            edit = QDateEdit()
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("dd/MM/yyyy")
            day = date.fromisoformat(value) if value else date.today()
            edit.setDate(QDate(day.year, day.month, day.day))
            edit.dateChanged.connect(lambda _d: self.changed.emit())
            return edit
        line = QLineEdit(", ".join(value) if kind == "texts" else str(value or ""))
        line.setMinimumWidth(180)
        if kind == "texts":
            line.setPlaceholderText(_("separate them with commas"))
        if param.suggest == "places" and choices.places:
            completer = ListCompleter(list(choices.places), line, several=kind == "texts")
            line.setCompleter(completer)
        line.textChanged.connect(lambda _t: self.changed.emit())
        return line

    def value(self) -> Any:
        editor, kind = self.editor, self.param.kind
        if isinstance(editor, QComboBox):
            return editor.currentData()
        if isinstance(editor, QSpinBox):
            return editor.value() * (self.builder.money_scale if kind == "money" else 1)
        if isinstance(editor, QDateEdit):
            return editor.date().toPython().isoformat()
        text = editor.text()
        if kind == "texts":
            return [part.strip() for part in text.split(",") if part.strip()]
        return text


class ConditionRow(QFrame):
    """One condition: its kind, a "not" box, its parameters and a remove button."""

    changed = Signal()
    remove_requested = Signal(QWidget)

    def __init__(self, condition: dict[str, Any], builder: RuleBuilderDialog, parent=None):
        super().__init__(parent)
        self.setObjectName("condition")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.condition = copy.deepcopy(condition)
        self.builder = builder
        self.kind: ConditionType | None = CONDITION_TYPES.get(condition.get("type"))
        self.editors: list[ParamEditor] = []
        row = QHBoxLayout()
        row.setContentsMargins(6, 4, 6, 4)
        row.setSpacing(10)
        self.not_check = QCheckBox(_("not"))
        self.not_check.setToolTip(_("Match the customers for whom this is not true"))
        self.not_check.setChecked(bool(condition.get("not")))
        self.not_check.toggled.connect(lambda _on: self.changed.emit())
        title = _(self.kind.label) if self.kind else _("Unknown condition")
        self.title_label = QLabel(f"<b>{title}</b>")
        row.addWidget(self.not_check)
        row.addWidget(self.title_label)
        if self.kind is not None:
            values = dict(condition)
            names = condition.get("names") if isinstance(condition.get("names"), dict) else {}
            for param in self.kind.params:
                value = values.get(param.name, copy.deepcopy(param.default))
                editor = ParamEditor(param, value, builder, str(names.get(param.name, ""))[:80])
                editor.changed.connect(self._edited)
                self.editors.append(editor)
                row.addWidget(editor)
        row.addStretch(1)
        self.remove_button = QToolButton()
        self.remove_button.setText("✕")
        self.remove_button.setToolTip(_("Remove this condition"))
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self))
        row.addWidget(self.remove_button)
        self.problem_label = QLabel()
        self.problem_label.setStyleSheet("color: #c62828; padding: 0 6px 4px 6px;")
        self.problem_label.setWordWrap(True)
        self.problem_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(row)
        layout.addWidget(self.problem_label)
        self._show_applicable()

    def _edited(self) -> None:
        self._show_applicable()
        self.changed.emit()

    def _show_applicable(self) -> None:
        values = self._values()
        for editor in self.editors:
            editor.setVisible(editor.param.applies(values))

    def _values(self) -> dict[str, Any]:
        return {editor.param.name: editor.value() for editor in self.editors}

    def to_json(self) -> dict[str, Any]:
        if self.kind is None:
            stored = dict(self.condition)  # kept as it came, for the version that knows it
        else:
            # Keys this version does not know (a newer one may add some) are kept as they came.
            known = {"type", "not", "names", *(param.name for param in self.kind.params)}
            stored = {k: v for k, v in self.condition.items() if k not in known}
            stored.update({"type": self.kind.key, **self._values()})
            names = {}
            for editor in self.editors:
                if editor.param.kind in REFERENCE_KINDS and isinstance(editor.editor, QComboBox):
                    combo = editor.editor
                    missing = combo.currentIndex() == editor.missing_index >= 0
                    name = editor.remembered if missing else combo.currentText()
                    if name:
                        names[editor.param.name] = name
            if names:
                stored["names"] = names
        if self.not_check.isChecked():
            stored["not"] = True
        else:
            stored.pop("not", None)
        return stored

    def show_problem(self, message: str | None) -> None:
        self.setStyleSheet(PROBLEM_STYLE if message else "")
        self.problem_label.setText(message or "")
        self.problem_label.setVisible(bool(message))


class GroupBox(QFrame):
    """A group: "match all / any / none of these", its conditions and groups inside."""

    changed = Signal()
    remove_requested = Signal(QWidget)

    def __init__(self, group: dict[str, Any], builder: RuleBuilderDialog, *, nested: bool):
        super().__init__()
        self.builder = builder
        self.extra = {k: v for k, v in group.items() if k not in ("match", "items")}
        self.setFrameShape(QFrame.Shape.StyledPanel if nested else QFrame.Shape.NoFrame)
        self.match_combo = QComboBox()
        for value, text in _match_labels():
            self.match_combo.addItem(text, value)
        self.match_combo.setCurrentIndex(max(0, self.match_combo.findData(group.get("match"))))
        self.match_combo.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.add_button = QPushButton(_("Add &condition"))
        self.add_menu = QMenu(self)
        self._fill_menu()
        self.add_button.setMenu(self.add_menu)
        self.group_button = QPushButton(_("Add &group"))
        self.group_button.clicked.connect(lambda: self.add_group({"match": "any", "items": []}))
        header = QHBoxLayout()
        header.addWidget(QLabel(_("Customers who match")))
        header.addWidget(self.match_combo)
        header.addStretch(1)
        header.addWidget(self.add_button)
        header.addWidget(self.group_button)
        if nested:
            remove = QToolButton()
            remove.setText("✕")
            remove.setToolTip(_("Remove this group"))
            remove.clicked.connect(lambda: self.remove_requested.emit(self))
            header.addWidget(remove)
        self.items_layout = QVBoxLayout()
        self.items_layout.setContentsMargins(18 if nested else 0, 0, 0, 0)
        self.empty_label = QLabel(
            _("No conditions yet: every customer is in. Add one with “Add condition”.")
            if not nested
            else _("An empty group: add a condition to it.")
        )
        self.empty_label.setStyleSheet("color: #757575; padding: 8px;")
        layout = QVBoxLayout(self)
        margin = 6 if nested else 0
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.addLayout(header)
        layout.addLayout(self.items_layout)
        layout.addWidget(self.empty_label)
        self.children_widgets: list[QWidget] = []
        for item in group.get("items", []) if isinstance(group.get("items"), list) else []:
            if is_group(item):
                self.add_group(item, notify=False)
            else:
                self.add_condition(item if isinstance(item, dict) else {}, notify=False)

    def _fill_menu(self) -> None:
        sections: dict[str, list[ConditionType]] = {}
        for kind in CONDITION_TYPES.values():
            sections.setdefault(kind.group, []).append(kind)
        for section, kinds in sections.items():
            self.add_menu.addSection(_(section))
            for kind in kinds:
                action = self.add_menu.addAction(_(kind.label))
                action.triggered.connect(lambda _c=False, k=kind: self.add_condition(k.new()))

    def add_condition(self, condition: dict[str, Any], notify: bool = True) -> ConditionRow:
        row = ConditionRow(condition, self.builder)
        row.changed.connect(self.changed)
        row.remove_requested.connect(self._remove)
        self._append(row, notify)
        return row

    def add_group(self, group: dict[str, Any], notify: bool = True) -> GroupBox:
        box = GroupBox(group, self.builder, nested=True)
        box.changed.connect(self.changed)
        box.remove_requested.connect(self._remove)
        self._append(box, notify)
        return box

    def _append(self, widget: QWidget, notify: bool) -> None:
        self.children_widgets.append(widget)
        self.items_layout.addWidget(widget)
        self.empty_label.hide()
        if notify:
            self.changed.emit()

    def _remove(self, widget: QWidget) -> None:
        self.children_widgets.remove(widget)
        widget.setParent(None)
        widget.deleteLater()
        self.empty_label.setVisible(not self.children_widgets)
        self.changed.emit()

    def to_json(self) -> dict[str, Any]:
        return {
            **self.extra,
            "match": self.match_combo.currentData(),
            "items": [child.to_json() for child in self.children_widgets],
        }

    def show_problems(self, problems: dict[tuple[int, ...], str], path: tuple[int, ...]) -> None:
        for index, child in enumerate(self.children_widgets):
            if isinstance(child, GroupBox):
                child.show_problems(problems, (*path, index))
            else:
                child.show_problem(problems.get((*path, index)))


class RuleBuilderDialog(QDialog):
    """Create (segment_id None) or edit a saved segment's rule."""

    saved = Signal(int)

    def __init__(self, context: ShopContext, segment_id: int | None = None, parent=None):
        super().__init__(parent)
        self.context = context
        self.segment_id = segment_id
        self.key = f"{sg.SAVED_PREFIX}{segment_id}" if segment_id is not None else ""
        self.choices = sg.builder_choices(context.db)
        self.money_scale = 10 ** minor_digits(context.profile.currency)
        self._generation = 0
        self._count_task = None
        self.last_count: sg.RuleCount | None = None
        stored = empty_rule()
        name = ""
        if segment_id is not None:
            detail = sg.segment_detail(context.db, self.key)
            stored, name = detail.rule, detail.name
        self.stored = stored
        self.setWindowTitle(_("Edit segment") if segment_id is not None else _("New segment"))
        self.setMinimumSize(820, 520)
        self.resize(980, 640)

        self.title_label = heading(self.windowTitle())
        self.name_edit = QLineEdit(name)
        self.name_edit.setPlaceholderText(_("Name, e.g. Coffee lovers in Bogotá"))
        self.name_edit.setMaxLength(sg.NAME_LIMIT)
        self.version_label = QLabel()
        self.version_label.setStyleSheet("color: #c62828;")
        self.version_label.setWordWrap(True)
        self.version_label.hide()
        self.root = GroupBox(rule_root(stored) or {"match": "all", "items": []}, self, nested=False)
        self.root.changed.connect(self.schedule_count)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        holder = QWidget()
        holder_layout = QVBoxLayout(holder)
        holder_layout.addWidget(self.root)
        holder_layout.addStretch(1)
        scroll.setWidget(holder)

        self.count_label = QLabel(_("Counting…"))
        font = self.count_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.count_label.setFont(font)
        self.examples_label = QLabel()
        self.examples_label.setWordWrap(True)
        self.members_button = QPushButton(_("&Show these customers"))
        self.members_button.clicked.connect(self.show_members)
        self.save_button = QPushButton(_("&Save"))
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.cancel_button = QPushButton(_("Cancel"))
        self.cancel_button.clicked.connect(self.reject)
        QShortcut(QKeySequence.StandardKey.Save, self, activated=self.save)

        name_row = QHBoxLayout()
        name_row.addWidget(QLabel(_("&Name:")))
        name_row.addWidget(self.name_edit, 1)
        name_row.itemAt(0).widget().setBuddy(self.name_edit)
        counts = QVBoxLayout()
        counts.addWidget(self.count_label)
        counts.addWidget(self.examples_label)
        buttons = QHBoxLayout()
        buttons.addLayout(counts, 1)
        buttons.addWidget(self.members_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addLayout(name_row)
        layout.addWidget(self.version_label)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)

        self.count_timer = QTimer(self)
        self.count_timer.setSingleShot(True)
        self.count_timer.setInterval(COUNT_DELAY_MS)
        self.count_timer.timeout.connect(self.count_now)
        self.count_now()

    # ---- the rule and its live count -------------------------------------------------------------
    def rule(self) -> dict[str, Any]:
        stored = {k: v for k, v in self.stored.items() if k not in ("rule", "unreadable")}
        stored["version"] = max(RULE_VERSION, rule_version(self.stored))
        stored["rule"] = self.root.to_json()
        return stored

    def schedule_count(self) -> None:
        self.count_label.setText(_("Counting…"))
        self.count_timer.start()

    def count_now(self) -> None:
        """Count on a worker; only the answer to the newest rule is shown."""
        self._generation += 1
        generation, rule, db, key = self._generation, self.rule(), self.context.db, self.key

        def show(result: sg.RuleCount) -> None:
            if generation == self._generation:
                self._show_count(result)

        if self._count_task is not None:
            self._count_task.cancel()  # a count still waiting for a worker never starts
        self._count_task = self.context.runner.run(
            lambda progress, cancel: sg.count_rule(db, rule, examples=EXAMPLES, key=key,
                                                   cancel=cancel),
            show_progress=False,
            on_success=show,
            parent=self,
        )  # fmt: skip

    def _show_count(self, result: sg.RuleCount) -> None:
        self.last_count = result
        number = format_decimal(result.count, locale=self.context.profile.locale)
        self.count_label.setText(
            ngettext("{count} customer", "{count} customers", result.count).format(count=number)
        )
        more = "…" if result.count > len(result.examples) else ""
        self.examples_label.setText(
            _("For example: {names}").format(names=", ".join(result.examples)) + more
            if result.examples
            else _("No customer matches these conditions yet.")
        )
        problems = problems_by_path(result.problems)
        top = problems.get(())
        self.version_label.setText(top or "")
        self.version_label.setVisible(bool(top))
        self.root.show_problems(problems, ())

    # ---- actions ------------------------------------------------------------------------------
    def show_members(self) -> MembersDialog:
        dialog = MembersDialog(self.context, self.name_edit.text() or _("New segment"), self)
        rule, db, key = self.rule(), self.context.db, self.key
        self.context.runner.run(
            lambda progress, cancel: sg.rule_customer_ids(db, rule, key=key),
            show_progress=False,
            on_success=dialog.set_ids,
            parent=dialog,
        )
        dialog.show()
        return dialog

    def save(self) -> None:
        name, rule, db, segment_id = (
            self.name_edit.text(),
            self.rule(),
            self.context.db,
            self.segment_id,
        )

        def done(saved_id: int) -> None:
            self.segment_id = saved_id
            self.saved.emit(saved_id)
            self.accept()

        self.context.runner.run(
            lambda progress, cancel: sg.save_segment(db, name, rule, segment_id),
            show_progress=False,
            on_success=done,
            parent=self,
        )
