"""Run at every Python start in the images (a `.pth` line the Dockerfile writes): it acts only
in a training program started by the SageMaker Python SDK v3's own driver (`SM_ENTRY_SCRIPT`
set), whose source directory carries the notebooks' copy of the old `sagemaker_rl`.

The image's `train` runs such programs through run_program.py; SDK v3's driver runs
`python ENTRY_SCRIPT` itself, where the script's directory would come first on sys.path and its
copy of `sagemaker_rl` would shadow the image's. Here, before the script's directory is on the
path, the image's package is imported and the copy appended to it (see sagemaker_rl). Nothing
else is imported: every other Python process pays two environment lookups.
"""

from __future__ import annotations

import os


def _prefer_image_package() -> None:
    script = os.environ.get("SM_ENTRY_SCRIPT")
    if not script or not script.endswith(".py"):
        return
    copy = os.path.join(os.path.dirname(os.path.abspath(script)), "sagemaker_rl")
    if not os.path.isdir(copy):
        return
    import sagemaker_rl

    sagemaker_rl.use_uploaded_copy(copy)


try:
    _prefer_image_package()
except Exception as error:  # never break Python's start-up: the job then runs as without it
    import sys

    print(f"sagemaker_rl_container.program_startup: {error}", file=sys.stderr)
