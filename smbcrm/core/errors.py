"""Errors a person can act on; anything else is a bug and is logged with its traceback."""


class UserError(Exception):
    """A problem the user can fix; the message is already translated and says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class DatabaseFileError(UserError):
    """The shop file cannot be opened as it is (not SQLite, damaged, read-only, too new, in use)."""

    def __init__(self, message: str, path: str, *, can_restore: bool = True) -> None:
        super().__init__(message)
        self.path = path
        self.can_restore = can_restore
