"""Seconds of gloo all-reduces between two containers of an image on one Docker network, as
the learners' DDP runs them (torch.distributed): what bench/scaling_bench.py's model takes for
the all-reduce between learners on different hosts."""

from __future__ import annotations

import json
import os

from measure import containers, docker

ALLREDUCE_CALLS = 300

ALLREDUCE_PROGRAM = """
import json, os, sys, time
import torch, torch.distributed as dist
torch.set_num_threads(1)
# An idle-priority spinner keeps this VM's vCPU from sleeping while the rank waits: waking it
# cost up to a 4 ms tick here, which a dedicated host's vCPU need not pay.
if os.environ.get("KEEP_AWAKE") and os.fork() == 0:
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    while True:
        pass
rank, sizes, calls = int(sys.argv[1]), [int(n) for n in sys.argv[2].split(",")], int(sys.argv[3])
dist.init_process_group("gloo", init_method="tcp://allreduce-0:29500", rank=rank, world_size=2)
seconds = {}
for size in sizes:
    tensor = torch.ones(size)
    for _ in range(20):
        dist.all_reduce(tensor)
    seconds[size] = []
    for _ in range(calls):
        started = time.perf_counter()
        dist.all_reduce(tensor)
        seconds[size].append(time.perf_counter() - started)
dist.barrier()
if rank == 0:
    print("ALLREDUCE " + json.dumps(seconds), flush=True)
dist.barrier()
dist.destroy_process_group()
"""


def allreduce_between_containers(
    image: str, sizes: list[int], keep_awake: bool = False
) -> dict[int, list[float]]:
    """Seconds of each gloo all-reduce of `sizes` floats between two containers of `image`."""
    names = {}
    with containers.network("sagemaker-rl-allreduce") as network:
        for rank in (1, 0):
            names[rank], _ = containers.run_on(
                network, f"allreduce-{rank}",
                # a CPU each, as each learner has a host of its own: sharing both CPUs, one
                # rank often waited a 4 ms scheduler tick for the other
                f"--cpuset-cpus={rank % (os.cpu_count() or 1)}",
                *(["-e", "KEEP_AWAKE=1"] if keep_awake else []), image,
                "python", "-c", ALLREDUCE_PROGRAM,
                str(rank), ",".join(map(str, sizes)), str(ALLREDUCE_CALLS),
            )  # fmt: skip
        codes = [docker("wait", names[rank], timeout=600).stdout.strip() for rank in (0, 1)]
        logs = docker("logs", names[0], check=False)
        log = logs.stdout + logs.stderr
    line = next((row for row in log.splitlines() if row.startswith("ALLREDUCE ")), None)
    if codes != ["0", "0"] or line is None:
        raise SystemExit(f"the all-reduce containers failed ({codes}):\n{log[-3000:]}")
    return {int(size): times for size, times in json.loads(line.split(" ", 1)[1]).items()}
