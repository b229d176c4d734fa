"""The facts every packaging recipe shares, read from smbcrm/__init__.py (the one place they live).

`python packaging/project.py version|app_id|app_name|windows_version|dependencies` prints one of
them for scripts (dependencies: the app's requirements from pyproject.toml, one a line).
Read as text, not imported, so a recipe works before the app's dependencies are installed.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_INIT = ROOT / "smbcrm" / "__init__.py"


def metadata() -> dict[str, str]:
    """__version__, APP_ID and APP_NAME as written in smbcrm/__init__.py."""
    values = {}
    for node in ast.parse(PACKAGE_INIT.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in ("__version__", "APP_ID", "APP_NAME"):
                values[target.id] = ast.literal_eval(node.value)
    missing = {"__version__", "APP_ID", "APP_NAME"} - values.keys()
    if missing:
        raise ValueError(f"{PACKAGE_INIT} does not set {', '.join(sorted(missing))}")
    return {
        "version": values["__version__"],
        "app_id": values["APP_ID"],
        "app_name": values["APP_NAME"],
    }


def windows_version(version: str) -> str:
    """Windows version resources want four numbers: 0.1.0 -> 0.1.0.0, 1.2.0rc1 -> 1.2.0.0."""
    numbers = [
        int(m.group()) if (m := re.match(r"\d+", part)) else 0 for part in version.split(".")
    ]
    numbers = (numbers + [0, 0, 0, 0])[:4]
    return ".".join(str(number) for number in numbers)


def dependencies() -> list[str]:
    """The app's runtime requirements as pyproject.toml declares them."""
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as pyproject:
        return list(tomllib.load(pyproject)["project"]["dependencies"])


VERSION = metadata()["version"]
APP_ID = metadata()["app_id"]
APP_NAME = metadata()["app_name"]


def main(argv: list[str]) -> int:
    facts = dict(
        metadata(),
        windows_version=windows_version(VERSION),
        dependencies="\n".join(dependencies()),
    )
    if len(argv) != 1 or argv[0] not in facts:
        print(f"usage: project.py {'|'.join(facts)}", file=sys.stderr)
        return 2
    # Bytes, not text: on Windows print() would end lines with \r\n, and Git Bash keeps the \r
    # in $(...), so paths made from the answer would end in a carriage return.
    sys.stdout.buffer.write((facts[argv[0]] + "\n").encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
