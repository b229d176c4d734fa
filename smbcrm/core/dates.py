"""Times are stored in UTC and shown in local time; dates of birth are plain dates."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, in UTC, without tzinfo (as stored in the database)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_local(moment: datetime) -> datetime:
    """A stored naive-UTC time as an aware local time for display."""
    return moment.replace(tzinfo=UTC).astimezone()
