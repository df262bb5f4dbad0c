"""Which policy class serves a model directory, by what its `metadata.json` says it holds."""

from __future__ import annotations

from pathlib import Path

from sagemaker_rl_container.serving.policy import (
    METADATA_FILE,
    ModelLoadError,
    OnnxPolicy,
    Policy,
    SavedModelPolicy,
    read_metadata,
)


def load_policy(model_dir: Path, threads: int = 1) -> Policy:
    metadata = read_metadata(model_dir)
    if metadata.get("toolkit") == "coach":
        from sagemaker_rl_container.serving.coach_policy import CoachPolicy

        return CoachPolicy(model_dir, metadata, threads)
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
