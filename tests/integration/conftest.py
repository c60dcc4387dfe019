import pytest

from scalelab import Stack
from scalelab.plumbing.runs import Run

TEST_QUESTIONS = 2_000


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def run():
    r = Run.create("test")
    yield r
    r.close()


@pytest.fixture(scope="module")
def stack():
    with Stack(workers=2, questions=TEST_QUESTIONS, label="test") as s:
        yield s
