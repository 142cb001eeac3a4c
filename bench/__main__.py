"""``python -m bench``: every benchmark, one table (bench/runner.py)."""

from bench.runner import main

raise SystemExit(main())
