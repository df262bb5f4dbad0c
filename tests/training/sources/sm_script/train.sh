#!/bin/sh
# A shell entry point, as SageMaker's script mode runs them: arguments arrive as "$@".
set -e
echo "shell entry point: $*"
exec python train.py "$@"
