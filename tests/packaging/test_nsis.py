"""The Windows installer script compiles with makensis against a stand-in bundle, in both languages."""

import re
import subprocess

from tests.packaging.conftest import PACKAGING, need_tool

SCRIPT = PACKAGING / "windows" / "smbcrm.nsi"


def test_every_message_is_in_spanish_and_english():
    text = SCRIPT.read_text(encoding="utf-8")
    strings = re.findall(r"^LangString (\w+) \$\{LANG_(\w+)\}", text, flags=re.MULTILINE)
    by_language = {}
    for name, language in strings:
        by_language.setdefault(language, set()).add(name)
    assert set(by_language) == {"SPANISH", "ENGLISH"}
    assert by_language["SPANISH"] == by_language["ENGLISH"]
    used = set(re.findall(r"\$\((\w+)\)", text)) - {"^NextBtn"}
    assert used <= by_language["ENGLISH"], used - by_language["ENGLISH"]


def test_per_user_install_that_keeps_data_unless_asked():
    text = SCRIPT.read_text(encoding="utf-8")
    assert "RequestExecutionLevel user" in text
    assert 'InstallDir "$LOCALAPPDATA\\Programs\\${APP_NAME}"' in text
    assert "HKLM" not in text  # nothing machine-wide: no administrator needed
    uninstall = text[text.index('Section "Uninstall"') :]
    data_removal = uninstall.index('RMDir /r "${DATA_DIR}"')
    assert uninstall.rindex("${If} $DeleteData == ${BST_CHECKED}", 0, data_removal) > 0
    assert "StrCpy $DeleteData ${BST_UNCHECKED}" in text  # unticked unless the user ticks it


def test_script_compiles_against_a_stand_in_bundle(generated_icons, tmp_path):
    need_tool("makensis", "nsis")
    _icons, out = generated_icons
    setup = tmp_path / "smbcrm-setup.exe"
    result = subprocess.run(
        ["sh", str(PACKAGING / "windows" / "check-script.sh"), str(out / "smbcrm.ico"), str(setup)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert setup.read_bytes()[:2] == b"MZ"  # a Windows program
