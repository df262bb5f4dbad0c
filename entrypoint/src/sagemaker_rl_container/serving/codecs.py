"""Request and response bodies in the content types SageMaker's serving containers accept:
JSON, JSON Lines, CSV and NumPy `.npy`.

A batch transform splits its input file by line (`split_type="Line"`) and sends one record per
request (SingleRecord) or as many as fit its MaxPayloadInMB (MultiRecord), then joins the
answers with newlines (`assemble_with="Line"`): JSON Lines and CSV bodies hold one record per
line and are answered with one line per record, without a trailing newline. A JSON body of
several lines (MultiRecord over a JSON Lines file sent as `application/json`) is read as JSON
Lines too.

JSON requests also come in TensorFlow Serving's shapes, which old SageMaker RL endpoints (served
by TF Serving) were called with: rows, `{"instances": [...]}`, answered with a `predictions` list
(one object of outputs per observation); columns, `{"inputs": ...}`, answered with `outputs`.
Those answers carry this image's own `actions` as well; a request that asks for outputs of its
own (`include`) is answered in this image's shape only. Every number in and out must
be finite: NaN or Infinity in a request is refused, and a response never holds a bare NaN token
(which is not JSON)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sagemaker_rl_container.serving.policy import BadRequest, Prediction

JSON = "application/json"
JSON_LINES = "application/jsonlines"
CSV = "text/csv"
NPY = "application/x-npy"
CONTENT_TYPES = (JSON, JSON_LINES, CSV, NPY)
# Other names clients use for the same types.
ALIASES = {"application/x-jsonlines": JSON_LINES, "application/jsonl": JSON_LINES}


# TensorFlow Serving's request keys and the answer key each asks for.
TF_SERVING_ANSWERS = {"instances": "predictions", "inputs": "outputs"}


class UnsupportedMediaType(Exception):
    pass


class NotAcceptable(Exception):
    pass


@dataclass(frozen=True)
class Request:
    observations: Any
    include: set[str] = field(default_factory=set)
    # TensorFlow Serving's shape the request came in ("instances" or "inputs"), if any.
    tf_serving: str | None = None
    # JSON Lines: one request per line, each answered on its own line.
    records: tuple[Request, ...] | None = None


def media_type(header: str | None, default: str = JSON) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    if not header:
        return default
    name = header.split(";", 1)[0].strip().lower()
    return ALIASES.get(name, name)


def decode(body: bytes, content_type: str) -> Request:
    """The observations in the body and what the body asks for."""
    if not body:
        raise BadRequest("the request body is empty")
    if content_type == JSON_LINES:
        return _decode_lines(body)
    if content_type == JSON:
        try:
            data = json.loads(body, parse_constant=_refuse_constant)
        except RecursionError:
            raise BadRequest("the JSON body is nested too deeply") from None
        except json.JSONDecodeError as error:
            if error.msg == "Extra data" and b"\n" in body.strip():
                return _decode_lines(body)
            raise BadRequest(f"the body is not valid JSON: {error}") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise BadRequest(f"the body is not valid JSON: {error}") from None
        return _json_request(data)
    if content_type == CSV:
        try:
            rows = np.loadtxt(io.StringIO(body.decode()), delimiter=",", dtype=np.float64, ndmin=2)
        except (ValueError, UnicodeDecodeError) as error:
            raise BadRequest(f"the CSV body is not rows of numbers: {error}") from None
        return Request(rows)
    if content_type == NPY:
        try:
            array = np.load(io.BytesIO(body), allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise BadRequest(f"the body is not a NumPy .npy array: {error}") from None
        if array.dtype.kind not in "biuf":
            raise BadRequest(f"the .npy array holds {array.dtype}, not real numbers")
        return Request(array)
    raise UnsupportedMediaType(
        f"content type {content_type!r} is not supported; use {', '.join(CONTENT_TYPES)}"
    )


def included(data: dict[str, Any]) -> set[str]:
    """The outputs a JSON object body asks for beside the actions (`include`)."""
    include = data.get("include", [])
    if isinstance(include, str):
        include = [include]
    if not (isinstance(include, list) and all(isinstance(i, str) for i in include)):
        raise BadRequest("'include' must be a list of output names, e.g. ['action_probs']")
    return set(include)


def _json_request(data: Any) -> Request:
    if not isinstance(data, dict):
        return Request(data)
    include = included(data)
    for key in ("instances", "observations", "inputs"):
        if key in data:
            style = key if key in TF_SERVING_ANSWERS else None
            return Request(data[key], include, style)
    raise BadRequest(
        "a JSON object body needs an 'instances' (or 'observations') list of observations"
    )


def _decode_lines(body: bytes) -> Request:
    records = []
    for number, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(_json_request(json.loads(line, parse_constant=_refuse_constant)))
        except RecursionError:
            raise BadRequest(f"line {number}: the JSON is nested too deeply") from None
        except BadRequest as error:
            raise BadRequest(f"line {number}: {error}") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise BadRequest(f"line {number} is not valid JSON: {error}") from None
    if not records:
        raise BadRequest("the JSON Lines body holds no records")
    return Request(None, records=tuple(records))


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"observations must be finite numbers, not {name}")


def accept_type(header: str | None, content_type: str) -> str:
    """Pick the response type from Accept, by its q-values (RFC 9110); `*/*` or none answers
    in the request's own type."""
    own = content_type if content_type in CONTENT_TYPES else JSON
    if not header:
        return own
    ranked = []
    for position, part in enumerate(header.split(",")):
        candidate, quality = media_type(part), 1.0
        for parameter in part.split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, candidate))
    for _, _, candidate in sorted(ranked):
        if candidate in CONTENT_TYPES:
            return candidate
        if candidate in ("*/*", "application/*"):
            return own
    raise NotAcceptable(
        f"cannot answer in {' '.join(header.split())[:200]!r}; use {', '.join(CONTENT_TYPES)}"
    )


