"""The WSGI app behind `serve`: SageMaker's hosting contract on top of `OnnxPolicy`.

GET /ping                   200 once the policy is loaded; 503 with the reason otherwise.
GET /execution-parameters   what a batch transform should send when its job does not say
                            (MaxConcurrentTransforms, BatchStrategy, MaxPayloadInMB).
POST /invocations           observations in (JSON, JSON Lines, CSV or .npy), actions out (in
                            the Accept type); one line per record for JSON Lines and CSV.
                            A multi-agent model takes and answers JSON by agent id
                            (multi_agent.py).
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

from sagemaker_rl_container.serving import codecs, multi_agent, settings
from sagemaker_rl_container.serving.codecs import Answer, Request
from sagemaker_rl_container.serving.load import load_policy
from sagemaker_rl_container.serving.multi_agent import MultiAgentPolicy
from sagemaker_rl_container.serving.policy import BadRequest, ModelLoadError, Policy

logger = logging.getLogger(__name__)

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


class _State:
    def __init__(self, model_dir: Path, serving: settings.ServingSettings) -> None:
        self.settings = serving
        self.policy: Policy | MultiAgentPolicy | None = None
        self.error: str | None = None
        try:
            self.policy = load_policy(model_dir)
        except ModelLoadError as error:
            self.error = str(error)
            logger.error("Cannot serve: %s", error)
        except Exception as error:  # the runtime itself failed to load it: /ping says why
            why = f"{type(error).__name__}: {error}"
            self.error = f"the policy in {model_dir} could not be loaded: {why}"
            logger.exception("Cannot serve")


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
            body = _read_body(req, self.state.settings)
            asked = _included_by_header(req.get_header(CUSTOM_ATTRIBUTES))
            if isinstance(policy, MultiAgentPolicy):
                if accept != codecs.JSON:
                    raise codecs.NotAcceptable(
                        f"a multi-agent policy answers {codecs.JSON}, not {accept}"
                    )
                resp.content_type = accept
                resp.data = multi_agent.answer(policy, body, content_type, asked)
                return
            request = codecs.decode(body, content_type)
            if request.records is None:
                data = codecs.encode(_predict(policy, request, asked), accept)
            else:
                data = codecs.encode_records(
                    _predict_records(policy, request.records, asked), accept
                )
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


def _predict(policy: Policy, request: Request, asked: set[str]) -> Answer:
    include = request.include | asked
    shown = {"actions", *include}
    # A TensorFlow Serving request (nothing of this image's own `include` asked for) is
    # answered in its shape too, with every output.
    tf_serving = None if include else request.tf_serving
    if tf_serving:
        include = set(policy.outputs)
    return Answer(policy.predict(request.observations, include), shown, tf_serving)


def _predict_records(policy: Policy, records: tuple[Request, ...], asked: set[str]) -> list[Answer]:
    """Each record answered as if it came alone; records that each hold one plain observation
    (a batch transform's usual lines) go through the policy as one batch."""
    if all(not record.include and record.tf_serving is None for record in records):
        try:
            batch = policy.predict([record.observations for record in records], asked)
        except BadRequest:
            batch = None  # not one observation per record: answer them one by one
        if batch is not None and not batch.single:
            shown = {"actions", *asked}
            return [Answer(row, shown) for row in codecs.rows(batch)]
    answers = []
    for number, record in enumerate(records, 1):
        try:
            answers.append(_predict(policy, record, asked))
        except BadRequest as error:
            raise BadRequest(f"record {number}: {error}") from None
    return answers


class BodyTooLarge(Exception):
    pass


def _read_body(req: falcon.Request, serving: settings.ServingSettings) -> bytes:
    """The whole body, whether sized (Content-Length) or chunked, up to the payload limit."""
    limit = serving.max_body_bytes
    shown = f"{limit / settings.MB:.6g} MB"
    if req.content_length is not None:
        if req.content_length > limit:
            raise BodyTooLarge(
                f"the body has {req.content_length} bytes; the limit is {shown} "
                f"(SAGEMAKER_MAX_PAYLOAD_IN_MB)"
            )
        return req.bounded_stream.read()
    body = req.stream.read(limit + 1)  # chunked: gunicorn decodes the chunks
    if len(body) > limit:
        raise BodyTooLarge(f"the body has more than {shown} (SAGEMAKER_MAX_PAYLOAD_IN_MB)")
    return body


class _ExecutionParameters:
    """What a batch transform asks the container for when its job leaves them unset
    (SageMaker's framework containers answer the same keys)."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        serving = self.state.settings
        resp.content_type = codecs.JSON
        resp.data = json.dumps(
            {
                "MaxConcurrentTransforms": serving.workers,
                # The API's spelling, as CreateTransformJob takes it (and the SDK's local mode
                # reads it).
                "BatchStrategy": "MultiRecord",
                "MaxPayloadInMB": min(
                    settings.ENDPOINT_PAYLOAD_MB, serving.max_body_bytes // settings.MB
                )
                or 1,
            }
        ).encode()


def _included_by_header(value: str | None) -> set[str]:
    include: set[str] = set()
    for item in (value or "").split(";"):
        key, _, names = item.partition("=")
        if key.strip() == "include":
            include |= {name.strip() for name in names.split(",") if name.strip()}
    return include


def create_app(model_dir: Path, serving: settings.ServingSettings | None = None) -> falcon.App:
    state = _State(model_dir, serving or settings.from_environment())
    app = falcon.App(media_type=codecs.JSON)
    app.add_route("/ping", _Ping(state))
    app.add_route("/execution-parameters", _ExecutionParameters(state))
    app.add_route("/invocations", _Invocations(state))
    return app
