"""phonenumbers: every region's metadata (loaded lazily, so imported by name), nothing else.

Replaces the contrib hook, which collects every submodule. The packages smbcrm.spec leaves out
(hooksconfig "phonenumbers" -> "left_out": geocoder, carrier and time-zone data) are skipped
here so that the build does not warn about them one by one.
"""

from PyInstaller.utils.hooks import collect_submodules, get_hook_config


def hook(hook_api):
    left_out = tuple(get_hook_config(hook_api, "phonenumbers", "left_out") or ())

    def wanted(name):
        return not any(name == part or name.startswith(part + ".") for part in left_out)

    hook_api.add_imports(*collect_submodules("phonenumbers", filter=wanted))
