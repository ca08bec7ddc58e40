"""The conversation suite over REST against a real stack (issue #13): every story of
tests/data/conversations, each as its own conversation, every reply judged against what
the customer needed (testing/conversations.py)."""

from __future__ import annotations

import pytest

from testing import conversations
from testing.stack import Stack, prepare_features, stack_env

pytestmark = pytest.mark.slow

SUITE = conversations.load()


@pytest.fixture(scope="module")
def suite_stack(model, tmp_path_factory):
    """A stack of its own on a fresh shop database: the conversations change carts, codes
    and tickets, which the other e2e modules' stack must not see."""
    work = tmp_path_factory.mktemp("conversations")
    env = stack_env(work)
    prepare_features(env)
    running = Stack(work, model, env).start()
    yield running
    running.close()


def test_the_suite_is_large_enough():
    assert len(SUITE) >= 80
    assert sum(len(c.turns) for c in SUITE) >= 2 * len(SUITE)


@pytest.mark.parametrize("index", range(len(SUITE)), ids=[c.name for c in SUITE])
def test_conversation(suite_stack, index):
    conversation = SUITE[index]
    outcome = conversations.run(
        lambda sender, text, customer: suite_stack.say(sender, text, customer=customer),
        conversation, f"conv{index:03d}")
    failed = [(text, reply) for (text, _), reply, met
              in zip(conversation.turns, outcome.replies, outcome.met) if not met]
    assert not failed, failed
