"""The WSGI app behind `serve`: SageMaker's hosting contract on top of `OnnxPolicy`.

GET /ping           200 once the policy is loaded; 503 with the reason otherwise.
POST /invocations   observations in (JSON, CSV or .npy), actions out (in the Accept type).
                    Add action probabilities or logits with a JSON body
                    {"instances": [...], "include": ["action_probs"]} or the header
                    X-Amzn-SageMaker-Custom-Attributes: include=action_probs,action_dist_inputs
Errors are 4xx/5xx with a one-line JSON body {"error": "..."}; the server keeps serving.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import falcon

from sagemaker_rl_container.serving import codecs
from sagemaker_rl_container.serving.load import load_policy
from sagemaker_rl_container.serving.policy import BadRequest, ModelLoadError, Policy

logger = logging.getLogger(__name__)

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
# SageMaker's real-time endpoints take payloads of up to 6 MB (a batch transform's can be
# larger, up to 100 MB).
MAX_BODY_BYTES = int(os.environ.get("SAGEMAKER_RL_MAX_BODY_BYTES", 100 * 1024 * 1024))


class _State:
    def __init__(self, model_dir: Path) -> None:
        self.policy: Policy | None = None
        self.error: str | None = None
        try:
            self.policy = load_policy(model_dir)
        except ModelLoadError as error:
            self.error = str(error)
            logger.error("Cannot serve: %s", error)


def _fail(resp: falcon.Response, status: str, message: str) -> None:
    resp.status = status
    resp.content_type = codecs.JSON
    line = " ".join(message.split())
    resp.data = json.dumps({"error": line[:1000]}).encode()


class _Ping:
    def __init__(self, state: _State) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self.state.policy is None:
            _fail(resp, falcon.HTTP_503, self.state.error or "the policy is not loaded")
            return
        resp.content_type = codecs.JSON
        resp.data = b'{"status": "healthy"}'


class _Invocations:
    def __init__(self, state: _State) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        policy = self.state.policy
        if policy is None:
            _fail(resp, falcon.HTTP_503, self.state.error or "the policy is not loaded")
            return
        content_type = codecs.media_type(req.content_type)
        try:
            accept = codecs.accept_type(req.get_header("Accept"), content_type)
            request = codecs.decode(_read_body(req), content_type)
            include = request.include | _included_by_header(req.get_header(CUSTOM_ATTRIBUTES))
            shown = {"actions", *include}
            # A TensorFlow Serving request (nothing of this image's own `include` asked for)
            # is answered in its shape too, with every output.
            tf_serving = None if include else request.tf_serving
            if tf_serving:
                include = set(policy.outputs)
            prediction = policy.predict(request.observations, include)
            data = codecs.encode(prediction, accept, shown, tf_serving)
        except BodyTooLarge as error:
            _fail(resp, falcon.HTTP_413, str(error))
            return
        except codecs.UnsupportedMediaType as error:
            _fail(resp, falcon.HTTP_415, str(error))
            return
        except codecs.NotAcceptable as error:
            _fail(resp, falcon.HTTP_406, str(error))
            return
        except BadRequest as error:
            _fail(resp, falcon.HTTP_400, str(error))
            return
        except Exception as error:  # the model itself failed: say so, keep serving
            logger.exception("Inference failed")
            _fail(resp, falcon.HTTP_500, f"inference failed: {type(error).__name__}: {error}")
            return
        resp.content_type = accept
        resp.data = data


class BodyTooLarge(Exception):
    pass


def _read_body(req: falcon.Request) -> bytes:
    """The whole body, whether sized (Content-Length) or chunked, up to SageMaker's limit."""
    if req.content_length is not None:
        if req.content_length > MAX_BODY_BYTES:
            raise BodyTooLarge(
                f"the body has {req.content_length} bytes; the limit is {MAX_BODY_BYTES}"
            )
        return req.bounded_stream.read()
    body = req.stream.read(MAX_BODY_BYTES + 1)  # chunked: gunicorn decodes the chunks
    if len(body) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the body has more than {MAX_BODY_BYTES} bytes")
    return body


def _included_by_header(value: str | None) -> set[str]:
    include: set[str] = set()
    for item in (value or "").split(";"):
        key, _, names = item.partition("=")
        if key.strip() == "include":
            include |= {name.strip() for name in names.split(",") if name.strip()}
    return include


def create_app(model_dir: Path) -> falcon.App:
    state = _State(model_dir)
    app = falcon.App(media_type=codecs.JSON)
    app.add_route("/ping", _Ping(state))
    app.add_route("/invocations", _Invocations(state))
    return app
