"""Allow ``python -m avrec`` (used by torchrun)."""

import sys

from avrec.cli.main import main

sys.exit(main())
