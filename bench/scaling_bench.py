#!/usr/bin/env python3
"""The two rates the scaling note (docs/scaling.md) builds on, measured here with the zero-code
PPO settings (8 envs per runner, 10 epochs, minibatch 256), plus what they predict for a job
on 1-8 hosts of INSTANCE_VCPUS vCPUs each, sized by ray_rllib/sizing.py:

- sampling: env steps per second of one env runner, its `sample()` timed directly (the runner
  here is the driver's own, so no remote-call cost is in it),
- learner: seconds of one PPO update as a function of the batch, a + b * batch, fitted on two
  batch sizes: a whole `train()` timed, less its steps' sampling at the rate measured after.
  (RLlib's own `timers/*` are smoothed averages that still carry the first iteration's
  start-up for many iterations: not usable here.)

Prediction, per iteration (RLlib's PPO samples, then updates, one after the other):
sampling = steps per runner / the runner's rate (runners work in parallel), learner = a + b *
batch (one learner, in the driver: no GPU), plus REMOTE_CALL_S per iteration for gathering
the runners' samples; throughput = batch / (sampling + learner).

The model's one check: with `--image`, a zero-code PPO job on two hosts (two containers on one
Docker network, as bench/cluster_bench.py forms them) trains, and its env steps/s, read off the
head's metric lines, is set against what the model predicts for that job on this machine. Both
containers share this machine's CPUs, so the check's prediction slows sampling by runners / CPUs
when there are more runners than CPUs; the table for real hosts assumes a vCPU per runner.

    bench/scaling_bench.py [INSTANCE_VCPUS] [--image IMAGE_REF]   (default 16: ml.c5.4xlarge)
Environment: BENCH_SCALING_ITERATIONS (5 measured iterations per batch size, after 2 warm-up;
also the two-host job's measured iterations).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from figures import Figure, report

ITERATIONS = int(os.environ.get("BENCH_SCALING_ITERATIONS", "5"))
BATCHES = (1000, 4000)
ENVS_PER_RUNNER = 8
ZERO_CODE_BATCH = 1000
REMOTE_CALL_S = 0.01  # assumed: gathering samples from all runners, per iteration


def measure(batch: int) -> tuple[list[float], list[float]]:
    """Per-iteration sampling rates (env steps/s) and learner update seconds."""
    from ray.rllib.algorithms.ppo import PPOConfig

    config = (
        PPOConfig()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=0, num_envs_per_env_runner=ENVS_PER_RUNNER)
        .training(lr=0.001, num_epochs=10, minibatch_size=256, train_batch_size_per_learner=batch)
        .debugging(log_sys_usage=False)
    )
    algo = config.build_algo()
    iterations = []
    rates = []
    try:
        for iteration in range(2 + ITERATIONS):
            started = time.perf_counter()
            result = algo.train()
            if iteration >= 2:
                sampled = result["env_runners"]["num_env_steps_sampled"]
                iterations.append((time.perf_counter() - started, sampled))
        # the same runner, same policy, sampling alone (after training: nothing interleaved)
        for _ in range(ITERATIONS):
            started = time.perf_counter()
            algo.env_runner.sample(num_timesteps=batch)
            rates.append(batch / (time.perf_counter() - started))
    finally:
        algo.stop()
    rate = statistics.median(rates)
    return rates, [max(0.0, whole - sampled / rate) for whole, sampled in iterations]


def predict(
    vcpus: int, hosts: int, rate: float, a: float, b: float, shared_cpus: int | None = None
) -> dict[str, float]:
    """The model for `hosts` hosts of `vcpus` each; `shared_cpus`: all of them run on only this
    many CPUs (the two-host check on this machine), so runners beyond it take turns."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "entrypoint", "src"))
    from sagemaker_rl_container.ray_rllib.sizing import plan

    p = plan(vcpus * hosts, 0, ENVS_PER_RUNNER, ZERO_CODE_BATCH)
    batch = p.train_batch_size_per_learner or ZERO_CODE_BATCH
    per_runner = batch / max(1, p.num_env_runners)
    contention = max(1.0, p.num_env_runners / shared_cpus) if shared_cpus else 1.0
    sampling = per_runner / rate * contention + (REMOTE_CALL_S if p.num_env_runners else 0.0)
    learner = a + b * batch
    return {
        "runners": p.num_env_runners,
        "batch": batch,
        "sampling": sampling,
        "learner": learner,
        "throughput": batch / (sampling + learner),
    }


