"""Fill the Spanish catalogue's empty entries, so translators work on a JSON list, not the .po.

python tools/fill_translations.py --missing            print the untranslated messages as JSON
python tools/fill_translations.py es.json              fill from {"msgid": "msgstr" | [singular, plural]}
python tools/fill_translations.py --from-po OTHER.po   fill from another catalogue (a merged branch)

Run tools/update_translations.py afterwards to compile the .mo file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

CATALOGUE = (
    Path(__file__).resolve().parent.parent / "smbcrm/resources/locale/es/LC_MESSAGES/smbcrm.po"
)


def _key(message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id


def _untranslated(message) -> bool:
    if not message.id:
        return False
    if isinstance(message.string, tuple):
        return not all(message.string)
    return not message.string


def _read(path: Path):
    with path.open("rb") as handle:
        return read_po(handle, locale="es")


def main(arguments: list[str]) -> int:
    catalogue = _read(CATALOGUE)
    if arguments[:1] == ["--missing"]:
        missing = {
            _key(m): "" if isinstance(m.id, str) else ["", ""]
            for m in catalogue
            if _untranslated(m)
        }
        print(json.dumps(missing, ensure_ascii=False, indent=1))
        return 0
    if arguments[:1] == ["--from-po"]:
        other = _read(Path(arguments[1]))
        known = {_key(m): (list(m.string) if isinstance(m.string, tuple) else m.string)
                 for m in other if m.id and not _untranslated(m)}  # fmt: skip
    else:
        known = json.loads(Path(arguments[0]).read_text(encoding="utf-8"))
    filled = 0
    for message in catalogue:
        if _untranslated(message) and _key(message) in known:
            value = known[_key(message)]
            message.string = tuple(value) if isinstance(value, list) else value
            filled += 1
    with CATALOGUE.open("wb") as handle:
        write_po(handle, catalogue, sort_output=True, width=100)
    still = [_key(m) for m in catalogue if _untranslated(m)]
    print(f"filled {filled}; still untranslated: {len(still)}")
    for message_id in still:
        print("  ", message_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
