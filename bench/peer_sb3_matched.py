#!/usr/bin/env python3
"""The SB3 side of bench/matched_bench.py: Stable-Baselines3 PPO on CartPole-v1 with the
zero-code PPO's settings (MATCHED, printed by matched_bench.py and passed as JSON), trained for
a fixed number of env steps; prints the env steps and the seconds learn() took.

    build/bench/peer-venv/bin/python bench/peer_sb3_matched.py SETTINGS_JSON
"""

from __future__ import annotations

import json
import sys
import time

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env


def main() -> int:
    settings = json.loads(sys.argv[1])
    env = make_vec_env("CartPole-v1", n_envs=settings["envs"])
    hidden = settings["hidden"]
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=settings["rollout_per_env"],
        batch_size=settings["minibatch"],
        n_epochs=settings["epochs"],
        learning_rate=settings["lr"],
        gamma=settings["gamma"],
        gae_lambda=settings["gae_lambda"],
        clip_range=settings["clip"],
        vf_coef=settings["vf_coef"],
        ent_coef=0.0,
        max_grad_norm=1e9,  # ours clips no gradient (RLlib's grad_clip=None)
        policy_kwargs={
            "net_arch": {"pi": hidden, "vf": hidden},
            "activation_fn": torch.nn.Tanh,
        },
        device="cpu",
        verbose=0,
    )
    started = time.monotonic()
    model.learn(total_timesteps=settings["steps"])
    seconds = time.monotonic() - started
    print("RESULT " + json.dumps({"timesteps": int(model.num_timesteps), "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
