"""``python -m benchmark``: see :mod:`benchmark.cli`."""

import sys

from benchmark.host_memory import keep_freed_memory

keep_freed_memory()  # before JAX is imported and starts its threads; see benchmark.host_memory

from benchmark.cli import main  # noqa: E402

sys.exit(main())
