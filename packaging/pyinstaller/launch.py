"""The bundled program's entry point: the same as the `smbcrm` command."""

import sys

from smbcrm.app import main

if __name__ == "__main__":
    sys.exit(main())
