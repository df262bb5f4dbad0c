#!/usr/bin/env python3
"""A learner-bound job where start-up is a small part: SAC on Pendulum-v1, ours against
Stable-Baselines3 SAC with rl-baselines3-zoo's tuned Pendulum-v1 settings (bench/peer_sb3_sac.py,
in the peer venv), on the same cores, in rounds, the order alternating.

Ours is `docker run ... train` of the zero-code job a user would start (rl_algorithm=SAC,
rl_env=Pendulum-v1, rl_stop_mean_return=-200: nothing else set). Both sides stop on the same
rule (the mean return of the last 10 training episodes reaches -200, then the policy, acting
deterministically, reaches it over 10 evaluation episodes); a run that ends otherwise (ours at
the time cap, SB3 at its step cap) did not solve. After each run the exported ONNX policy
plays EVAL_EPISODES fresh episodes: unlike CartPole's, a Pendulum policy that passed the stop
rule can still fail from other starting angles, so that return is reported beside the time
(issue 23: "then the exported continuous-action policy evaluated"), not a condition of it.
Figure: SB3 seconds / ours, whole process to an exported ONNX policy. Target >= 1 (issue 23).
The note gives each side's env steps to solve, env steps per second and fresh-episode return:
SB3's SAC makes one gradient step of 256 samples per env step, ours RLlib's native ratio.
Each round also runs Ray's floor: bench/bare_rllib_solve.py with the settings `train` uses
(measure.zero_code_sections) and the same stop rule, in the same image, none of our code.
Figure: ours / the floor's seconds, no target: about 1 says the gap to SB3 is RLlib's own.

    bench/sac_bench.py IMAGE_REF [PEER_PYTHON]
Environment: BENCH_SAC_PAIRS (3), BENCH_SAC_CAP_S (900: ours stops there, its time then a lower
bound and the run marked not solved).
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

PAIRS = int(os.environ.get("BENCH_SAC_PAIRS", "3"))
CAP_S = float(os.environ.get("BENCH_SAC_CAP_S", "900"))
ENV = "Pendulum-v1"
TARGET_RETURN = -200.0
TARGET = 1.0
SOLVE = {"rl_algorithm": "SAC", "rl_env": ENV, "rl_stop_mean_return": TARGET_RETURN}


def ours(image: str, root: Path) -> dict:
    seconds, log = in_image(image, layout(root, {**SOLVE, "rl_stop_seconds": CAP_S}))
    training = json.loads((root / "model" / "metadata.json").read_text())["training"]
    last = metrics(log)[-1]
    return {
        "seconds": seconds,
        "timesteps": int(last["timesteps_total"]),
        "rate": last["timesteps_total"] / last["time_total_s"],
        # Stopped by the return rule (its evaluation passed), not by the time cap.
        "reached": training["stop_reason"].startswith("mean return"),
        "evaluated": onnx_return(root / "model" / "policy.onnx", ENV),
    }


def peer(python: str, out: Path) -> dict:
    started = time.monotonic()
    proc = subprocess.run(
        [python, str(ROOT / "bench" / "peer_sb3_sac.py"), str(out)], capture_output=True, text=True
    )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"the SB3 SAC peer failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    result = json.loads((out / "result.json").read_text())
    return {
        "seconds": seconds,
        "timesteps": result["timesteps"],
        "rate": result["timesteps"] / (result["training_s"] - result["evaluation_s"]),
        "reached": result["solved"],
        "evaluated": onnx_return(out / "policy.onnx", ENV),
    }


def solved(run: dict) -> bool:
    return run["reached"]


def main() -> int:
    image = sys.argv[1]
    python = peer_python(sys.argv)
    work = Path(tempfile.mkdtemp(prefix="sac-bench-", dir="/var/tmp"))
    runs: dict[str, list[dict]] = {"ours": [], "sb3": []}
    floors: list[dict] = []
    floor = zero_code_sections("SAC", ENV) | {"target": TARGET_RETURN, "cap_s": CAP_S}
    print(
        f"\nSAC on {ENV}: ours ({image}) vs Stable-Baselines3 SAC (zoo settings) and Ray's "
        f"floor (bare RLlib), {PAIRS} rounds"
    )
    try:
        for pair in range(PAIRS):
            order = ["ours", "sb3", "floor"] if pair % 2 == 0 else ["floor", "sb3", "ours"]
            for name in order:
                where = work / f"{pair}-{name}"
                if name == "floor":
                    floors.append(rllib_floor(image, where, floor))
                    print(floor_line(pair, floors[-1]), flush=True)
                    continue
                run = ours(image, where) if name == "ours" else peer(python, where)
                runs[name].append(run)
                print(
                    f"  pair {pair + 1} {name:<4}: {run['seconds']:6.1f} s, "
                    f"{run['timesteps']:6d} env steps, {run['rate']:5.1f} env steps/s, exported "
                    f"policy {run['evaluated']:.1f} over {EVAL_EPISODES} fresh episodes"
                    f"{'' if solved(run) else ' (NOT solved)'}",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    invalid = [
        f"{sum(1 for r in runs[name] if not solved(r))} run(s) of {name} did not solve"
        for name in runs
        if not all(solved(r) for r in runs[name])
    ]
    ratios = [s["seconds"] / o["seconds"] for o, s in zip(runs["ours"], runs["sb3"], strict=True)]
    report(
        Figure(
            f"SAC {ENV} time to solve (-200), SB3 zoo SAC / ours, process -> ONNX",
            "x",
            ratios,
            TARGET,
            higher_is_better=True,
            value_override=median("sb3", "seconds") / median("ours", "seconds"),
            low=min(ratios),
            high=max(ratios),
            note=f"ours {median('ours', 'seconds'):.0f} s ({median('ours', 'timesteps'):.0f} env "
            f"steps at {median('ours', 'rate'):.0f}/s, exported policy "
            f"{median('ours', 'evaluated'):.0f} on {EVAL_EPISODES} fresh episodes), SB3 "
            f"{median('sb3', 'seconds'):.0f} s ({median('sb3', 'timesteps'):.0f} env steps at "
            f"{median('sb3', 'rate'):.0f}/s, exported policy {median('sb3', 'evaluated'):.0f}) "
            f"(medians, {os.cpu_count()} CPUs)" + "".join(f"; {problem}" for problem in invalid),
            invalid="; ".join(invalid),
        )
    )
    report(
        floor_solve_figure(
            f"SAC {ENV} time to solve, ours / Ray's floor (bare RLlib script, same image)",
            [run["seconds"] for run in runs["ours"]],
            floors,
            None,
            floor,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
