"""How a zero-code job sizes itself to the instance (CPUs and GPUs of the host, or of the whole
cluster on a multi-host job). Pure arithmetic: no Ray import, so the docs' table is generated
from this same code (tools/reference.py) and a unit test checks the rule.

The rule:
- One CPU stays with the driver.
- Learners, on RLlib's new API stack (torch) for the algorithms that train data-parallel
  (PPO, APPO, IMPALA, SAC, DQN): with GPUs, one learner per GPU; on CPU instances, one learner
  per `CPUS_PER_LEARNER` vCPUs of each host, and at least one per host on a multi-host job.
  A single learner lives in the driver; several are remote learners, one CPU (and GPU) each,
  that average their gradients every update (torch DDP: gloo on CPUs, NCCL on GPUs), so that
  each learns from its share of the batch and all of them hold the same weights.
- Every other CPU runs an env runner. Beside a learner in the driver a single one is not worth
  a process (it would only take turns with the learner), so one spare CPU means the driver
  samples itself.
- Each env of each runner steps at least `MIN_STEPS_PER_ENV` times per iteration: the batch
  grows with the runners (never below the algorithm's zero-code batch per learner), split
  across learners. Without that floor, 71 runners x 8 envs on a 72-vCPU instance sampled 2 steps
  per env per iteration and an iteration was mostly remote-call overhead.
- TensorFlow on RLlib's old API stack (one learner, in the driver) asks for the GPU with
  `num_gpus`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Steps each env takes per iteration, at least.
MIN_STEPS_PER_ENV = 32
# On CPU instances, one learner for this many vCPUs of a host (and one per host, at least, on
# a multi-host job). The zero-code PPO's learner takes 0.171 ms per step of batch against a
# runner's 0.08 ms (docs/scaling.md): a host with 8 vCPUs samples about 15 times as fast as one
# learner learns, so below that a second learner would take CPUs from sampling.
CPUS_PER_LEARNER = 8
# RLlib 2.60's new-API-stack algorithms that train with several learners (measured: each of
# them on 2 CPU learners, identical weights after every update).
MULTI_LEARNER_ALGORITHMS = ("PPO", "APPO", "IMPALA", "SAC", "DQN")
# The Ray resource each host offers once per learner it takes: RLlib places learners wherever
# Ray finds a CPU, which packed both of a two-host job's learners onto one host.
LEARNER_SLOT = "sagemaker_rl_learner_slot"


@dataclass(frozen=True)
class Plan:
    num_env_runners: int
    num_learners: int  # 0: the learner runs in the driver
    num_gpus_per_learner: int
    train_batch_size_per_learner: int | None  # None: the algorithm's own
    num_gpus: int  # old API stack (TensorFlow)
    learners_per_host: int = 0  # remote learners each host takes (0: wherever Ray puts them)


def learners_for(cpus: int, gpus: int, hosts: int = 1) -> int:
    """How many learners `hosts` hosts with `cpus` CPUs and `gpus` GPUs in all get (0: one, in
    the driver)."""
    if gpus > 0:
        learners = gpus if gpus > 1 else 0
    else:
        per_host = (cpus // max(1, hosts)) // CPUS_PER_LEARNER
        learners = hosts * max(1 if hosts > 1 else 0, per_host)
    return learners if learners > 1 else 0


def plan(
    cpus: int,
    gpus: int,
    envs_per_runner: int = 1,
    batch_size: int | None = None,
    cpus_for_driver: float = 1,
    cpus_per_runner: float = 1,
    hosts: int = 1,
    several_learners: bool = True,
    num_learners: int | None = None,
    num_env_runners: int | None = None,
) -> Plan:
    """The resources and batch of a zero-code job on `cpus` CPUs and `gpus` GPUs (of `hosts`
    hosts together), whose algorithm steps `envs_per_runner` envs per runner and trains on
    `batch_size` steps per learner an iteration by default (None: it has no batch to size, e.g.
    an off-policy algorithm); `several_learners`: whether it can train with more than one;
    `num_learners`, `num_env_runners`: the numbers the user chose, if any (the rest is sized
    around them)."""
    cpus_left = max(0.0, cpus - cpus_for_driver)
    if num_env_runners is not None:
        cpus_left = max(0.0, cpus_left - num_env_runners * cpus_per_runner)
    if num_learners is not None:
        learners = num_learners
    else:
        learners = learners_for(cpus, gpus, hosts) if several_learners else 0
        # A remote learner needs a CPU of its own.
        learners = min(learners, int(cpus_left))
        learners = learners if learners > 1 else 0
    if num_env_runners is not None:
        runners = num_env_runners
    else:
        spare = int(max(0, cpus_left - learners) // max(cpus_per_runner, 1e-9))
        runners = spare if spare > 1 or (learners and spare) else 0
    sized_batch = None
    if batch_size is not None:
        samplers = max(1, runners) * max(1, envs_per_runner)
        total = max(batch_size * max(1, learners), samplers * MIN_STEPS_PER_ENV)
        sized_batch = -(-total // max(1, learners))  # per learner, rounded up
    spread = hosts > 1 and learners and learners % hosts == 0
    return Plan(
        num_env_runners=runners,
        num_learners=learners,
        num_gpus_per_learner=1 if gpus > 0 else 0,
        train_batch_size_per_learner=sized_batch,
        num_gpus=gpus,
        learners_per_host=learners // hosts if spread else 0,
    )


# Instance shapes the docs' table shows: (hosts, vCPUs per host, GPUs per host).
SHAPES: tuple[tuple[int, int, int], ...] = (
    *((1, cpus, gpus) for cpus in (2, 8, 16, 32, 72) for gpus in (0, 1, 4, 8)),
    (2, 2, 0),
    *((hosts, 16, 0) for hosts in (2, 4, 8)),
    (2, 72, 0),
    (2, 8, 1),
    (2, 32, 4),
)


def table(shapes: tuple[tuple[int, int, int], ...], envs_per_runner: int, batch: int) -> str:
    """The plan for each (hosts, vCPUs per host, GPUs per host), as a Markdown table
    (docs/hyperparameters.md)."""
    rows = [
        "| hosts | vCPUs per host | GPUs per host | env runners | envs per runner | "
        "steps per env and iteration | learners | GPUs per learner | batch per learner | "
        "batch per iteration |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for hosts, cpus, gpus in shapes:
        p = plan(cpus * hosts, gpus * hosts, envs_per_runner, batch, hosts=hosts)
        total = (p.train_batch_size_per_learner or batch) * max(1, p.num_learners)
        steps = total // (max(1, p.num_env_runners) * envs_per_runner)
        if not p.num_learners:
            learners = "1 (in the driver)"
        elif p.learners_per_host:
            learners = f"{p.num_learners} ({p.learners_per_host} per host)"
        else:
            learners = str(p.num_learners)
        rows.append(
            f"| {hosts} | {cpus} | {gpus} | {p.num_env_runners} | {envs_per_runner} | {steps} "
            f"| {learners} | {p.num_gpus_per_learner} | {p.train_batch_size_per_learner} "
            f"| {total} |"
        )
    return "\n".join(rows) + "\n"


# A sweep's trials share the cluster's CPUs equally, in quarters of a CPU at the least, so that
# a whole population runs at once (Population Based Training compares trials as they go;
# queued trials would wait for others to finish).
CPU_QUANTUM = 0.25


def trial_cpus(cpus: int, trials: int) -> float:
    """The CPUs each of `trials` trials takes on a cluster of `cpus` CPUs: whole CPUs from 2
    up (one for the trial's driver and learner, the rest env runners), else a share of one."""
    share = cpus / max(1, trials)
    if share >= 2:
        return float(int(share))
    return max(CPU_QUANTUM, math.floor(share / CPU_QUANTUM) * CPU_QUANTUM)
