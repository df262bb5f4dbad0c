"""Simulators outside the training job: RLlib's external-env path of its new API stack (RLlib
2.60's `EnvRunnerServerForExternalInference`). With `rl_external_port`, the job's env runner is a
TCP server; a simulator connects to it (another process, container or host), speaking RLlib's
RLlink protocol: it asks for the config and the policy's weights, acts with that policy itself,
sends its episodes, and takes the new weights after each update. `rl_env` then only names the
observation and action spaces; the job never steps it.

What this adds to RLlib's server: it listens on every interface, not localhost only, so a
simulator on another host or container reaches it; it logs each connection; and it waits for a
simulator at most `rl_external_timeout` seconds (RLlib's waits forever, so a simulator that never
came or went away hung the job), then fails the job in one line naming the port.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from sagemaker_rl_container.errors import UserError

logger = logging.getLogger(__name__)

# Where the server finds its settings: RLlib's server reads `port` from env_config.
PORT = "port"
TIMEOUT = "sagemaker_rl_external_timeout"
# Every interface: the simulator may run on another host or in another container.
LISTEN_ON = "0.0.0.0"


def configure(config: Any, port: int, timeout: float, observation_space: Any, action_space: Any):
    """Make the job's one env runner (in the driver) the simulator's server on `port`."""
    config.environment(
        observation_space=observation_space,
        action_space=action_space,
        env_config={**(config.env_config or {}), PORT: port, TIMEOUT: timeout},
    )
    config.env_runners(env_runner_cls=server_class(), num_env_runners=0, num_envs_per_env_runner=1)


def check(config: Any, port: int, user_overrides: dict[str, Any]) -> None:
    """What the external path cannot take, refused before Ray starts."""
    if not config.enable_env_runner_and_connector_v2:
        raise UserError(
            f"rl_external_port={port}: simulators connect over RLlib's new API stack, which "
            f"this image's TensorFlow does not run on: use a ray-pytorch image"
        )
    if config.is_multi_agent:
        raise UserError(
            f"rl_external_port={port}: RLlib's external simulators are single-agent; this "
            f"job's env has several agents"
        )
    if user_overrides.get("env_runners.num_env_runners") not in (None, 0, "0"):
        raise UserError(
            f"rl_external_port={port}: one simulator connects to a job, to the env runner in "
            f"the driver; leave rl.env_runners.num_env_runners unset"
        )


@functools.cache
def server_class() -> type:
    # Defined on first use: RLlib is imported only by jobs that take simulators.
    from ray.rllib.env.external.env_runner_server_for_external_inference import (
        EnvRunnerServerForExternalInference,
    )

    class ExternalSimulatorServer(EnvRunnerServerForExternalInference):
        """RLlib's server, on every interface, with a bounded wait for the simulator."""

        def __init__(self, *, config: Any, **kwargs: Any) -> None:
            self._timeout = float((config.env_config or {}).get(TIMEOUT, 300))
            self._connected = False
            self._ever_connected = False
            self._listen_error: str | None = None
            super().__init__(config=config, **kwargs)

        def _recycle_sockets(self, sleep: float = 0.0) -> None:
            # RLlib's listener thread calls this to (re)open the port and accept the next
            # simulator: on every interface, and said in the log.
            self.host = LISTEN_ON
            if self._connected:
                logger.warning(
                    "The simulator on port %d (%s) disconnected; waiting for one to connect",
                    self.port,
                    _address(self.address),
                )
            self._connected = False
            super()._recycle_sockets(sleep)
            self._connected = self._ever_connected = True
            logger.info(
                "A simulator connected to port %d from %s", self.port, _address(self.address)
            )

        def _client_message_listener(self) -> None:
            # RLlib's thread ends on any error but a lost connection (a port already taken,
            # a message it cannot handle): sample() then fails the job with it, not waiting.
            try:
                super()._client_message_listener()
            except Exception as error:
                self._listen_error = f"{type(error).__name__}: {error}"
                logger.error("The simulator server on port %d stopped: %s", self.port, error)

        def _send_set_config_message(self) -> None:
            # The simulator rebuilds the policy from this config: it names RLlib's own server
            # class, which the simulator's Ray has, not this package's.
            import pickle

            from ray.rllib.env.external.rllink import RLlink, send_rllink_message

            config = self.config.copy(copy_frozen=False)
            config.env_runners(env_runner_cls=EnvRunnerServerForExternalInference)
            send_rllink_message(
                self.client_socket,
                {"type": RLlink.SET_CONFIG.name, "config": pickle.dumps(config)},
            )

        def sample(self, **kwargs: Any) -> Any:
            deadline = time.monotonic() + self._timeout
            while not self._has_episodes():
                if self._listen_error is not None:
                    raise UserError(
                        f"rl_external_port={self.port}: cannot listen there: {self._listen_error}"
                    )
                if time.monotonic() > deadline:
                    raise UserError(self._gone())
                time.sleep(0.01)
            return super().sample(**kwargs)

        def _has_episodes(self) -> bool:
            with self._sample_lock:
                return self._episode_chunks_to_return is not None

        def _gone(self) -> str:
            waited = f"{self._timeout:g} s (rl_external_timeout)"
            if not self._ever_connected:
                return (
                    f"no simulator connected to port {self.port} within {waited}; start it "
                    f"with this host's name and rl_external_port"
                )
            if not self._connected:
                return (
                    f"the simulator on port {self.port} disconnected and none reconnected "
                    f"within {waited}"
                )
            return f"the simulator connected to port {self.port} sent no episodes for {waited}"

    return ExternalSimulatorServer


def _address(address: Any) -> str:
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
