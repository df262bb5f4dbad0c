"""What a user can pick, row by row: every preset shipped inside the Coach images' `rl_coach`
package, this suite's presets for the action-space kinds no shipped preset with an
installable environment uses, and every algorithm the Ray images accept as `rl_algorithm`
on an environment of each action-space kind.

A row either runs (train a few thousand steps or a few iterations, export, serve) or says in
one line why it cannot run here; test_catalogue.py checks both, and that every preset the
image ships and every algorithm RLlib registers has a row.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

COACH_IMAGES = ("coach-tensorflow-cpu", "coach-mxnet-cpu")
RAY_IMAGES = ("ray-pytorch-cpu", "ray-tensorflow-cpu")

# Why a shipped preset's environment cannot be had here, by the preset's name prefix.
NO_ENVIRONMENT = {
    "Atari_": "gym 0.12's Atari envs need atari-py, which no registry has as a Python 3.9 "
    "wheel; its source needs cmake and a C++ compiler, which the image does not carry (and only "
    "the yanked atari-py 0.2.6 source still holds the game ROMs)",
    "MontezumaRevenge_": "gym 0.12's Atari envs need atari-py, which no registry has as a "
    "Python 3.9 wheel; its source needs cmake and a C++ compiler, which the image does not carry",
    "CARLA_": "needs the CARLA simulator server, which no package registry serves",
    "Starcraft_": "needs the StarCraft II game binaries (pysc2), which no package registry serves",
    "Mujoco_": "gym 0.12's MuJoCo environments need mujoco-py with the MuJoCo 1.50 binaries, "
    "which no package registry serves (mujoco-py fetches them from MuJoCo's own site)",
    "InvertedPendulum_": "gym 0.12's InvertedPendulum-v2 needs mujoco-py with the MuJoCo 1.50 "
    "binaries, which no package registry serves",
    "Fetch_": "gym 0.12's Fetch robotics environments need mujoco-py with the MuJoCo 1.50 "
    "binaries, which no package registry serves",
    "Pendulum_HAC": "its PendulumWithGoals environment subclasses gym's MuJoCo env and needs "
    "mujoco-py with the MuJoCo 1.50 binaries, which no package registry serves",
}

# Coach 1.0.0's rl_coach/presets, as the images install it (test_catalogue checks the list).
COACH_PRESETS = (
    "Acrobot_DDQN_BCQ_BatchRL",
    *(
        f"Atari_{name}"
        for name in (
            "A3C",
            "A3C_LSTM",
            "ACER",
            "Bootstrapped_DQN",
            "C51",
            "DDQN",
            "DDQN_with_PER",
            "DQN",
            "DQN_with_PER",
            "Dueling_DDQN",
            "Dueling_DDQN_with_PER_OpenAI",
            "NEC",
            "NStepQ",
            "QR_DQN",
            "Rainbow",
            "UCB_with_Q_Ensembles",
        )
    ),
    "BitFlip_DQN",
    "BitFlip_DQN_HER",
    "CARLA_3_Cameras_DDPG",
    "CARLA_CIL",
    "CARLA_DDPG",
    "CARLA_Dueling_DDQN",
    *(
        f"CartPole_{name}"
        for name in (
            "A3C",
            "ACER",
            "ClippedPPO",
            "DDQN_BCQ_BatchRL",
            "DDQN_BatchRL",
            "DFP",
            "DQN",
            "Dueling_DDQN",
            "NEC",
            "NStepQ",
            "PAL",
            "PG",
            "QR_DQN",
            "Rainbow",
        )
    ),
    "ControlSuite_DDPG",
    *(
        f"Doom_{name}"
        for name in (
            "Basic_A3C",
            "Basic_ACER",
            "Basic_BC",
            "Basic_DFP",
            "Basic_DQN",
            "Basic_Dueling_DDQN",
            "Battle_DFP",
            "Health_DFP",
            "Health_MMC",
            "Health_Supreme_DFP",
        )
    ),
    "ExplorationChain_Bootstrapped_DQN",
    "ExplorationChain_Dueling_DDQN",
    "ExplorationChain_UCB_Q_ensembles",
    "Fetch_DDPG_HER_baselines",
    "InvertedPendulum_PG",
    "MontezumaRevenge_BC",
    *(
        f"Mujoco_{name}"
        for name in ("A3C", "A3C_LSTM", "ClippedPPO", "DDPG", "NAF", "PPO", "SAC", "TD3")
    ),
    "Pendulum_HAC",
    "Starcraft_CollectMinerals_A3C",
    "Starcraft_CollectMinerals_Dueling_DDQN",
)

# This suite's presets (tests/coach/sources) for what no runnable shipped preset covers:
# continuous actions on a classic-control env, with each continuous-action agent family.
PROJECT_PRESETS = (
    "preset-pendulum-clippedppo",
    "preset-pendulum-ddpg",
    "preset-pendulum-td3",
    "preset-pendulum-sac",
    "preset-multiselect-dqn",
    "preset-attention-dqn",
)

# A few thousand steps whatever the preset's own schedule: two evaluation periods.
COACH_SHORT_RUN = {
    "rl.improve_steps:EnvironmentSteps": "3000",
    "rl.steps_between_evaluation_periods:EnvironmentSteps": "1500",
    "rl.evaluation_steps:EnvironmentEpisodes": "1",
    "rl_apply_stop_condition": "false",
}
# Batch RL presets count training steps, evaluating after each epoch over the dataset that
# their heatup collects.
COACH_BATCH_RL_SHORT_RUN = {
    "rl.improve_steps:TrainingSteps": "100",
    "rl.steps_between_evaluation_periods:TrainingSteps": "50",
    "rl.evaluation_steps:EnvironmentEpisodes": "1",
    "rl.heatup_steps:EnvironmentSteps": "2000",
    "rl_apply_stop_condition": "false",
}


# Doom's pixels make every step dear: one evaluation period, after a short heatup.
COACH_DOOM_SHORT_RUN = {
    "rl.improve_steps:EnvironmentSteps": "1500",
    "rl.steps_between_evaluation_periods:EnvironmentSteps": "1500",
    "rl.evaluation_steps:EnvironmentEpisodes": "1",
    "rl.heatup_steps:EnvironmentSteps": "500",
    "rl_apply_stop_condition": "false",
}


@dataclass(frozen=True)
class Row:
    toolkit: str  # "coach" or "ray"
    name: str  # a preset, or ALGORITHM on ENV
    image: str
    hyperparameters: dict[str, str] = field(default_factory=dict)
    # Why it cannot run here at all (nothing is started); None: it runs.
    unavailable: str | None = None
    # What the image's one-line refusal says, for a row it refuses before training.
    refused: str | None = None
    # The source directory (tests/catalogue/sources/<name>, else tests/coach/sources).
    source: str | None = None

    @property
    def id(self) -> str:
        return f"{self.image}:{self.name}"


def coach_rows() -> list[Row]:
    rows = []
    for image in COACH_IMAGES:
        for preset in COACH_PRESETS:
            reason = next(
                (why for prefix, why in NO_ENVIRONMENT.items() if preset.startswith(prefix)), None
            )
            short = COACH_BATCH_RL_SHORT_RUN if "BatchRL" in preset else COACH_SHORT_RUN
            source = None
            if preset.startswith("Doom_"):
                short, source = COACH_DOOM_SHORT_RUN, "vizdoom"
            elif preset.startswith("ControlSuite_"):
                # Coach's `-lvl`: the preset lists the suite's tasks and needs one chosen.
                level = {"rl.env_params.level.selected_level": "cartpole:swingup"}
                short, source = {**COACH_SHORT_RUN, **level}, "dm_control"
            hyperparameters = {"RLCOACH_PRESET": preset, **short}
            rows.append(Row("coach", preset, image, hyperparameters, reason, source=source))
        for preset in PROJECT_PRESETS:
            rows.append(Row("coach", preset, image, {"RLCOACH_PRESET": preset, **COACH_SHORT_RUN}))
    return rows


# RLlib 2.60's registry (ray.rllib.algorithms.registry.ALGORITHMS; test_catalogue checks it).
RAY_ALGORITHMS = ("APPO", "BC", "CQL", "DQN", "DreamerV3", "IMPALA", "IQL", "MARWIL", "PPO", "SAC")
RAY_ENVS = {"Discrete": "CartPole-v1", "Box": "Pendulum-v1"}
OFFLINE = ("BC", "CQL", "IQL", "MARWIL")
# Each algorithm's few iterations, kept short (defaults otherwise).
RAY_SHORT_RUN = {
    "PPO": {"rl.training.train_batch_size_per_learner": "1000", "rl.training.num_epochs": "2"},
    "APPO": {},
    "IMPALA": {},
    "DQN": {"rl.training.num_steps_sampled_before_learning_starts": "200"},
    "SAC": {"rl.training.num_steps_sampled_before_learning_starts": "200"},
    "DreamerV3": {"rl.training.model_size": "XS", "rl.training.training_ratio": "64"},
}


def ray_rows() -> list[Row]:
    rows = []
    for image in RAY_IMAGES:
        for algorithm in RAY_ALGORITHMS:
            for kind, env in RAY_ENVS.items():
                hyperparameters = {
                    "rl_algorithm": algorithm,
                    "rl_env": env,
                    "rl_stop_iterations": "2",
                    **RAY_SHORT_RUN.get(algorithm, {}),
                }
                rows.append(Row("ray", f"{algorithm} on {env} ({kind})", image, hyperparameters))
    return rows


# Rows the image refuses before training, and the words of its one-line reason.
REFUSED = {
    "ray-pytorch-cpu:DQN on Pendulum-v1 (Box)": "rl_algorithm=DQN takes Discrete actions only",
    "ray-tensorflow-cpu:DQN on Pendulum-v1 (Box)": "rl_algorithm=DQN takes Discrete actions only",
    "ray-pytorch-cpu:CQL on CartPole-v1 (Discrete)": "rl_algorithm=CQL takes Box actions only",
    "ray-tensorflow-cpu:CQL on CartPole-v1 (Discrete)": "rl_algorithm=CQL takes Box actions only",
    "ray-pytorch-cpu:IQL on CartPole-v1 (Discrete)": "rl_algorithm=IQL takes Box actions only",
    "ray-tensorflow-cpu:IQL on CartPole-v1 (Discrete)": "rl_algorithm=IQL takes Box actions only",
    **{
        f"ray-tensorflow-cpu:{algorithm} on {env}": "TensorFlow runs on RLlib's old API stack only"
        for algorithm, env in (
            ("DQN", "CartPole-v1 (Discrete)"),
            ("SAC", "Pendulum-v1 (Box)"),
            ("DreamerV3", "CartPole-v1 (Discrete)"),
            ("DreamerV3", "Pendulum-v1 (Box)"),
            ("BC", "CartPole-v1 (Discrete)"),
            ("BC", "Pendulum-v1 (Box)"),
            ("MARWIL", "CartPole-v1 (Discrete)"),
            ("MARWIL", "Pendulum-v1 (Box)"),
            ("CQL", "Pendulum-v1 (Box)"),
            ("IQL", "Pendulum-v1 (Box)"),
        )
    },
    # Behavioural cloning from demonstrations that Coach's package does not ship.
    **{
        f"{image}:Doom_Basic_BC": "the preset loads its dataset from 'datasets/doom_basic.p', "
        "which is not there"
        for image in COACH_IMAGES
    },
    **{
        f"coach-mxnet-cpu:{preset}": "coach-tensorflow image"
        for preset in (
            "Acrobot_DDQN_BCQ_BatchRL",
            "CartPole_DDQN_BCQ_BatchRL",
            "ControlSuite_DDPG",
            "Doom_Basic_A3C",
            "Doom_Basic_ACER",
            "Doom_Basic_DFP",
            "Doom_Basic_Dueling_DDQN",
            "Doom_Battle_DFP",
            "Doom_Health_DFP",
            "Doom_Health_Supreme_DFP",
            "CartPole_A3C",
            "CartPole_ACER",
            "CartPole_DFP",
            "CartPole_Dueling_DDQN",
            "CartPole_NEC",
            "CartPole_NStepQ",
            "CartPole_PG",
            "CartPole_QR_DQN",
            "CartPole_Rainbow",
            "ExplorationChain_Bootstrapped_DQN",
            "ExplorationChain_Dueling_DDQN",
            "ExplorationChain_UCB_Q_ensembles",
            "preset-pendulum-ddpg",
            "preset-pendulum-td3",
            "preset-pendulum-sac",
        )
    },
}


def all_rows() -> list[Row]:
    rows = coach_rows() + ray_rows()
    return [dataclasses.replace(row, refused=REFUSED.get(row.id)) for row in rows]
