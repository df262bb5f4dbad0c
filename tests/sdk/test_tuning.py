"""SageMaker's automatic model tuning over the images, offline.

A user's code builds a `HyperparameterTuner` (SDK v2) over an image, with the metric
definitions the image prints (`metric-definitions`) and integer, continuous and categorical
ranges for `rl_*` and `rl.*` hyperparameters, and calls `fit()`. No SageMaker API is reachable
here, so the request the SDK sends (`CreateHyperParameterTuningJob`, as serialized by botocore)
is kept instead of sent. The test then does what the service does with it: for a trial, it
writes hyperparameters.json from the request's static values, the trial's tuned values (every
value a string, continuous ones in the service's Java notation) and `_tuning_objective_metric`,
runs the job in the image as SageMaker runs a training job, and reads the objective from the
job's log with the regex the tuner sent. A value a tuner may send that cannot configure the job
(a fraction for a count, from a continuous range over it) fails the trial with one line.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from local_mode import run_local

from conftest import build_image, docker, make_job, run_job

pytestmark = pytest.mark.docker

# The user's code: the tuner as the SDK documents it, over a plain Estimator of the image. The
# botocore hook stands where the SageMaker API would answer.
TUNER_CODE = """
import boto3
from botocore.awsrequest import AWSResponse
from sagemaker.estimator import Estimator
from sagemaker.session import Session
from sagemaker.tuner import (
    CategoricalParameter, ContinuousParameter, HyperparameterTuner, IntegerParameter,
)

requests = []


def create_tuning_job(model, params, **kwargs):
    requests.append(json.loads(params["body"]))
    arn = "arn:aws:sagemaker:us-west-2:123456789012:hyper-parameter-tuning-job/offline"
    return AWSResponse("https://sagemaker.us-west-2.amazonaws.com", 200, {{}}, None), {{
        "HyperParameterTuningJobArn": arn
    }}


session = Session(boto_session=boto3.Session(region_name="us-west-2"))
session.sagemaker_client.meta.events.register(
    "before-call.sagemaker.CreateHyperParameterTuningJob", create_tuning_job
)
estimator = Estimator(
    image_uri=IMAGE_URI, role=ROLE, instance_count=1, instance_type="ml.c5.xlarge",
    output_path="s3://placeholder-bucket/tuning", sagemaker_session=session,
    hyperparameters={static!r},
)
for ranges in ({ranges}, {count_ranges}):
    tuner = HyperparameterTuner(
        estimator, objective_metric_name="episode_return_mean", hyperparameter_ranges=ranges,
        metric_definitions={metric_definitions!r}, max_jobs=4, max_parallel_jobs=2,
    )
    tuner.fit(include_cls_metadata=True, wait=False)
