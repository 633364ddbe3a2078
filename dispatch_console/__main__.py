"""``python -m dispatch_console`` is the same as the ``dispatch-console`` command."""

from dispatch_console.cli import main

raise SystemExit(main())
