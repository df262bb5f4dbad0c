"""A simulator outside the training job: it runs CartPole-v1 itself and connects to the job over
TCP, speaking RLlib's RLlink protocol (ray.rllib.env.external.rllink, RLlib 2.60) as an external
env that does its own inference: it asks for the config and the policy's weights, plays with the
policy, sends its episodes, and takes the new weights back after each update.

    python simulator.py HOST PORT [--episodes-then-quit N]
"""

from __future__ import annotations

import argparse
import pickle
import socket
import sys
import time

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core import COMPONENT_RL_MODULE, Columns
from ray.rllib.env.external.rllink import RLlink, get_rllink_message, send_rllink_message
from ray.rllib.env.single_agent_episode import SingleAgentEpisode


def connect(host: str, port: int, timeout: float = 120) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection((host, port), timeout=30)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def ask(sock: socket.socket, request: RLlink, answer: RLlink, **body) -> dict:
    send_rllink_message(sock, {"type": request.name, **body})
    kind, reply = get_rllink_message(sock)
    if kind != answer:
        raise RuntimeError(f"asked {request.name}, got {kind.name}")
    return reply


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--sends-then-quit", type=int, default=0)
    args = parser.parse_args()
    sock = connect(args.host, args.port)
    ask(sock, RLlink.PING, RLlink.PONG)
    config = pickle.loads(ask(sock, RLlink.GET_CONFIG, RLlink.SET_CONFIG)["config"])
    module = config.get_rl_module_spec().build()
    module.set_state(ask(sock, RLlink.GET_STATE, RLlink.SET_STATE)["state"][COMPONENT_RL_MODULE])
    steps_per_send = config.get_rollout_fragment_length()
    print(f"connected to {args.host}:{args.port}; sending every {steps_per_send} steps", flush=True)

    env = gym.make("CartPole-v1")
    rng = np.random.default_rng()
    observation, _ = env.reset()
    episode = SingleAgentEpisode(observations=[observation])
    episodes, sends = [episode], 0
    while True:
        with torch.no_grad():
            logits = module.forward_exploration(
                {Columns.OBS: torch.from_numpy(np.asarray([observation], np.float32))}
            )[Columns.ACTION_DIST_INPUTS][0].numpy()
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        action = int(rng.choice(len(probs), p=probs))
        observation, reward, terminated, truncated, _ = env.step(action)
        episode.add_env_step(
            observation,
            action,
            reward,
            terminated=terminated,
            truncated=truncated,
            extra_model_outputs={
                Columns.ACTION_DIST_INPUTS: logits,
                Columns.ACTION_LOGP: float(np.log(probs[action])),
            },
        )
        if sum(len(e) for e in episodes) == steps_per_send:
            state = ask(
                sock,
                RLlink.EPISODES_AND_GET_STATE,
                RLlink.SET_STATE,
                episodes=[e.get_state() for e in episodes],
                timesteps=steps_per_send,
            )["state"]
            module.set_state(state[COMPONENT_RL_MODULE])
            sends += 1
            if sends == args.sends_then_quit:
                print(f"quitting after {sends} sends", flush=True)
                sock.close()
                sys.exit(0)
            episodes = []
            if not episode.is_done:
                episode = episode.cut()
                episodes.append(episode)
        if episode.is_done:
            observation, _ = env.reset()
            episode = SingleAgentEpisode(observations=[observation])
            episodes.append(episode)


if __name__ == "__main__":
    main()
