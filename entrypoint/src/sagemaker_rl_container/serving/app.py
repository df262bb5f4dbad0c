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
from pathlib import Path

import falcon

from sagemaker_rl_container.serving import codecs
from sagemaker_rl_container.serving.policy import BadRequest, ModelLoadError, Policy, load_policy

logger = logging.getLogger(__name__)

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


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
    resp.data = json.dumps({"error": " ".join(message.split())}).encode()


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
            observations, include = codecs.decode(req.bounded_stream.read(), content_type)
            include |= _included_by_header(req.get_header(CUSTOM_ATTRIBUTES))
            prediction = policy.predict(observations, include)
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
        resp.data = codecs.encode(prediction, accept)


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
