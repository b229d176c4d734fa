"""Loading the packaging scripts (plain files in packaging/, not a package) and their tools."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
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
def generated_icons(tmp_path_factory):
    """Every platform's icons, rendered once by `packaging/icons.py OUT` as the build runs it.

    In a child process, so that no Qt application exists in the test process before the UI
    tests make theirs.
    """
    out = tmp_path_factory.mktemp("icons")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, str(PACKAGING / "icons.py"), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return load("icons"), out
