"""`python -m muara` is the same as the `muara` command."""

from muara.cli import main

raise SystemExit(main())
