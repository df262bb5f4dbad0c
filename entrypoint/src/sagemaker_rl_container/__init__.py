"""Entrypoint toolkit for reinforcement-learning training containers on Amazon SageMaker.

Importing this package is cheap: toolkits (Ray, Coach) are imported only by the launcher that
needs them, so `sagemaker-rl metric-definitions` and contract parsing stay fast.
"""

__version__ = "0.1.0"
