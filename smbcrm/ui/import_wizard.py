"""Importing a file: choose it, check the columns and a preview, try every row, then import."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from smbcrm.core.i18n import N_, _
from smbcrm.services import importing
from smbcrm.services.customers import FIELD_LABELS
from smbcrm.transfer.headers import CUSTOMER_FIELDS, PURCHASE_FIELDS

from smbcrm.ui.context import ShopContext

KINDS = {
    "customers": N_("Customers"),
    "purchases": N_("Purchases"),
    "vcard": N_("Contacts (vCard)"),
}
FIELD_NAMES = {
    **FIELD_LABELS,
    "full_name": N_("Full name"),
    "tags": N_("Tags"),
    "consent": N_("Accepts marketing email"),
    "customer_email": N_("Customer's email"),
    "customer_phone": N_("Customer's phone"),
    "customer_code": N_("Customer code"),
    "customer_name": N_("Customer's name"),
    "date": N_("Date"),
    "reference": N_("Receipt number"),
    "product": N_("Product"),
    "sku": N_("SKU"),
    "category": N_("Category"),
    "quantity": N_("Quantity"),
    "unit_price": N_("Unit price"),
    "amount": N_("Amount"),
}
ORDERS = {"DMY": N_("day/month/year"), "MDY": N_("month/day/year"), "YMD": N_("year-month-day")}
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16")
DELIMITERS = {",": N_("comma"), ";": N_("semicolon"), "\t": N_("tab"), "|": N_("vertical bar")}
SUFFIXES = "*.xlsx *.xls *.xlsb *.ods *.csv *.tsv *.txt *.vcf"


def kind_for(path: Path) -> str:
    return "vcard" if path.suffix.lower() == ".vcf" else "customers"


class ImportWizard(QDialog):
    imported = Signal(int)  # the batch id

    def __init__(self, context: ShopContext, path: Path | None = None, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.preview: importing.Preview | None = None
        self.result: importing.ImportResult | None = None
        self.setWindowTitle(_("Import"))
        self.resize(920, 640)
        self.steps = QStackedWidget()
        self.steps.addWidget(self._file_step())
        self.steps.addWidget(self._columns_step())
        self.steps.addWidget(self._result_step())
        self.back_button = QPushButton(_("< &Back"))
        self.next_button = QPushButton(_("&Next >"))
        self.next_button.setDefault(True)
        self.close_button = QPushButton(_("Close"))
        self.back_button.clicked.connect(lambda: self.go(self.steps.currentIndex() - 1))
        self.next_button.clicked.connect(self.next_step)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addStretch(1)
        buttons.addWidget(self.next_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.steps, 1)
        layout.addLayout(buttons)
        self.go(0)
        if path is not None:
            self.set_file(Path(path))

    # ---- step 1: the file ------------------------------------------------------------------------
    def _file_step(self) -> QWidget:
        page = QWidget()
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText(
            _("A spreadsheet (.xlsx, .xls, .ods), a .csv file or contacts (.vcf)")
        )
        browse = QPushButton(_("&Choose…"))
        browse.clicked.connect(self.choose_file)
        self.path_edit.editingFinished.connect(lambda: self.set_file(Path(self.path_edit.text())))
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.kind_combo = QComboBox()
        for kind, text in KINDS.items():
            self.kind_combo.addItem(_(text), kind)
        self.sheet_combo = QComboBox()
        self.encoding_combo = QComboBox()
        self.encoding_combo.addItem(_("detect"), None)
        for encoding in ENCODINGS:
            self.encoding_combo.addItem(encoding, encoding)
        self.delimiter_combo = QComboBox()
        self.delimiter_combo.addItem(_("detect"), None)
        for delimiter, text in DELIMITERS.items():
            self.delimiter_combo.addItem(_(text), delimiter)
        self.mode_combo = QComboBox()
        for mode, text in importing.MODES.items():
            self.mode_combo.addItem(_(text), mode)
        self.blank_check = QCheckBox(_("Empty cells may &blank values the shop already has"))
        self.create_check = QCheckBox(_("Create customers that are not found (purchases)"))
        form = QFormLayout()
        form.addRow(_("&File:"), row)
        form.addRow(_("&What it holds:"), self.kind_combo)
        form.addRow(_("&Sheet:"), self.sheet_combo)
        form.addRow(_("&Encoding (CSV):"), self.encoding_combo)
        form.addRow(_("Se&parator (CSV):"), self.delimiter_combo)
        form.addRow(_("&Customers:"), self.mode_combo)
        form.addRow("", self.blank_check)
        form.addRow("", self.create_check)
        self.file_note = QLabel(_("You can also drop a file on the smbcrm window."))
        self.file_note.setWordWrap(True)
        layout = QVBoxLayout(page)
        title = QLabel(_("<h3>1. Choose the file</h3>"))
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addWidget(self.file_note)
        layout.addStretch(1)
        return page

    def choose_file(self) -> None:
        chosen, _filter = QFileDialog.getOpenFileName(
            self,
            _("Choose a file to import"),
            "",
            _("Spreadsheets and contacts ({patterns});;All files (*)").format(patterns=SUFFIXES),
        )
        if chosen:
            self.set_file(Path(chosen))

    def set_file(self, path: Path) -> None:
        self.path_edit.setText(str(path))
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind_for(path)))

    def path(self) -> Path:
        return Path(self.path_edit.text().strip())

    def options(self) -> importing.ImportOptions:
        order = self.order_combo.currentData() if hasattr(self, "order_combo") else None
        return importing.ImportOptions(
            mode=self.mode_combo.currentData(),
            blank_overwrites=self.blank_check.isChecked(),
            create_missing_customers=self.create_check.isChecked(),
            date_order=order,
        )

    # ---- step 2: columns and preview -----------------------------------------------------------------
    def _columns_step(self) -> QWidget:
        page = QWidget()
        self.detected_label = QLabel()
        self.detected_label.setWordWrap(True)
        self.mapping_table = QTableWidget(0, 2)
        self.mapping_table.setHorizontalHeaderLabels([_("Column in the file"), _("Goes to")])
        self.mapping_table.horizontalHeader().setStretchLastSection(True)
        self.mapping_table.setColumnWidth(0, 180)
        self.mapping_table.verticalHeader().hide()
        self.order_combo = QComboBox()
        self.order_combo.addItem(_("as detected"), None)
        for order, text in ORDERS.items():
            self.order_combo.addItem(_(text), order)
        self.order_warning = QLabel()
        self.order_warning.setStyleSheet("color: #b3261e;")
        self.order_warning.setWordWrap(True)
        self.mapping_name = QLineEdit()
        self.mapping_name.setPlaceholderText(_("name, to use this mapping next time"))
        save_mapping = QPushButton(_("Sa&ve mapping"))
        save_mapping.clicked.connect(self.save_mapping)
        refresh = QPushButton(_("&Update preview"))
        refresh.clicked.connect(self.load_preview)
        self.dry_run_button = QPushButton(_("Check &every row"))
        self.dry_run_button.clicked.connect(self.dry_run)
        self.preview_table = QTableWidget(0, 0)
        self.preview_table.verticalHeader().hide()
        self.problems = QListWidget()
        self.problems.setMaximumHeight(110)
        tools = QHBoxLayout()
        tools.addWidget(QLabel(_("Dates are written:")))
        tools.addWidget(self.order_combo)
        tools.addWidget(self.mapping_name, 1)
        tools.addWidget(save_mapping)
        tools.addWidget(refresh)
        tools.addWidget(self.dry_run_button)
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel(_("<h3>2. Check the columns and the first rows</h3>")))
        layout.addWidget(self.detected_label)
        top = QHBoxLayout()
        top.addWidget(self.mapping_table, 2)
        top.addWidget(self.preview_table, 3)
        layout.addLayout(top, 1)
        layout.addLayout(tools)
        layout.addWidget(self.order_warning)
        layout.addWidget(self.problems)
        return page

    def fields(self) -> tuple[str, ...]:
        return PURCHASE_FIELDS if self.kind_combo.currentData() == "purchases" else CUSTOMER_FIELDS

    def mapping(self) -> dict[int, str] | None:
        if self.preview is None:
            return None
        chosen = {}
        for row in range(self.mapping_table.rowCount()):
            combo = self.mapping_table.cellWidget(row, 1)
            if combo is not None and combo.currentData():
                chosen[row] = combo.currentData()
        return chosen

    def load_preview(self, keep_mapping: bool = True) -> None:
        db, path, kind = self.context.db, self.path(), self.kind_combo.currentData()
        sheet = self.sheet_combo.currentData()
        encoding, delimiter = self.encoding_combo.currentData(), self.delimiter_combo.currentData()
        mapping = self.mapping() if keep_mapping else None
        options = self.options()
        preview = (
            importing.preview_purchases if kind == "purchases" else importing.preview_customers
        )
        self.context.runner.run(
            lambda progress, cancel: preview(
                db,
                path,
                sheet=sheet,
                mapping=mapping,
                encoding=encoding,
                delimiter=delimiter,
                options=options,
            ),  # fmt: skip
            show_progress=False,
            parent=self,
            on_success=self._show_preview,
        )

    def _show_preview(self, preview: importing.Preview) -> None:
        self.preview = preview
        info = preview.info
        if self.sheet_combo.count() != len(info.sheets):
            self.sheet_combo.clear()
            for sheet in info.sheets:
                self.sheet_combo.addItem(sheet, sheet)
        if info.sheet:
            self.sheet_combo.setCurrentIndex(max(0, self.sheet_combo.findData(info.sheet)))
        details = [_("Headers found on row {row}.").format(row=info.header_row)]
        if info.encoding:
            details.append(_("Encoding: {encoding}.").format(encoding=info.encoding))
        if info.delimiter:
            details.append(
                _("Separator: {name}.").format(
                    name=_(DELIMITERS.get(info.delimiter, info.delimiter))
                )
            )
        self.detected_label.setText(" ".join(details))
        fields = self.fields()
        self.mapping_table.setRowCount(len(info.headers))
        for row, header in enumerate(info.headers):
            self.mapping_table.setItem(row, 0, QTableWidgetItem(header or _("(no header)")))
            combo = QComboBox()
            combo.addItem(_("— leave out —"), "")
            for name in fields:
                combo.addItem(_(FIELD_NAMES.get(name, name)), name)
            combo.setCurrentIndex(max(0, combo.findData(preview.mapping.get(row, ""))))
            self.mapping_table.setCellWidget(row, 1, combo)
        order = preview.date_order
        if order is not None and order.ambiguous:
            self.order_warning.setText(
                _(
                    "Every date in the file could be read day-first or month-first; smbcrm assumed {order}. Check the preview and change it if needed."
                ).format(order=_(ORDERS[order.order]))
            )
        else:
            self.order_warning.setText("")
        shown = [name for name in fields if name in preview.mapping.values()]
        columns = ["row", *shown, "problem"]
        self.preview_table.setColumnCount(len(columns))
        self.preview_table.setHorizontalHeaderLabels(
            [_("Row"), *[_(FIELD_NAMES.get(name, name)) for name in shown], _("Problem")]
        )
        self.preview_table.setRowCount(len(preview.rows))
        for index, row in enumerate(preview.rows):
            cells = [
                str(row.row),
                *[row.values.get(name, "") for name in shown],
                row.error or row.warning,
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == len(cells) - 1 and row.error:
                    item.setForeground(Qt.GlobalColor.darkRed)
                self.preview_table.setItem(index, column, item)
        self.preview_table.resizeColumnsToContents()

    def save_mapping(self) -> None:
        if self.preview is None or not self.mapping_name.text().strip():
            return
        db, kind = self.context.db, self.kind_combo.currentData()
        name, headers, mapping = self.mapping_name.text(), self.preview.info.headers, self.mapping()
        self.context.runner.run(
            lambda progress, cancel: importing.save_mapping(db, kind, name, headers, mapping),
            show_progress=False,
            parent=self,
            on_success=lambda _r: self.problems.addItem(
                _("Mapping saved as “{name}”.").format(name=name)
            ),
        )

    # ---- running ------------------------------------------------------------------------------------
    def _run_import(self, dry_run: bool) -> None:
        db, path, kind = self.context.db, self.path(), self.kind_combo.currentData()
        sheet = self.sheet_combo.currentData()
        encoding, delimiter = self.encoding_combo.currentData(), self.delimiter_combo.currentData()
        mapping, options = self.mapping(), self.options()

        def work(progress, cancel) -> importing.ImportResult:
            if kind == "vcard":
                return importing.import_vcards(db, path, options=options, dry_run=dry_run,
                                               progress=progress, cancel=cancel)  # fmt: skip
            run = importing.import_purchases if kind == "purchases" else importing.import_customers
            return run(db, path, sheet=sheet, mapping=mapping, encoding=encoding, delimiter=delimiter,
                       options=options, dry_run=dry_run, progress=progress, cancel=cancel)  # fmt: skip

        title = _("Checking every row…") if dry_run else _("Importing…")
        done = self._dry_run_done if dry_run else self._imported
        self.context.runner.run(work, title=title, parent=self, on_success=done)

    def dry_run(self) -> None:
        self._run_import(dry_run=True)

    def _summary(self, result: importing.ImportResult) -> str:
        return _("{rows} rows: {created} to create, {updated} to update, {skipped} to skip, {errors} refused.").format(
            rows=result.rows, created=result.created, updated=result.updated, skipped=result.skipped,
            errors=len(result.errors),
        )  # fmt: skip

    def _dry_run_done(self, result: importing.ImportResult) -> None:
        self.problems.clear()
        self.problems.addItem(self._summary(result))
        for error in result.errors:
            self.problems.addItem(
                _("Row {row}: {message}").format(row=error.row, message=error.message)
            )

    def _imported(self, result: importing.ImportResult) -> None:
        self.result = result
        self.go(2)
        self.result_label.setText(
            _(
                "Done: {created} created, {updated} updated, {skipped} skipped, {errors} refused, out of {rows} rows."
            ).format(
                created=result.created,
                updated=result.updated,
                skipped=result.skipped,
                errors=len(result.errors),
                rows=result.rows,
            )  # fmt: skip
        )
        self.result_errors.clear()
        for error in result.errors:
            self.result_errors.addItem(
                _("Row {row}: {message}").format(row=error.row, message=error.message)
            )
        self.undo_button.setEnabled(result.batch_id is not None)
        if result.batch_id is not None:
            self.imported.emit(result.batch_id)

    # ---- step 3: result -----------------------------------------------------------------------------
    def _result_step(self) -> QWidget:
        page = QWidget()
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_errors = QListWidget()
        self.undo_button = QPushButton(_("&Undo this import"))
        self.undo_button.clicked.connect(self.undo)
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel(_("<h3>3. Imported</h3>")))
        layout.addWidget(self.result_label)
        layout.addWidget(QLabel(_("Rows that were refused, and why:")))
        layout.addWidget(self.result_errors, 1)
        layout.addWidget(self.undo_button, 0, Qt.AlignmentFlag.AlignLeft)
        return page

    def undo(self) -> None:
        if self.result is None or self.result.batch_id is None:
            return
        db, batch_id = self.context.db, self.result.batch_id

        def done(_result) -> None:
            self.undo_button.setEnabled(False)
            self.result_label.setText(_("The import was undone; the shop is as it was before."))
            self.imported.emit(batch_id)

        self.context.runner.run(lambda p, c: importing.undo_import(db, batch_id), title=_("Undoing the import…"),
                                parent=self, on_success=done)  # fmt: skip

    # ---- navigation ---------------------------------------------------------------------------------
    def go(self, index: int) -> None:
        index = max(0, min(index, 2))
        self.steps.setCurrentIndex(index)
        self.back_button.setEnabled(index == 1)
        self.next_button.setVisible(index < 2)
        self.next_button.setText(_("&Import") if index == 1 else _("&Next >"))

    def next_step(self) -> None:
        index = self.steps.currentIndex()
        if index == 0:
            if not self.path().is_file():
                self.file_note.setText(_("Choose a file that exists."))
                return
            if self.kind_combo.currentData() == "vcard":
                self._run_import(dry_run=False)
                return
            self.go(1)
            self.load_preview(keep_mapping=False)
        elif index == 1:
            self._run_import(dry_run=False)
