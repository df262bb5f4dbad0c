"""Script mode: run the user's `sagemaker_program` from their source directory.

The program runs in this process (as `__main__`, with the hyperparameters as command-line
arguments, the way SageMaker passes them), so the launcher it calls raises the same one-line
errors as zero-code jobs and SIGTERM reaches the training loop directly.
"""

from __future__ import annotations

import logging
import os
import runpy
import sys
import traceback

from sagemaker_rl_container import source_dir
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError, summarize

logger = logging.getLogger(__name__)


def run(contract: TrainingContract) -> None:
    program_name = contract.user_program or ""
    source = source_dir.prepare(contract)
    if source is None:
        raise UserError(
            f"sagemaker_program {program_name!r} was given but there is no source directory: "
            f"set sagemaker_submit_directory (source_dir in the SageMaker SDK)"
        )
    program = source / program_name
    if not program.is_file():
        found = ", ".join(sorted(p.name for p in source.glob("*.py"))) or "no .py files"
        raise UserError(
            f"sagemaker_program {program_name!r} not found in the source directory {source} "
            f"(it has {found})"
        )
    argv = [str(program), *_command_line(contract.hyperparameters)]
    logger.info("Running %s", " ".join(argv))
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    sys.argv = argv
    os.chdir(source)
    try:
        runpy.run_path(str(program), run_name="__main__")
    except UserError:
        raise
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            raise UserError(f"{program_name} exited with status {exit_.code}") from None
    except Exception as error:
        traceback.print_exc()
        raise UserError(f"{program_name} failed: {summarize(error)}") from None
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
    # A launcher's run always leaves the final checkpoint and metadata in model/.
    if not any(contract.model_dir.iterdir()):
        raise UserError(
            f"{program_name} finished without training: call RayLauncher().train_main() (see "
            f"sagemaker_rl_container.ray_rllib.launcher) or write the model to "
            f"{contract.model_dir} yourself"
        )


def _command_line(hyperparameters: dict) -> list[str]:
    from sagemaker_training import mapping

    return mapping.to_cmd_args(hyperparameters)
