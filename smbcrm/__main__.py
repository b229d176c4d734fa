"""`python -m smbcrm`: the same as the smbcrm command."""

import sys

from smbcrm.app import main

# The guard matters wherever multiprocessing's spawn runs the parent's main module again in a
# child (smbcrm.core.worker_process prevents that for its own children): a child must never
# start a second program.
if __name__ == "__main__":
    sys.exit(main())
