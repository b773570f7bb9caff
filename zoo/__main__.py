"""`python -m zoo` is the `zoo` console script."""

from zoo.cli import main

raise SystemExit(main())
