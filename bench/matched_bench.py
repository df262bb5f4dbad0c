#!/usr/bin/env python3
"""Matched-settings throughput: ours and Stable-Baselines3 PPO doing the same work, so that the
figure compares the two implementations, not two sets of hyperparameters (bench/peer_bench.py
runs each side with its own tuned settings).

Both sides train CartPole-v1 with the zero-code PPO's settings (MATCHED: 8 envs, 125 steps per
env and iteration = a 1,000-step batch, minibatch 256, 10 epochs, lr 0.001, gamma 0.99, GAE
lambda 1.0, clip 0.3, value loss coefficient 1.0, no entropy bonus, no gradient clipping,
separate actor and critic MLPs of [256, 256] tanh) for STEPS env steps, on the same CPUs, in
pairs, the order alternating. Ours runs in the image (`docker run ... train`, RLlib's KL
penalty off: SB3 has none); its rate is env steps / RLlib's time_total_s over the iterations
after the first (the first carries the update's one-time set-up); SB3's is env steps / the
seconds of learn(). Figure: ours / SB3 env steps per second. Target >= 1 (issue 23).
Each round also runs Ray's floor: the same settings and iterations in bench/bare_rllib_solve.py
in the same image, none of our code, its rate read as ours is. Figure: ours / the floor, no
target: about 1 says the gap to SB3 is RLlib's own.

    bench/matched_bench.py IMAGE_REF [PEER_PYTHON]
Environment: BENCH_MATCHED_PAIRS (3), BENCH_MATCHED_STEPS (30000).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from figures import ROOT, Figure, report
from measure import in_image, layout, metrics, peer_python, rllib_floor, zero_code_sections

PAIRS = int(os.environ.get("BENCH_MATCHED_PAIRS", "3"))
STEPS = int(os.environ.get("BENCH_MATCHED_STEPS", "30000"))
TARGET = 1.0
MATCHED = {
    "envs": 8,
    "rollout_per_env": 125,
    "minibatch": 256,
    "epochs": 10,
    "lr": 0.001,
    "gamma": 0.99,
    "gae_lambda": 1.0,
    "clip": 0.3,
    "vf_coef": 1.0,
    "hidden": [256, 256],
}


def ours_hyperparameters() -> dict:
    batch = MATCHED["envs"] * MATCHED["rollout_per_env"]
    return {
        "rl_algorithm": "PPO",
        "rl_env": "CartPole-v1",
        "rl_stop_iterations": -(-STEPS // batch),
        "rl_stop_mean_return": 1e9,  # never: a fixed amount of work
        "rl_checkpoint_frequency": 0,
        "rl.env_runners.num_envs_per_env_runner": MATCHED["envs"],
        "rl.training.train_batch_size_per_learner": batch,
        "rl.training.minibatch_size": MATCHED["minibatch"],
        "rl.training.num_epochs": MATCHED["epochs"],
        "rl.training.lr": MATCHED["lr"],
        "rl.training.gamma": MATCHED["gamma"],
        "rl.training.lambda_": MATCHED["gae_lambda"],
        "rl.training.clip_param": MATCHED["clip"],
        "rl.training.vf_loss_coeff": MATCHED["vf_coef"],
        "rl.training.entropy_coeff": 0.0,
        "rl.training.use_kl_loss": False,
        "rl.rl_module.model_config": {
            "fcnet_hiddens": MATCHED["hidden"],
            "fcnet_activation": "tanh",
            "vf_share_layers": False,
        },
    }


def floor_settings() -> dict:
    """Ray's floor doing the same work: the zero-code sections with the same `rl.*` settings
    as ours, for as many iterations."""
    settings = zero_code_sections()
    hyperparameters = ours_hyperparameters()
    for key, value in hyperparameters.items():
        if key.startswith("rl."):
            section, name = key.removeprefix("rl.").split(".", 1)
            settings["sections"].setdefault(section, {})[name] = value
    return settings | {"iterations": hyperparameters["rl_stop_iterations"]}


def ours(image: str, root: Path) -> float:
    _, log = in_image(image, layout(root, ours_hyperparameters()))
    rows = metrics(log)
    first, last = rows[0], rows[-1]
    return (last["timesteps_total"] - first["timesteps_total"]) / (
        last["time_total_s"] - first["time_total_s"]
    )


def peer(python: str) -> float:
    proc = subprocess.run(
        [
            python,
            str(ROOT / "bench" / "peer_sb3_matched.py"),
            json.dumps(MATCHED | {"steps": STEPS}),
        ],
        capture_output=True,
        text=True,
    )
    line = next((row for row in proc.stdout.splitlines() if row.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        sys.exit(f"the SB3 peer failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    result = json.loads(line.split(" ", 1)[1])
    return result["timesteps"] / result["seconds"]


def main() -> int:
    image = sys.argv[1]
    python = peer_python(sys.argv)
    work = Path(tempfile.mkdtemp(prefix="matched-bench-", dir="/var/tmp"))
    rates: dict[str, list[float]] = {"ours": [], "sb3": [], "floor": []}
    floor = floor_settings()
    print(
        f"\nours ({image}) vs Stable-Baselines3 PPO and Ray's floor (bare RLlib), same "
        f"settings, {STEPS} env steps, {PAIRS} rounds"
    )
    try:
        for pair in range(PAIRS):
            for name in ["ours", "sb3", "floor"] if pair % 2 == 0 else ["floor", "sb3", "ours"]:
                if name == "ours":
                    rate = ours(image, work / f"{pair}")
                elif name == "sb3":
                    rate = peer(python)
                else:
                    rate = rllib_floor(image, work / f"{pair}-floor", floor)["rate"]
                rates[name].append(rate)
                print(f"  pair {pair + 1} {name:<4}: {rate:6.0f} env steps/s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratios = [o / s for o, s in zip(rates["ours"], rates["sb3"], strict=True)]
    ours_rate, sb3_rate = (statistics.median(rates[name]) for name in ("ours", "sb3"))
    report(
        Figure(
            "PPO throughput, same settings, ours / SB3 (env steps/s)",
            "ratio",
            ratios,
            TARGET,
            higher_is_better=True,
            value_override=ours_rate / sb3_rate,
            low=min(ratios),
            high=max(ratios),
            note=f"ours {ours_rate:.0f}, SB3 {sb3_rate:.0f} env steps/s (medians), "
            f"{STEPS} env steps of CartPole-v1 each, {os.cpu_count()} CPUs; settings: "
            + ", ".join(f"{key} {value}" for key, value in MATCHED.items()),
        )
    )
    to_floor = [o / f for o, f in zip(rates["ours"], rates["floor"], strict=True)]
    floor_rate = statistics.median(rates["floor"])
    report(
        Figure(
            "PPO throughput, same settings, ours / Ray's floor (bare RLlib, same image)",
            "ratio",
            to_floor,
            None,
            higher_is_better=True,
            value_override=ours_rate / floor_rate,
            low=min(to_floor),
            high=max(to_floor),
            note=f"ours {ours_rate:.0f}, the floor {floor_rate:.0f} env steps/s (medians): "
            f"bench/bare_rllib_solve.py in the same image with the same settings, "
            f"{floor['iterations']} iterations; where this is about 1 and SB3 is ahead, the gap "
            f"is RLlib's own",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
