#!/usr/bin/env python3
"""Peer figures: ours against what a user would pick instead, Stable-Baselines3 PPO with
rl-baselines3-zoo's tuned CartPole-v1 settings (bench/peer_sb3.py, in its own venv from
bench/peer-requirements.txt), on the same cores, in pairs, the order alternating.

1. Time to solve CartPole-v1, whole process to an exported ONNX policy: ours is `docker run ...
   train` of the zero-code PPO job (as bench/training_bench.py times it), SB3 is its script's
   process. Both stop on the same rule (the mean return of the last 10+ training episodes
   reaches 450, then a greedy evaluation of 10 episodes does), and after each run the exported
   policy, acting greedily, must average >= 450 on EVAL_EPISODES fresh episodes too.
   Figure: SB3 seconds / ours. Target: >= 1 (ours at least as fast; issue 23).
2. Ray's own floor: the same job as an RLlib user would script it (bench/bare_rllib_solve.py: the
   zero-code PPO settings, the same stop rule, a checkpoint at the end), run with `docker run`
   in the same image, none of our code. Figure: ours seconds / the floor's. Target: <= 1.25
   (issue 23: where SB3 is out of reach because of Ray's own start-up and per-iteration costs,
   be within 1.25x of what Ray itself takes; bench/startup_bench.py breaks Ray's start-up down
   process by process).
3. Training throughput of those same runs: env steps sampled per second of training (ours:
   RLlib's timesteps / time_total_s from the last [rl-metrics] line; SB3: timesteps / learn()
   seconds less its stop evaluations). Figure: ours / SB3, each side with its own tuned
   settings: no target (bench/matched_bench.py compares both on the same settings).

    bench/peer_bench.py IMAGE_REF [PEER_PYTHON]
PEER_PYTHON defaults to build/bench/peer-venv/bin/python (make bench creates it). Environment:
BENCH_PEER_PAIRS (3), BENCH_SOLVE_CAP_S (600: ours stops there, its time then a lower bound),
BENCH_TORCH_THREADS (unset: each side's default; N: OMP_NUM_THREADS=N for both sides, e.g. 1 to
see what torch's intra-op threads cost on a busy machine).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import ROOT, Figure, report
from measure import (
    EVAL_EPISODES,
    SOLVE,
    floor_line,
    floor_solve_figure,
    in_image,
    layout,
    metrics,
    onnx_return,
    peer_python,
    rllib_floor,
    zero_code_sections,
)

PAIRS = int(os.environ.get("BENCH_PEER_PAIRS", "3"))
SOLVE_CAP_S = float(os.environ.get("BENCH_SOLVE_CAP_S", "600"))
THREADS = os.environ.get("BENCH_TORCH_THREADS")
TARGET_SOLVE = 1.0
TARGET_FLOOR = 1.25
TARGET_THROUGHPUT = None  # each side's own settings: bench/matched_bench.py has the target


def threads_env() -> tuple[str, ...]:
    return ("-e", f"OMP_NUM_THREADS={THREADS}") if THREADS else ()


def ours(image: str, root: Path) -> dict:
    hyperparameters = {**SOLVE, "rl_stop_seconds": SOLVE_CAP_S}
    seconds, log = in_image(image, layout(root, hyperparameters), threads_env())
    training = json.loads((root / "model" / "metadata.json").read_text())["training"]
    last = metrics(log)[-1]
    reached = (training["recent_episode_return_mean"] or 0) >= 450
    return {
        "seconds": seconds,
        "timesteps": int(last["timesteps_total"]),
        "rate": last["timesteps_total"] / last["time_total_s"],
        "reached": reached,
        "evaluated": onnx_return(root / "model" / "policy.onnx"),
    }


def peer(python: str, out: Path) -> dict:
    started = time.monotonic()
    env = dict(os.environ, **({"OMP_NUM_THREADS": THREADS} if THREADS else {}))
    proc = subprocess.run(
        [python, str(ROOT / "bench" / "peer_sb3.py"), str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"the SB3 peer failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    result = json.loads((out / "result.json").read_text())
    return {
        "seconds": seconds,
        "timesteps": result["timesteps"],
        "rate": result["timesteps"] / (result["training_s"] - result["evaluation_s"]),
        "reached": result["solved"],
        "evaluated": onnx_return(out / "policy.onnx"),
    }


def main() -> int:
    image = sys.argv[1]
    python = peer_python(sys.argv)
    work = Path(tempfile.mkdtemp(prefix="peer-bench-", dir="/var/tmp"))
    settings = zero_code_sections() | {"target": 450.0, "cap_s": SOLVE_CAP_S}
    runs: dict[str, list[dict]] = {"ours": [], "sb3": []}
    floors: list[dict] = []
    print(
        f"\nours ({image}) vs Stable-Baselines3 PPO (zoo settings) and Ray's floor (bare RLlib), "
        f"{PAIRS} rounds"
    )
    try:
        for pair in range(PAIRS):
            order = ["ours", "sb3", "floor"] if pair % 2 == 0 else ["floor", "sb3", "ours"]
            for name in order:
                where = work / f"{pair}-{name}"
                if name == "floor":
                    floors.append(rllib_floor(image, where, settings, threads_env()))
                    print(floor_line(pair, floors[-1]), flush=True)
                    continue
                run = ours(image, where) if name == "ours" else peer(python, where)
                runs[name].append(run)
                solved = run["reached"] and run["evaluated"] >= 450
                print(
                    f"  pair {pair + 1} {name:<4}: {run['seconds']:6.1f} s, "
                    f"{run['timesteps']:6d} env steps, {run['rate']:6.0f} env steps/s while "
                    f"training, exported policy {run['evaluated']:.1f} over {EVAL_EPISODES} "
                    f"episodes{'' if solved else ' (NOT solved)'}",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    invalid = [
        f"{sum(1 for r in runs[name] if not (r['reached'] and r['evaluated'] >= 450))} run(s) "
        f"of {name} did not solve"
        for name in runs
        if any(not (r["reached"] and r["evaluated"] >= 450) for r in runs[name])
    ]
    solve = [s["seconds"] / o["seconds"] for o, s in zip(runs["ours"], runs["sb3"], strict=True)]
    report(
        Figure(
            "CartPole time to solve, SB3 zoo PPO / ours, process -> ONNX",
            "x",
            solve,
            TARGET_SOLVE,
            higher_is_better=True,
            value_override=median("sb3", "seconds") / median("ours", "seconds"),
            low=min(solve),
            high=max(solve),
            note=f"ours {median('ours', 'seconds'):.1f} s ({median('ours', 'timesteps'):.0f} "
            f"env steps), SB3 {median('sb3', 'seconds'):.1f} s "
            f"({median('sb3', 'timesteps'):.0f} env steps) (medians)"
            + "".join(f"; {problem}" for problem in invalid),
            invalid="; ".join(invalid),
        )
    )
    report(
        floor_solve_figure(
            "CartPole time to solve, ours / Ray's floor (bare RLlib script, same image)",
            [run["seconds"] for run in runs["ours"]],
            floors,
            TARGET_FLOOR,
            settings,
        )
    )
    rate = [o["rate"] / s["rate"] for o, s in zip(runs["ours"], runs["sb3"], strict=True)]
    report(
        Figure(
            "PPO training throughput, ours / SB3 zoo (env steps/s)",
            "ratio",
            rate,
            TARGET_THROUGHPUT,
            higher_is_better=True,
            value_override=median("ours", "rate") / median("sb3", "rate"),
            low=min(rate),
            high=max(rate),
            note=f"ours {median('ours', 'rate'):.0f}, SB3 {median('sb3', 'rate'):.0f} env "
            f"steps/s while training (medians, each side's tuned settings, {os.cpu_count()} CPUs"
            f"{f', OMP_NUM_THREADS={THREADS} on both' if THREADS else ''})",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
