"""Run inside a training image over an exported model: the policy's outputs for a batch of
observations as its own file computes them (onnxruntime for policy.onnx, TensorFlow for the
SavedModel in 1/), printed as one JSON object. The catalogue compares `serve`'s answers with it.

    python3 exported_outputs.py MODEL_DIR '[[obs...], ...]'
"""

import json
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    model = Path(sys.argv[1])
    batch = np.array(json.loads(sys.argv[2]), np.float32)
    meta = json.loads((model / "metadata.json").read_text())
    if meta.get("onnx"):
        import onnxruntime

        session = onnxruntime.InferenceSession(
            str(model / meta["onnx"]["file"]), providers=["CPUExecutionProvider"]
        )
        names = [output.name for output in session.get_outputs()]
        outputs = dict(zip(names, session.run(names, {"observations": batch}), strict=True))
        found = {"source": "policy.onnx"}
        found.update({name: value.tolist() for name, value in outputs.items()})
    else:
        import tensorflow as tf

        saved = meta["tf_serving"]
        signature = tf.saved_model.load(str(model / saved["path"])).signatures[saved["signature"]]
        (name,) = saved["inputs"]
        logits = signature(**{name: tf.constant(batch)})[saved["action_dist_inputs"]]
        found = {"source": "SavedModel", "action_dist_inputs": logits.numpy().tolist()}
    print(json.dumps(found))


if __name__ == "__main__":
    main()