def two_host_rates(image: str, iterations: int) -> tuple[list[float], int]:
    """Env steps/s of each measured iteration of a zero-code PPO job on two hosts (after two
    warm-up iterations), and its env runners, from the head's log."""
    from cluster_bench import HOSTS, docker, job_dir, remove_hosts, start_hosts
    from training_bench import metrics

    network = f"sagemaker-rl-scaling-{int(time.time())}"
    docker("network", "create", network)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stop = {"rl_stop_iterations": str(2 + iterations)}
            roots = {host: job_dir(Path(tmp), host, stop) for host in HOSTS}
            start_hosts(image, roots, network, [])
            try:
                code = docker("wait", HOSTS[0]).strip()
                log = docker("logs", HOSTS[0], check=False)
            finally:
                remove_hosts()
    finally:
        docker("network", "rm", network, check=False)
    if code != "0":
        raise SystemExit(f"the two-host job failed (exit {code}):\n{log[-3000:]}")
    runners = re.search(r"with \w+, (\d+) env runners", log)
    rates = [
        (current["timesteps_total"] - previous["timesteps_total"]) / current["time_this_iter_s"]
        for previous, current in itertools.pairwise(metrics(log)[1:])
    ]
    if not runners or len(rates) != iterations:
        raise SystemExit(f"the two-host job's log lacks its plan or metrics:\n{log[-3000:]}")
    return rates, int(runners.group(1))


def main() -> int:
    import ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vcpus", nargs="?", type=int, default=16, help="vCPUs of one host")
    parser.add_argument("--image", help="also check the model on two hosts of this image")
    args = parser.parse_args()
    vcpus = args.vcpus
    ray.init(
        address="local",
        num_cpus=os.cpu_count(),
        include_dashboard=False,
        configure_logging=False,
        _system_config={"prestart_worker_first_driver": False},
    )
    try:
        measured = {batch: measure(batch) for batch in BATCHES}
    finally:
        ray.shutdown()
    rates = [rate for batch in BATCHES for rate in measured[batch][0]]
    small, large = (statistics.median(measured[batch][1]) for batch in BATCHES)
    b = (large - small) / (BATCHES[1] - BATCHES[0])
    a = max(0.0, small - b * BATCHES[0])
    rate = statistics.median(rates)
    print(
        f"\nPPO CartPole rates on this machine ({os.cpu_count()} CPUs), {ITERATIONS} iterations "
        "per batch size"
    )
    report(
        Figure(
            "scaling: one env runner's sampling rate (8 envs)",
            "env steps/s",
            rates,
            note="sample() of the zero-code PPO's runner, in the driver",
        )
    )
    for batch in BATCHES:
        report(
            Figure(
                f"scaling: PPO learner update, batch {batch} (10 epochs, minibatch 256)",
                "s",
                measured[batch][1],
                note=f"fit: {a:.3f} s + {b * 1000:.3f} s per 1000 samples",
            )
        )
    print(
        f"\npredicted zero-code PPO on 1-8 hosts of {vcpus} vCPUs (no GPU), from a runner at "
        f"{rate:.0f} env steps/s and a learner at {a:.3f} s + {b * 1000:.3f} s per 1000 samples:"
    )
    print("| hosts | env runners | batch | sampling (s) | learner (s) | env steps/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for hosts in range(1, 9):
        p = predict(vcpus, hosts, rate, a, b)
        print(
            f"| {hosts} | {p['runners']} | {p['batch']} | {p['sampling']:.2f} | "
            f"{p['learner']:.2f} | {p['throughput']:.0f} |"
        )
    if args.image:
        check_on_two_hosts(args.image, rate, a, b)
    return 0


def check_on_two_hosts(image: str, rate: float, a: float, b: float) -> None:
    cpus = os.cpu_count() or 1
    measured, runners = two_host_rates(image, ITERATIONS)
    # Each container is told it has this machine's CPUs, as SageMaker tells each host its own.
    p = predict(cpus, 2, rate, a, b, shared_cpus=cpus)
    if p["runners"] != runners:
        raise SystemExit(f"the job ran {runners} env runners, the model sized {p['runners']}")
    print(f"\nthe model's check: zero-code PPO on two hosts of {cpus} CPUs, both on this machine")
    report(
        Figure(
            "scaling: two hosts here, measured / predicted env steps/s",
            "ratio",
            [r / p["throughput"] for r in measured],
            note=f"measured {statistics.median(measured):.0f} env steps/s (median of "
            f"{len(measured)} iterations), predicted {p['throughput']:.0f}: {runners} env "
            f"runners, batch {p['batch']}, sampling {p['sampling']:.2f} s (runners share "
            f"{cpus} CPUs) + learner {p['learner']:.2f} s",
        )
    )


if __name__ == "__main__":
    sys.exit(main())
