"""The user's source directory: where `module:Class` environments and script-mode programs live.

SageMaker names it with `sagemaker_submit_directory` (an S3 URI or, in local mode, a local path
or tarball) and unpacks it to `/opt/ml/code`; without one, `/opt/ml/code` is used if present.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError

logger = logging.getLogger(__name__)


# Where this job's source directory was found, for this process and the processes it starts
# (Ray workers, Coach rollout workers, a script-mode program): fetching an S3 tarball again
# into /opt/ml/code would cost a download and race with the processes importing from it.
PREPARED_ENV = "SAGEMAKER_RL_SOURCE_DIR"


def prepare(contract: TrainingContract) -> Path | None:
    """Make the source directory importable here and in Ray workers; returns it (or None).
    Fetches it once per job: a later call, here or in a child process, finds it prepared."""
    key = json.dumps([contract.submit_directory, str(contract.code_dir)])
    prepared = json.loads(os.environ.get(PREPARED_ENV) or "[null, null]")
    if prepared[0] == key:
        source = None if prepared[1] is None else Path(prepared[1])
    else:
        source = _locate(contract)
        os.environ[PREPARED_ENV] = json.dumps([key, None if source is None else str(source)])
    if source is None:
        return None
    path = str(source)
    if path not in sys.path:
        sys.path.insert(0, path)
    # Ray workers started from this process inherit the environment: they import the user's
    # environment classes by module name, so they need the same path.
    existing = os.environ.get("PYTHONPATH")
    if path not in (existing or "").split(os.pathsep):
        os.environ["PYTHONPATH"] = path + (os.pathsep + existing if existing else "")
    return source


def _locate(contract: TrainingContract) -> Path | None:
    submitted = contract.submit_directory
    if submitted and Path(submitted).is_dir():
        return Path(submitted).resolve()
    if submitted and submitted != str(contract.code_dir):
        from sagemaker_training import files

        local = Path(submitted)
        if local.is_file() and submitted.endswith((".tar.gz", ".tgz")) and not _is_tarball(local):
            # sagemaker-training would copy it as a plain file; the job then "lacks" its program.
            raise UserError(
                f"sagemaker_submit_directory {submitted!r} is not a readable .tar.gz archive: "
                f"upload the source directory again"
            )

        logger.info("Fetching source directory %s into %s", submitted, contract.code_dir)
        try:
            files.download_and_extract(submitted, str(contract.code_dir))
        except Exception as error:
            raise UserError(
                f"sagemaker_submit_directory {submitted!r} could not be fetched: {error}"
            ) from None
        return contract.code_dir
    if contract.code_dir.is_dir() and any(contract.code_dir.iterdir()):
        return contract.code_dir
    return None


def _is_tarball(path: Path) -> bool:
    import tarfile

    try:
        with tarfile.open(path, "r:gz") as archive:
            archive.getmembers()
    except (tarfile.TarError, OSError, EOFError):
        return False
    return True
