"""What every page needs: the open shop, the task runner and the shop's profile."""

from __future__ import annotations

from dataclasses import dataclass

from smbcrm.models.database import ShopDatabase
from smbcrm.services.settings import ShopProfile

from smbcrm.ui.tasks import TaskRunner


@dataclass
class ShopContext:
    db: ShopDatabase
    runner: TaskRunner
    profile: ShopProfile  # replaced (never mutated) when the settings are saved