report(requests=requests)
"""

# Per toolkit: the image, the estimator's static hyperparameters, the tuner's ranges, one
# trial's values as the service sends them (a logarithmic range's low end in Java's scientific
# notation, a bool category as the SDK wrote it), the line the job logs for each, and a second
# tuner whose continuous range covers a count, with the trial value that fails.
TOOLKITS = {
    "ray": {
        "image": "ray-pytorch-cpu",
        "static": {
            "rl_algorithm": "PPO",
            "rl_stop_iterations": 3,
            "rl.training.train_batch_size_per_learner": 500,
        },
        "ranges": """{
            "rl.training.lr": ContinuousParameter(1e-4, 1e-2, scaling_type="Logarithmic"),
            "rl.training.num_epochs": IntegerParameter(2, 8),
            "rl.debugging.log_sys_usage": CategoricalParameter([True, False]),
        }""",
        "trial": {
            "rl.training.lr": "1.0E-4",
            "rl.training.num_epochs": "2",
            "rl.debugging.log_sys_usage": "True",
        },
        "applied": [
            "Override rl.training.lr = 0.0001",
            "Override rl.training.num_epochs = 2",
            "Override rl.debugging.log_sys_usage = True",
        ],
        "count_ranges": '{"rl.training.num_epochs": ContinuousParameter(2, 8)}',
        "count_trial": {"rl.training.num_epochs": "4.7"},
        "count_failure": (
            "hyperparameter rl.training.num_epochs=4.7: a count must be a whole number; tune it "
            "with an IntegerParameter, not a ContinuousParameter"
        ),
    },
    "coach": {
        "image": "coach-tensorflow-cpu",
        # Coach's own CartPole preset (no source directory to upload), two evaluation periods.
        "static": {
            "RLCOACH_PRESET": "CartPole_ClippedPPO",
            "rl.improve_steps:EnvironmentSteps": 4096,
        },
        "ranges": """{
            "rl.agent_params.network_wrappers.main.learning_rate": ContinuousParameter(
                1e-4, 1e-2, scaling_type="Logarithmic"),
            "rl.agent_params.algorithm.optimization_epochs": IntegerParameter(2, 10),
            "rl.agent_params.algorithm.estimate_state_value_using_gae": CategoricalParameter(
                [True, False]),
        }""",
        "trial": {
            "rl.agent_params.network_wrappers.main.learning_rate": "3.1622776601683794E-4",
            "rl.agent_params.algorithm.optimization_epochs": "3",
            "rl.agent_params.algorithm.estimate_state_value_using_gae": "False",
        },
        "applied": [
            "Override rl.agent_params.network_wrappers.main.learning_rate = 0.00031622776601683794",
            "Override rl.agent_params.algorithm.optimization_epochs = 3",
            "Override rl.agent_params.algorithm.estimate_state_value_using_gae = False",
        ],
        "count_ranges": """{
            "rl.agent_params.algorithm.num_consecutive_playing_steps:EnvironmentSteps":
                ContinuousParameter(1024, 4096)}""",
        "count_trial": {
            "rl.agent_params.algorithm.num_consecutive_playing_steps:EnvironmentSteps": "2048.5"
        },
        "count_failure": (
            "hyperparameter rl.agent_params.algorithm.num_consecutive_playing_steps:EnvironmentSteps"
            "=2048.5: not a valid EnvironmentSteps (a count must be a whole number; tune it with "
            "an IntegerParameter, not a ContinuousParameter)"
        ),
    },
}


def trial_hyperparameters(request: dict, values: dict[str, str]) -> dict[str, str]:
    """hyperparameters.json of one trial, as the service writes it: the request's static values,
    the trial's values for exactly the tuned names (each inside its range) and the objective."""
    config = request["HyperParameterTuningJobConfig"]
    ranges = {r["Name"]: r for kind in config["ParameterRanges"].values() for r in kind}
    assert set(values) == set(ranges)
    for name, value in values.items():
        tuned = ranges[name]
        if "Values" in tuned:
            assert value in tuned["Values"], (name, value)
        else:
            assert float(tuned["MinValue"]) <= float(value) <= float(tuned["MaxValue"]), name
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    assert all(isinstance(v, str) for v in static.values())
    objective = config["HyperParameterTuningJobObjective"]["MetricName"]
    return {**static, **values, "_tuning_objective_metric": objective}


def run_trial(image: str, root: Path, hyperparameters: dict[str, str]):
    make_job(root)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    return run_job(image, root, timeout=600)


def objective_values(request: dict, log: str) -> list[float]:
    """The objective metric as SageMaker reads it from the log: the tuner's own regex."""
    definition = request["TrainingJobDefinition"]["AlgorithmSpecification"]
    name = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"][
        "MetricName"
    ]
    (regex,) = [d["Regex"] for d in definition["MetricDefinitions"] if d["Name"] == name]
    return [float(m) for line in log.splitlines() for m in re.findall(regex, line)]


@pytest.mark.parametrize("toolkit", list(TOOLKITS))
def test_a_tuners_trials_train_and_report_the_objective_and_a_fraction_for_a_count_fails(
    toolkit, tmp_path
):
    case = TOOLKITS[toolkit]
    image = build_image(case["image"])
    metric_definitions = json.loads(docker("run", "--rm", image, "metric-definitions").stdout)
    tuned = run_local(
        TUNER_CODE.format(
            static=case["static"],
            ranges=case["ranges"],
            count_ranges=case["count_ranges"],
            metric_definitions=metric_definitions,
        ),
        image,
        tmp_path / "sdk",
    )
    assert tuned.returncode == 0, tuned.output[-4000:]
    request, count_request = tuned.result["requests"]
    definition = request["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"]["TrainingImage"] == image
    # The SDK's own keys ride along with the static values; the job must ignore them.
    assert {"sagemaker_estimator_class_name", "sagemaker_estimator_module"} <= set(
        definition["StaticHyperParameters"]
    )

    trial = run_trial(image, tmp_path / "trial", trial_hyperparameters(request, case["trial"]))
    assert trial.returncode == 0, trial.log[-3000:]
    assert trial.succeeded
    for line in case["applied"]:
        assert line in trial.log, line
    objective = objective_values(request, trial.log)
    assert objective and all(math.isfinite(v) for v in objective), objective
    # A random CartPole policy's episodes average ~22 steps; any policy's are at least 8.
    assert objective[-1] >= 8

    failed = run_trial(
        image, tmp_path / "count", trial_hyperparameters(count_request, case["count_trial"])
    )
    assert failed.returncode == 1, failed.log[-3000:]
    assert failed.failure is not None and failed.failure.strip() == case["count_failure"]
