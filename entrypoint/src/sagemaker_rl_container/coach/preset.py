"""A Coach preset, made ready to train in this image: loaded from the source directory (or
Coach's own presets), put on the image's framework, with the job's overrides applied, its dataset
channel and custom environment checked. Importing this module does not import Coach.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sagemaker_rl_container.coach import overrides
from sagemaker_rl_container.coach.config import PRESET_KEY, CoachConfig
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError, summarize

logger = logging.getLogger(__name__)


def framework() -> str:
    """The image's deep-learning framework: TensorFlow or MXNet (whichever is installed)."""
    return "tensorflow" if importlib.util.find_spec("tensorflow") else "mxnet"


def top_agent(graph_manager: Any) -> Any:
    return next(iter(graph_manager.level_managers[0].agents.values()))


def install_compat() -> None:
    """The compatibility layer, before Coach imports its framework components."""
    from sagemaker_rl_container.coach import gym_compat

    gym_compat.install()
    if framework() == "tensorflow":
        from sagemaker_rl_container.coach import dnd_compat, tf_compat

        tf_compat.install()
        dnd_compat.install()  # NEC's dictionary: a TensorFlow head only
    else:
        from sagemaker_rl_container.coach import mxnet_compat

        mxnet_compat.install()


def prepare(contract: TrainingContract, config: CoachConfig, source: Path | None) -> Any:
    """The preset's graph manager, ready for `create_graph`; `source` is the job's source
    directory (source_dir.prepare), where a preset of the user's and its modules are."""
    install_compat()
    from rl_coach.logger import screen

    # Coach colours its episode lines with ANSI codes, which CloudWatch shows raw and which
    # keep the SDK's Coach metric regexes (`^Training>.*Total reward=...`) from matching.
    screen.set_use_colors(False)
    graph_manager = load_preset(config.preset, source)
    set_framework(graph_manager)
    if framework() == "mxnet":
        from sagemaker_rl_container.coach import mxnet_compat

        mxnet_compat.adapt(graph_manager)
    apply_overrides(graph_manager, config)
    check_batch_schedule(graph_manager)
    point_dataset(graph_manager, contract, config)
    check_level(graph_manager)
    return graph_manager


