"""NEC's differentiable neural dictionary (DND), checkpointed with today's annoy.

Coach 1.0's NEC agent pickles its DND into every checkpoint; each of its AnnoyDictionary
objects holds an `annoy.AnnoyIndex`, which annoy 1.17 cannot pickle ("cannot pickle
'annoy.Annoy' object": the first checkpoint failed the job). `install()` gives
AnnoyDictionary a pickled state without the index, rebuilt from the stored embeddings when it
is loaded, and makes Coach's `load_dnd` (used on restore, which rebuilt every index as 512
wide whatever the embedding's width) rely on that.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from rl_coach.memories.non_episodic import differentiable_neural_dictionary as dnd

    dnd.AnnoyDictionary.__getstate__ = _state_without_index
    dnd.AnnoyDictionary.__setstate__ = _state_with_rebuilt_index
    dnd.load_dnd = _load_dnd
    _installed = True


def _state_without_index(self: Any) -> dict[str, Any]:
    state = dict(self.__dict__)
    state.pop("index", None)
    return state


def _state_with_rebuilt_index(self: Any, state: dict[str, Any]) -> None:
    from annoy import AnnoyIndex

    self.__dict__.update(state)
    self.index = AnnoyIndex(self.key_dimension, metric="euclidean")
    self.index.set_seed(1)
    built = min(int(self.built_capacity), int(self.curr_size))
    for idx in range(built):
        self.index.add_item(idx, self.embeddings[idx])
    if built:
        self.index.build(self.num_neighbors)


def _load_dnd(model_dir: str) -> Any:
    """The DND of the newest checkpoint in `model_dir` (Coach's `<n>_Step-<k>...srs` files)."""
    newest, newest_id = None, -1
    for name in os.listdir(model_dir):
        path = os.path.join(model_dir, name)
        if os.path.isdir(path) or name.split(".")[-1] != "srs":
            continue
        checkpoint_id = int(name.split("_")[0])
        if checkpoint_id > newest_id:
            newest, newest_id = path, checkpoint_id
    if newest is None:
        raise FileNotFoundError(f"no NEC dictionary (.srs file) in {model_dir}")
    with open(newest, "rb") as handle:
        return pickle.load(handle)
