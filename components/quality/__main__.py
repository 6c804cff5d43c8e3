import sys

from components.quality.monitor import main

sys.exit(main())
