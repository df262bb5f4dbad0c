"""Coach hyperparameters: preset name, `rl.` dotted overrides with `:Type` suffixes, `rl_`
settings. Pure Python: Coach is not needed (step types are stood in for)."""

from __future__ import annotations

import pytest

from sagemaker_rl_container.coach import overrides
from sagemaker_rl_container.coach.config import CoachConfig
from sagemaker_rl_container.errors import UserError


class EnvironmentSteps:  # stands in for rl_coach.core_types.EnvironmentSteps
    def __init__(self, num_steps: int) -> None:
        self.num_steps = int(num_steps)


class Algorithm:
    def __init__(self) -> None:
        self.discount = 0.99
        self.num_consecutive_playing_steps = EnvironmentSteps(1)
        self.action_penalty = 0  # an int in Coach's own parameters, a float in meaning


class AgentParams:
    def __init__(self) -> None:
        self.algorithm = Algorithm()
        self.network_wrappers = {"main": type("Net", (), {})()}
        self.network_wrappers["main"].learning_rate = 0.001


class GraphManager:
    def __init__(self) -> None:
        self.agent_params = AgentParams()
        self.evaluation_steps = None


TYPES = {**overrides.BUILTIN_TYPES, "EnvironmentSteps": EnvironmentSteps}


def apply(key: str, value: object) -> GraphManager:
    graph_manager = GraphManager()
    overrides.apply(graph_manager, overrides.parse(key, value), TYPES)
    return graph_manager


def test_dotted_path_sets_attributes_and_dict_keys():
    assert apply("rl.agent_params.algorithm.discount", 0.9).agent_params.algorithm.discount == 0.9
    gm = apply("rl.agent_params.network_wrappers.main.learning_rate", "0.0005")
    assert gm.agent_params.network_wrappers["main"].learning_rate == 0.0005


def test_type_suffix_wraps_the_value():
    gm = apply("rl.evaluation_steps:EnvironmentSteps", "5")
    assert isinstance(gm.evaluation_steps, EnvironmentSteps) and gm.evaluation_steps.num_steps == 5
    assert (
        apply("rl.agent_params.algorithm.discount:float", 1).agent_params.algorithm.discount == 1.0
    )
    assert apply("rl.evaluation_steps:bool", "true").evaluation_steps is True


def test_counts_take_whole_numbers_as_a_tuner_sends_them_and_refuse_fractions():
    types = {**overrides.BUILTIN_TYPES, "EnvironmentSteps": overrides.counted(EnvironmentSteps)}

    def apply_typed(key: str, value: object) -> GraphManager:
        graph_manager = GraphManager()
        overrides.apply(graph_manager, overrides.parse(key, value), types)
        return graph_manager

    assert (
        apply_typed("rl.evaluation_steps:EnvironmentSteps", "2000.0").evaluation_steps.num_steps
        == 2000
    )
    assert apply_typed("rl.evaluation_steps:int", "1E+3").evaluation_steps == 1000
    for key in ("rl.evaluation_steps:EnvironmentSteps", "rl.evaluation_steps:int"):
        with pytest.raises(UserError) as error:
            apply_typed(key, "2000.5")
        assert str(error.value) == (
            f"hyperparameter {key}=2000.5: not a valid {key.rsplit(':', 1)[1]} (a count must be "
            "a whole number; tune it with an IntegerParameter, not a ContinuousParameter)"
        )
    # Without a type, an int in the preset is not taken for a count.
    assert (
        apply(
            "rl.agent_params.algorithm.action_penalty", "0.25"
        ).agent_params.algorithm.action_penalty
        == 0.25
    )


