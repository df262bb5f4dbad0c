"""A script-mode program with a bug."""

raise RuntimeError("the reward table is empty")
