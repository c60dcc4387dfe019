"""``python -m scalelab ...``: the lab's command line (``scalelab.publishing.cli``)."""

from scalelab.publishing.cli import main

raise SystemExit(main())
