import pytest

from scalelab import Stack
from scalelab.plumbing.runs import Run

TEST_QUESTIONS = 2_000


@pytest.fixture
def run():
    r = Run.create("test")
    yield r
    r.close()


@pytest.fixture(scope="module")
def stack():
    with Stack(workers=2, questions=TEST_QUESTIONS, label="test") as s:
        yield s
