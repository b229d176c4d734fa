"""Extract every translatable string, merge it into the catalogues, and compile them.

python tools/update_translations.py          extract + merge + compile
python tools/update_translations.py --check  exit 1 when a catalogue is not complete
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "smbcrm"
LOCALE = SOURCE / "resources" / "locale"
DOMAIN = "smbcrm"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def extract() -> Catalog:
    template = Catalog(project="smbcrm", domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(SOURCE), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        template.add(message, None, [(str(Path("smbcrm") / filename), lineno)],
                     auto_comments=comments, context=context)  # fmt: skip
    return template


def catalogue_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> list[str]:
    return sorted(p.name for p in LOCALE.iterdir() if (p / "LC_MESSAGES").is_dir())


def main() -> int:
    template = extract()
    with (LOCALE / f"{DOMAIN}.pot").open("wb") as handle:
        write_po(handle, template, omit_header=False, sort_output=True)
    for language in languages():
        po_path = catalogue_path(language)
        with po_path.open("rb") as handle:
            catalogue = read_po(handle, locale=language)
        catalogue.update(template, no_fuzzy_matching=True)
        catalogue.obsolete.clear()
        with po_path.open("wb") as handle:
            write_po(handle, catalogue, sort_output=True, width=100)
        with po_path.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalogue)
        missing = [m.id for m in catalogue if m.id and not m.string]
        print(f"{language}: {len(catalogue)} messages, {len(missing)} untranslated")
        if "--check" in sys.argv and missing:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
