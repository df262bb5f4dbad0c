"""Batch (offline) RL: record a dataset while training, or train purely from one in a channel.

The dataset is RLlib's columnar Parquet, one row per transition (`obs`, `actions`, `rewards`,
`new_obs`, `terminateds`, `truncateds`, `eps_id`, ...), observations stored as plain lists (not
RLlib's compressed strings) so that pandas/pyarrow read it as well. `rl_record_dataset=true`
writes it to /opt/ml/output/data/dataset/ (uploaded with output.tar.gz); upload that directory
to S3 and name it as a channel (`rl_offline_channel=<channel>`) of the offline job.

RLlib 2.60 settings this relies on, each found by trying:
- `output_max_rows_per_file` must be set, and at least the rows of one sample() call: without
  it every sample() rewrites all rows recorded so far (duplicates); below it rows are dropped.
- `min_rows_per_file` merges each write into one file (otherwise hundreds of tiny files per
  write, which makes the offline job's first iteration slow).
- Reading: `dataset_num_iters_per_learner` is required with a local learner, and one
  pre-learner actor (`map_batches_kwargs={"concurrency": 1}`) keeps Ray Data from starving
  its own read tasks on small hosts.
- Offline algorithms have no training EnvRunners: their module lives in the learner, and
  `Algorithm.restore_from_path` (which syncs EnvRunner weights) fails: see `policy_module` and
  algorithm_state.restore.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError

OFFLINE_ALGORITHMS = ("BC", "MARWIL", "CQL", "IQL")
DATASET_DIR = "dataset"
# Rows recorded per file at most, and per sample() call at least (see above).
MIN_ROWS_PER_SAMPLE_CALL = 8000
EVALUATION_EPISODES = 10
ITERATIONS_PER_LEARNER = 10


def is_offline(algorithm: str) -> bool:
    return algorithm.upper() in OFFLINE_ALGORITHMS


def input_dir(contract: TrainingContract, job: JobConfig, algorithm: str) -> Path | None:
    """The dataset an offline job trains from; checked before anything starts."""
    if job.offline_channel is None:
        if is_offline(algorithm):
            raise UserError(
                f"rl_algorithm={algorithm} trains from a recorded dataset: set "
                f"rl_offline_channel to the channel that holds it"
            )
        return None
    if not is_offline(algorithm):
        raise UserError(
            f"rl_offline_channel={job.offline_channel} needs an offline algorithm "
            f"({', '.join(OFFLINE_ALGORITHMS)}), not rl_algorithm={algorithm}"
        )
    directory = contract.channel(job.offline_channel)
    if not any(directory.rglob("*.parquet")):
        raise UserError(
            f"channel {job.offline_channel} ({directory}) holds no .parquet files: it should "
            f"hold a dataset recorded with rl_record_dataset=true (RLlib's columnar Parquet)"
        )
    return directory


def record_dir(contract: TrainingContract, job: JobConfig) -> Path | None:
    return contract.output_data_dir / DATASET_DIR if job.record_dataset else None


def configure(config: Any, overrides: dict, read: Path | None, write: Path | None) -> None:
    """Offline-data and evaluation settings; any `rl.offline_data.*`/`rl.evaluation.*`
    override given by the user still wins (it is applied afterwards)."""
    if read is not None:
        config.offline_data(
            input_=[str(read)],
            input_compress_columns=[],
            dataset_num_iters_per_learner=ITERATIONS_PER_LEARNER,
            map_batches_kwargs={"concurrency": 1},
        )
        if "evaluation.evaluation_interval" not in overrides:
            # Nothing is sampled while training: the env is only for judging the policy.
            config.evaluation(
                evaluation_interval=1,
                evaluation_num_env_runners=0,
                evaluation_duration=EVALUATION_EPISODES,
                evaluation_duration_unit="episodes",
                evaluation_config={"explore": False},
            )
    if write is not None:
        batch = int(config.train_batch_size_per_learner or 0)
        config.offline_data(
            output=str(write),
            output_write_episodes=False,
            output_compress_columns=[],
            output_max_rows_per_file=max(batch, MIN_ROWS_PER_SAMPLE_CALL),
            output_write_remaining_data=True,
            output_write_method_kwargs={"min_rows_per_file": max(batch, MIN_ROWS_PER_SAMPLE_CALL)},
        )


def policy_module(algo: Any, module_id: str | None = None) -> Any:
    """The trained RLModule (`module_id`: a multi-agent job's policy): from the EnvRunners
    when there are any, else from the learner."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    module_id = module_id or DEFAULT_MODULE_ID
    if algo.env_runner_group is not None:
        return algo.get_module(module_id)
    learner = getattr(algo.learner_group, "_learner", None)
    if learner is None:
        raise UserError("the offline algorithm's learner runs remotely: cannot export its policy")
    return learner.module[module_id]
