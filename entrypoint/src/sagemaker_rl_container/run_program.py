"""`python -m sagemaker_rl_container.run_program PROGRAM.py ARGS...`: run a training program
whose source directory carries its own copy of the old `sagemaker_rl` package.

The sample notebooks uploaded that copy beside the entry script, so `python PROGRAM.py` would
import it (the script's directory comes first on sys.path) and run the archived launchers,
which do not work on this image's toolkits. Here the image's `sagemaker_rl` is imported first;
the copy's directory is then appended to that package's path, so modules only the copy has
still import. Everything else is as `python PROGRAM.py ARGS...`.
"""

from __future__ import annotations

import os
import runpy
import sys


def main() -> None:
    program = os.path.abspath(sys.argv[1])
    sys.argv = [program, *sys.argv[2:]]
    directory = os.path.dirname(program)
    # `python -m` put the working directory (the source directory) first on the path.
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd(), directory)]
    from sagemaker_rl_container import training_program

    training_program.configure_logging()
    import sagemaker_rl

    sagemaker_rl.use_uploaded_copy(os.path.join(directory, "sagemaker_rl"))
    sys.path.insert(0, directory)
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
