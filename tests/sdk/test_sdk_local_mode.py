"""Jobs driven by the real SageMaker Python SDK (v2) in local mode, as a user runs them: the
README's snippets, a plain Estimator's str() encodings, RLEstimator's JSON, two instances,
script mode with requirements.txt and the SM_* environment, a Coach preset, a tuning trial's
extra key, a bad hyperparameter, and hosting the trained model with Model.deploy."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import containers
import pytest
from local_mode import LocalRun, container_exit_codes, run_local

from conftest import ROOT, build_image, build_wheel, post_json, serving_container


# SageMaker local mode leaves each job's containers behind (the tests read their exit codes):
# they are removed once the test that ran them ends, so that a run of the suite leaves none.
@pytest.fixture(autouse=True)
def remove_the_jobs_containers(tmp_path: Path) -> Iterator[None]:
    yield
    containers.remove_compose_containers(tmp_path)


@pytest.fixture(scope="module", autouse=True)
def remove_every_jobs_containers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Module-scoped jobs (tmp_path_factory) too.
    yield
    containers.remove_compose_containers(tmp_path_factory.getbasetemp())


pytestmark = pytest.mark.docker

SOURCES = ROOT / "tests" / "training" / "sources"
COACH_SOURCES = ROOT / "tests" / "coach" / "sources"


def readme_snippets() -> list[str]:
    """The Python snippets of the README's "Running on SageMaker" section, in order."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running on SageMaker", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def on_local_mode(snippet: str) -> str:
    """The one change a README snippet needs to run locally: local mode instead of an ML
    instance (the SDK then uses local mode's session, configured by the test's HOME)."""
    assert snippet.count('instance_type="ml.c5.2xlarge"') == 1
    return snippet.replace('instance_type="ml.c5.2xlarge"', 'instance_type="local"')


