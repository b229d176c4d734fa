"""Loading the packaging scripts (plain files in packaging/, not a package) and their tools."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def load(name: str):
    """packaging/NAME.py as a module (it imports its sibling project.py)."""
    module_name = f"smbcrm_packaging_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def need_tool(name: str, package: str) -> str:
    """The tool's path; skips when it is missing (packaging/linux/smoke.sh installs it)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install {package}); smoke.sh checks this")
    return path


@pytest.fixture(scope="session")
def project():
    return load("project")


@pytest.fixture(scope="session")
def generated_icons(tmp_path_factory, qapp):
    """Every platform's icons, rendered once for the session (a widgets QApplication exists)."""
    icons = load("icons")
    out = tmp_path_factory.mktemp("icons")
    return icons, out, icons.generate(out)
