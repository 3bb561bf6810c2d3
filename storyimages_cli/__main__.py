"""`python -m storyimages_cli ...`"""

from storyimages_cli.cli import main

raise SystemExit(main())
