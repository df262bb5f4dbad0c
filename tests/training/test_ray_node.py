"""A one-host job's Ray node (ray_rllib/ray_node.py) is a child process started before the
job's configuration is built: it must end with the job however the job ends, and a node that
cannot start fails the job with one line naming its log."""

from __future__ import annotations

import signal
import time

import psutil

from conftest import QUICK_PPO, make_job, run_train, start_train, wait_for_line

NODE_PROCESSES = ("ray start", "gcs_server", "raylet")


def ray_processes_under(pid: int) -> dict[str, psutil.Process]:
    """The job's Ray node processes, by kind."""
    found = {}
    for child in psutil.Process(pid).children(recursive=True):
        command = " ".join(child.cmdline())
        for kind in NODE_PROCESSES:
            if kind in command:
                found[kind] = child
    return found


def test_a_killed_job_leaves_no_ray_process_behind(tmp_path):
    root = make_job(tmp_path / "job", {**QUICK_PPO, "rl_stop_iterations": "500"})
    log = tmp_path / "job.log"
    proc = start_train(root, log)
    try:
        wait_for_line(log, "Iteration 2:", proc, timeout=180)
        node = ray_processes_under(proc.pid)
        assert sorted(node) == sorted(NODE_PROCESSES)
        # SIGKILL: no handler runs, nothing of the job's own code stops the node.
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        _, alive = psutil.wait_procs(list(node.values()), timeout=20)
        assert not alive, [p.cmdline()[:3] for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
    # The node's own log is kept with the job's output.
    assert "Ray runtime started" in (root / "output" / "data" / "ray" / "ray-node.log").read_text()


def test_a_ray_node_that_cannot_start_fails_the_job_naming_its_log(tmp_path):
    root = make_job(tmp_path / "job", {**QUICK_PPO, "rl_stop_iterations": "1"})
    # Any `ray start` fails when its temporary directory cannot be created.
    blocker = tmp_path / "not-a-directory"  # so RAY_TMPDIR/ray cannot be made
    blocker.write_text("")
    started = time.monotonic()
    result = run_train(root, env={"RAY_TMPDIR": str(blocker / "ray")})
    assert result.returncode != 0
    failure = (root / "output" / "failure").read_text().strip()
    assert "\n" not in failure
    assert "Ray node stopped while starting (NotADirectoryError" in failure, failure
    assert "output/data/ray/ray-node.log" in failure
    assert time.monotonic() - started < 120