def extract(uri: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(uri.removeprefix("file://")) as archive:
        archive.extractall(into, filter="data")
    return into


def values(lines: list[str], regex: str, anchored: bool = False) -> list[float]:
    """What a SageMaker metric definition reads from the log, line by line."""
    found = []
    for line in lines:
        match = re.match(regex, line) if anchored else re.search(regex, line)
        if match:
            found.append(float(match.group(1)))
    return found


def metadata_of(model_data: str, into: Path) -> dict:
    """The exported model's metadata.json, from its model.tar.gz."""
    return json.loads((extract(model_data, into) / "metadata.json").read_text())


def failure_of(run_dir: Path) -> str:
    """output/failure of a job that failed, from the output.tar.gz local mode left."""
    # SDK v2 nests it a directory deeper than v3
    (archive,) = run_dir.glob("containers/**/compressed_artifacts/output.tar.gz")
    with tarfile.open(archive) as output:
        return output.extractfile("failure").read().decode()


# ---- the README, zero-code ------------------------------------------------------------------

REPORT_TRAINING = """
from sagemaker.rl import RLEstimator, RLToolkit
report(
    model_data=estimator.model_data,
    sdk_ray_metrics=RLEstimator.default_metric_definitions(RLToolkit.RAY),
    metric_definitions=estimator.metric_definitions,
)
"""


@pytest.fixture(scope="module")
def readme_job(image, tmp_path_factory) -> tuple[LocalRun, Path]:
    """The README's first snippet, run once; its model extracted."""
    workdir = tmp_path_factory.mktemp("sdk-readme")
    run = run_local(on_local_mode(readme_snippets()[0]) + REPORT_TRAINING, image, workdir)
    assert run.returncode == 0, run.output[-4000:]
    return run, extract(run.result["model_data"], workdir / "model")


def test_the_readme_zero_code_job_trains_exports_and_reports_metrics(readme_job):
    run, model = readme_job
    assert {"policy.onnx", "metadata.json", "checkpoint"} <= {p.name for p in model.iterdir()}
    meta = json.loads((model / "metadata.json").read_text())
    assert meta["training"]["stop_reason"].startswith("mean return ")
    lines = run.container_lines()
    # The hyperparameters arrived as Python's str() of a dict, a list and a bool.
    assert not any("is invalid" in line for line in lines)

    # The SDK's own default Ray metric definitions, as old notebooks and tuning jobs use them
    sdk = {d["Name"]: d["Regex"] for d in run.result["sdk_ray_metrics"]}
    rewards = values(lines, sdk["episode_reward_mean"])
    # Each is one iteration's mean; the stop compared the last 10+ episodes' mean (>= 450),
    # so at least one iteration among them averaged 450 or more.
    assert rewards and max(rewards) >= 450 and rewards[-1] > rewards[0]
    assert values(lines, sdk["episode_reward_max"])
    # and the image's metric-definitions, as the README passes them
    image_defs = {d["Name"]: d["Regex"] for d in run.result["metric_definitions"]}
    iterations = values(lines, image_defs["iteration"])
    assert iterations == [float(i) for i in range(1, len(iterations) + 1)]
    assert values(lines, image_defs["episode_reward_mean"]) == rewards


def test_the_exported_policy_balances_the_pole(readme_job):
    import gymnasium as gym
    import numpy as np
    import onnxruntime

    _, model = readme_job
    session = onnxruntime.InferenceSession(str(model / "policy.onnx"))
    env = gym.make("CartPole-v1")
    returns = []
    for seed in range(5):
        observation, _ = env.reset(seed=1000 + seed)
        total, done = 0.0, False
        while not done:
            (action,) = session.run(
                ["actions"], {"observations": observation[None].astype(np.float32)}
            )
            observation, reward, terminated, truncated, _ = env.step(int(action[0]))
            total += reward
            done = terminated or truncated
        returns.append(total)
    # a random policy averages ~22 on CartPole-v1
    assert sum(returns) / len(returns) >= 400, returns


@pytest.mark.parametrize("serving", ["training image", "serve-only image"])
def test_the_trained_model_is_served_by_model_deploy(readme_job, serving, request, tmp_path):
    import numpy as np
    import onnxruntime

    # The same model.tar.gz, on the image that trained it or on the serve-only image.
    image = request.getfixturevalue("image" if serving == "training image" else "serve_image")
    run, model = readme_job
    observations = [[0.0, 0.0, 0.05, 0.0], [0.01, -0.3, -0.05, 0.4], [0.1, 0.2, 0.0, -0.2]]
    served = deployed_answers(
        run.result["model_data"], image, tmp_path, one=observations[0], batch=observations
    )
    # The endpoint answers what the exported policy computes.
    session = onnxruntime.InferenceSession(str(model / "policy.onnx"))
    (expected,) = session.run(["actions"], {"observations": np.array(observations, np.float32)})
    assert served["one"] == {"actions": int(expected[0])}
    assert served["batch"] == {"actions": expected.tolist()}


def deployed_answers(model_data: str, image: str, workdir: Path, **payloads: object) -> dict:
    """A user's code: the model deployed with Model.deploy in local mode, each payload sent
    with predict (as JSON), the endpoint deleted; the answers by payload name."""
    served = run_local(
        f"""
        from sagemaker.deserializers import JSONDeserializer
        from sagemaker.model import Model
        from sagemaker.predictor import Predictor
        from sagemaker.serializers import JSONSerializer

        model = Model(image_uri=IMAGE_URI, model_data={model_data!r}, role=ROLE,
                      predictor_cls=Predictor)
        predictor = model.deploy(initial_instance_count=1, instance_type="local")
        predictor.serializer = JSONSerializer()
        predictor.deserializer = JSONDeserializer()
        try:
            report(**{{name: predictor.predict(payload)
                       for name, payload in {payloads!r}.items()}})
        finally:
            predictor.delete_endpoint()
        """,
        image,
        workdir,
    )
    assert served.returncode == 0, served.output[-4000:]
    return served.result


# ---- batch transform ------------------------------------------------------------------------

TRANSFORM_OBSERVATIONS = 10_000
# SingleRecord sends one request per line; the SDK's local client sends each str body apart
# from its headers, and Nagle's algorithm then waits on the server's delayed ACK: ~40 ms a
# record here, so that strategy transforms the file's first lines only.
SINGLE_RECORDS = 100


def test_a_batch_transform_answers_every_observation_as_the_exported_policy_does(
    readme_job, serve_image, tmp_path
):
    """Transformer over a file of observations, per line, in each content type and strategy
    a user picks; every answer is checked against policy.onnx."""
    import numpy as np
    import onnxruntime

    run, model = readme_job
    rng = np.random.default_rng(7)
    scale = np.array([2.4, 3.0, 0.21, 3.0], np.float32)
    observations = (rng.uniform(-1, 1, (TRANSFORM_OBSERVATIONS, 4)) * scale).astype(np.float32)
    rows = [[float(v) for v in row] for row in observations]
    lines = {
        "jsonl": [json.dumps(row) + "\n" for row in rows],
        "csv": [",".join(repr(v) for v in row) + "\n" for row in rows],
    }
    jobs = []
    for kind, content_type in (("jsonl", "application/jsonlines"), ("csv", "text/csv")):
        for strategy, count in (("MultiRecord", len(rows)), ("SingleRecord", SINGLE_RECORDS)):
            data = tmp_path / f"in-{kind}-{strategy}"
            data.mkdir()
            (data / f"observations.{kind}").write_text("".join(lines[kind][:count]))
            jobs.append((f"{kind}-{strategy}", str(data), content_type, strategy))
    transformed = run_local(
        f"""
        from sagemaker.model import Model

        model = Model(image_uri=IMAGE_URI, model_data={run.result["model_data"]!r}, role=ROLE)
        outputs = {{}}
        for job, data, content_type, strategy in {jobs!r}:
            out = os.path.join(CONTAINERS, "out-" + job)
            transformer = model.transformer(
                instance_count=1, instance_type="local", strategy=strategy,
                assemble_with="Line", accept=content_type, output_path="file://" + out,
            )
            # logs=False: the job's logs would be read from CloudWatch Logs, unreachable here.
            transformer.transform("file://" + data, content_type=content_type,
                                  split_type="Line", logs=False)
            outputs[job] = out
        report(outputs=outputs)
        """,
        serve_image,
        tmp_path / "run",
    )
    assert transformed.returncode == 0, transformed.output[-4000:]
    session = onnxruntime.InferenceSession(str(model / "policy.onnx"))
    (expected,) = session.run(["actions"], {"observations": observations})
    expected = expected.tolist()
    assert 0.2 < np.mean(expected) < 0.8  # the policy answers both actions on these
    assert set(transformed.result["outputs"]) == {job for job, *_ in jobs}
    for job, out in transformed.result["outputs"].items():
        (output,) = Path(out).glob("*.out")
        answers = [line for line in output.read_text().split("\n") if line]
        if job.startswith("jsonl"):
            answers = [json.loads(line)["actions"] for line in answers]
        else:
            answers = [int(float(line)) for line in answers]
        assert answers == expected[: len(answers)], job
        assert len(answers) == (SINGLE_RECORDS if "Single" in job else TRANSFORM_OBSERVATIONS)


# ---- the README, script mode ----------------------------------------------------------------


def test_the_readme_script_mode_job_runs_its_launcher(image, tmp_path):
    shutil.copytree(SOURCES / "corridor", tmp_path / "src")
    run = run_local(
        on_local_mode(readme_snippets()[1]) + "\nreport(model_data=estimator.model_data)\n",
        image,
        tmp_path,
    )
    assert run.returncode == 0, run.output[-4000:]
    meta = metadata_of(run.result["model_data"], tmp_path / "model")
    assert meta["env"] == "corridor-v0" and meta["env_config"] == {"length": 4}
    assert meta["training"]["iterations"] == 3


# ---- what SageMaker's script mode gives any script -------------------------------------------


def test_a_sagemaker_script_gets_requirements_sm_environment_and_channels(image, tmp_path):
    source = tmp_path / "src"
    shutil.copytree(SOURCES / "sm_script", source)
    (source / "requirements.txt").write_text(f"./{build_wheel(source)}\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "episodes.csv").write_text("a,b\n1,2\n")
    run = run_local(
        f"""
        from sagemaker.estimator import Estimator

        estimator = Estimator(
            entry_point="train.py", source_dir="src", image_uri=IMAGE_URI, role=ROLE,
            instance_count=1, instance_type="local",
            hyperparameters={{"episodes": 3, "layers": [64, 64]}},
        )
        estimator.fit({{"training": "file://{data}"}})
        report(model_data=estimator.model_data)
        """,
        image,
        tmp_path,
    )
    assert run.returncode == 0, run.output[-4000:]
    summary = json.loads(
        (extract(run.result["model_data"], tmp_path / "model") / "summary.json").read_text()
    )
    assert summary["episodes"] == 3 and summary["layers"] == [64, 64]
    assert summary["hps"]["episodes"] == 3 and summary["hps"]["layers"] == [64, 64]
    assert summary["channels"] == ["training"] and summary["training_files"] == ["episodes.csv"]
    assert summary["requirement"] == "installed from requirements.txt"
    assert summary["hosts"] == [summary["current_host"]]
    assert summary["current_host"].startswith("algo-1-")


# ---- two instances --------------------------------------------------------------------------


def test_two_instances_form_one_ray_cluster_and_both_exit_0(image, tmp_path):
    run = run_local(
        """
        from sagemaker.estimator import Estimator

        estimator = Estimator(
            image_uri=IMAGE_URI, role=ROLE, instance_count=2, instance_type="local",
            hyperparameters={
                "rl_stop_iterations": 3,
                "rl.env_runners.num_env_runners": 2,
                "rl.training.train_batch_size_per_learner": 500,
                # what a tuning trial adds beside the user's hyperparameters
                "_tuning_objective_metric": "episode_reward_mean",
            },
        )
        estimator.fit()
        report(model_data=estimator.model_data)
        """,
        image,
        tmp_path,
    )
    assert run.returncode == 0, run.output[-4000:]
    hosts = run.hosts()
    assert len(hosts) == 2, hosts
    placement = next(line for line in run.container_lines() if "Env runners per host: " in line)
    assert all(f"{host} x" in placement for host in hosts), placement
    meta = metadata_of(run.result["model_data"], tmp_path / "model")
    assert meta["training"]["hosts"] == 2 and meta["training"]["iterations"] == 3
    assert container_exit_codes(run) == dict.fromkeys(hosts, 0)


# ---- bad input ------------------------------------------------------------------------------


def test_a_misspelt_hyperparameter_fails_the_job_with_one_line(image, tmp_path):
    run = run_local(
        """
        from sagemaker.estimator import Estimator

        estimator = Estimator(image_uri=IMAGE_URI, role=ROLE, instance_count=1,
                              instance_type="local", hyperparameters={"rl_stop_iteration": 2})
        try:
            estimator.fit()
        except RuntimeError as error:
            report(error=str(error))
        """,
        image,
        tmp_path,
    )
    assert "Process exited with code: 1" in run.result["error"]
    failure = failure_of(tmp_path)
    assert failure.startswith(
        "unknown hyperparameter rl_stop_iteration (did you mean rl_stop_iterations?)"
    )
    assert "\n" not in failure.strip()


# ---- RL Coach -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coach_image() -> str:
    return build_image("coach-tensorflow-cpu")


# The examples' Coach entry script, as the old notebooks named it beside their presets.
OLD_COACH_ENTRY_SCRIPT = """\
from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher


class MyLauncher(SageMakerCoachPresetLauncher):
    def default_preset_name(self):
        return "preset-cartpole-dqn"


if __name__ == "__main__":
    MyLauncher.train_main()
"""


@pytest.mark.parametrize("estimator", ["RLEstimator", "Estimator"])
def test_a_coach_preset_trains_whichever_way_the_sdk_encodes(coach_image, tmp_path, estimator):
    source = tmp_path / "src"
    shutil.copytree(COACH_SOURCES, source)
    (source / "train-coach.py").write_text(OLD_COACH_ENTRY_SCRIPT)
    module = "sagemaker.rl" if estimator == "RLEstimator" else "sagemaker.estimator"
    run = run_local(
        f"""
        from {module} import {estimator}
        from sagemaker.rl import RLEstimator as _RL, RLToolkit

        estimator = {estimator}(
            entry_point="train-coach.py", source_dir="src", image_uri=IMAGE_URI, role=ROLE,
            instance_count=1, instance_type="local",
            hyperparameters={{
                "RLCOACH_PRESET": "preset-cartpole-dqn",
                "rl.improve_steps:EnvironmentSteps": 3000,
                "rl.agent_params.algorithm.discount": 0.95,
                "rl_apply_stop_condition": False,
            }},
        )
        estimator.fit()
        report(model_data=estimator.model_data,
               sdk_coach_metrics=_RL.default_metric_definitions(RLToolkit.COACH))
        """,
        coach_image,
        tmp_path,
    )
    assert run.returncode == 0, run.output[-4000:]
    lines = run.container_lines()
    assert any("Override rl.agent_params.algorithm.discount = 0.95" in line for line in lines)
    # CloudWatch shows colour codes raw: Coach's own lines carry none.
    assert not any("\x1b[" in line for line in run.container_lines(keep_ansi=True))
    model = extract(run.result["model_data"], tmp_path / "model")
    assert (model / "1" / "saved_model.pb").exists()
    assert json.loads((model / "metadata.json").read_text())["preset"] == "preset-cartpole-dqn"
    # The SDK's default Coach definitions read Coach's own (uncoloured) episode lines.
    sdk = {d["Name"]: d["Regex"] for d in run.result["sdk_coach_metrics"]}
    assert values(lines, sdk["reward-training"], anchored=True)
    assert values(lines, sdk["reward-testing"], anchored=True)
    assert all(code == 0 for code in container_exit_codes(run).values())


# TensorFlow in `make test`; MXNet in `make test-catalogue`, beside that image's every preset
# (the default suite's time budget cannot spare its minute).
@pytest.fixture(
    scope="module",
    params=["coach-tensorflow-cpu", pytest.param("coach-mxnet-cpu", marks=pytest.mark.catalogue)],
)
def each_coach_image(request) -> str:
    return build_image(request.param)


# The mountain-car notebook's way of running a continuous-action Clipped PPO preset.
CONTINUOUS_COACH_ENTRY_SCRIPT = OLD_COACH_ENTRY_SCRIPT.replace(
    "preset-cartpole-dqn", "preset-pendulum-clippedppo"
)
PENDULUM_TORQUE = 2.0  # Pendulum-v0's actions: one torque in [-2, 2]


def test_a_continuous_action_coach_preset_trains_exports_and_serves(each_coach_image, tmp_path):
    source = tmp_path / "src"
    shutil.copytree(COACH_SOURCES, source)
    (source / "train-coach.py").write_text(CONTINUOUS_COACH_ENTRY_SCRIPT)
    run = run_local(
        """
        from sagemaker.rl import RLEstimator

        estimator = RLEstimator(
            entry_point="train-coach.py", source_dir="src", image_uri=IMAGE_URI, role=ROLE,
            instance_count=1, instance_type="local",
            hyperparameters={"rl.improve_steps:EnvironmentSteps": 4000},
        )
        estimator.fit()
        report(model_data=estimator.model_data)
        """,
        each_coach_image,
        tmp_path,
    )
    assert run.returncode == 0, run.output[-4000:]
    model = extract(run.result["model_data"], tmp_path / "model")
    meta = json.loads((model / "metadata.json").read_text())
    assert meta["action_space"] == {
        "type": "Box",
        "shape": [1],
        "low": [-PENDULUM_TORQUE],
        "high": [PENDULUM_TORQUE],
    }
    assert (model / "checkpoint" / "checkpoint.json").is_file()
    # cos(theta), sin(theta), angular velocity: a batch across the pendulum's states
    observations = [[1.0, 0.0, 0.0], [0.0, 1.0, 4.0], [-1.0, 0.0, -8.0], [0.7, -0.7, 1.0]]
    with serving_container(each_coach_image, model) as url:
        answer = post_json(url, {"observations": observations})
    torques = answer["actions"]
    assert len(torques) == len(observations)
    assert all(len(t) == 1 and -PENDULUM_TORQUE <= t[0] <= PENDULUM_TORQUE for t in torques)
    # The same model.tar.gz, deployed with the SDK on the serve-only image for its framework.
    deployed = deployed_answers(
        run.result["model_data"],
        build_image(f"serve-{meta['framework']}-cpu"),
        tmp_path / "deploy",
        answer={"observations": observations},
    )
    deployed_torques = [t[0] for t in deployed["answer"]["actions"]]
    assert deployed_torques == pytest.approx([t[0] for t in torques], abs=1e-5)


# A user's entry script whose disk fills up just as the trained network is written out.
EXPORT_FAILS_ENTRY_SCRIPT = """\
from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher
from sagemaker_rl_container.coach import export


def no_space_left(*args, **kwargs):
    raise OSError(28, "No space left on device")


export._export_tensorflow = no_space_left


class MyLauncher(SageMakerCoachPresetLauncher):
    def default_preset_name(self):
        return "preset-cartpole-clippedppo"


if __name__ == "__main__":
    MyLauncher.train_main()
"""


def test_an_export_failure_keeps_the_training_in_model_tar_gz(coach_image, tmp_path):
    source = tmp_path / "failed" / "src"
    shutil.copytree(COACH_SOURCES, source)
    (source / "train-coach.py").write_text(EXPORT_FAILS_ENTRY_SCRIPT)
    run = run_local(
        """
        from sagemaker.rl import RLEstimator

        estimator = RLEstimator(
            entry_point="train-coach.py", source_dir="src", image_uri=IMAGE_URI, role=ROLE,
            instance_count=1, instance_type="local",
            hyperparameters={"rl.improve_steps:TrainingSteps": 2,
                             "rl.steps_between_evaluation_periods:EnvironmentSteps": 1000,
                             "rl.evaluation_steps:EnvironmentEpisodes": 1},
        )
        try:
            estimator.fit()
        except RuntimeError as error:
            report(error=str(error))
        """,
        coach_image,
        tmp_path / "failed",
    )
    assert "Process exited with code: 1" in run.result.get("error", ""), run.output[-4000:]
    failure = failure_of(tmp_path / "failed").strip()
    assert "\n" not in failure
    assert failure.startswith(
        "export failed while saving ClippedPPOAgent's network as a TensorFlow SavedModel: "
        "OSError: [Errno 28] No space left on device; nothing trained is lost: "
    ), failure
    assert "/opt/ml/model/checkpoint (model.tar.gz) and in /opt/ml/checkpoints" in failure
    (archive,) = (tmp_path / "failed").glob("containers/**/compressed_artifacts/model.tar.gz")
    model = extract(f"file://{archive}", tmp_path / "model")
    manifest = json.loads((model / "checkpoint" / "checkpoint.json").read_text())
    assert manifest["toolkit"] == "coach" and manifest["iteration"] >= 1
    assert all((model / "checkpoint" / name).is_file() for name in manifest["files"])
    # And the training goes on from it: the model.tar.gz's contents as a warm start.
    source = tmp_path / "warm" / "src"
    shutil.copytree(COACH_SOURCES, source)
    (source / "train-coach.py").write_text(
        OLD_COACH_ENTRY_SCRIPT.replace("preset-cartpole-dqn", "preset-cartpole-clippedppo")
    )
    warm = run_local(
        f"""
        from sagemaker.rl import RLEstimator

        estimator = RLEstimator(
            entry_point="train-coach.py", source_dir="src", image_uri=IMAGE_URI, role=ROLE,
            instance_count=1, instance_type="local",
            hyperparameters={{"rl.improve_steps:TrainingSteps": 4,
                             "rl.steps_between_evaluation_periods:EnvironmentSteps": 1000,
                             "rl.evaluation_steps:EnvironmentEpisodes": 1}},
        )
        estimator.fit(inputs={{"checkpoint": "file://{model}"}})
        report(model_data=estimator.model_data)
        """,
        coach_image,
        tmp_path / "warm",
    )
    assert warm.returncode == 0, warm.output[-4000:]
    lines = warm.container_lines()
    assert any("Warm start from input channel 'checkpoint'" in line for line in lines), lines
    assert (extract(warm.result["model_data"], tmp_path / "warm-model") / "1").is_dir()


def test_distributed_coach_on_two_sdk_local_instances(coach_image, tmp_path):
    # RLEstimator with instance_count=2: docker-compose names the hosts (algo-1-xxxxx); the
    # entry script runs on the head, rollout workers on both.
    source = tmp_path / "src"
    shutil.copytree(COACH_SOURCES, source)
    (source / "train-coach.py").write_text(OLD_COACH_ENTRY_SCRIPT)
    run = run_local(
        """
        from sagemaker.rl import RLEstimator

        estimator = RLEstimator(
            entry_point="train-coach.py", source_dir="src", image_uri=IMAGE_URI, role=ROLE,
            instance_count=2, instance_type="local",
            hyperparameters={
                "RLCOACH_PRESET": "preset-cartpole-clippedppo",
                "rl.improve_steps:TrainingSteps": 2,
                "rl.steps_between_evaluation_periods:EnvironmentSteps": 1000,
                "rl.agent_params.algorithm.num_consecutive_playing_steps:EnvironmentSteps": 1000,
                "rl.evaluation_steps:EnvironmentEpisodes": 2,
            },
        )
        estimator.fit()
        report(model_data=estimator.model_data)
        """,
        coach_image,
        tmp_path,
    )
    assert run.returncode == 0, run.output[-4000:]
    hosts = run.hosts()
    assert len(hosts) == 2, hosts
    rounds = [line for line in run.container_lines() if "Rollout episodes this iteration" in line]
    assert len(rounds) == 2 and all(f"{host}/0 x" in rounds[-1] for host in hosts), rounds
    model = extract(run.result["model_data"], tmp_path / "model")
    assert json.loads((model / "metadata.json").read_text())["training"]["hosts"] == 2
    assert container_exit_codes(run) == dict.fromkeys(hosts, 0)


# ---- SDK v3: ModelTrainer -------------------------------------------------------------------
# Without source_code, ModelTrainer's local container runs the image's own command (`train`),
# with hyperparameters JSON-encoded. With source_code it replaces the entrypoint with its own
# driver (bash sm_train.sh, then python basic_script_driver.py), which runs the entry script
# with the SM_* environment and writes output/failure only if the program did not.

MODEL_TRAINER = """
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, SourceCode
from sagemaker.train.model_trainer import Mode
"""


def test_sdk_v3_model_trainer_runs_the_images_train_command(image, tmp_path):
    run = run_local(
        MODEL_TRAINER
        + """
trainer = ModelTrainer(
    training_image=IMAGE_URI, role=ROLE, training_mode=Mode.LOCAL_CONTAINER,
    compute=Compute(instance_type="local_cpu", instance_count=1),
    local_container_root=CONTAINERS,
    hyperparameters={"rl_stop_iterations": 2, "rl_env_config": {}, "rl_record_dataset": False,
                     "rl.training.train_batch_size_per_learner": 500},
)
trainer.train()
""",
        image,
        tmp_path,
        sdk="v3",
    )
    assert run.returncode == 0, run.output[-4000:]
    (archive,) = (tmp_path / "containers").glob("compressed_artifacts/model.tar.gz")
    meta = metadata_of(str(archive), tmp_path / "model")
    assert meta["training"]["iterations"] == 2
    assert any("Reporting training SUCCESS" in line for line in run.container_lines())


def test_sdk_v3_source_code_runs_the_launcher_under_the_sdks_driver(image, tmp_path):
    shutil.copytree(SOURCES / "corridor", tmp_path / "good" / "src")
    program = (
        MODEL_TRAINER
        + """
trainer = ModelTrainer(
    training_image=IMAGE_URI, role=ROLE, training_mode=Mode.LOCAL_CONTAINER,
    compute=Compute(instance_type="local_cpu", instance_count=1),
    local_container_root=CONTAINERS,
    source_code=SourceCode(source_dir="src", entry_script="train.py"),
    hyperparameters=HYPERPARAMETERS,
)
try:
    trainer.train()
    report(ok=True)
except RuntimeError as error:
    report(ok=False, error=str(error))
"""
    )
    good = run_local(
        'HYPERPARAMETERS = {"corridor_length": 4, "rl_stop_iterations": 2}\n' + program,
        image,
        tmp_path / "good",
        sdk="v3",
    )
    assert good.result.get("ok"), good.output[-4000:]
    (archive,) = (tmp_path / "good" / "containers").glob("compressed_artifacts/model.tar.gz")
    meta = metadata_of(str(archive), tmp_path / "model")
    assert meta["env"] == "corridor-v0" and meta["env_config"] == {"length": 4}

    # A bad setting: the launcher's one line, not the driver's generic message.
    shutil.copytree(SOURCES / "corridor", tmp_path / "bad" / "src")
    bad = run_local(
        'HYPERPARAMETERS = {"rl_stop_iteration": 2}\n' + program, image, tmp_path / "bad", sdk="v3"
    )
    assert bad.result.get("ok") is False, bad.output[-4000:]
    failure = failure_of(tmp_path / "bad")
    assert failure.startswith("unknown hyperparameter rl_stop_iteration (did you mean ")


# ---- the old notebooks' Ray launcher script, with its own copy of sagemaker_rl/ -------------


@pytest.mark.parametrize("sdk", ["v2", "v3"])
def test_an_old_ray_launcher_script_with_its_sagemaker_rl_copy_runs_under_either_sdk(
    image, tmp_path, sdk
):
    shutil.copytree(SOURCES / "legacy_ray", tmp_path / "src")
    # SDK v3's driver exports every hyperparameter as SM_HP_<NAME> in a shell script, which
    # fails on a dotted name (`export: SM_HP_RL.TRAINING...: not a valid identifier`): there the
    # job's own setting replaces the experiment's stop condition.
    hyperparameters = (
        '{"rl.training.stop.training_iteration": 2}' if sdk == "v2" else '{"rl_stop_iterations": 2}'
    )
    if sdk == "v2":
        code = f"""
        from sagemaker.rl import RLEstimator

        estimator = RLEstimator(
            entry_point="train-ray.py", source_dir="src", image_uri=IMAGE_URI, role=ROLE,
            instance_count=1, instance_type="local", hyperparameters={hyperparameters},
        )
        estimator.fit()
        report(model_data=estimator.model_data)
        """
    else:
        code = (
            MODEL_TRAINER
            + f"""
trainer = ModelTrainer(
    training_image=IMAGE_URI, role=ROLE, training_mode=Mode.LOCAL_CONTAINER,
    compute=Compute(instance_type="local_cpu", instance_count=1),
    local_container_root=CONTAINERS,
    source_code=SourceCode(source_dir="src", entry_script="train-ray.py"),
    hyperparameters={hyperparameters},
)
trainer.train()
report(ok=True)
"""
        )
    run = run_local(code, image, tmp_path, sdk=sdk)
    assert run.returncode == 0, run.output[-4000:]
    lines = run.container_lines()
    # The image's launcher ran (the copy's ray_launcher.py raises on import) ...
    assert any("is not used for ray_launcher.py" in line for line in lines)
    # ... and the module only the copy has still imported from it.
    assert any("helper from the uploaded sagemaker_rl copy" in line for line in lines)
    if sdk == "v2":
        archive = run.result["model_data"]
    else:
        (path,) = (tmp_path / "containers").glob("compressed_artifacts/model.tar.gz")
        archive = str(path)
    meta = metadata_of(archive, tmp_path / "model")
    assert meta["training"]["iterations"] == 2 and meta["env"] == "CartPole-gym"
