"""packaging/project.py: the version and ids every recipe uses come from smbcrm/__init__.py."""

import smbcrm


def test_metadata_is_the_packages_own(project):
    assert project.metadata() == {
        "version": smbcrm.__version__,
        "app_id": smbcrm.APP_ID,
        "app_name": smbcrm.APP_NAME,
    }


def test_windows_version_has_four_numbers(project):
    assert project.windows_version("0.1.0") == "0.1.0.0"
    assert project.windows_version("1.2.0rc1") == "1.2.0.0"
    assert project.windows_version("2") == "2.0.0.0"
    assert project.windows_version("1.2.3.4.5") == "1.2.3.4"


def test_dependencies_are_pyprojects(project):
    requirements = project.dependencies()
    assert any(r.startswith("PySide6-Essentials") for r in requirements)
    assert not any(r.lower().startswith("pyinstaller") for r in requirements)
