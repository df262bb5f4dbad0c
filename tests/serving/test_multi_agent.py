"""Multi-agent environments, zero-code: an RLlib MultiAgentEnv whose agents differ trains one
policy per agent group; on a PettingZoo env (its AEC form) `rl.multi_agent.policy_mapping` and
`policies_to_train` choose the policies (tests/image/test_serve_image.py trains the parallel form,
named by its module alone and installed from a requirements.txt, into one shared policy). Each
policy is exported as its own ONNX file, `serve` answers `{"agent_id": observation}` with each
agent's policy, and a mapping that does not fit the env fails before Ray starts, naming the agent.

The envs (tests/training/sources/multi_agent/): each agent sees one of n targets and scores 1 a
step for naming it, ten steps an episode, so random play scores 10/n."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from test_serve import Server

from conftest import ROOT, SAGEMAKER_RL, make_job, read_json, run_train
from sagemaker_rl_container.metrics import parse_log

SOURCES = ROOT / "tests" / "training" / "sources" / "multi_agent"
# What each agent scores playing at random (10 steps, 1/n each), and what a policy that learned
# must beat it by, on fresh episodes played through the exported files.
RANDOM = {"scout": 2.5, "signaller": 10 / 3, "player_0": 10 / 3, "player_1": 10 / 3}
MARGIN = 3.0


def envs():
    sys.path.insert(0, str(SOURCES))
    try:
        import matching
        import pairs
    finally:
        sys.path.remove(str(SOURCES))
    return matching, pairs


def train(tmp_path, hyperparameters: dict) -> object:
    root = make_job(tmp_path, hyperparameters, source_dir=SOURCES)
    return run_train(root, timeout=300)


def onnx_actor(model: Path, metadata: dict, policy: str):
    file = metadata["multi_agent"]["policies"][policy]["onnx"]["file"]
    session = onnxruntime.InferenceSession(str(model / file))
    return lambda observation: int(
        session.run(["actions"], {"observations": observation[None].astype(np.float32)})[0][0]
    )


def action_probs(model: Path, metadata: dict, policy: str, observations: np.ndarray):
    file = metadata["multi_agent"]["policies"][policy]["onnx"]["file"]
    session = onnxruntime.InferenceSession(str(model / file))
    return session.run(["action_probs"], {"observations": observations})[0]


def play(env, actors: dict, episodes: int = 20) -> dict[str, float]:
    """Each agent's mean return over fresh episodes, acting with `actors[agent]`."""
    totals = dict.fromkeys(actors, 0.0)
    for seed in range(episodes):
        observations, _ = env.reset(seed=1000 + seed)
        while True:
            actions = {agent: actors[agent](obs) for agent, obs in observations.items()}
            observations, rewards, terminated, _, _ = env.step(actions)
            for agent, reward in rewards.items():
                totals[agent] += reward
            if terminated.get("__all__"):
                break
    return {agent: total / episodes for agent, total in totals.items()}


@pytest.fixture(scope="module")
def matching_job(tmp_path_factory):
    job = train(
        tmp_path_factory.mktemp("matching"),
        {"rl_env": "matching:Matching", "rl_stop_iterations": "8"},
    )
    assert job.returncode == 0, job.log[-3000:]
    return job


def test_agents_with_different_spaces_train_a_policy_each_and_both_learn(matching_job):
    log, model = matching_job.log, matching_job.root / "model"
    assert (
        "matching:Matching has 2 agents, acting with 2 policies: scout (scout); "
        "signaller (signaller)" in log
    )
    metadata = read_json(model / "metadata.json")
    assert metadata["multi_agent"]["mapping"] == {"scout": "scout", "signaller": "signaller"}
    policies = metadata["multi_agent"]["policies"]
    assert policies["scout"]["observation_space"]["shape"] == [4]
    assert policies["signaller"]["action_space"] == {"type": "Discrete", "n": 3, "start": 0}
    assert (model / "policies" / "scout" / "policy.onnx").is_file()
    matching, _ = envs()
    returns = play(
        matching.Matching(),
        {policy: onnx_actor(model, metadata, policy) for policy in ("scout", "signaller")},
    )
    for agent, mean in returns.items():
        assert mean >= RANDOM[agent] + MARGIN, returns