def load_preset(name: str, source: Path | None) -> Any:
    """The preset's `graph_manager`: from `<source>/<name>.py`, else Coach's `rl_coach.presets`."""
    stem = name[:-3] if name.endswith(".py") else name
    path = source / f"{stem}.py" if source else None
    if path is not None and path.is_file():
        spec = importlib.util.spec_from_file_location(f"coach_preset_{abs(hash(stem))}", path)
        if spec is None or spec.loader is None:
            raise UserError(f"preset {name}: {path} cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise UserError(f"preset {path.name} failed to load: {summarize(error)}") from error
        origin = path.name
    else:
        origin = f"rl_coach.presets.{stem}"
        try:
            module = importlib.import_module(origin)
        except ModuleNotFoundError as error:
            if error.name not in (origin, "rl_coach.presets"):  # the preset's own import
                raise UserError(_preset_import_failed(origin, error)) from error
            found = sorted(p.stem for p in source.glob("*.py")) if source else []
            raise UserError(
                f"{PRESET_KEY}={name!r}: no {stem}.py in the source directory "
                f"({', '.join(found) or 'no source directory or no .py files'}) and no Coach "
                f"preset of that name"
            ) from None
        except Exception as error:
            raise UserError(f"preset {origin} failed to load: {summarize(error)}") from error
    graph_manager = getattr(module, "graph_manager", None)
    if graph_manager is None or not hasattr(graph_manager, "improve"):
        raise UserError(f"preset {origin} defines no `graph_manager` (a Coach GraphManager)")
    logger.info("Preset %s: %s", origin, type(graph_manager).__name__)
    return graph_manager


def override_types() -> dict[str, Callable[[Any], Any]]:
    from rl_coach import core_types

    types = dict(overrides.BUILTIN_TYPES)
    # Counts take whole numbers; Time is in seconds.
    for name in ("EnvironmentSteps", "EnvironmentEpisodes", "TrainingSteps", "Frames"):
        if hasattr(core_types, name):
            types[name] = overrides.counted(getattr(core_types, name))
    if hasattr(core_types, "Time"):
        types["Time"] = core_types.Time
    return types


def _preset_import_failed(origin: str, error: ModuleNotFoundError) -> str:
    missing = (error.name or "").split(".")[0]
    if missing == "tensorflow" and framework() == "mxnet":
        return (
            f"preset {origin} imports TensorFlow, which this MXNet image does not have: run it "
            f"on a coach-tensorflow image"
        )
    return (
        f"preset {origin} failed to load: {summarize(error)}; a package it needs can go in the "
        f"source directory's requirements.txt"
    )


def apply_overrides(graph_manager: Any, config: CoachConfig) -> None:
    types = override_types()
    for item in config.overrides:
        value = overrides.apply(graph_manager, item, types)
        # A schedule field lives on the graph manager and in its schedule_params, which a
        # batch RL graph manager re-applies after collecting its dataset: set both.
        schedule = getattr(graph_manager, "schedule_params", None)
        if len(item.path) == 1 and schedule is not None and hasattr(schedule, item.path[0]):
            setattr(schedule, item.path[0], value)
        logger.info("Override %s = %s", item.key, _shown(value))


def set_framework(graph_manager: Any) -> None:
    """Every network of the preset on the image's framework, as `coach -f` does."""
    from rl_coach.base_parameters import Frameworks

    chosen = Frameworks.tensorflow if framework() == "tensorflow" else Frameworks.mxnet
    agents = getattr(graph_manager, "agents_params", None) or [graph_manager.agent_params]
    for agent_params in agents:
        for network_parameters in agent_params.network_wrappers.values():
            network_parameters.framework = chosen


def check_batch_schedule(graph_manager: Any) -> None:
    """A batch RL agent never acts in the environment, so an improve_steps counted in
    environment steps or episodes is never reached: the job would train for ever."""
    from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps
    from rl_coach.graph_managers.batch_rl_graph_manager import BatchRLGraphManager

    steps = getattr(graph_manager, "improve_steps", None)
    if isinstance(graph_manager, BatchRLGraphManager) and isinstance(
        steps, (EnvironmentSteps, EnvironmentEpisodes)
    ):
        raise UserError(
            f"improve_steps is {type(steps).__name__}({steps.num_steps}), but this batch RL "
            f"preset's agent trains from its dataset and never acts in the environment, so it "
            f"would train for ever: count it in TrainingSteps "
            f"(rl.improve_steps:TrainingSteps={steps.num_steps})"
        )


def check_level(graph_manager: Any) -> None:
    """A custom gym environment (`module:Class` level) must import from the source directory:
    say so in one line instead of Coach's traceback."""
    from rl_coach.environments.gym_environment import GymEnvironmentParameters

    env_params = getattr(graph_manager, "env_params", None)
    if not isinstance(env_params, GymEnvironmentParameters):
        return  # other environments' levels are theirs (control suite: `cartpole:swingup`)
    level = getattr(env_params, "level", None)
    level = getattr(level, "selected_level", level)  # SingleLevelSelection
    if not isinstance(level, str) or ":" not in level or "/" in level:
        return
    module_name, _, attribute = level.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise UserError(
            f"environment level {level!r}: module {module_name} does not import "
            f"({summarize(error)}); put {module_name.replace('.', '/')}.py in the source directory"
        ) from None
    if not hasattr(module, attribute):
        raise UserError(f"environment level {level!r}: {module_name} has no {attribute!r}")


def point_dataset(graph_manager: Any, contract: TrainingContract, config: CoachConfig) -> None:
    """Batch RL: a preset's `CsvDataset` reads the CSV from the dataset channel."""
    agent_params = getattr(graph_manager, "agent_params", None)
    memory = getattr(agent_params, "memory", None)
    dataset = getattr(memory, "load_memory_from_file_path", None)
    if dataset is None or not hasattr(dataset, "filepath"):
        return
    wanted = Path(dataset.filepath)
    channel = contract.channels.get(config.dataset_channel)
    if channel is None:
        if wanted.is_file() or (contract.code_dir / wanted).is_file():
            dataset.filepath = str(wanted if wanted.is_file() else contract.code_dir / wanted)
            return
        raise UserError(
            f"the preset loads its dataset from {dataset.filepath!r}, which is not there: add an "
            f"input channel named '{config.dataset_channel}' holding {wanted.name} "
            f"(or set rl_dataset_channel)"
        )
    files = sorted(p for p in channel.rglob("*") if p.is_file() and not p.name.startswith("."))
    same_name = [p for p in files if p.name == wanted.name]
    csvs = [p for p in files if p.suffix.lower() == ".csv"]
    chosen = same_name[0] if same_name else (csvs[0] if len(csvs) == 1 else None)
    if chosen is None:
        raise UserError(
            f"input channel '{config.dataset_channel}' should hold {wanted.name} or exactly one "
            f".csv file; it holds {', '.join(p.name for p in files) or 'nothing'}"
        )
    dataset.filepath = str(chosen)
    logger.info("Batch RL dataset: %s", chosen)


def _shown(value: Any) -> str:
    """A value as a person reads it: Coach's step counts by their number, not their address."""
    steps = getattr(value, "num_steps", None)
    return f"{type(value).__name__}({steps})" if steps is not None else repr(value)
