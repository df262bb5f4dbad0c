"""Which output of a Coach network serving reads the action from (serving/coach_policy.py)."""

from __future__ import annotations

import pytest

from sagemaker_rl_container.serving.coach_policy import _policy_output
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
