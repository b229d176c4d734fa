"""The menu entry and AppStream metadata: valid, and naming the one app id and command."""

import configparser
import subprocess
import xml.etree.ElementTree as ET

from tests.packaging.conftest import PACKAGING, need_tool

LINUX = PACKAGING / "linux"


def desktop_entry(project):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(LINUX / f"{project.APP_ID}.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_file_names_the_app_id_icon_and_command(project):
    entry = desktop_entry(project)
    assert entry["Icon"] == project.APP_ID  # the hicolor icons build-deb.sh installs
    assert entry["Exec"].split()[0] == project.APP_NAME  # /usr/bin/smbcrm
    assert entry["StartupWMClass"] == project.APP_NAME
    assert entry["Name"] == project.APP_NAME
    assert "Comment[es]" in entry and "GenericName[es]" in entry


def test_desktop_file_validates():
    validator = need_tool("desktop-file-validate", "desktop-file-utils")
    for desktop in LINUX.glob("*.desktop"):
        result = subprocess.run([validator, str(desktop)], capture_output=True, text=True)
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_metainfo_names_the_app_id_and_desktop_file(project):
    root = ET.parse(LINUX / f"{project.APP_ID}.metainfo.xml").getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == project.APP_ID
    assert root.find("launchable").text == f"{project.APP_ID}.desktop"
    assert root.find("provides/binary").text == project.APP_NAME
    assert {e.get("{http://www.w3.org/XML/1998/namespace}lang") for e in root.iter("summary")} == {
        None,
        "es",
    }


def test_metainfo_validates(project):
    appstreamcli = need_tool("appstreamcli", "appstream")
    result = subprocess.run(
        [appstreamcli, "validate", "--no-net", str(LINUX / f"{project.APP_ID}.metainfo.xml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
