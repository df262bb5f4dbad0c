"""The SageMaker training contract: what `/opt/ml` (or `$SAGEMAKER_BASE_DIR`) tells a job.

Read once, through sagemaker-training's `Environment`, into a frozen `TrainingContract`; nothing
else in the package reads `/opt/ml` paths or SageMaker environment variables directly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagemaker_rl_container.errors import UserError, shown

# Keys SageMaker itself puts beside the user's hyperparameters. sagemaker-training already
# separates `sagemaker_*`; automatic model tuning adds these.
PLATFORM_KEY_PREFIXES = ("sagemaker_", "_tuning_objective_metric", "_sagemaker")
CONFIG_FILES = ("hyperparameters.json", "resourceconfig.json", "inputdataconfig.json")


def base_dir() -> Path:
    return Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))


def check_config_files(root: Path | None = None) -> None:
    """Fail with one clear line if a config file SageMaker wrote is not a JSON object.

    sagemaker-training parses these before handing control to us and turns a syntax error into a
    traceback, so the CLI checks them first.
    """
    config_dir = (root or base_dir()) / "input" / "config"
    for name in CONFIG_FILES:
        path = config_dir / name
        if not path.exists():
            if name == "resourceconfig.json" and config_dir.is_dir():
                raise UserError(f"{path} is missing: SageMaker writes it for every job")
            continue
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as error:
            raise UserError(
                f"{path} is not UTF-8 text (byte {error.start} is {error.object[error.start]:#x}): "
                f"fix the file"
            ) from None
        if not text.strip():
            raise UserError(f"{path} is empty: it must hold a JSON object ({{}} for none)")
        try:
            content = json.loads(text)
        except json.JSONDecodeError as error:
            raise UserError(
                f"{path} is not valid JSON ({error.msg} at line {error.lineno} column "
                f"{error.colno}): fix the file"
            ) from None
        except RecursionError:
            raise UserError(f"{path} is nested too deeply to read: fix the file") from None
        if not isinstance(content, dict):
            raise UserError(f"{path} must hold a JSON object, not {type(content).__name__}")
        if name == "resourceconfig.json":
            _check_resource_config(path, content)


def _check_resource_config(path: Path, content: dict) -> None:
    missing = [key for key in ("current_host", "hosts") if key not in content]
    if missing:
        raise UserError(f"{path} lacks {' and '.join(missing)}")
    hosts = content["hosts"]
    if not (isinstance(hosts, list) and hosts and all(isinstance(h, str) and h for h in hosts)):
        raise UserError(f"{path}: hosts must be a non-empty list of host names, not {shown(hosts)}")
    if not isinstance(content["current_host"], str):
        raise UserError(
            f"{path}: current_host must be a host name, not {shown(content['current_host'])}"
        )


@dataclass(frozen=True)
class TrainingContract:
    """Everything the platform tells one container of a training job."""

    base_dir: Path
    model_dir: Path
    output_dir: Path
    output_data_dir: Path
    checkpoint_dir: Path
    code_dir: Path
    channels: dict[str, Path]
    current_host: str
    hosts: list[str]
    network_interface: str | None
    num_cpus: int
    num_gpus: int
    # The user's hyperparameters, decoded from JSON where they were JSON, minus SageMaker's keys.
    hyperparameters: dict[str, Any]
    # Heterogeneous clusters: instance group name -> its hosts (empty for older resourceconfigs).
    instance_groups: dict[str, list[str]] = field(default_factory=dict)
    # Script mode (`sagemaker_program` / `sagemaker_submit_directory`, as RLEstimator sends them).
    user_program: str | None = None
    submit_directory: str | None = None
    # SageMaker's training job name (kept across spot restarts): whose checkpoints are whose.
    job_name: str | None = None
    # What SageMaker's framework containers give a script-mode program: SM_MODEL_DIR,
    # SM_CHANNELS, SM_CHANNEL_<NAME>, SM_HPS, SM_HP_<NAME>, SM_NUM_CPUS, SM_HOSTS, ...
    script_environment: dict[str, str] = field(default_factory=dict)

    @property
    def is_distributed(self) -> bool:
        return len(self.hosts) > 1

    def channel(self, name: str) -> Path:
        """The local directory of input channel `name`; a UserError lists the ones there are."""
        try:
            return self.channels[name]
        except KeyError:
            available = ", ".join(sorted(self.channels)) or "none"
            raise UserError(
                f"input channel '{name}' is missing (channels given: {available}): "
                f"add it to the job's InputDataConfig"
            ) from None

    def ensure_output_dirs(self) -> None:
        for path in (self.model_dir, self.output_dir, self.output_data_dir, self.checkpoint_dir):
            path.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_environment(cls, env: Any | None = None) -> TrainingContract:
        """Build from a sagemaker_training `Environment` (read from disk when not given)."""
        if env is None:
            from sagemaker_training import environment

            env = environment.Environment()
        user_hps = {
            key: value
            for key, value in env.hyperparameters.items()
            if not key.startswith(PLATFORM_KEY_PREFIXES)
        }
        hosts = list(env.hosts)
        current_host = env.current_host
        if current_host not in hosts:
            raise UserError(
                f"resourceconfig.json: current_host '{current_host}' is not among hosts {hosts}"
            )
        root = Path(env.model_dir).parent
        return cls(
            base_dir=root,
            model_dir=Path(env.model_dir),
            output_dir=Path(env.output_dir),
            output_data_dir=Path(env.output_data_dir),
            checkpoint_dir=root / "checkpoints",
            code_dir=root / "code",
            channels={name: Path(path) for name, path in env.channel_input_dirs.items()},
            current_host=current_host,
            hosts=hosts,
            network_interface=env.network_interface_name,
            num_cpus=int(env.num_cpus),
            num_gpus=int(env.num_gpus),
            hyperparameters=user_hps,
            instance_groups={
                name: list(group.get("hosts", []))
                for name, group in env.instance_groups_dict.items()
            },
            user_program=env.user_entry_point or None,
            # `module_dir` falls back to /opt/ml/code when no submit directory was named.
            submit_directory=env.module_dir,
            job_name=env.job_name or None,
            script_environment={key: str(value) for key, value in env.to_env_vars().items()},
        )
