"""Icons at the sizes each platform asks for, rendered from smbcrm/resources/icons/smbcrm.svg."""

import struct

from PySide6.QtGui import QImage, QImageReader


def sizes_in(path):
    reader = QImageReader(str(path))
    found = []
    for index in range(reader.imageCount()):
        reader.jumpToImage(index)
        image = reader.read()
        assert not image.isNull(), reader.errorString()
        found.append((image.width(), image.height()))
    return found


def test_linux_png_per_hicolor_size(generated_icons, project):
    icons, out, _written = generated_icons
    for size in icons.LINUX_SIZES:
        image = QImage(str(out / "hicolor" / f"{size}x{size}" / "apps" / f"{project.APP_ID}.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()
        assert image.pixelColor(0, 0).alpha() == 0  # rounded corner: transparent, not black
        assert image.pixelColor(size // 2, size // 8).alpha() == 255
    assert (out / "hicolor" / "scalable" / "apps" / f"{project.APP_ID}.svg").is_file()
    assert 64 in icons.LINUX_SIZES and 128 in icons.LINUX_SIZES  # what AppStream asks for


def test_windows_ico_holds_every_shell_size(generated_icons):
    icons, out, _written = generated_icons
    ico = out / "smbcrm.ico"
    assert sorted(sizes_in(ico)) == [(s, s) for s in sorted(icons.WINDOWS_SIZES)]
    data = ico.read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind, count) == (0, 1, len(icons.WINDOWS_SIZES))
    for index in range(count):
        width, _h, _c, _r, _planes, bits, length, offset = struct.unpack_from(
            "<BBBBHHII", data, 6 + 16 * index
        )
        payload = data[offset : offset + length]
        assert bits == 32
        # 256 as PNG (as Windows itself does), the small ones as bitmaps every tool reads.
        assert payload.startswith(b"\x89PNG") == (width == 0)


def test_macos_icns_holds_every_retina_size(generated_icons):
    icons, out, _written = generated_icons
    found = sizes_in(out / "smbcrm.icns")
    assert sorted(found) == sorted((size, size) for _type, size in icons.ICNS_TYPES)
    assert (1024, 1024) in found and (16, 16) in found
