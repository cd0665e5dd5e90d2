"""``python -m tenant_operator.cli``: what the ``tenant-operator`` console script runs."""

import sys

from tenant_operator.cli import main

sys.exit(main())
