import sys

from apps.verify.render import main

sys.exit(main())
