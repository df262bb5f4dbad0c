"""A source directory that is a Python package: SageMaker's script mode installs it and runs the
entry point as a module (`python -m train_module`)."""

from setuptools import setup

setup(name="sm-test-package", version="1.0", py_modules=["train_module", "helpers"])
