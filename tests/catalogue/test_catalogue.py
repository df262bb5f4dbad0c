"""The catalogue (`make test-catalogue`; a short form runs in `make test`): every preset and
algorithm a user can pick (catalogue.py) trains in its image, exports, and serves.

A Coach row trains a few thousand steps, exports, and `serve` answers one observation with an
action in the agent's action space. A Ray row trains a few iterations, exports (ONNX where the
image claims it), and `serve` answers a batch the way the exported file computes it
(exported_outputs.py runs the file itself in the image). A row that cannot run says why in one
line: its environment needs software no registry serves (not started), or the image refuses
it before training with one line naming the problem, which the row checks.

The full run writes tests/catalogue/RESULTS.md.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from datetime import date
from pathlib import Path

import pytest
from catalogue import (
    COACH_IMAGES,
    COACH_PRESETS,
    OFFLINE,
    RAY_ALGORITHMS,
    Row,
    all_rows,
)

from conftest import (
    ROOT,
    build_image,
    docker,
    make_job,
    post_json,
    run_job,
    serving_container,
)

pytestmark = pytest.mark.docker

HERE = Path(__file__).parent
RESULTS = HERE / "RESULTS.md"
COACH_SOURCES = ROOT / "tests" / "coach" / "sources"
PARITY = 1e-4
# The default suite's short form: continuous actions on each Ray image. A Coach preset runs
# end to end in tests/sdk (the continuous Clipped PPO preset, on the TensorFlow image there,
# on MXNet in make test-catalogue), and every Coach preset in make test-catalogue.
SHORT_FORM = (
    "ray-pytorch-cpu:SAC on Pendulum-v1 (Box)",
    "ray-tensorflow-cpu:PPO on Pendulum-v1 (Box)",
)

# Each row's outcome, kept between runs (a run of some rows refreshes theirs): RESULTS.md
# is rendered from all of them, and says which rows have not run yet.
RECORDS = ROOT / "build" / "catalogue"
results: list[dict] = []
_images: dict[str, str] = {}


def image_ref(name: str) -> str:
    if name not in _images:
        _images[name] = build_image(name)
    return _images[name]


@pytest.fixture(scope="module", autouse=True)
def results_file(request):
    yield
    full = [r for r in results if r["full"]]
    if not full:  # the short form alone: RESULTS.md is the catalogue's
        return
    RECORDS.mkdir(parents=True, exist_ok=True)
    for record in full:
        row = record["row"]
        saved = {k: v for k, v in record.items() if k not in ("row", "full")}
        (RECORDS / f"{re.sub(r'[^A-Za-z0-9.-]+', '_', row.id)}.json").write_text(
            json.dumps({"id": row.id, "date": str(date.today()), **saved})
        )
    carry_over(RESULTS, ROWS, RECORDS)
    RESULTS.write_text(render(ROWS, RECORDS))


ROWS = {row.id: row for row in all_rows()}


def test_a_partial_run_keeps_the_committed_rows_it_did_not_run(tmp_path):
    # A fresh clone has no records: each row of RESULTS.md comes back as it was committed.
    carry_over(RESULTS, ROWS, tmp_path)
    table = [line for line in RESULTS.read_text().splitlines() if line.startswith("| ")]
    rendered = [line for line in render(ROWS, tmp_path).splitlines() if line.startswith("| ")]
    assert rendered == table


@pytest.mark.catalogue
@pytest.mark.parametrize("row_id", list(ROWS))
def test_catalogue(row_id, tmp_path, request):
    check_row(ROWS[row_id], tmp_path, request, full=True)


@pytest.mark.parametrize("row_id", SHORT_FORM)
def test_catalogue_short_form(row_id, tmp_path, request):
    check_row(ROWS[row_id], tmp_path, request, full=False)


def check_row(row: Row, tmp_path: Path, request, full: bool) -> None:
    record = {
        "row": row,
        "full": full,
        "trained": "",
        "exported": "",
        "served": "",
        "seconds": "",
        "note": "",
    }
    results.append(record)
    if row.unavailable:
        record["note"] = row.unavailable
        pytest.skip(row.unavailable)
    started = time.monotonic()
    try:
        if row.toolkit == "coach":
            run_coach_row(row, tmp_path, record)
        else:
            run_ray_row(row, tmp_path, record, request)
    except BaseException as error:
        record["note"] = record["note"] or "FAILED: " + " ".join(str(error).split())[:300]
        raise
    finally:
        record["seconds"] = f"{time.monotonic() - started:.0f}"


# ---- Coach ----------------------------------------------------------------------------------


def run_coach_row(row: Row, tmp_path: Path, record: dict) -> None:
    image = image_ref(row.image)
    source = HERE / "sources" / row.source if row.source else COACH_SOURCES
    root = make_job(tmp_path / "job", row.hyperparameters, source_dir=source)
    trained = train(row, image, root, record)
    if trained is None:
        return
    model, meta = trained
    # Nothing trained is lost: the final checkpoint is in model/ too.
    assert (model / "checkpoint" / "checkpoint.json").is_file()
    space = meta["action_space"]
    unservable = coach_unservable(meta)
    if unservable:
        answer = serve_refusal(image, model)
        assert unservable in answer, answer
        record["served"] = f"no: {answer}"
        return
    observation = random_observation(meta)
    with serving_container(image, model) as url:
        answer = post_json(url, {"observations": [observation]}, timeout=30)
    action = answer["actions"][0]
    assert in_action_space(action, space), (action, space)
    record["served"] = f"yes: {space['type']} action {short(action)}"


def coach_unservable(meta: dict) -> str | None:
    """Why serving refuses this export, as its ModelLoadError says (None: it serves)."""
    if len(meta.get("inputs") or {}) != 1:
        return "serving takes one observation"
    if any(head["kind"] == "DNDQHead" for head in meta.get("heads") or []):
        return "outside the exported graph"
    return None


def serve_refusal(image: str, model: Path) -> str:
    """`serve` on a model it cannot serve: /ping answers 503 with the reason."""
    import urllib.error
    import urllib.request

    with serving_container(image, model, expect_ping=503) as url:
        try:
            urllib.request.urlopen(f"{url}/ping", timeout=5)
        except urllib.error.HTTPError as error:
            return error.read().decode().strip()
    raise AssertionError("/ping answered 200 for a model serving refuses")


def random_observation(meta: dict) -> list:
    shape = (
        meta["inputs"][next(iter(meta["inputs"]))][1:]
        if meta.get("tf_serving")
        else meta["input_shapes"][0][1:]
    )
    rng = random.Random(0)

    def fill(dims):
        return (
            [rng.uniform(-0.5, 0.5) for _ in range(dims[0])]
            if len(dims) == 1
            else [fill(dims[1:]) for _ in range(dims[0])]
        )

    return fill(shape)


def in_action_space(action, space: dict) -> bool:
    """Whether `action` is one the environment takes: one of a discrete action map's target
    actions, else an index, a multi-hot vector or a point within the bounds."""
    targets = [t for f in space.get("output_filters") or [] for t in f.get("target_actions") or []]
    flat = list(flatten(action))
    if targets:
        return any(
            len(flat) == len(target)
            and all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(flat, target, strict=True))
            for target in (list(flatten(t)) for t in targets)
        )
    kind = space["type"]
    if kind == "Discrete":
        return isinstance(action, int) and 0 <= action < space["n"]
    if kind == "MultiSelect":
        return [int(v) for v in action] in space["actions"]
    lows = space["low"] or [None] * len(flat)
    highs = space["high"] or [None] * len(flat)
    return len(flat) == len(lows) and all(
        (lo is None or v >= lo - 1e-6) and (hi is None or v <= hi + 1e-6)
        for v, lo, hi in zip(flat, lows, highs, strict=True)
    )


def flatten(value):
    if isinstance(value, list):
        for item in value:
            yield from flatten(item)
    else:
        yield value


def steps_trained(result) -> str:
    metrics = result.metric_lines()
    return metrics[-1]["timesteps_total"] if metrics else "?"


# ---- Ray ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded_datasets(tmp_path_factory):
    """Offline algorithms train from a dataset: one recorded per image and env, on demand."""
    made: dict[tuple[str, str], Path] = {}

    def dataset(image: str, env: str) -> Path:
        if (image, env) not in made:
            root = make_job(
                tmp_path_factory.mktemp("record"),
                {
                    "rl_algorithm": "PPO",
                    "rl_env": env,
                    "rl_stop_iterations": "2",
                    "rl_record_dataset": "true",
                },
            )
            result = run_job(image, root, timeout=600)
            assert result.returncode == 0, result.log[-3000:]
            made[(image, env)] = root / "output" / "data" / "dataset"
        return made[(image, env)]

    return dataset


def run_ray_row(row: Row, tmp_path: Path, record: dict, request) -> None:
    image = image_ref(row.image)
    hyperparameters = dict(row.hyperparameters)
    channels = {}
    if hyperparameters["rl_algorithm"] in OFFLINE:
        datasets = request.getfixturevalue("recorded_datasets")
        channels["dataset"] = datasets(image, hyperparameters["rl_env"])
        hyperparameters["rl_offline_channel"] = "dataset"
    root = make_job(tmp_path / "job", hyperparameters, channels=channels)
    trained = train(row, image, root, record)
    if trained is None:
        return
    model, meta = trained
    assert (model / "checkpoint").is_dir()
    if not (meta.get("onnx") or meta.get("tf_serving")):
        answer = serve_refusal(image, model)
        assert "nothing to serve" in answer and "not exported" in answer, answer
        record["served"] = f"no: {answer}"
        return
    batch = random_batch(meta["observation_space"], 4)
    # DQN's ONNX policy computes the action itself: it has no distribution inputs to compare.
    compared = [
        name
        for name in ("action_dist_inputs", "actions")
        if name in (meta.get("onnx") or {}).get("outputs", ["action_dist_inputs"])
    ]
    with serving_container(image, model) as url:
        answer = post_json(url, {"observations": batch, "include": compared}, timeout=30)
    direct = exported_outputs(image, model, batch)
    worst = 0.0
    for name in compared:
        if name in direct:
            pairs = zip(flatten(answer[name]), flatten(direct[name]), strict=True)
            worst = max([worst, *(abs(a - b) for a, b in pairs)])
    assert worst <= PARITY, (answer, direct)
    space = meta["action_space"]
    assert all(in_gym_space(action, space) for action in answer["actions"]), answer["actions"]
    record["served"] = (
        f"yes: as {direct['source']} computes ({', '.join(compared)}; max diff {worst:.1e})"
    )


def random_batch(space: dict, size: int) -> list:
    rng = random.Random(0)
    low, high = space["low"], space["high"]
    return [
        [
            rng.uniform(max(lo, -1.0), min(hi, 1.0)) if lo is not None else rng.uniform(-1, 1)
            for lo, hi in zip(low, high, strict=True)
        ]
        for _ in range(size)
    ]


def exported_outputs(image: str, model: Path, batch: list) -> dict:
    ran = docker(
        "run",
        "--rm",
        "--entrypoint",
        "python3",
        "-v",
        f"{model}:/opt/ml/model:ro",
        "-v",
        f"{HERE / 'exported_outputs.py'}:/tmp/exported_outputs.py:ro",
        image,
        "/tmp/exported_outputs.py",
        "/opt/ml/model",
        json.dumps(batch),
        timeout=300,
    )
    return json.loads(ran.stdout.strip().splitlines()[-1])


def in_gym_space(action, space: dict) -> bool:
    if space["type"] == "Discrete":
        return isinstance(action, int) and 0 <= action < space["n"]
    flat = list(flatten(action))
    return all(
        lo - 1e-5 <= v <= hi + 1e-5
        for v, lo, hi in zip(flat, space["low"], space["high"], strict=True)
    )


# ---- shared ---------------------------------------------------------------------------------


def train(row: Row, image: str, root: Path, record: dict) -> tuple[Path, dict] | None:
    """Run the row's job; None when the image refused it as expected, else its model/ and
    metadata.json, recorded."""
    result = run_job(image, root, timeout=900)
    if refused_before_training(row, result, record):
        return None
    assert result.returncode == 0 and result.succeeded, result.log[-4000:]
    record["trained"] = f"yes ({steps_trained(result)} steps)"
    model = root / "model"
    meta = json.loads((model / "metadata.json").read_text())
    record["exported"] = exported_summary(model, meta)
    return model, meta


def refused_before_training(row: Row, result, record: dict) -> bool:
    """Whether the image refused the row, as catalogue.REFUSED expects: exit 1, its one line
    in output/failure, and no iteration ran. A row not expected to be refused must train."""
    failure = (result.failure or "").strip()
    if row.refused is None:
        assert result.returncode == 0, f"{failure or 'no failure line'}: {result.log[-4000:]}"
        return False
    assert result.returncode == 1 and failure and "\n" not in failure, result.log[-4000:]
    assert not result.metric_lines(), f"refused after training: {failure}"
    assert row.refused in failure, failure
    record["trained"] = "refused"
    record["note"] = failure
    return True


def exported_summary(model: Path, meta: dict) -> str:
    names = sorted(p.name for p in model.iterdir())
    kind = []
    if meta.get("onnx"):
        kind.append("ONNX")
    if meta.get("tf_serving"):
        kind.append("SavedModel")
    if meta.get("symbol"):
        kind.append("MXNet symbol")
    return f"{' + '.join(kind) or 'checkpoint only'} ({', '.join(names)})"


def short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---- the lists themselves -------------------------------------------------------------------


@pytest.mark.parametrize("image", COACH_IMAGES)
def test_every_preset_the_image_ships_has_a_row(image):
    listed = docker(
        "run",
        "--rm",
        "--entrypoint",
        "python3",
        image_ref(image),
        "-c",
        "import os, rl_coach; d = os.path.join(os.path.dirname(rl_coach.__file__), 'presets');"
        "print(' '.join(sorted(f[:-3] for f in os.listdir(d) "
        "if f.endswith('.py') and f != '__init__.py')))",
        timeout=120,
    )
    assert listed.stdout.split() == sorted(COACH_PRESETS)


def test_every_algorithm_rllib_registers_has_a_row():
    from ray.rllib.algorithms.registry import ALGORITHMS

    assert sorted(ALGORITHMS) == sorted(RAY_ALGORITHMS)


# ---- RESULTS.md -----------------------------------------------------------------------------


def carry_over(results: Path, rows: dict[str, Row], records_dir: Path) -> None:
    """Rows this checkout has no record of (a fresh clone's build/ is empty) keep what the
    committed RESULTS.md says of them, so a run of some rows rewrites only theirs."""
    if not results.exists():
        return
    text = results.read_text()
    ran = re.search(r"rows run (\d{4}-\d\d-\d\d)", text)
    for line in text.splitlines():
        if not line.startswith("| "):  # the table's rows only
            continue
        cells = [cell.strip() for cell in line.strip()[1:-1].split("|")]
        if len(cells) != 7 or cells[0] == "preset or algorithm" or cells[2] == "not run yet":
            continue
        row = rows.get(f"{cells[1]}:{cells[0]}")
        path = records_dir / f"{re.sub(r'[^A-Za-z0-9.-]+', '_', row.id)}.json" if row else None
        if row is None or path.exists():
            continue
        records_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(
                {
                    "id": row.id,
                    "date": ran[1] if ran else str(date.today()),
                    "trained": None if cells[2] in ("-", "FAILED") else cells[2],
                    "exported": None if cells[3] == "-" else cells[3],
                    "served": "" if cells[4] == "-" else cells[4],
                    "seconds": None if cells[5] == "-" else cells[5],
                    "note": "" if row.unavailable else cells[6],
                }
            )
        )


def render(rows: dict[str, Row], records_dir: Path) -> str:
    records = {}
    for path in records_dir.glob("*.json"):
        record = json.loads(path.read_text())
        records[record["id"]] = record
    done = [records[i] for i in rows if i in records]
    ran = [r for r in done if not rows[r["id"]].unavailable]
    failed = [r for r in ran if r["note"].startswith("FAILED")]
    dates = sorted({r["date"] for r in done})
    lines = [
        "# Catalogue results",
        "",
        "Written by `make test-catalogue` (tests/catalogue/test_catalogue.py; rows run "
        f"{' to '.join(dict.fromkeys([dates[0], dates[-1]])) if dates else 'never'}): every "
        "preset shipped in the Coach images' `rl_coach` package and this suite's presets for "
        "the other action-space kinds (a few thousand steps, export, `serve` one observation), "
        "and every `rl_algorithm` of the Ray images on a discrete and a continuous environment "
        "(two iterations, export, `serve` a batch and compare it with the exported file). A row "
        "that cannot run says why.",
        "",
        f"{len(rows)} rows: {len(ran)} run, "
        f"{sum(r['served'].startswith('yes') for r in ran)} served, "
        f"{sum(r['trained'] == 'refused' for r in ran)} refused before training with one line, "
        f"{len(failed)} failed, {sum(1 for r in done if rows[r['id']].unavailable)} not runnable "
        f"here, {len(rows) - len(done)} not run yet; the rows took "
        f"{sum(float(r['seconds'] or 0) for r in done) / 60:.0f} min in all (2 CPUs).",
        "",
        "| preset or algorithm | image | trained | exported | served | seconds | why not |",
        "|---|---|---|---|---|---|---|",
    ]
    for row_id, row in sorted(rows.items(), key=lambda i: (i[1].toolkit, i[1].name, i[1].image)):
        r = records.get(row_id)
        if r is None:
            cells = [row.name, row.image, "not run yet", "-", "-", "-", ""]
        else:
            cells = [
                row.name,
                row.image,
                r["trained"] or ("-" if row.unavailable else "FAILED"),
                r["exported"] or "-",
                r["served"] or "-",
                r["seconds"] or "-",
                row.unavailable or r["note"],  # the reason as catalogue.py states it now
            ]
        lines.append("| " + " | ".join(re.sub(r"\|", "/", str(c)) for c in cells) + " |")
    return "\n".join(lines) + "\n"
