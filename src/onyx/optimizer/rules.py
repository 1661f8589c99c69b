"""Rewrite rules and the one driver that runs them.

A rule names the op types it starts from, a guard that looks at a node and returns what it
matched (or None), and an action that rewrites the match. The driver walks the graph once
per rule, in node order, skipping nodes an earlier match removed, and writes the edits back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from onyx.model.graph import Model, Node
from onyx.optimizer.editor import GraphEditor


@dataclass(frozen=True)
class Rule:
    """``targets``: op types of the default domain a match starts from; ``guard(editor, node)``:
    the match, or None; ``action(editor, node, match)``: the rewrite; ``min_opset``: the
    lowest default-domain opset the rewrite is valid for."""

    targets: frozenset[str]
    guard: Callable[[GraphEditor, Node], Any]
    action: Callable[[GraphEditor, Node, Any], None]
    min_opset: int = 0

    def __call__(self, model: Model) -> None:
        apply_rule(model, self)


def rule(*targets: str, guard: Callable[[GraphEditor, Node], Any], action: Callable[[GraphEditor, Node, Any], None],
         min_opset: int = 0) -> Rule:
    return Rule(frozenset(targets), guard, action, min_opset)


def apply_rule(model: Model, r: Rule) -> None:
    """Rewrite every match of ``r`` in ``model``'s main graph."""
    ed = GraphEditor(model)
    if ed.opset() < r.min_opset:
        return
    for node in list(model.graph.nodes):
        if node.op_type in r.targets and not node.domain and not ed.removed(node):
            match = r.guard(ed, node)
            if match is not None:
                r.action(ed, node, match)
    ed.commit()
