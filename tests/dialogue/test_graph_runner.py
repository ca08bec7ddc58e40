"""The sequential graph runner gives what Rasa's dask runner gives, on a real graph of
Rasa graph components (inputs, a diamond of dependencies, two target sets, errors)."""

from __future__ import annotations

from typing import Any

import pytest
import rasa.core.processor
from rasa.engine.exceptions import GraphComponentException, GraphRunError
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema, SchemaNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

from bot.dialogue.graph_runner import SequentialGraphRunner, install


class Add(GraphComponent):
    """Adds its config's ``n`` to the sum of its inputs; fails on a negative total."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> Add:
        return cls(config["n"])

    def run(self, **values: int) -> int:
        total = sum(values.values()) + self.n
        if total < 0:
            raise RuntimeError("negative")
        return total


def node(n: int, needs: dict[str, str], target: bool = False) -> SchemaNode:
    return SchemaNode(
        needs=needs,
        uses=Add,
        constructor_name="create",
        fn="run",
        config={"n": n},
        is_target=target,
    )


SCHEMA = GraphSchema(
    {
        "a": node(1, {"x": "__input__"}),
        "b": node(10, {"x": "a"}),
        "c": node(100, {"x": "a"}),
        "d": node(1000, {"x": "b", "y": "c"}, target=True),
        "e": node(5, {"x": "b"}, target=True),
    }
)


@pytest.fixture
def runners(tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(SCHEMA, "model")
    return (
        DaskGraphRunner(SCHEMA, storage, context),
        SequentialGraphRunner(SCHEMA, storage, context),
    )


@pytest.mark.parametrize("targets", [None, ["d"], ["e"], ["b", "d"]])
@pytest.mark.parametrize("value", [0, 7, 30])
def test_same_outputs_as_rasas_runner(runners, targets, value):
    dask, sequential = runners
    expected = dask.run({"__input__": value}, targets)
    assert sequential.run({"__input__": value}, targets) == expected
    assert sequential.run({"__input__": value}, targets) == expected  # the cached plan


def test_each_target_set_is_planned_once(runners):
    _, sequential = runners
    for value in range(3):
        sequential.run({"__input__": value}, ["e"])
        sequential.run({"__input__": value})
    assert set(sequential._plans) == {("e",), ("d", "e")}
    steps, _ = sequential._plans[("e",)]
    assert [name for name, _, _ in steps] == ["a", "b", "e"]  # c and d are not needed


def test_errors_are_reported_like_rasas_runner(runners):
    for runner in runners:
        with pytest.raises(GraphComponentException, match="node a"):
            runner.run({"__input__": -5000}, ["d"])
        with pytest.raises(GraphRunError, match="clashes with a node name"):
            runner.run({"__input__": "a"}, ["d"])


def test_install_makes_rasas_processor_use_it():
    install()
    assert rasa.core.processor.DaskGraphRunner is SequentialGraphRunner
