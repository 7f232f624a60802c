"""pytest's top-level configuration of the solution: the grader's ``--submission=PATH`` option,
from its plugin (tools/grade/pytest_plugin.py). The starter ships neither this file nor the
grader; its tests/conftest.py holds only the shared test helpers."""

pytest_plugins = ["tools.grade.pytest_plugin"]
