"""Icons at the sizes each platform asks for, rendered from smbcrm/resources/icons/smbcrm.svg.

The files are read back twice: by the format rules here (no Qt in the test process) and by Qt's
own png/ico/icns readers in a child process.
"""

import json
import os
import struct
import subprocess
import sys


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour) == (8, 6), "8-bit RGBA expected (transparent corners)"
    return width, height


def ico_entries(data: bytes) -> list[tuple[int, str]]:
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind) == (0, 1)
    entries = []
    for index in range(count):
        width, height, _c, _r, _planes, bits, length, offset = struct.unpack_from(
            "<BBBBHHII", data, 6 + 16 * index
        )
        assert bits == 32 and width == height
        payload = data[offset : offset + length]
        size = width or 256  # 0 means 256 in an icon directory
        if payload.startswith(b"\x89PNG"):
            assert png_size(payload) == (size, size)
            entries.append((size, "png"))
        else:
            header, dib_width, dib_height, _planes, dib_bits = struct.unpack_from("<IiiHH", payload)
            assert (header, dib_width, dib_height, dib_bits) == (40, size, 2 * size, 32)
            mask_row = ((size + 31) // 32) * 4
            assert length == 40 + size * size * 4 + mask_row * size
            entries.append((size, "bmp"))
    return entries


def icns_entries(data: bytes) -> list[tuple[bytes, tuple[int, int]]]:
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    entries, offset = [], 8
    while offset < len(data):
        kind, length = (
            data[offset : offset + 4],
            struct.unpack(">I", data[offset + 4 : offset + 8])[0],
        )
        entries.append((kind, png_size(data[offset + 8 : offset + length])))
        offset += length
    return entries


def test_linux_png_per_hicolor_size(generated_icons, project):
    icons, out = generated_icons
    for size in icons.LINUX_SIZES:
        path = out / "hicolor" / f"{size}x{size}" / "apps" / f"{project.APP_ID}.png"
        assert png_size(path.read_bytes()) == (size, size)
    assert (out / "hicolor" / "scalable" / "apps" / f"{project.APP_ID}.svg").is_file()
    assert {64, 128} <= set(icons.LINUX_SIZES)  # what AppStream asks for


def test_windows_ico_holds_every_shell_size(generated_icons):
    icons, out = generated_icons
    entries = ico_entries((out / "smbcrm.ico").read_bytes())
    assert [size for size, _kind in entries] == sorted(icons.WINDOWS_SIZES)
    # 256 as PNG (as Windows itself does), the small ones as bitmaps every tool reads.
    assert all((kind == "png") == (size == 256) for size, kind in entries)


def test_macos_icns_holds_every_retina_size(generated_icons):
    icons, out = generated_icons
    entries = icns_entries((out / "smbcrm.icns").read_bytes())
    assert entries == [(kind, (size, size)) for kind, size in icons.ICNS_TYPES]
    assert {16, 32, 128, 256, 512, 1024} <= {size for _kind, size in icons.ICNS_TYPES}


QT_READ_BACK = """
import json, sys
from PySide6.QtGui import QGuiApplication, QImageReader
app = QGuiApplication([])
found = {}
for path in sys.argv[1:]:
    reader = QImageReader(path)
    images = []
    for index in range(max(reader.imageCount(), 1)):
        reader.jumpToImage(index)
        image = reader.read()
        images.append([image.width(), image.height(), image.pixelColor(0, 0).alpha(),
                       image.pixelColor(image.width() // 2, image.height() // 8).alpha()])
    found[path] = images
print(json.dumps(found))
"""


def test_qt_reads_every_icon_with_transparent_corners(generated_icons, project):
    icons, out = generated_icons
    paths = [out / "smbcrm.ico", out / "smbcrm.icns"] + [
        out / "hicolor" / f"{s}x{s}" / "apps" / f"{project.APP_ID}.png" for s in icons.LINUX_SIZES
    ]
    result = subprocess.run(
        [sys.executable, "-c", QT_READ_BACK, *map(str, paths)],
        capture_output=True,
        text=True,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    assert len(found[str(out / "smbcrm.ico")]) == len(icons.WINDOWS_SIZES)
    assert len(found[str(out / "smbcrm.icns")]) == len(icons.ICNS_TYPES)
    for path, images in found.items():
        for width, height, corner_alpha, awning_alpha in images:
            assert width == height > 0, path
            assert corner_alpha == 0 and awning_alpha == 255, path
