"""RLlib's part of a job (see lifecycle.py): start Ray, build the algorithm, train it an
iteration at a time, save and restore its state, export its policy."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sagemaker_rl_container import background_imports, hosts, signals
from sagemaker_rl_container.checkpoints import Checkpoint
from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError, summarize
from sagemaker_rl_container.lifecycle import Job, JobSettings, TrainingSummary
from sagemaker_rl_container.ray_rllib import (
    algorithm_config,
    algorithm_state,
    cluster,
    environments,
    evaluation,
    export,
    gym_compat,
    multi_agent,
    offline,
    ray_node,
    sizing,
)
from sagemaker_rl_container.ray_rllib.results import episode_returns, lifetime_steps, to_metrics
from sagemaker_rl_container.stopping import RecentReturns, StopConditions
from sagemaker_rl_container.toolkit import (
    IterationDone,
    Trainer,
    replace_with_copy,
    settings_digest,
)

logger = logging.getLogger(__name__)

# Used when the job sets no rl_stop_* at all: stop at the env's own "solved" threshold when it
# has one, and in any case after this many iterations, so a job never runs unbounded by mistake.
DEFAULT_MAX_ITERATIONS = 100
# Inside a checkpoint directory, beside the manifest.
ALGORITHM_STATE = "algorithm"


def run(
    contract: TrainingContract,
    job: JobConfig,
    base_config: Any | None = None,
    before_build: Callable[[], None] | None = None,
    ends_process: bool = False,
) -> TrainingSummary:
    """Train as `job` says. `base_config`/`before_build` come from a script-mode launcher;
    `ends_process`: the process exits once this returns (the image's own `train`).

    On a multi-host job this runs on the head host only (see cluster.py); the outcome is
    published to the other hosts whichever way it goes.
    """
    if job.is_sweep:  # zero-code sweeps go to sweep.run (training.py)
        raise UserError(
            "hyperparameter rl_tune_space: sweeps inside the job run zero-code jobs (rl_env, "
            "rl_algorithm and rl.* settings); a training script's own config cannot be swept "
            "yet: drop the entry point, or tune it with a SageMaker tuner"
        )
    # Ray comes up in the background while the configuration is built and validated.
    with job_ray(contract, job, prestart_workers=_has_remote_workers(contract)) as (head, node):
        trainer = RayTrainer(contract, job, base_config, before_build, head, node)
        trainer.ends_process = ends_process and head is None
        settings = JobSettings(
            job.checkpoint_frequency, job.checkpoint_keep, trainer.stop, job.checkpoint_seconds
        )
        return Job(contract, trainer, settings).run()


@contextlib.contextmanager
def job_ray(
    contract: TrainingContract, job: JobConfig, prestart_workers: bool
) -> Iterator[tuple[cluster.Head | None, ray_node.OneHostNode | None]]:
    """The job's Ray, starting in the background: the cluster's head on a multi-host job
    (run on the head host only, see cluster.py), else this host's node. The block's outcome
    is published to the other hosts whichever way it goes; a node is stopped on failure."""
    head, node = None, None
    if contract.is_distributed:
        nodes = hosts.layout(contract, job.head_instance_group)
        head = cluster.Head(contract, nodes, job.cluster_timeout)
    else:
        node = ray_node.OneHostNode(contract, prestart_workers=prestart_workers)
    try:
        yield head, node
    except BaseException as error:
        if head is not None:
            head.stop(False, str(error) if isinstance(error, UserError) else summarize(error))
        if node is not None:
            node.stop()
        raise
    if head is not None:
        head.stop(True)


class RayTrainer(Trainer):
    def __init__(
        self,
        contract: TrainingContract,
        job: JobConfig,
        base_config: Any | None,
        before_build: Callable[[], None] | None,
        head: cluster.Head | None,
        node: ray_node.OneHostNode | None = None,
    ) -> None:
        """Validate everything before the driver connects to Ray; a cluster's resources are
        known only once it formed (`start`). `head` or `node`: the job's Ray, starting."""
        self.contract = contract
        self.job = job
        self.base_config = base_config
        self.before_build = before_build
        self.head = head
        self.node = node
        self.env = _resolve_env(job, base_config)
        # What the env's observations are multiplied by before the policy sees them (start()).
        self.observation_scale: float | None = None
        algorithm = (
            job.algorithm if base_config is None else algorithm_config.algorithm_name(base_config)
        )
        # RLlib's spelling; a script's own Algorithm class keeps its name.
        name = algorithm_config.registered_name(algorithm) or algorithm
        framework = job.framework if base_config is None else base_config.framework_str
        self.policy_plan: multi_agent.PolicyPlan | None = None
        if base_config is not None:
            _check_mapping_reaches(job, self.env, base_config)
        if base_config is None or not base_config.is_multi_agent:
            self.policy_plan = _policy_plan(job, self.env, framework)
        for action_space in _action_spaces(self.env, self.policy_plan):
            if self.env is not None:
                algorithm_config.check_action_space(name, self.env.spec, action_space)
            algorithm_config.check_framework(name, framework, action_space)
        self.datasets = {
            "dataset_input": offline.input_dir(contract, job, algorithm),
            "dataset_output": offline.record_dir(contract, job),
        }
        self.stop = _stop_conditions(job, self.env)
        self.evaluation_episodes = self._evaluation_episodes()
        self.config = self._build_config(
            algorithm_config.Resources(cpus=contract.num_cpus, gpus=contract.num_gpus),
            check=head is None,
        )
        self.identity = {
            "algorithm": algorithm_config.algorithm_name(self.config),
            "env": self.env.spec if self.env else str(self.config.env),
        }
        self.title = f"{self.identity['algorithm']} on {self.identity['env']}"
        # What changes what is trained; stop conditions, checkpointing and export do not.
        self.settings_digest = settings_digest(
            {
                "env_config": job.env_config,
                "framework": self.config.framework_str,
                "overrides": job.overrides,
                "seed": job.seed,
                "offline_channel": job.offline_channel,
            }
        )
        self.algo: Any = None
        self._ray_started = False
        self.ends_process = False

    def _evaluation_episodes(self) -> int:
        """Episodes the policy plays before the job stops on its mean return (evaluation.py)."""
        # Offline jobs' returns already come from evaluation episodes (offline.py).
        # Nor do a simulator's: the job has no env of its own to evaluate in (external.py).
        if (
            self.stop.mean_return is None
            or self.datasets["dataset_input"] is not None
            or self.job.external_port is not None
        ):
            return 0
        return self.job.stop_evaluation_episodes

    def _external_spaces(self) -> tuple[Any, Any] | None:
        """With rl_external_port, the spaces the simulator plays in: rl_env's, or those the
        script's own config states."""
        if self.job.external_port is None:
            return None
        if self.env is not None:
            return self.env.observation_space, self.env.action_space
        base = self.base_config
        if base is not None and base.observation_space is not None and base.action_space:
            return base.observation_space, base.action_space
        raise UserError(
            f"rl_external_port={self.job.external_port}: name the simulator's spaces with "
            f"rl_env (an env of the same spaces), or in the script's config "
            f"(.environment(observation_space=..., action_space=...))"
        )

    def _build_config(self, resources: algorithm_config.Resources, check: bool) -> Any:
        return algorithm_config.build(
            self.job,
            resources,
            self.env.rllib_env if self.env else None,
            self.base_config,
            check=check,
            evaluation_episodes=self.evaluation_episodes,
            single_host=not self.contract.is_distributed,
            observation_space=self.env.observation_space if self.env else None,
            policy_plan=self.policy_plan,
            external_spaces=self._external_spaces(),
            **self.datasets,
        )

    # -- start

    def start(self) -> None:
        self.start_ray()
        self._log_plan()
        self.algo = _build_algorithm(self.config, self.identity)
        self._algorithm_built()

    def start_ray(self) -> None:
        """Ray up, the config sized to the cluster, the env registered, the script's own
        registrations run: what building an algorithm, here or in a trial, needs."""
        if self.config.framework_str == "torch":
            # Building the first torch optimizer imports torch._dynamo, which is slow; Ray's
            # start mostly waits on its own processes, so import it meanwhile.
            background_imports.start("torch._dynamo")
        self._ray_started = True
        with signals.kept_through_ray():
            if self.head is not None:
                self.head.start()
                self.config = self._build_config(_cluster_resources(), check=True)
            elif self.node is not None:
                self.node.connect()
        if self.env is not None:
            # A simulator's observations reach the policy as it sends them (external.py).
            scale = self.job.external_port is None
            self.observation_scale = environments.register(self.env, scale_images=scale)
        if self.before_build is not None:
            self.before_build()
            # The program's own env may be written for gym: run it through Shimmy.
            gym_compat.adapt_registered(self.config.env, self.config.env_config)

    def _algorithm_built(self) -> None:
        if self.policy_plan is None and self.config.is_multi_agent:
            # A script's own multi-agent config: its policies, as its mapping names them.
            self.policy_plan = multi_agent.from_algorithm(self.algo)
        if self.policy_plan is not None:
            logger.info(
                "%s has %d agents, acting with %d policies: %s",
                self.identity["env"],
                len(self.policy_plan.mapping),
                len(self.policy_plan.policies),
                self.policy_plan.describe(),
            )
        if self.evaluation_episodes and evaluation.available(self.algo):
            self.stop.evaluate = self.evaluate
            logger.info(
                "Before stopping on the mean return, the policy as exported plays "
                "evaluation episodes (rl_stop_evaluation_episodes=%d)",
                self.evaluation_episodes,
            )
        if self.head is not None:
            self.head.log_placement(self.algo)

    def _log_plan(self) -> None:
        logger.info(
            "Training %s with %s, %d env runners, %s; stop at %s; checkpoints in %s",
            self.title,
            self.config.framework_str,
            self.config.num_env_runners,
            f"{self.config.num_learners} learners (data-parallel)"
            if int(self.config.num_learners or 0) > 1
            else "the learner in the driver"
            if not int(self.config.num_learners or 0)
            else "1 remote learner",
            self.stop.describe(),
            self.contract.checkpoint_dir,
        )
        dataset_input, dataset_output = (
            self.datasets["dataset_input"],
            self.datasets["dataset_output"],
        )
        if dataset_input is not None:
            logger.info(
                "Training from the offline dataset in %s (%d Parquet files); the env only "
                "evaluates the policy",
                dataset_input,
                sum(1 for _ in dataset_input.rglob("*.parquet")),
            )
        if dataset_output is not None:
            logger.info("Recording every sampled transition into %s", dataset_output)

    # -- checkpoints

    def restore(self, checkpoint: Checkpoint) -> int:
        state = checkpoint.path / ALGORITHM_STATE
        broken = algorithm_state.non_finite_in_checkpoint(state)
        if broken:  # skipped like a corrupt checkpoint: the next older one is tried
            raise ValueError(f"its weights are not finite ({broken} holds NaN or Infinity)")
        algorithm_state.restore(self.algo, state)
        return int(self.algo.iteration)

    def keep_checkpoint(self, checkpoint: Checkpoint, model_dir: Path) -> Path:
        """model/checkpoint/ holds the algorithm's state alone, as `Algorithm.from_checkpoint`
        takes it."""
        target = model_dir / export.CHECKPOINT_DIR
        replace_with_copy(checkpoint.path / ALGORITHM_STATE, target)
        return target

    def exported_checkpoint(self, model_dir: Path) -> Checkpoint | None:
        """A model.tar.gz's contents: metadata.json names the algorithm and env, checkpoint/
        holds the algorithm's state as a checkpoint's algorithm/ does."""
        metadata, state = model_dir / "metadata.json", model_dir / export.CHECKPOINT_DIR
        if not (metadata.is_file() and state.is_dir()):
            return None
        try:
            meta = json.loads(metadata.read_text())
        except ValueError:
            return None
        view = Path(tempfile.mkdtemp(prefix="sagemaker-rl-warm-start-")) / "exported-model"
        view.mkdir()
        (view / ALGORITHM_STATE).symlink_to(state.resolve())
        iterations = (meta.get("training") or {}).get("iterations") or 0
        return Checkpoint(
            view, int(iterations), {"algorithm": meta.get("algorithm"), "env": meta.get("env")}
        )

    def save(self, directory: Path) -> dict[str, Any]:
        # Reading the weights reaches every learner: one on a host that just left fails it.
        with self._hosts_kept(lambda: f"checking the weights of iteration {self.algo.iteration}"):
            broken = algorithm_state.non_finite_weight(self.algo)
        if broken:
            raise UserError(
                f"training made the policy's weights non-finite ({broken} holds NaN or "
                f"Infinity) by iteration {self.algo.iteration}; they were not saved: lower the "
                f"learning rate (rl.training.lr) or clip gradients (rl.training.grad_clip), "
                f"then restart to resume from the last good checkpoint"
            )
        with self._hosts_kept(lambda: f"saving the checkpoint of iteration {self.algo.iteration}"):
            algorithm_state.save(self.algo, directory / ALGORITHM_STATE)
        return {}

    def progress(self) -> tuple[int, int]:
        return int(self.algo.iteration), lifetime_steps(self.algo)

    # -- train

    def train(self, iteration_done: IterationDone) -> str:
        # The metric line's figures by policy (multi-agent jobs).
        by_policy = self.policy_plan.agents_by_policy if self.policy_plan is not None else None
        first = True
        while True:
            reason = iteration_done(to_metrics(self._train_one(), by_policy))
            if first or reason:
                self._log_learner_weights()
                first = False
            if reason:
                return reason

    def _train_one(self) -> dict[str, Any]:
        with self._hosts_kept(lambda: f"iteration {self.algo.iteration + 1}"):
            return self.algo.train()

    @contextlib.contextmanager
    def _hosts_kept(self, step: Callable[[], str]) -> Iterator[None]:
        """A step that fails because a host left the cluster fails the job naming the host."""
        try:
            yield
        except Exception as error:
            lost = self.head.host_lost_in(step()) if self.head is not None else None
            if lost is not None:
                raise lost from error
            raise

    def _log_learner_weights(self) -> None:
        """With several learners, a digest of each one's weights: after the first and the last
        iteration they must match (the learners average their gradients every update)."""
        digests = algorithm_state.learner_digests(self.algo)
        if not digests:
            return
        names = self.head.host_names() if self.head is not None else {}
        listed = ", ".join(f"{names.get(ip, ip)} {digest}" for ip, digest in digests)
        same = len({digest for _, digest in digests}) == 1
        log = logger.info if same else logger.warning
        log(
            "Learner weights after iteration %d (sha256 of each of the %d learners' "
            "parameters, by host): %s: %s",
            self.algo.iteration,
            len(digests),
            listed,
            "identical" if same else "they DIFFER, the learners no longer train one model",
        )

    def evaluate(self) -> tuple[float, int]:
        """Mean return and episode count of one evaluation (see evaluation.py)."""
        mean, episodes = episode_returns(self.algo.evaluate().get("env_runners", {}))
        return mean, episodes or 0

    def check_health(self) -> None:
        if self.head is not None:
            self.head.check_hosts()

    # -- export and shutdown

    def export(
        self, model_dir: Path, training: dict[str, Any], also: dict[str, Any] | None = None
    ) -> list[str]:
        """`also`: more of metadata.json (a sweep's `tune`, naming the trial exported)."""
        description = {
            **self.identity,
            "env_config": dict(self.config.env_config or {}),
            "training": training,
            **(also or {}),
        }
        if self.job.frame_stack > 1:  # the policy takes that many observations, stacked
            description["frame_stack"] = self.job.frame_stack
        scaled = self.observation_scale is not None and self.env is not None
        export.export_model(
            self.algo,
            model_dir,
            description,
            self.job.export_onnx,
            # The env's own pixels, which the exported policy scales as training did.
            observation=(self.env.observation_space, self.observation_scale) if scaled else None,
            policy_plan=self.policy_plan,
        )
        exported = sorted(path.name for path in model_dir.iterdir())
        logger.info("Model exported to %s: %s", model_dir, ", ".join(exported))
        return exported

    def close(self, error: BaseException | None) -> None:
        if not self._ray_started:
            if self.node is not None:
                self.node.stop()
            return
        import ray

        if error is None and self.ends_process:
            # The job is done and its process about to exit: Ray's processes end with it
            # (the node's, see ray_node.RayNode, as the driver's own).
            # ray.shutdown() would only cost time, and it resets SIGTERM's disposition
            # underneath Python, so a SIGTERM in that second killed the finished job before
            # its success marker was written (make test-faults found it). algo.stop() still
            # runs: it flushes what env runners record (rl_record_dataset).
            self.algo.stop()
            atexit.unregister(ray.shutdown)
            return

        try:
            if self.algo is not None:
                self.algo.stop()
        finally:
            ray.shutdown()
            # Ray's shutdown resets SIGTERM to its default action underneath Python (a SIGTERM
            # then killed the job while it wrote its summary): the handler goes back in.
            signals.install()
            if self.node is not None:
                self.node.stop()


def _cluster_resources() -> algorithm_config.Resources:
    import ray

    total = ray.cluster_resources()
    hosts = sum(1 for node in ray.nodes() if node.get("Alive"))
    return algorithm_config.Resources(
        cpus=int(total.get("CPU", 0)),
        gpus=int(total.get("GPU", 0)),
        hosts=max(1, hosts),
        learner_slots=int(total.get(sizing.LEARNER_SLOT, 0)),
    )


def _resolve_env(job: JobConfig, base_config: Any | None) -> environments.ResolvedEnv | None:
    # A script-mode config that names its own env keeps it unless rl_env is given explicitly.
    if (
        base_config is not None
        and base_config.env is not None
        and "env" not in job.model_fields_set
    ):
        if job.frame_stack > 1:
            raise UserError(
                f"rl_frame_stack={job.frame_stack} stacks rl_env's observations, and the "
                f"script's config names its own env ({base_config.env}): set rl_env too, or "
                f"stack them in the env"
            )
        return None
    return environments.resolve(job.env, job.env_config, job.frame_stack)


def _check_mapping_reaches(
    job: JobConfig, env: environments.ResolvedEnv | None, base_config: Any
) -> None:
    """The `rl.multi_agent.*` mapping fits a script's config only where the job resolves the
    env and the config leaves the policies to it: anywhere else it would change nothing."""
    given = [key for key in multi_agent.OWN_SETTINGS if key in job.overrides]
    if not given:
        return
    if base_config.is_multi_agent:
        why = "maps its agents to policies itself (config.multi_agent())"
    elif env is None:
        why = f"names its own env ({base_config.env}), whose agents this job cannot list"
    else:
        return
    raise UserError(
        f"hyperparameter rl.{given[0]}: the training script's config {why}, so the setting "
        f"would change nothing: map agents to policies in the script, or drop it"
    )


def _policy_plan(
    job: JobConfig, env: environments.ResolvedEnv | None, framework: str | None
) -> multi_agent.PolicyPlan | None:
    """A multi-agent env's policies; the `rl.multi_agent.*` mapping only fits such an env."""
    if env is None or env.agents is None:
        given = [key for key in multi_agent.OWN_SETTINGS if key in job.overrides]
        if given and env is not None:
            raise UserError(
                f"hyperparameter rl.{given[0]}: rl_env {env.spec!r} is a single-agent env, "
                f"which has no agents to map to policies"
            )
        return None
    if (framework or algorithm_config.default_framework()) != "torch":
        raise UserError(
            f"rl_env {env.spec!r} is a multi-agent env, which this image trains with torch on "
            f"RLlib's new API stack only: use a ray-pytorch image"
        )
    return multi_agent.plan(env.agents, job.overrides, env.spec)


def _action_spaces(
    env: environments.ResolvedEnv | None, policy_plan: multi_agent.PolicyPlan | None
) -> list[Any]:
    """What the algorithm must act in: each policy's action space, the env's, or unknown."""
    if policy_plan is not None:
        return [action for _, action in policy_plan.spaces.values()]
    return [env.action_space if env is not None else None]


def _stop_conditions(job: JobConfig, env: environments.ResolvedEnv | None) -> StopConditions:
    recent = RecentReturns(job.stop_mean_return_episodes)
    if job.has_stop_condition:
        return StopConditions(
            iterations=job.stop_iterations,
            timesteps=job.stop_timesteps,
            mean_return=job.stop_mean_return,
            seconds=job.stop_seconds,
            recent=recent,
        )
    threshold = env.reward_threshold if env is not None else None
    return StopConditions(iterations=DEFAULT_MAX_ITERATIONS, mean_return=threshold, recent=recent)


def _has_remote_workers(contract: TrainingContract) -> bool:
    """Whether the zero-code plan for this host runs env runners or learners outside the
    driver (sizing.py); known before RLlib is imported, when the node starts."""
    plan = sizing.plan(contract.num_cpus, contract.num_gpus)
    return bool(plan.num_env_runners or plan.num_learners)


def _build_algorithm(config: Any, identity: dict[str, str]) -> Any:
    try:
        return config.build_algo()
    except Exception as error:
        raise UserError(
            f"RLlib could not build {identity['algorithm']} for env {identity['env']}: "
            f"{summarize(error)}"
        ) from error
