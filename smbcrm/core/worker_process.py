"""Work on the second core: a generator run in a child process, its batches streamed back.

A big import spends about half its time reading and checking rows (Python, no database) and
half writing them (SQLite). Threads cannot share that: the interpreter lock lets one run at a
time. A child process reads and checks while the parent writes, so the import takes about the
longer of the two instead of their sum.

The child is started with "spawn" on every system: the window's process has threads (Qt's,
the task runner's), and forking a process with threads can deadlock the child. Spawning costs
about 0.3 s (a new interpreter importing the services), so callers use it for big files only.

The child never opens the shop file. Whatever it sends is written by the parent inside the
parent's one transaction, so a crash of either side, or Cancel, leaves the shop as it was.
Closing the returned iterator (Cancel, an error in the parent) ends the child at once.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _, current_language, message_locale, set_language, set_message_locale

# A job is a module-level generator function (the child imports it by name) whose arguments
# pickle. Each item it yields is one batch, sent as one message.
Job = Callable[..., Iterator[Any]]


class WorkerCrashed(RuntimeError):
    """The child failed with something other than a UserError (a bug), or died."""


# Batches the child may hold ready while the parent is busy. A pipe holds about one, so without
# them the child stopped whenever the parent was in a long write and the two took turns instead
# of working at once. Sixteen batches of 500 rows are about 10 MB.
_AHEAD = 16
# How long the reading thread may keep the interpreter lock when the sending thread wants it.
# The sender needs the lock to wake up for a batch and again between a message's header and
# its data (two writes), and Python's usual 5 ms made the parent wait up to that for each
# batch while the reader went on: 0.4 s of 210 batches of a 100,000-row import, 0.3 s so.
_SWITCH_SECONDS = 0.0002


def _child(connection, speech: tuple[str, str | None], job: Job, args: tuple) -> None:
    language, locale = speech  # as the window speaks, numbers as the shop writes them
    sys.setswitchinterval(_SWITCH_SECONDS)
    set_language(language)
    set_message_locale(locale)
    outbox: queue.Queue = queue.Queue(maxsize=_AHEAD)
    sender = threading.Thread(target=_send_all, args=(connection, outbox), daemon=True)
    sender.start()

    def post(message) -> bool:
        while sender.is_alive():
            try:
                outbox.put(message, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False  # the parent stopped listening (Cancel): nobody to report to

    try:
        for batch in job(*args):
            if not post(("batch", batch)):
                return
        post(("done", None))
    except UserError as error:
        post(("user_error", error.message))
    except BaseException:  # noqa: BLE001 - anything else is a bug, reported with its trace
        post(("crash", traceback.format_exc()))
    finally:
        sender.join()
        connection.close()


def _send_all(connection, outbox: queue.Queue) -> None:
    """The child's second thread: sends while the first goes on reading (a blocked send
    releases the interpreter lock)."""
    try:
        while True:
            message = outbox.get()
            connection.send(message)
            if message[0] != "batch":
                return
    except (BrokenPipeError, ConnectionResetError, EOFError):
        return
    except Exception:  # noqa: BLE001 - e.g. a batch that does not pickle: a bug, sent whole
        with contextlib.suppress(OSError, EOFError):
            connection.send(("crash", traceback.format_exc()))


_STARTING = threading.Lock()


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """While a child starts: spawn makes it run the parent's main module first (as
    __mp_main__), in case the job was defined there: a script by its path, a module run with
    python -m by its name (a package's __main__ excepted). Jobs are functions of smbcrm's
    modules, and the script of the installed smbcrm command imports the whole program
    (measured: the first rows came 0.13 s later), so the child is told of neither."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    with _STARTING:
        saved = {
            name: main.__dict__[name] for name in ("__file__", "__spec__") if name in main.__dict__
        }
        main.__dict__.pop("__file__", None)
        main.__spec__ = None
        try:
            yield
        finally:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


def batches_from_process(job: Job, *args: Any) -> Iterator[Any]:
    """None once the child has started, then the batches job(*args) yields, computed in the
    child while the caller works. Use batches(), which takes the None.

    A UserError in the child is raised here with its message; any other failure, or the child
    dying, raises WorkerCrashed. The child stops when it is _AHEAD batches ahead of the
    caller, so memory stays flat however big the file."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child,
        args=(sender, (current_language(), message_locale()), job, args),
        daemon=True,
    )
    with _main_module_hidden():
        process.start()
    sender.close()  # the child holds the only sending end now: its exit ends recv() below
    try:
        yield None  # started: batches() takes this, so the child works while the caller sets up
        while True:
            try:
                kind, payload = receiver.recv()
            except EOFError:
                process.join(5)
                raise WorkerCrashed(
                    _(
                        "The helper process reading the file stopped unexpectedly "
                        "(exit code {code})."
                    ).format(code=process.exitcode)
                ) from None
            if kind == "batch":
                yield payload
            elif kind == "done":
                return
            elif kind == "user_error":
                raise UserError(payload)
            else:
                raise WorkerCrashed(payload)
    finally:
        receiver.close()
        if process.is_alive():
            process.terminate()
        process.join(5)


def batches(job: Job, *args: Any, in_child: bool) -> Iterator[Any]:
    """job(*args)'s batches, from a child process when in_child, else computed right here:
    the same batches either way, so the caller's code does not change."""
    if in_child:
        stream = batches_from_process(job, *args)
        next(stream)  # starts the child now, not at the caller's first next()
        return stream
    return job(*args)
