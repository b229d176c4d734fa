"""The PyInstaller spec keeps what smbcrm imports and uses, and leaves out the rest."""

import ast
import plistlib
import re

from smbcrm.core.i18n import LANGUAGES
from tests.packaging.conftest import PACKAGING, ROOT

SPEC = PACKAGING / "pyinstaller" / "smbcrm.spec"


def spec_value(name):
    """A top-level constant of the spec (a literal list or set), read without running it."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            if isinstance(node.value, ast.List):  # may splice another constant: [*OTHER, ...]
                items = []
                for element in node.value.elts:
                    if isinstance(element, ast.Starred):
                        items.extend(spec_value(element.value.id))
                    else:
                        items.append(ast.literal_eval(element))
                return items
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not set in {SPEC}")


def imported_modules():
    """Every absolute module imported anywhere under smbcrm/, with the file importing it."""
    found = {}
    for path in (ROOT / "smbcrm").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                found.setdefault(name, path.relative_to(ROOT))
    return found


def test_every_qt_module_smbcrm_imports_is_bundled():
    bundled = set(spec_value("QT_MODULES"))
    used = {
        match.group(1): path
        for name, path in imported_modules().items()
        if (match := re.match(r"PySide6\.(Qt\w+)", name))
    }
    missing = {module: str(path) for module, path in used.items() if module not in bundled}
    assert not missing, f"add these to QT_MODULES in packaging/pyinstaller/smbcrm.spec: {missing}"


def test_smbcrm_imports_nothing_the_bundle_leaves_out():
    excluded = spec_value("PYTHON_EXCLUDES")
    offending = {
        name: str(path)
        for name, path in imported_modules().items()
        if any(name == e or name.startswith(e + ".") for e in excluded)
    }
    assert not offending, f"smbcrm uses modules smbcrm.spec leaves out: {offending}"


def test_qt_and_babel_data_for_every_app_language():
    languages = set(LANGUAGES)
    assert spec_value("BABEL_LANGUAGES") == languages
    assert spec_value("QT_TRANSLATIONS") == {f"qtbase_{code}.qm" for code in languages}


def test_macos_info_plist_leaves_ids_and_versions_to_the_spec():
    with open(PACKAGING / "macos" / "Info.plist", "rb") as file:
        values = plistlib.load(file)
    # The spec sets these from smbcrm/__init__.py; a copy here would go stale.
    for key in ("CFBundleIdentifier", "CFBundleShortVersionString", "CFBundleVersion"):
        assert key not in values
    assert values["NSHighResolutionCapable"] is True
    assert set(values["CFBundleLocalizations"]) == set(LANGUAGES)