@dataclass(frozen=True)
class Answer:
    """A prediction and how to show it: the outputs asked for, and TensorFlow Serving's shape
    if the request came in it."""

    prediction: Prediction
    shown: set[str]
    tf_serving: str | None = None


def encode(answer: Answer, accept: str) -> bytes:
    """The answer: the `shown` outputs under their own names, plus TensorFlow Serving's shape
    (every output) when the request came in it. JSON Lines answers one line per observation."""
    if accept == JSON_LINES:
        return b"\n".join(_json(Answer(row, answer.shown)) for row in rows(answer.prediction))
    if accept == JSON:
        return _json(answer)
    return _actions([answer.prediction], accept)


def encode_records(answers: list[Answer], accept: str) -> bytes:
    """One line per record (JSON or JSON Lines), or every record's actions as rows."""
    if accept in (JSON, JSON_LINES):
        return b"\n".join(_json(answer) for answer in answers)
    return _actions([answer.prediction for answer in answers], accept)


def rows(prediction: Prediction) -> list[Prediction]:
    """A batch's prediction as one single-observation prediction per row."""
    if prediction.single:
        return [prediction]
    count = len(prediction.outputs["actions"])
    return [
        Prediction({name: value[i : i + 1] for name, value in prediction.outputs.items()}, True)
        for i in range(count)
    ]


def shown_outputs(prediction: Prediction, shown: set[str]) -> dict[str, Any]:
    """The `shown` outputs as JSON values: one observation's, or lists of a batch's."""
    body = {name: value.tolist() for name, value in prediction.outputs.items() if name in shown}
    return {name: value[0] for name, value in body.items()} if prediction.single else body


def dump_json(body: Any) -> bytes:
    """A JSON answer, refused whole where the policy produced NaN or Infinity."""
    try:
        return json.dumps(body, allow_nan=False).encode()
    except ValueError:
        raise NonFiniteOutput("the policy produced a non-finite output (NaN or Infinity)") from None


def _json(answer: Answer) -> bytes:
    prediction, tf_serving = answer.prediction, answer.tf_serving
    body = shown_outputs(prediction, answer.shown)
    if tf_serving is None:
        return dump_json(body)
    lists = {name: value.tolist() for name, value in prediction.outputs.items()}
    if tf_serving == "instances":
        count = len(lists["actions"])
        body["predictions"] = [{n: v[i] for n, v in lists.items()} for i in range(count)]
    elif tf_serving == "inputs":
        body["outputs"] = {n: (v[0] if prediction.single else v) for n, v in lists.items()}
    return dump_json(body)


def _actions(predictions: list[Prediction], accept: str) -> bytes:
    """The actions alone: CSV rows (no trailing newline: a batch transform adds one per
    answer), or a NumPy array."""
    if accept == CSV:
        buffer = io.StringIO()
        for prediction in predictions:
            actions = prediction.outputs["actions"]
            np.savetxt(buffer, actions.reshape(len(actions), -1), delimiter=",", fmt="%.9g")
        return buffer.getvalue().rstrip("\n").encode()
    if len(predictions) == 1 and predictions[0].single:
        array = predictions[0].outputs["actions"][0]
    else:
        array = np.concatenate([prediction.outputs["actions"] for prediction in predictions])
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class NonFiniteOutput(Exception):
    pass