def test_the_metric_line_and_curve_carry_each_policy(matching_job, tmp_path):
    last = matching_job.metric_lines()[-1]
    for policy in ("scout", "signaller"):
        assert float(last[f"policy_{policy}_episode_len_mean"]) == pytest.approx(10, abs=0.5)
        assert float(last[f"policy_{policy}_episode_return_mean"]) > RANDOM[policy]
    # The whole return is the agents' sum.
    assert float(last["episode_return_mean"]) == pytest.approx(
        float(last["policy_scout_episode_return_mean"])
        + float(last["policy_signaller_episode_return_mean"]),
        rel=1e-3,
    )
    # The image's metric definitions, asked for these policies, read them from the log.
    printed = subprocess.run(
        [str(SAGEMAKER_RL), "metric-definitions", "--policies", "scout,signaller"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    definitions = {d["Name"]: d["Regex"] for d in json.loads(printed)}
    regex = definitions["policy_scout_episode_return_mean"]
    found = [m[1] for m in (re.search(regex, line) for line in matching_job.log.splitlines()) if m]
    assert found and float(found[-1]) == float(last["policy_scout_episode_return_mean"])
    with (matching_job.root / "output" / "data" / "training_curve.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 8 and "policy_signaller_episode_return_mean" in rows[0]
    assert parse_log(matching_job.log)[-1]["iteration"] == 8


def test_serve_answers_each_agent_with_its_policy(matching_job, tmp_path):
    model = matching_job.root / "model"
    metadata = read_json(model / "metadata.json")
    scout, signaller = (onnx_actor(model, metadata, p) for p in ("scout", "signaller"))
    seen = {"scout": np.eye(4, dtype=np.float32), "signaller": np.eye(3, dtype=np.float32)}
    server = Server(matching_job.root, tmp_path)
    try:
        server.wait_until_listening()
        status, _, body = server.post_json(
            {"scout": seen["scout"][2].tolist(), "signaller": seen["signaller"][1].tolist()}
        )
        assert status == 200, body
        assert json.loads(body) == {
            "scout": {"actions": scout(seen["scout"][2])},
            "signaller": {"actions": signaller(seen["signaller"][1])},
        }
        # A batch for one agent, with the action probabilities asked for.
        status, _, body = server.post_json(
            {"observations": {"scout": seen["scout"].tolist()}, "include": ["action_probs"]}
        )
        answer = json.loads(body)["scout"]
        assert answer["actions"] == [scout(row) for row in seen["scout"]]
        assert np.allclose(np.sum(answer["action_probs"], axis=1), 1.0, atol=1e-5)
        # An agent the model does not have, and one observation that fits the other agent.
        status, _, body = server.post_json({"scuot": seen["scout"][0].tolist()})
        assert status == 400 and "no agent 'scuot'" in json.loads(body)["error"]
        status, _, body = server.post_json({"scout": seen["signaller"][0].tolist()})
        error = json.loads(body)["error"]
        assert status == 400 and error.startswith("agent 'scout' (policy 'scout'):"), error
    finally:
        server.stop()


def test_the_mapping_and_the_policies_to_train_are_the_users(tmp_path):
    # PettingZoo's AEC form of the game (its agents act in turn). An agent's own id wins over a
    # pattern; only "first" trains, "rest" acts as initialised.
    job = train(
        tmp_path,
        {
            "rl_env": "pairs:env",
            "rl_stop_iterations": "6",
            "rl.multi_agent.policy_mapping": '{"player_0": "first", "player_*": "rest"}',
            "rl.multi_agent.policies_to_train": '["first"]',
        },
    )
    assert job.returncode == 0, job.log[-3000:]
    assert (
        "pairs:env has 2 agents, acting with 2 policies: first (player_0); rest (player_1, not trained)"
        in job.log
    )
    model = job.root / "model"
    metadata = read_json(model / "metadata.json")
    described = metadata["multi_agent"]
    assert described["mapping"] == {"player_0": "first", "player_1": "rest"}
    assert described["policies"]["first"]["trained"] is True
    assert described["policies"]["rest"]["trained"] is False
    _, pairs = envs()
    returns = play(
        _RllibView(pairs.Pairs()),
        {
            "player_0": onnx_actor(model, metadata, "first"),
            "player_1": onnx_actor(model, metadata, "rest"),
        },
    )
    assert returns["player_0"] >= RANDOM["player_0"] + MARGIN, returns
    # "first" learned to pick one action per target. "rest" kept RLlib's initial weights: its
    # action probabilities stay near 1/3, and so its sampled play scores about random's.
    targets = np.eye(3, dtype=np.float32)
    assert np.all(action_probs(model, metadata, "first", targets).max(axis=1) > 0.6)
    last = job.metric_lines()[-1]
    assert float(last["policy_rest_episode_return_mean"]) < RANDOM["player_1"] + 1.5, last
    assert float(last["policy_first_episode_return_mean"]) > RANDOM["player_0"] + MARGIN, last


def test_a_scripts_own_multi_agent_config_is_kept_and_exported_by_its_mapping(tmp_path):
    # sources/multi_agent/train.py: a RayLauncher whose PPOConfig names its policies and maps
    # agents with a function; rl.* overrides still apply on top.
    root = make_job(
        tmp_path,
        {
            "rl_stop_iterations": "2",
            "rl.training.train_batch_size_per_learner": "500",
            "rl.training.minibatch_size": "250",
            "rl.training.num_epochs": "2",
        },
        source_dir=SOURCES,
        program="train.py",
    )
    job = run_train(root, timeout=300)
    assert job.returncode == 0, job.log[-3000:]
    assert "matching has 2 agents, acting with 2 policies: finder (scout); namer (signaller)" in (
        job.log
    )
    assert "policy_namer_episode_return_mean" in job.metric_lines()[-1]
    described = read_json(root / "model" / "metadata.json")["multi_agent"]
    assert described["mapping"] == {"scout": "finder", "signaller": "namer"}
    assert (root / "model" / described["policies"]["namer"]["onnx"]["file"]).is_file()


def test_a_mapping_that_leaves_an_agent_out_fails_in_one_line_before_ray_starts(tmp_path):
    # Every other mistake's message: tests/unit/test_agent_mapping.py.
    job = train(
        tmp_path,
        {"rl_env": "matching:Matching", "rl.multi_agent.policy_mapping": '{"scout": "red"}'},
    )
    assert job.returncode == 1
    assert job.failure.strip() == (
        "hyperparameter rl.multi_agent.policy_mapping maps no policy to agent 'signaller' of "
        'rl_env \'matching:Matching\': add "signaller": "<policy>" (or a pattern that matches it)'
    )
    assert "Connected to this host's Ray node" not in job.log


class _RllibView:
    """A PettingZoo parallel env stepped as `play` steps an RLlib MultiAgentEnv."""

    def __init__(self, env) -> None:
        self.env = env

    def reset(self, seed=None):
        return self.env.reset(seed=seed)

    def step(self, actions):
        observations, rewards, _, truncated, infos = self.env.step(actions)
        if not self.env.agents:
            observations = {}
        return observations, rewards, {"__all__": not self.env.agents}, truncated, infos
