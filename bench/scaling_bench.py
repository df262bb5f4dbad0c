#!/usr/bin/env python3
"""The rates the scaling note (docs/scaling.md) builds on, measured here with the zero-code
PPO settings (8 envs per runner, 10 epochs, minibatch 256), plus what they predict for a job
on 1-8 hosts of a named instance type, sized by ray_rllib/sizing.py:

- sampling: env steps per second of one env runner, its `sample()` timed directly (the runner
  here is the driver's own, so no remote-call cost is in it),
- learner: seconds of one PPO update as a function of the batch, a + b * batch, fitted on two
  batch sizes: a whole `train()` timed, less its steps' sampling at the rate measured after,
  with one torch thread (each remote learner has one CPU; a second thread bought nothing here).
  (RLlib's own `timers/*` are smoothed averages that still carry the first iteration's
  start-up for many iterations: not usable here.)
- all-reduce: with `--image`, seconds of one gloo all-reduce of 1,024 floats (latency alone:
  2 ring steps of alpha each), of the policy's gradients (its parameter count, float32) and of
  16 times as many (the bandwidth), between two containers of the image on one Docker network
  (torch.distributed, as the learners' DDP runs it).

The prediction is bench/scaling_model.py's (the model of docs/scaling.md).

The model's one check: with `--image`, a zero-code PPO job on two hosts (two containers on one
Docker network, as bench/cluster_bench.py forms them, a learner on each) trains, and its env
steps/s, read off the head's metric lines, is set against what the model predicts for that job
on this machine. Both containers share this machine's CPUs, so the check's prediction slows
sampling by runners / CPUs and learning by learners / CPUs where there are more than CPUs; the
table for real hosts assumes a vCPU per runner and learner.

    bench/scaling_bench.py [INSTANCE] [--image IMAGE_REF]   (default ml.c5.4xlarge)
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

from allreduce import allreduce_between_containers
from figures import Figure, report
from measure import containers, layout, metrics
from scaling_model import (
    ENVS_PER_RUNNER,
    EPOCHS,
    INSTANCES,
    MINIBATCH,
    Rates,
    efficiency_at,
    predict,
    prediction_table,
    write_model,
)

ITERATIONS = int(os.environ.get("BENCH_SCALING_ITERATIONS", "5"))
BATCHES = (1000, 4000)
TINY_ALLREDUCE = 1024  # floats: an all-reduce this small measures the per-step latency alone
TARGET_EFFICIENCY = 0.7
# All-reduce latencies (s per ring step) the efficiency is also given for: the measured one
# is this 2-vCPU VM's, where a quarter of the calls or more wait up to a 4 ms tick.
SENSITIVITY_ALPHAS = (50e-6, 100e-6, 200e-6)


def measure(batch: int) -> tuple[list[float], list[float], int]:
    """Per-iteration sampling rates (env steps/s), learner update seconds, and the policy's
    trainable parameters."""
    import numpy as np
    from ray.rllib.algorithms.ppo import PPOConfig

    config = (
        PPOConfig()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=0, num_envs_per_env_runner=ENVS_PER_RUNNER)
        .training(
            lr=0.001,
            num_epochs=EPOCHS,
            minibatch_size=MINIBATCH,
            train_batch_size_per_learner=batch,
        )
        .debugging(log_sys_usage=False)
    )
    algo = config.build_algo()
    # The learner's module (actor and critic), whose gradients DDP sums; algo.get_module() is
    # the env runner's inference-only copy, the actor alone (half of them).
    params = sum(
        int(np.size(value))
        for weights in algo.learner_group.get_weights().values()
        for value in weights.values()
    )
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
    return rates, [max(0.0, whole - sampled / rate) for whole, sampled in iterations], params


def two_host_rates(image: str, iterations: int) -> tuple[list[float], int, int]:
    """Env steps/s of each measured iteration of a zero-code PPO job on two hosts (after two
    warm-up iterations), its env runners and its learners, from the head's log."""
    from cluster_bench import HOSTS

    with tempfile.TemporaryDirectory() as tmp:
        stop = {"rl_stop_iterations": 2 + iterations}
        roots = [layout(Path(tmp) / host, stop, host=host, hosts=HOSTS) for host in HOSTS]
        with containers.hosts(image, roots, prefix="sagemaker-rl-scaling") as job:
            head = job.hosts[HOSTS[0]]
            code = head.wait(timeout=1800)
            log = head.logs()
    if code != 0:
        raise SystemExit(f"the two-host job failed (exit {code}):\n{log[-3000:]}")
    runners = re.search(r"with \w+, (\d+) env runners", log)
    learners = re.search(r"env runners, (\d+) learners", log)
    rates = [
        (current["timesteps_total"] - previous["timesteps_total"]) / current["time_this_iter_s"]
        for previous, current in itertools.pairwise(metrics(log)[1:])
    ]
    if not runners or len(rates) != iterations:
        raise SystemExit(f"the two-host job's log lacks its plan or metrics:\n{log[-3000:]}")
    return rates, int(runners.group(1)), int(learners.group(1)) if learners else 0


