"""How a zero-code job sizes itself to the instance (CPUs and GPUs of the host, or of the whole
cluster on a multi-host job). Pure arithmetic: no Ray import, so the docs' table is generated
from this same code (tools/reference.py) and a unit test checks the rule.

The rule:
- One CPU stays with the driver. GPUs: one learner per GPU; with one GPU (or none) the learner
  lives in the driver, with more each is a remote learner that takes a CPU of its own (as many
  as there are CPUs for).
- Every other CPU runs an env runner; a single one is not worth a process (it would only take
  turns with the learner), so one spare CPU means the driver samples itself.
- Each env of each runner steps at least `MIN_STEPS_PER_ENV` times per iteration: the batch
  grows with the runners (never below the algorithm's zero-code batch), split across learners.
  Without that floor, 71 runners x 8 envs on a 72-vCPU instance sampled 2 steps per env per
  iteration and an iteration was mostly remote-call overhead.
- TensorFlow on RLlib's old API stack asks for the GPU with `num_gpus`.
"""

from __future__ import annotations

from dataclasses import dataclass

# Steps each env takes per iteration, at least.
MIN_STEPS_PER_ENV = 32


@dataclass(frozen=True)
class Plan:
    num_env_runners: int
    num_learners: int  # 0: the learner runs in the driver
    num_gpus_per_learner: int
    train_batch_size_per_learner: int | None  # None: the algorithm's own
    num_gpus: int  # old API stack (TensorFlow)


def plan(
    cpus: int,
    gpus: int,
    envs_per_runner: int = 1,
    batch_size: int | None = None,
    cpus_for_driver: float = 1,
    cpus_per_runner: float = 1,
) -> Plan:
    """The resources and batch of a zero-code job on `cpus` CPUs and `gpus` GPUs, whose
    algorithm steps `envs_per_runner` envs per runner and trains on `batch_size` steps an
    iteration by default (None: it has no batch to size, e.g. an off-policy algorithm)."""
    # A remote learner needs a CPU of its own beside its GPU.
    learners = min(gpus, int(max(0, cpus - cpus_for_driver))) if gpus > 1 else 0
    learners = learners if learners > 1 else 0
    spare = int(max(0, cpus - cpus_for_driver - learners) // max(cpus_per_runner, 1e-9))
    runners = spare if spare > 1 else 0
    sized_batch = None
    if batch_size is not None:
        samplers = max(1, runners) * max(1, envs_per_runner)
        total = max(batch_size * max(1, learners), samplers * MIN_STEPS_PER_ENV)
        sized_batch = -(-total // max(1, learners))  # per learner, rounded up
    return Plan(
        num_env_runners=runners,
        num_learners=learners,
        num_gpus_per_learner=1 if gpus > 0 else 0,
        train_batch_size_per_learner=sized_batch,
        num_gpus=gpus,
    )


def table(cpus: tuple[int, ...], gpus: tuple[int, ...], envs_per_runner: int, batch: int) -> str:
    """The plan for each instance shape, as a Markdown table (docs/hyperparameters.md)."""
    rows = [
        "| CPUs | GPUs | env runners | envs per runner | steps per env and iteration | "
        "learners | GPUs per learner | batch per learner | batch per iteration |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cpu in cpus:
        for gpu in gpus:
            p = plan(cpu, gpu, envs_per_runner, batch)
            assert p.train_batch_size_per_learner is not None
            total = p.train_batch_size_per_learner * max(1, p.num_learners)
            steps = total // (max(1, p.num_env_runners) * envs_per_runner)
            learners = p.num_learners or "1 (in the driver)"
            rows.append(
                f"| {cpu} | {gpu} | {p.num_env_runners} | {envs_per_runner} | {steps} | "
                f"{learners} | {p.num_gpus_per_learner} | {p.train_batch_size_per_learner} "
                f"| {total} |"
            )
    return "\n".join(rows) + "\n"
