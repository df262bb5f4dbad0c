"""Serving a Coach export (serving/coach_policy.py): which output chooses the action, and how
an index or a mean becomes the action the environment is sent."""

from __future__ import annotations

import numpy as np
import pytest

from sagemaker_rl_container.serving.coach_policy import _action_table, _bound, _policy_output
from sagemaker_rl_container.serving.policy import ModelLoadError


@pytest.mark.parametrize(
    ("heads", "expected"),
    [
        ([{"kind": "VHead", "outputs": 1}, {"kind": "PPOHead", "outputs": 1}], ("policy", 1)),
        ([{"kind": "QHead", "outputs": 1}], ("q", 0)),
        ([{"kind": "DuelingQHead", "outputs": 1}], ("q", 0)),
        (
            [{"kind": "VHead", "outputs": 1}, {"kind": "PPOHead", "outputs": 2}],
            ("policy", 1),
        ),
    ],
)
def test_the_policy_head_wins_then_a_q_head(heads, expected):
    assert _policy_output({"heads": heads}) == expected


def test_a_network_without_a_policy_or_q_head_is_not_served():
    with pytest.raises(ModelLoadError, match="have no policy or Q head"):
        _policy_output({"agent": "SomeAgent", "heads": [{"kind": "VHead", "outputs": 1}]})


def test_an_export_without_heads_says_to_train_again():
    with pytest.raises(ModelLoadError, match="train again"):
        _policy_output({"agent": "ClippedPPOAgent"})


def test_a_discrete_action_map_turns_an_index_into_what_the_environment_is_sent():
    # AttentionDiscretization's boxes, [[low_x, low_y], [high_x, high_y]] each
    boxes = [[[0.0, 0.0], [0.5, 0.5]], [[0.5, 0.5], [1.0, 1.0]]]
    space = {
        "type": "Discrete",
        "n": 2,
        "output_filters": [
            {"name": "d", "type": "AttentionDiscretization", "target_actions": boxes}
        ],
    }
    table = _action_table(space)
    assert table[np.array([1, 0])].tolist() == [boxes[1], boxes[0]]


def test_a_multiselect_index_is_served_as_its_multi_hot_vector():
    space = {"type": "MultiSelect", "n": 3, "actions": [[0, 0], [1, 0], [0, 1]]}
    assert _action_table(space)[np.array([2])].tolist() == [[0.0, 1.0]]


def test_a_one_dimensional_action_map_serves_plain_values():
    space = {"type": "Discrete", "n": 2, "output_filters": [{"target_actions": [[-2.0], [2.0]]}]}
    assert _action_table(space).tolist() == [-2.0, 2.0]


def test_bounds_with_an_unbounded_side_clip_only_the_bounded_one():
    low = _bound([-1.0, None], -np.inf, (2,))
    high = _bound([1.0, None], np.inf, (2,))
    assert np.clip(np.array([[5.0, 5.0]]), low, high).tolist() == [[1.0, 5.0]]
    assert _bound(None, np.inf, (2,)) == np.inf
