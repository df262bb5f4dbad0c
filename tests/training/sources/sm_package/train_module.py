"""The package's entry module: writes what it saw to SM_MODEL_DIR."""

import json
import os
import sys
from pathlib import Path

import helpers

Path(os.environ["SM_MODEL_DIR"], "module.json").write_text(
    json.dumps({"argv": sys.argv[1:], "helper": helpers.MESSAGE, "name": __name__})
)
