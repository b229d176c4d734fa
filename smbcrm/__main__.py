"""`python -m smbcrm`: the same as the smbcrm command."""

import sys

from smbcrm.app import main

# The guard matters: a child process started with "spawn" (smbcrm.core.worker_process) imports
# the parent's main module again, and must not start a second program.
if __name__ == "__main__":
    sys.exit(main())