@pytest.mark.parametrize(
    ("value", "decoded"),
    [("0.5", 0.5), ("3", 3), ("true", True), ("[1, 2]", [1, 2]), ("tanh", "tanh"), (7, 7)],
)
def test_raw_strings_are_decoded_like_json(value, decoded):
    assert overrides.parse("rl.a", value).value == decoded


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "rl.agent_params.algorithm.discont",
            0.9,
            "hyperparameter rl.agent_params.algorithm.discont: graph_manager.agent_params.algorithm (Algorithm) has no attribute 'discont' (did you mean discount?)",
        ),
        (
            "rl.agent_params.network_wrappers.mian.learning_rate",
            1,
            "hyperparameter rl.agent_params.network_wrappers.mian.learning_rate: graph_manager.agent_params.network_wrappers (dict) has no key 'mian' (did you mean main?)",
        ),
        (
            "rl.evaluation_steps:EnvSteps",
            5,
            "hyperparameter rl.evaluation_steps:EnvSteps: unknown type 'EnvSteps'; known: EnvironmentSteps, bool, float, int, str",
        ),
        (
            "rl.evaluation_steps:EnvironmentSteps",
            "many",
            "hyperparameter rl.evaluation_steps:EnvironmentSteps='many': not a valid EnvironmentSteps (invalid literal for int() with base 10: 'many')",
        ),
        (
            "rl.agent_params.__class__",
            1,
            "hyperparameter rl.agent_params.__class__: private attributes cannot be overridden",
        ),
        (
            "rl.agent params",
            1,
            "hyperparameter rl.agent params: expected rl.<attribute>[.<attribute>...][:<Type>], e.g. rl.agent_params.algorithm.discount=0.99",
        ),
        # a value of another kind than the preset's current one
        (
            "rl.agent_params.algorithm.discount",
            "high",
            "hyperparameter rl.agent_params.algorithm.discount='high': expected a number (the preset has 0.99)",
        ),
        (
            "rl.agent_params.algorithm.discount",
            "True",
            "hyperparameter rl.agent_params.algorithm.discount=True: expected a number (the preset has 0.99)",
        ),
        (
            "rl.agent_params.network_wrappers",
            "main",
            "hyperparameter rl.agent_params.network_wrappers='main': expected an object (the preset has dict)",
        ),
    ],
)
def test_bad_overrides_fail_with_one_line(key, value, message):
    with pytest.raises(UserError) as error:
        apply(key, value)
    assert str(error.value) == message


def test_config_reads_preset_settings_and_overrides():
    config = CoachConfig.from_hyperparameters(
        {
            "RLCOACH_PRESET": "preset-cartpole-clippedppo",
            "rl.agent_params.algorithm.discount": 0.9,
            "rl_checkpoint_keep": "2",
            "rl_apply_stop_condition": "true",
            "save_model": 1,
        }
    )
    assert config.preset == "preset-cartpole-clippedppo"
    assert config.checkpoint_keep == 2 and config.apply_stop_condition is True
    assert [(o.path, o.value) for o in config.overrides] == [
        (("agent_params", "algorithm", "discount"), 0.9)
    ]
    assert CoachConfig.from_hyperparameters({"rl_preset": "p"}).preset == "p"


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        (
            {},
            "no preset: set the RLCOACH_PRESET hyperparameter to a preset file of your source directory (e.g. RLCOACH_PRESET=preset-cartpole-clippedppo for preset-cartpole-clippedppo.py)",
        ),
        (
            {"RLCOACH_PRESET": "p", "rl_checkpoint_kep": 2},
            "unknown hyperparameter rl_checkpoint_kep (did you mean rl_checkpoint_keep?); known Coach settings: RLCOACH_PRESET, rl_checkpoint_frequency, rl_checkpoint_keep, rl_checkpoint_seconds, rl_apply_stop_condition, rl_seed, rl_dataset_channel, rl_export_model, rl_rollout_workers_per_host, rl_cluster_timeout, rl_head_instance_group",
        ),
        (
            {"RLCOACH_PRESET": "p", "rl_checkpoint_keep": 0},
            "hyperparameter rl_checkpoint_keep=0 is invalid: input should be greater than 0",
        ),
    ],
)
def test_bad_settings_fail_with_one_line(hyperparameters, message):
    with pytest.raises(UserError) as error:
        CoachConfig.from_hyperparameters(hyperparameters)
    assert str(error.value) == message


def test_a_plain_estimators_false_sets_false_not_a_truthy_string():
    # Estimator(hyperparameters={"rl.agent_params.algorithm.use_trust_region": False}) sends
    # "False"; stored as the string it would be truthy and invert the user's intent.
    gm = GraphManager()
    gm.agent_params.algorithm.use_trust_region = True
    overrides.apply(
        gm, overrides.parse("rl.agent_params.algorithm.use_trust_region", "False"), TYPES
    )
    assert gm.agent_params.algorithm.use_trust_region is False
    config = CoachConfig.from_hyperparameters(
        {"RLCOACH_PRESET": "p", "rl_apply_stop_condition": "False", "rl.evaluation_steps": "None"}
    )
    assert config.apply_stop_condition is False
    assert config.overrides[0].value is None