def main() -> int:
    import ray
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("instance", nargs="?", default="ml.c5.4xlarge", choices=INSTANCES)
    parser.add_argument("--image", help="also measure the all-reduce, and check the model on "
                        "two hosts, with this image")  # fmt: skip
    args = parser.parse_args()
    vcpus, gbits = INSTANCES[args.instance]
    torch.set_num_threads(1)
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
    runner_rates = [rate for batch in BATCHES for rate in measured[batch][0]]
    small, large = (statistics.median(measured[batch][1]) for batch in BATCHES)
    b = (large - small) / (BATCHES[1] - BATCHES[0])
    a = max(0.0, small - b * BATCHES[0])
    rates = Rates(statistics.median(runner_rates), a, b, measured[BATCHES[0]][2])
    print(
        f"\nPPO CartPole rates on this machine ({os.cpu_count()} CPUs), {ITERATIONS} iterations "
        "per batch size"
    )
    report(
        Figure(
            "scaling: one env runner's sampling rate (8 envs)",
            "env steps/s",
            runner_rates,
            note="sample() of the zero-code PPO's runner, in the driver",
        )
    )
    for batch in BATCHES:
        report(
            Figure(
                f"scaling: PPO learner update, batch {batch} (10 epochs, minibatch 256)",
                "s",
                measured[batch][1],
                note=f"one torch thread; fit: {a:.3f} s + {b * 1000:.3f} s per 1000 samples",
            )
        )
    if args.image:
        rates = measure_allreduce(args.image, rates)
    bandwidth = gbits * 1e9 / 8
    print(
        f"\npredicted zero-code PPO on 1-8 hosts of {args.instance} ({vcpus} vCPUs, no GPU, "
        f"{gbits:g} Gbit/s between hosts), from a runner at {rates.runner:.0f} env steps/s, a "
        f"learner at {a:.3f} s + {b * 1000:.3f} s per 1000 samples and an all-reduce of "
        f"{rates.params} floats at {rates.alpha * 1e6:.0f} us per ring step:"
    )
    print(prediction_table(vcpus, rates, bandwidth))
    if not args.image:
        return 0
    efficiency = {
        alpha: efficiency_at(vcpus, 8, rates.with_alpha(alpha), bandwidth)
        for alpha in (rates.alpha, *rates.alphas, *SENSITIVITY_ALPHAS)
    }
    one, eight = (predict(vcpus, hosts, rates, bandwidth) for hosts in (1, 8))
    report(
        Figure(
            f"scaling: predicted efficiency, 8 hosts of {args.instance} (zero-code PPO)",
            "ratio",
            [efficiency[rates.alpha]],
            target=TARGET_EFFICIENCY,
            higher_is_better=True,
            low=efficiency[rates.alphas[1]],
            high=efficiency[rates.alphas[0]],
            note=f"{eight['throughput']:.0f} env steps/s on 8 hosts, {one['throughput']:.0f} on "
            f"one, with the median all-reduce latency here ({rates.alpha * 1e6:.0f} us a ring "
            f"step; spread: its quartiles, {rates.alphas[0] * 1e6:.0f}-"
            f"{rates.alphas[1] * 1e6:.0f} us); at "
            + ", ".join(f"{a * 1e6:.0f} us {efficiency[a]:.2f}" for a in SENSITIVITY_ALPHAS),
        )
    )
    check = check_on_two_hosts(args.image, rates)
    write_model(args.instance, rates, bandwidth, efficiency, check)
    return 0


def measure_allreduce(image: str, rates: Rates) -> Rates:
    """The all-reduce's figures, and the rates with alpha (half of a 1,024-float all-reduce,
    which is all latency) and the bandwidth here (from the policy's and 16 times its size)."""
    sizes = [TINY_ALLREDUCE, rates.params, 16 * rates.params]
    seconds = allreduce_between_containers(image, sizes, keep_awake=True)
    tiny, small, large = (statistics.median(seconds[size]) for size in sizes)
    alpha = tiny / 2
    quartiles = statistics.quantiles(seconds[sizes[0]], n=4)
    alphas = (quartiles[0] / 2, quartiles[2] / 2)
    per_byte = max(1e-12, (large - small) / (4 * (sizes[2] - sizes[1])))
    described = {
        sizes[0]: "latency alone",
        sizes[1]: "the policy's gradients",
        sizes[2]: "16x the policy's gradients",
    }
    for size in sizes:
        report(
            Figure(
                f"scaling: gloo all-reduce between two containers, {size} floats",
                "ms",
                [t * 1000 for t in seconds[size]],
                note=f"{described[size]}; the model: 2 x {alpha * 1e6:.0f} us + "
                f"{4 * size * per_byte * 1000:.2f} ms for {4 * size / 1e6:.3f} MB at "
                f"{1 / per_byte / 1e9:.2f} GB/s",
            )
        )
    return Rates(rates.runner, rates.a, rates.b, rates.params, alpha, 1 / per_byte, alphas)


def check_on_two_hosts(image: str, rates: Rates) -> str:
    cpus = os.cpu_count() or 1
    measured, runners, learners = two_host_rates(image, ITERATIONS)
    # Each container is told it has this machine's CPUs, as SageMaker tells each host its own;
    # their traffic stays on this machine.
    p = predict(cpus, 2, rates, rates.local_bandwidth, shared_cpus=cpus)
    if (p["runners"], p["learners"]) != (runners, learners):
        raise SystemExit(
            f"the job ran {runners} env runners and {learners} learners, the model sized "
            f"{p['runners']} and {p['learners']}"
        )
    print(f"\nthe model's check: zero-code PPO on two hosts of {cpus} CPUs, both on this machine")
    figure = report(
        Figure(
            "scaling: two hosts here, measured / predicted env steps/s",
            "ratio",
            [r / p["throughput"] for r in measured],
            note=f"measured {statistics.median(measured):.0f} env steps/s (median of "
            f"{len(measured)} iterations), predicted {p['throughput']:.0f}: {runners} env "
            f"runners and {learners} learners sharing {cpus} CPUs, batch {p['batch']}, "
            f"sampling {p['sampling']:.2f} s + learner {p['learner']:.2f} s (all-reduce "
            f"{p['allreduce']:.2f} s)",
        )
    )
    return f"measured / predicted env steps/s {figure.value:.2f} ({figure.note})"


if __name__ == "__main__":
    sys.exit(main())
