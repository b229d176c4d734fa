"""The bundled program's entry point: the same as the `smbcrm` command, made safe for a GUI launch."""

import os
import sys


def give_windowed_program_streams() -> None:
    """A windowed Windows program starts with no stdout/stderr (None) and would crash on print.

    Run from a console (`smbcrm.exe --version`), it writes to that console; started from the
    Start menu, output goes nowhere, as it would for any windowed program.
    """
    if sys.stdout is not None and sys.stderr is not None:
        return
    stream = None
    if sys.platform == "win32":
        import ctypes

        attach_parent_process = -1
        if ctypes.windll.kernel32.AttachConsole(attach_parent_process):
            try:
                stream = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115
            except OSError:
                stream = None
    if stream is None:
        stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    if sys.stdout is None:
        sys.stdout = stream
    if sys.stderr is None:
        sys.stderr = stream


def arguments_without_finder_serial() -> list[str]:
    """Older macOS passes -psn_0_NNN to apps opened from the Finder; argparse would refuse it."""
    return [arg for arg in sys.argv[1:] if not arg.startswith("-psn_")]


if __name__ == "__main__":
    # The bundled program is its own interpreter: a child process (smbcrm.core.worker_process)
    # starts as this program with multiprocessing's arguments, and this runs the child's work.
    import multiprocessing

    multiprocessing.freeze_support()
    give_windowed_program_streams()
    from smbcrm.app import main

    sys.exit(main(arguments_without_finder_serial()))
