"""serve's settings from its environment: SageMaker's variables, defaults sized to the
container (its CPU quota and memory limit, not the host's)."""

from __future__ import annotations

import pytest

from sagemaker_rl_container.serving import settings


def test_defaults_are_sagemakers(monkeypatch):
    monkeypatch.setattr(settings, "default_workers", lambda: 3)
    serving = settings.from_environment({})
    assert serving.bind == "0.0.0.0:8080"
    assert (serving.workers, serving.threads, serving.timeout_s) == (3, 4, 60)
    assert serving.max_body_bytes == 100 * settings.MB and serving.batch_strategy is None


def test_a_batch_transform_sets_the_payload_limit_and_strategy():
    serving = settings.from_environment(
        {
            "SAGEMAKER_BIND_TO_PORT": "9000",
            "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "600",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": "6",
            "SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD",
            # MaxPayloadInMB wins over the image's own byte limit.
            "SAGEMAKER_RL_MAX_BODY_BYTES": "10",
        }
    )
    assert (serving.port, serving.workers, serving.timeout_s) == (9000, 2, 600)
    assert serving.max_body_bytes == 6 * 1024 * 1024 and serving.batch_strategy == "MULTI_RECORD"


def test_workers_follow_the_containers_cpu_quota_and_memory(monkeypatch):
    monkeypatch.setattr(settings.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.setattr(settings, "_cgroup_cpu_quota", lambda: None)
    monkeypatch.setattr(settings, "_cgroup_memory_limit", lambda: None)
    assert settings.default_workers() == 16
    monkeypatch.setattr(settings, "_cgroup_cpu_quota", lambda: 1.5)  # docker run --cpus 1.5
    assert settings.default_workers() == 2
    monkeypatch.setattr(settings, "_cgroup_cpu_quota", lambda: None)
    # A serverless endpoint's smallest size, 1 GB: no more workers than the memory holds.
    monkeypatch.setattr(settings, "_cgroup_memory_limit", lambda: 1024 * settings.MB)
    assert settings.default_workers() == 1024 // 150
    monkeypatch.setattr(settings, "_cgroup_memory_limit", lambda: 64 * settings.MB)
    assert settings.default_workers() == 1


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"SAGEMAKER_MODEL_SERVER_WORKERS": "0"},
            "SAGEMAKER_MODEL_SERVER_WORKERS='0' must be >= 1",
        ),
        ({"SAGEMAKER_MODEL_SERVER_TIMEOUT": "1m"}, "SAGEMAKER_MODEL_SERVER_TIMEOUT='1m' is not an"),
        (
            {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "six"},
            "SAGEMAKER_MAX_PAYLOAD_IN_MB='six' is not a number",
        ),
        (
            {"SAGEMAKER_BATCH_STRATEGY": "MultiRecord"},
            "SAGEMAKER_BATCH_STRATEGY=.MultiRecord. is not one of",
        ),
    ],
)
def test_a_bad_value_is_named(environ, message):
    with pytest.raises(settings.SettingError, match="^" + message.replace("(", r"\(")):
        settings.from_environment(environ)
