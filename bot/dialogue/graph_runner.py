"""A graph runner that runs Rasa's prediction graph in a fixed order, without dask.

Rasa 3.6 runs every message through ``DaskGraphRunner.run``
(``rasa/engine/runner/dask.py``), which rebuilds the minimal sub-graph for the targets
(``GraphSchema.minimal_graph_schema``, a recursive walk without memoisation) and schedules
it with ``dask.get`` on every call.  For a pipeline that is a chain of components this
bookkeeping cost about a fifth of the Rasa server's CPU per turn (py-spy, 32 concurrent
conversations, ``bench/turn_latency.py``).  :class:`SequentialGraphRunner` computes each
target set's execution order once and then calls the same instantiated
:class:`rasa.engine.graph.GraphNode` objects (hooks, caching and errors unchanged) in that
order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import rasa.core.processor
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

_Plan = tuple[list[tuple[str, Any, tuple[str, ...]]], tuple[str, ...]]


class SequentialGraphRunner(DaskGraphRunner):
    """:class:`DaskGraphRunner` with a cached, sequential execution plan per target set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """Same arguments as :class:`DaskGraphRunner`."""
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[str, ...], _Plan] = {}

    def _plan(self, targets: tuple[str, ...]) -> _Plan:
        plan = self._plans.get(targets)
        if plan is None:
            graph = self._build_dask_graph(self._graph_schema.minimal_graph_schema(list(targets)))
            steps = [(name, graph[name][0], tuple(graph[name][1:]))
                     for name in _topological(graph)]
            plan = self._plans[targets] = (steps, targets)
        return plan

    def run(
        self, inputs: dict[str, Any] | None = None, targets: list[str] | None = None
    ) -> dict[str, Any]:
        """Run the graph (same contract as :meth:`DaskGraphRunner.run`).

        Args:
            inputs: placeholder name -> value (for example ``__message__``).
            targets: node names whose outputs are returned; default the schema's targets.

        Returns:
            Target node name -> its output.

        Raises:
            GraphRunError: an input name clashes with a node name, or a node failed with a
                ``RuntimeError`` (as Rasa's runner reports it).
        """
        steps, run_targets = self._plan(tuple(targets or self._graph_schema.target_names))
        results: dict[str, Any] = {}
        for name, value in (inputs or {}).items():
            if isinstance(value, str) and value in self._graph_schema.nodes:
                raise GraphRunError(
                    f"Input value '{value}' clashes with a node name. Make sure that none of "
                    "the input names passed to the `run` method are the same as node names "
                    "in the graph schema."
                )
            results[name] = (name, value)
        try:
            for name, node, needs in steps:
                results[name] = node(*(results[need] for need in needs))
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e
        return dict(results[target] for target in run_targets)


def _topological(graph: dict[str, tuple[Any, ...]]) -> list[str]:
    """Node names of a dask-style graph ``{name: (callable, *dependency names)}`` with every
    node after its dependencies (dependencies that are not nodes are inputs)."""
    order: list[str] = []
    done: set[str] = set()

    def visit(name: str, path: Iterable[str]) -> None:
        if name in done or name not in graph:
            return
        if name in path:
            raise GraphRunError(f"the graph has a cycle through {name!r}")
        for need in graph[name][1:]:
            visit(need, (*path, name))
        done.add(name)
        order.append(name)

    for name in graph:
        visit(name, ())
    return order


def install() -> None:
    """Make Rasa's message processor load models with :class:`SequentialGraphRunner`."""
    rasa.core.processor.DaskGraphRunner = SequentialGraphRunner  # type: ignore[misc]
