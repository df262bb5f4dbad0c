"""Script mode with the script's own multi-agent config: its policies and mapping function,
which the job keeps (and exports and serves by)."""

from matching import Matching
from ray.rllib.algorithms.ppo import PPOConfig
from ray.tune.registry import register_env

from sagemaker_rl_container.ray_rllib.launcher import RayLauncher


def to_policy(agent_id, episode, **kwargs):
    return "finder" if agent_id == "scout" else "namer"


class MultiAgentLauncher(RayLauncher):
    def register_env_creator(self):
        register_env("matching", lambda env_config: Matching(env_config))

    def get_algorithm_config(self):
        return (
            PPOConfig()
            .environment("matching")
            .multi_agent(policies={"finder", "namer"}, policy_mapping_fn=to_policy)
        )


if __name__ == "__main__":
    MultiAgentLauncher().train_main()
