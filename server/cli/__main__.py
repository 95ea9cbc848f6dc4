import sys

from avmine.server.cli import main

sys.exit(main())
