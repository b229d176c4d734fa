"""Platform icons (Linux PNGs, Windows .ico, macOS .icns) rendered from the one source SVG.

Run at build time, never committed: `python packaging/icons.py OUT_DIR`. Needs only PySide6
(QtSvg is in PySide6-Essentials), so the build environment needs no image library of its own.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from project import APP_ID, ROOT  # noqa: E402

SOURCE = ROOT / "smbcrm" / "resources" / "icons" / "smbcrm.svg"

# The sizes each platform asks for.
# Linux: the hicolor theme's usual app sizes (freedesktop icon theme spec, AppStream wants >= 64).
LINUX_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
# Windows: shell sizes at 100-250 % scaling; 256 is the large-icon view.
WINDOWS_SIZES = (16, 20, 24, 32, 40, 48, 64, 256)
# macOS: the .icns element types for each pixel size (PNG payloads, macOS 10.7+).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),  # 16@2x
    (b"icp6", 64),
    (b"ic12", 64),  # 32@2x
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic13", 256),  # 128@2x
    (b"ic09", 512),
    (b"ic14", 512),  # 256@2x
    (b"ic10", 1024),  # 512@2x
)
MACOS_SIZES = tuple(sorted({size for _type, size in ICNS_TYPES}))


def _application():
    """QSvgRenderer wants a Gui application; an offscreen one needs no display."""
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QGuiApplication([sys.argv[0]])
    return app


def render(source: Path, size: int):
    """The SVG drawn into a transparent size x size QImage (ARGB32, not premultiplied)."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _application()
    renderer = QSvgRenderer(str(source))
    if not renderer.isValid():
        raise ValueError(f"{source} is not a valid SVG image")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def png_bytes(image) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("Qt could not encode a PNG image")
    buffer.close()
    return bytes(data.data())


def _bgra_rows(image) -> list[bytes]:
    """Rows of 32-bit pixels as Windows bitmaps store them: B, G, R, A."""
    size = image.width()
    rows = []
    for y in range(size):
        line = image.constScanLine(y)
        # ARGB32 is a native-endian 0xAARRGGBB word: little-endian hosts already hold B,G,R,A.
        raw = bytes(line)[: size * 4]
        if sys.byteorder == "big":
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
        rows.append(raw)
    return rows


def ico_dib(image) -> bytes:
    """A 32-bit DIB entry: header, bottom-up BGRA pixels, then an all-zero AND mask."""
    size = image.width()
    header = struct.pack("<IiiHHIIiiII", 40, size, size * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    pixels = b"".join(reversed(_bgra_rows(image)))
    mask_row = ((size + 31) // 32) * 4
    return header + pixels + bytes(mask_row * size)


def write_ico(path: Path, images: dict[int, object]) -> None:
    """Sizes below 256 as bitmaps (every Windows tool reads them), 256 as PNG (as Windows does)."""
    entries = []
    for size in sorted(images):
        image = images[size]
        payload = png_bytes(image) if size >= 256 else ico_dib(image)
        entries.append((size, payload))
    offset = 6 + 16 * len(entries)
    directory = [struct.pack("<HHH", 0, 1, len(entries))]
    for size, payload in entries:
        dimension = 0 if size >= 256 else size  # 0 means 256 in an icon directory
        directory.append(
            struct.pack("<BBBBHHII", dimension, dimension, 0, 0, 1, 32, len(payload), offset)
        )
        offset += len(payload)
    path.write_bytes(b"".join(directory) + b"".join(payload for _size, payload in entries))


def write_icns(path: Path, pngs: dict[int, bytes]) -> None:
    body = b"".join(
        icon_type + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
        for icon_type, size in ICNS_TYPES
    )
    path.write_bytes(b"icns" + struct.pack(">I", 8 + len(body)) + body)


def generate(out_dir: Path, source: Path = SOURCE) -> dict[str, list[Path]]:
    """Write every platform's icons under out_dir; returns the files written by platform."""
    out_dir = Path(out_dir)
    sizes = sorted(set(LINUX_SIZES) | set(WINDOWS_SIZES) | set(MACOS_SIZES))
    images = {size: render(source, size) for size in sizes}
    pngs = {size: png_bytes(image) for size, image in images.items()}

    linux = []
    for size in LINUX_SIZES:
        target = out_dir / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pngs[size])
        linux.append(target)
    scalable = out_dir / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    scalable.write_bytes(Path(source).read_bytes())
    linux.append(scalable)

    ico = out_dir / "smbcrm.ico"
    write_ico(ico, {size: images[size] for size in WINDOWS_SIZES})
    icns = out_dir / "smbcrm.icns"
    write_icns(icns, pngs)
    return {"linux": linux, "windows": [ico], "macos": [icns]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--source", type=Path, default=SOURCE)
    args = parser.parse_args(argv)
    written = generate(args.out_dir, args.source)
    for platform, files in written.items():
        print(f"icons {platform}: {len(files)} file(s) in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
