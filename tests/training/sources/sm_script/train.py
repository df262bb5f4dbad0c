"""A script written for SageMaker's script mode, not for this package: it reads the SM_*
environment and its --name value arguments, uses a package from requirements.txt, and writes
its own model."""

import argparse
import json
import os
from pathlib import Path

import sm_test_requirement  # installed from requirements.txt before the script runs

parser = argparse.ArgumentParser()
parser.add_argument("--episodes", type=int, required=True)
parser.add_argument("--layers", type=str, required=True)
parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
args = parser.parse_args()

training = Path(os.environ["SM_CHANNEL_TRAINING"])
summary = {
    "episodes": args.episodes,
    "layers": json.loads(args.layers),
    "hps": json.loads(os.environ["SM_HPS"]),
    "channels": json.loads(os.environ["SM_CHANNELS"]),
    "training_files": sorted(p.name for p in training.iterdir()),
    "num_cpus": int(os.environ["SM_NUM_CPUS"]),
    "current_host": os.environ["SM_CURRENT_HOST"],
    "hosts": json.loads(os.environ["SM_HOSTS"]),
    "output_data_dir": os.environ["SM_OUTPUT_DATA_DIR"],
    "requirement": sm_test_requirement.GREETING,
    "cwd": os.getcwd(),
}
Path(args.model_dir, "summary.json").write_text(json.dumps(summary))
print(f"wrote {args.model_dir}/summary.json")
