"""The scaling model of docs/scaling.md: what a zero-code PPO job's throughput is on 1-8 hosts
of a named instance type, sized by ray_rllib/sizing.py, from the rates bench/scaling_bench.py
measures.

Per iteration (RLlib's PPO samples, then updates, one after the other): sampling = steps per
runner / the runner's rate (runners work in parallel), plus REMOTE_CALL_S for gathering the
runners' samples; learner = a + b * batch per learner, plus, with several learners, one ring
all-reduce per minibatch update: 2 (L - 1) alpha + 2 (L - 1) / L * bytes / bandwidth for L
learners (the instance's network bandwidth between hosts, this machine's between learners of
one host); throughput = batch / (sampling + learner); scaling efficiency at H hosts =
throughput(H) / (H * throughput(1)).
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "entrypoint", "src"))
from sagemaker_rl_container.ray_rllib.sizing import plan

ENVS_PER_RUNNER = 8

ZERO_CODE_BATCH = 1000

EPOCHS, MINIBATCH = 10, 256

REMOTE_CALL_S = 0.01  # assumed: gathering samples from all runners, per iteration

# The named instance types: vCPUs, and the network bandwidth the model gives the all-reduce
# between hosts (Gbit/s). AWS states c5.4xlarge "up to 10"; the model takes the sustained
# baseline of such instances, half of that, not the burst.
INSTANCES = {"ml.c5.4xlarge": (16, 5.0), "ml.c5.9xlarge": (36, 12.0)}


@dataclass(frozen=True)
class Rates:
    runner: float  # env steps/s of one runner
    a: float  # learner: a + b * batch per learner (s)
    b: float
    params: int  # the policy's trainable parameters: floats each all-reduce sums
    alpha: float = 0.0  # all-reduce: seconds per ring step (the median's)
    local_bandwidth: float = math.inf  # bytes/s between two containers here
    alphas: tuple[float, float] = (0.0, 0.0)  # the quartiles'

    def with_alpha(self, alpha: float) -> Rates:
        return Rates(self.runner, self.a, self.b, self.params, alpha, self.local_bandwidth)

    def allreduce(self, learners: int, bandwidth: float) -> float:
        """One ring all-reduce of the policy's gradients among `learners`."""
        if learners < 2:
            return 0.0
        steps = 2 * (learners - 1)
        return steps * self.alpha + steps / learners * 4 * self.params / bandwidth


def predict(
    vcpus: int,
    hosts: int,
    rates: Rates,
    bandwidth: float,
    shared_cpus: int | None = None,
) -> dict[str, float]:
    """The model for `hosts` hosts of `vcpus` each, whose hosts reach each other at
    `bandwidth` bytes/s; `shared_cpus`: all of them run on only this many CPUs (the two-host
    check on this machine), so runners and learners beyond it take turns."""
    p = plan(vcpus * hosts, 0, ENVS_PER_RUNNER, ZERO_CODE_BATCH, hosts=hosts)
    learners = max(1, p.num_learners)
    per_learner = p.train_batch_size_per_learner or ZERO_CODE_BATCH
    batch = per_learner * learners
    per_runner = batch / max(1, p.num_env_runners)
    runner_turns = max(1.0, p.num_env_runners / shared_cpus) if shared_cpus else 1.0
    learner_turns = max(1.0, learners / shared_cpus) if shared_cpus else 1.0
    sampling = per_runner / rates.runner * runner_turns
    sampling += REMOTE_CALL_S if p.num_env_runners else 0.0
    updates = EPOCHS * math.ceil(per_learner / MINIBATCH)
    between = rates.local_bandwidth if hosts == 1 else bandwidth
    allreduce = updates * rates.allreduce(p.num_learners, between)
    learner = (rates.a + rates.b * per_learner) * learner_turns + allreduce
    return {
        "runners": p.num_env_runners,
        "learners": p.num_learners,
        "batch": batch,
        "sampling": sampling,
        "learner": learner,
        "allreduce": allreduce,
        "throughput": batch / (sampling + learner),
    }


MODEL_FILE = Path(__file__).with_name("SCALING.md")


def write_model(
    instance: str, rates: Rates, bandwidth: float, efficiency: dict[float, float], check: str
) -> None:
    """bench/SCALING.md: the prediction of this run, from its own rates (docs/scaling.md)."""
    vcpus, gbits = INSTANCES[instance]
    sensitivity = "\n".join(
        f"| {alpha * 1e6:.0f} | {value:.2f} |" for alpha, value in sorted(efficiency.items())
    )
    MODEL_FILE.write_text(
        f"""# Scaling model: zero-code PPO on 1-8 hosts of {instance}

Written by `bench/scaling_bench.py {instance} --image IMAGE` (`make bench`) on
{time.strftime("%Y-%m-%d")}, {os.cpu_count()} CPUs here; the model is docs/scaling.md's.

Rates of this run (medians): one env runner samples {rates.runner:.0f} env steps/s; a learner
(one torch thread) updates in {rates.a:.3f} s + {rates.b * 1000:.3f} s per 1,000 steps of its
batch; a gloo all-reduce between two containers costs {rates.alpha * 1e6:.0f} us per ring step
(quartiles {rates.alphas[0] * 1e6:.0f}-{rates.alphas[1] * 1e6:.0f} us) plus
{4 * rates.params / 1e6:.3f} MB ({rates.params} float32 gradients) at
{rates.local_bandwidth / 1e9:.2f} GB/s here; between hosts the model gives it {gbits:g} Gbit/s.
Env runners, learners and batch: ray_rllib/sizing.py for {vcpus} vCPUs per host.

{prediction_table(vcpus, rates, bandwidth)}

Efficiency at 8 hosts for other all-reduce latencies (the rest of the rates as above):

| latency per ring step (us) | scaling efficiency, 8 hosts |
| --- | --- |
{sensitivity}

The model's check on this machine: {check}.
"""
    )
    print(f"wrote {MODEL_FILE}")


def efficiency_at(vcpus: int, hosts: int, rates: Rates, bandwidth: float) -> float:
    one, many = (predict(vcpus, count, rates, bandwidth) for count in (1, hosts))
    return many["throughput"] / (hosts * one["throughput"])


def prediction_table(vcpus: int, rates: Rates, bandwidth: float) -> str:
    rows = [
        "| hosts | env runners | learners | batch | sampling (s) | learner (s) | of which "
        "all-reduce (s) | env steps/s | scaling efficiency |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    one = predict(vcpus, 1, rates, bandwidth)["throughput"]
    for hosts in range(1, 9):
        p = predict(vcpus, hosts, rates, bandwidth)
        learners = p["learners"] or "1 (driver)"
        rows.append(
            f"| {hosts} | {p['runners']} | {learners} | {p['batch']} | {p['sampling']:.2f} | "
            f"{p['learner']:.2f} | {p['allreduce']:.2f} | {p['throughput']:.0f} | "
            f"{p['throughput'] / (hosts * one):.2f} |"
        )
    return "\n".join(rows)
