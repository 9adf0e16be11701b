"""``python -m careledger.demo`` (what ``make demo`` runs)."""

import sys

from careledger.demo.runner import main

sys.exit(main())
