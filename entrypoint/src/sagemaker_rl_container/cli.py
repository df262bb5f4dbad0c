"""`sagemaker-rl`: the image's entrypoint commands.

  sagemaker-rl train                 run the training job SageMaker describes in /opt/ml
  sagemaker-rl serve                 serve /opt/ml/model on port 8080 (SageMaker hosting)
  sagemaker-rl metric-definitions    print SageMaker MetricDefinitions for the logged metrics
                                     (--policies a,b: a multi-agent job's, per policy too)
  sagemaker-rl hyperparameters       list the rl_* hyperparameters and their defaults

`train` checks the config files SageMaker wrote, then hands over to sagemaker-training's
trainer, which calls `sagemaker_rl_container.training:main`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from sagemaker_rl_container import signals

TRAINING_MODULE = "sagemaker_rl_container.training:main"
# Set in serve-only images (images/Dockerfile.serve.template): only `serve` runs there.
SERVE_ONLY_ENV = "SAGEMAKER_RL_SERVE_ONLY"


def _writable_home() -> None:
    """Ray and RLlib write under ~ (~/.ray, ~/ray_results): a read-only root filesystem or a
    user without a home directory would fail there, so use a fresh directory under /tmp."""
    home = os.path.expanduser("~")
    if not (os.path.isdir(home) and os.access(home, os.W_OK)):
        os.environ["HOME"] = tempfile.mkdtemp(prefix="sagemaker-rl-home-")


def train() -> int:
    from sagemaker_rl_container import contract
    from sagemaker_rl_container.errors import UserError
    from sagemaker_rl_container.metrics import write_whole_lines

    write_whole_lines()
    _writable_home()
    os.environ.setdefault("SAGEMAKER_TRAINING_MODULE", TRAINING_MODULE)
    root = contract.base_dir()
    # sagemaker-training reports success without writing any file when output/ is missing.
    (root / "output").mkdir(parents=True, exist_ok=True)
    signals.install(root / "output" / "failure")
    try:
        contract.check_config_files(root)
    except UserError as error:
        failure = root / "output" / "failure"
        if not failure.exists():
            failure.write_text(str(error))
        print(f"Reporting training FAILURE: {error}", file=sys.stderr)
        return 1
    from sagemaker_training import trainer

    try:
        trainer.train()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
        # sagemaker-training 4.9 (Coach images) exits 0 after an OSError without errno,
        # having written output/failure: a job that failed never exits 0.
        output = root / "output"
        if code == 0 and not (output / "success").exists():
            if not (output / "failure").exists():
                # sagemaker-training's `finally: sys.exit(0)` replaces an exit in flight: a
                # second SIGTERM, a SIGINT or a KeyboardInterrupt ended the job unfinished.
                (output / "failure").write_text(
                    "training was stopped by a second SIGTERM before it could checkpoint"
                    if signals.requested()
                    else "training was interrupted (SIGINT or KeyboardInterrupt) before it "
                    "finished; the newest checkpoint is what a restart resumes"
                )
                code = 128 + 15 if signals.requested() else 128 + 2
            else:
                code = 1
        # A job stopped by SIGTERM ends like a process killed by it, whatever the trainer said.
        return 128 + 15 if signals.requested() and code != 0 else code
    return 0


def _exit_skipping_teardown(code: int) -> None:
    """Exit once the job's results are on disk, without the interpreter's teardown: with torch,
    Ray and RLlib loaded, finalizing their modules is slow, and every job would spend that time
    after its work is done. Exit handlers, logging and the standard streams are still run and
    flushed first; Ray was shut down by the trainer."""
    import atexit
    import logging

    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sagemaker-rl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("train", help="run the training job described in /opt/ml")
    commands.add_parser("serve", help="serve the exported policy (SageMaker hosting contract)")
    definitions = commands.add_parser(
        "metric-definitions", help="print SageMaker MetricDefinitions (JSON)"
    )
    definitions.add_argument(
        "--policies",
        default="",
        help="a multi-agent job's policies, comma-separated: adds each one's return and "
        "episode length",
    )
    commands.add_parser("hyperparameters", help="list the rl_* hyperparameters")
    args = parser.parse_args(argv)
    if args.command != "serve" and os.environ.get(SERVE_ONLY_ENV):
        print(
            f"sagemaker-rl {args.command}: this is a serve-only image (no toolkit to train "
            "with); run the training image for it, and this one to serve its model",
            file=sys.stderr,
        )
        sys.exit(2)
    if args.command == "train":
        _exit_skipping_teardown(train())
    if args.command == "serve":
        import logging

        # Nothing of training here: serve-only images have no sagemaker-training or toolkit.
        from sagemaker_rl_container.serving.server import model_dir, serve

        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
        )
        serve(model_dir())
    elif args.command == "metric-definitions":
        from sagemaker_rl_container.metrics import metric_definitions_json

        print(metric_definitions_json([p for p in args.policies.split(",") if p]))
    elif args.command == "hyperparameters":
        for setting in _settings(os.environ.get("SAGEMAKER_RL_TOOLKIT", "ray")):
            print(f"{setting.key:<30} default {setting.default:<14} {setting.description}")


def _settings(toolkit: str) -> list:
    """The hyperparameters of this image's toolkit."""
    if toolkit == "coach":
        from sagemaker_rl_container.coach.config import coach_settings

        return coach_settings()
    from sagemaker_rl_container.config import RAY_OVERRIDE_SETTINGS, JobConfig, settings_of

    return [*settings_of(JobConfig), *RAY_OVERRIDE_SETTINGS]
