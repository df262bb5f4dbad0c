#!/bin/sh
# SageMaker starts training as `docker run IMAGE train` (and hosting as `... serve`): those words
# go to the toolkit's CLI. Anything else runs as given (`docker run IMAGE bash`, `python ...`).
set -e
case "$1" in
    train|serve|metric-definitions|hyperparameters)
        exec sagemaker-rl "$@"
        ;;
esac
exec "$@"
