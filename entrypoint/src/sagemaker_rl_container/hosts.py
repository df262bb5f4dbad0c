"""Which host does what in a multi-host job, from resourceconfig.json alone, for either
toolkit: the head (the first host, or the first of a named instance group), this host's address,
and a secret every host of the job derives alike.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from dataclasses import dataclass

from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError

POLL_S = 1.0


@dataclass(frozen=True)
class Layout:
    head: str
    workers: list[str]
    current: str

    @property
    def is_head(self) -> bool:
        return self.current == self.head


def layout(contract: TrainingContract, head_group: str | None) -> Layout:
    """Which host is the head; hosts come from resourceconfig.json, never assumed."""
    if head_group is not None:
        hosts = contract.instance_groups.get(head_group)
        if not hosts:
            groups = ", ".join(sorted(contract.instance_groups)) or "none"
            raise UserError(
                f"rl_head_instance_group {head_group!r} is not an instance group of this job "
                f"(groups: {groups})"
            )
        head = hosts[0]
    else:
        head = contract.hosts[0]
    return Layout(head, [h for h in contract.hosts if h != head], contract.current_host)


def job_secret(contract: TrainingContract, purpose: str) -> str:
    """A secret the same on every host of this job, derived from what every host of the job is
    given and other machines on the network are not: the training job's name, its
    hyperparameters and its hosts. Whoever can read the job's description (its owner) can
    derive it too: each toolkit lets the job's environment set a secret of its own instead."""
    material = json.dumps(
        {
            "job": contract.job_name,
            "hyperparameters": contract.hyperparameters,
            "hosts": sorted(contract.hosts),
            "purpose": purpose,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def resolve(host: str, deadline: float, role: str) -> str:
    """The IPv4 address of `host`, retrying until `deadline` (names appear as hosts boot)."""
    while True:
        try:
            return socket.gethostbyname(host)
        except OSError as error:
            if time.monotonic() > deadline:
                raise UserError(
                    f"{role} host {host!r} from resourceconfig.json did not resolve before the "
                    f"cluster timeout ({error}); check the job's hosts and network"
                ) from None
            time.sleep(POLL_S)


def node_ip(contract: TrainingContract, deadline: float) -> str:
    """This host's address: its name's, unless that is not on this machine and the interface
    SageMaker names has one."""
    by_name = resolve(contract.current_host, deadline, "this")
    interface_ips = _interface_addresses(contract.network_interface)
    local = {ip for ips in _all_addresses().values() for ip in ips}
    if by_name not in local and not by_name.startswith("127.") and interface_ips:
        return interface_ips[0]
    return by_name


def _all_addresses() -> dict[str, list[str]]:
    import psutil

    return {
        name: [a.address for a in addrs if a.family == socket.AF_INET]
        for name, addrs in psutil.net_if_addrs().items()
    }


def _interface_addresses(name: str | None) -> list[str]:
    return _all_addresses().get(name or "", [])
