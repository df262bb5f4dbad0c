"""Request and response bodies in the content types SageMaker's serving containers accept:
JSON, CSV and NumPy `.npy`."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from sagemaker_rl_container.serving.policy import BadRequest, Prediction

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
CONTENT_TYPES = (JSON, CSV, NPY)


class UnsupportedMediaType(Exception):
    pass


class NotAcceptable(Exception):
    pass


def media_type(header: str | None, default: str = JSON) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    if not header:
        return default
    return header.split(";", 1)[0].strip().lower()


def decode(body: bytes, content_type: str) -> tuple[Any, set[str]]:
    """The observations in the body, and outputs the body asks to include (JSON only)."""
    if not body:
        raise BadRequest("the request body is empty")
    if content_type == JSON:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise BadRequest(f"the body is not valid JSON: {error}") from None
        if isinstance(data, dict):
            include = data.get("include", [])
            if isinstance(include, str):
                include = [include]
            for key in ("instances", "observations", "inputs"):
                if key in data:
                    return data[key], set(include)
            raise BadRequest(
                "a JSON object body needs an 'instances' (or 'observations') list of observations"
            )
        return data, set()
    if content_type == CSV:
        try:
            rows = np.loadtxt(io.StringIO(body.decode()), delimiter=",", dtype=np.float32, ndmin=2)
        except (ValueError, UnicodeDecodeError) as error:
            raise BadRequest(f"the CSV body is not rows of numbers: {error}") from None
        return rows, set()
    if content_type == NPY:
        try:
            return np.load(io.BytesIO(body), allow_pickle=False), set()
        except (ValueError, OSError) as error:
            raise BadRequest(f"the body is not a NumPy .npy array: {error}") from None
    raise UnsupportedMediaType(
        f"content type {content_type!r} is not supported; use {', '.join(CONTENT_TYPES)}"
    )


def accept_type(header: str | None, content_type: str) -> str:
    """Pick the response type from Accept; `*/*` or none answers in the request's own type."""
    if not header:
        return content_type if content_type in CONTENT_TYPES else JSON
    for part in header.split(","):
        candidate = media_type(part)
        if candidate in CONTENT_TYPES:
            return candidate
        if candidate in ("*/*", "application/*"):
            return content_type if content_type in CONTENT_TYPES else JSON
    raise NotAcceptable(f"cannot answer in {header!r}; use {', '.join(CONTENT_TYPES)}")


def encode(prediction: Prediction, accept: str) -> bytes:
    outputs = prediction.outputs
    if accept == JSON:
        body = {name: value.tolist() for name, value in outputs.items()}
        if prediction.single:
            body = {name: value[0] for name, value in body.items()}
        return json.dumps(body).encode()
    actions = outputs["actions"]
    if accept == CSV:
        buffer = io.StringIO()
        np.savetxt(buffer, actions.reshape(len(actions), -1), delimiter=",", fmt="%.9g")
        return buffer.getvalue().encode()
    buffer = io.BytesIO()
    np.save(buffer, actions[0] if prediction.single else actions, allow_pickle=False)
    return buffer.getvalue()
