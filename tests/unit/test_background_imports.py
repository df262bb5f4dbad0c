"""Slow imports started in the background: done by the time they are needed, silent on failure
(the code that needs the module reports it)."""

from __future__ import annotations

import sys

from sagemaker_rl_container import background_imports


def test_imports_in_order_and_skips_a_module_that_fails(monkeypatch):
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    thread = background_imports.start("no_such_module_for_this_test", "colorsys")
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert thread.daemon  # never holds the process open at exit
    assert "colorsys" in sys.modules
    assert "no_such_module_for_this_test" not in sys.modules
