"""Where a job starts: the newest checkpoint of its own (this job's, the same identity and
settings) that verifies and loads; else a warm start from its `checkpoint` input channel (as
the old SageMaker RL launchers did); else fresh. A checkpoint that cannot be used is named."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from sagemaker_rl_container.checkpoints import Checkpoint, CheckpointStore
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError, summarize
from sagemaker_rl_container.toolkit import Trainer

# The input channel a job warm-starts from, as the old SageMaker RL launchers named it.
WARM_START_CHANNEL = "checkpoint"

logger = logging.getLogger(__name__)


def start_point(
    contract: TrainingContract, store: CheckpointStore, trainer: Trainer
) -> tuple[Optional[str], int]:
    """Restore what the job resumes from: (what it was, the iteration training continues
    after), or (None, 0) when it starts fresh."""
    identity = trainer.identity
    problems, foreign = [], []
    for checkpoint in store.valid():
        job = checkpoint.manifest.get("job")
        if job and contract.job_name and job != contract.job_name:
            foreign.append(job)
            continue
        saved = {key: checkpoint.manifest.get(key) for key in identity}
        digest = checkpoint.manifest.get("settings")
        if saved != identity:
            problem = f"it holds {_describe(saved)}, this job trains {_describe(identity)}"
        elif digest and trainer.settings_digest and digest != trainer.settings_digest:
            problem = (
                "it was trained with other settings (rl.* overrides, env_config, framework "
                "or seed differ)"
            )
        else:
            iteration, problem = _load(store, trainer, checkpoint)
            if iteration is not None:
                logger.info(
                    "Resumed from %s: training continues at iteration %d",
                    checkpoint.describe(),
                    iteration + 1,
                )
                return checkpoint.path.name, iteration
        logger.warning("Checkpoint %s is unusable: %s", checkpoint.describe(), problem)
        problems.append(f"{checkpoint.path.name}: {problem}")
    if problems:
        raise UserError(
            f"no usable checkpoint in {store.root} ({'; '.join(problems)}): remove "
            f"them, or give the job another checkpoint location, to start over"
        )
    if foreign:
        logger.warning(
            "Not resuming the %d checkpoint(s) of training job %s in %s: this is job %s, "
            "which starts fresh (a job continues another's training from a warm-start "
            "channel)",
            len(foreign),
            ", ".join(sorted(set(foreign))),
            store.root,
            contract.job_name,
        )
    warm = _warm_start(contract, store, trainer)
    if warm is not None:
        return warm
    trainer.start_fresh()
    return None, 0


def _warm_start(
    contract: TrainingContract, store: CheckpointStore, trainer: Trainer
) -> Optional[tuple[str, int]]:
    """A job with nothing of its own to resume starts from the checkpoint in its
    `checkpoint` input channel, if it has one."""
    channel = contract.channels.get(WARM_START_CHANNEL)
    if channel is None:
        return None
    where = f"input channel '{WARM_START_CHANNEL}'"
    found = [c for d in (channel, *_subdirectories(channel)) for c in CheckpointStore(d).valid()]
    itself = CheckpointStore.read(channel)  # the channel holds one checkpoint's files
    if itself is not None:
        found.append(itself)
    found.sort(key=lambda checkpoint: checkpoint.iteration, reverse=True)
    exported = [
        c
        for d in (channel, *_subdirectories(channel))
        if (c := trainer.exported_checkpoint(d)) is not None
    ]
    candidates = found + exported
    if not candidates:
        raise UserError(
            f"{where} holds no checkpoint: give it a checkpoint-NNNNNN/ directory from a "
            f"job's checkpoint location (or the contents of a model.tar.gz with one)"
        )
    checkpoint = candidates[0]
    identity = trainer.identity
    saved = {key: checkpoint.manifest.get(key) for key in identity}
    if saved != identity:
        raise UserError(
            f"{where}: {checkpoint.describe()} holds {_describe(saved)}, this job trains "
            f"{_describe(identity)}: warm-start from a checkpoint of the same kind"
        )
    iteration, problem = _load(store, trainer, checkpoint)
    if iteration is None:
        raise UserError(f"{where}: {checkpoint.describe()} is unusable: {problem}")
    logger.info(
        "Warm start from %s: %s; training continues at iteration %d",
        where,
        checkpoint.describe(),
        iteration + 1,
    )
    return f"{WARM_START_CHANNEL} channel: {checkpoint.path.name}", iteration


def _load(
    store: CheckpointStore, trainer: Trainer, checkpoint: Checkpoint
) -> tuple[Optional[int], str]:
    """Verify `checkpoint`'s files and restore it: (its iteration, "") or (None, why not).
    A `UserError` from the toolkit fails the job."""
    problem = store.verify(checkpoint)
    if problem:
        return None, problem
    try:
        return trainer.restore(checkpoint), ""
    except UserError:
        raise
    except Exception as error:
        return None, summarize(error)


def _subdirectories(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_dir()) if directory.is_dir() else []


def _describe(identity: dict[str, Any]) -> str:
    return " on ".join(str(value) for value in identity.values())
