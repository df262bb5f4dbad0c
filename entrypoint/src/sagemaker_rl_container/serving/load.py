"""Which policy class serves a model directory, by what its `metadata.json` says it holds."""

from __future__ import annotations

from pathlib import Path

from sagemaker_rl_container.serving.multi_agent import MultiAgentPolicy
from sagemaker_rl_container.serving.policy import (
    METADATA_FILE,
    ModelLoadError,
    OnnxPolicy,
    Policy,
    SavedModelPolicy,
    read_metadata,
)


def load_policy(model_dir: Path, threads: int = 1) -> Policy | MultiAgentPolicy:
    metadata = read_metadata(model_dir)
    try:
        return _load(model_dir, metadata, threads)
    except ImportError as error:
        # A serve-only image carries one model format's runtime: say which image serves this.
        needed = error.name or str(error)
        raise ModelLoadError(
            f"this model's policy needs {needed}, which this image does not have "
            f"({_held(metadata)}): serve it with the image that trained it, or the serve-only "
            "image for its format"
        ) from None


def _held(metadata: dict) -> str:
    if metadata.get("toolkit") == "coach":
        return f"a Coach {metadata.get('framework', '')} export".replace("  ", " ")
    if metadata.get("tf_serving"):
        return "a TensorFlow SavedModel without an ONNX policy"
    if metadata.get("multi_agent"):
        return "a multi-agent model's ONNX policies"
    return "an ONNX policy"


def _load(model_dir: Path, metadata: dict, threads: int) -> Policy | MultiAgentPolicy:
    if metadata.get("toolkit") == "coach":
        from sagemaker_rl_container.serving.coach_policy import CoachPolicy

        return CoachPolicy(model_dir, metadata, threads)
    if metadata.get("multi_agent"):
        return MultiAgentPolicy(model_dir, metadata, threads)
    if metadata.get("onnx"):
        return OnnxPolicy(model_dir, metadata, threads)
    if metadata.get("tf_serving"):
        return SavedModelPolicy(model_dir, metadata, threads)
    why = "; ".join(
        f"{name}: {reason}" for name, reason in metadata.get("not_exported", {}).items()
    )
    raise ModelLoadError(
        f"{model_dir / METADATA_FILE} lists neither an ONNX policy nor a SavedModel "
        f"({f'not exported: {why}' if why else 'trained with rl_export_onnx=false?'}): nothing "
        f"to serve"
    )
