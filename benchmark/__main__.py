"""``python -m benchmark``: see :mod:`benchmark.cli.main`."""

import sys

from benchmark.runner.host_memory import keep_freed_memory

keep_freed_memory()  # before JAX is imported and starts its threads; see runner.host_memory

from benchmark.cli.main import main  # noqa: E402

sys.exit(main())
