"""`python -m smbcrm`: the same as the smbcrm command."""

import sys

from smbcrm.app import main

sys.exit(main())
