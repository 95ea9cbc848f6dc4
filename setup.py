"""What pyproject.toml cannot say: the list of avmine's subpackages, found in the repository's top-level folders.

The folders stay where the design puts them (``server/``, ``store/``, ...); installed, they are ``avmine.server``,
``avmine.store``, ... (``[tool.setuptools.package-dir]``), so avmine never collides with a user's own packages of
those names. ``agent_configs/`` ships as ``avmine.server.agent_configs``. ``avmine`` itself is a namespace package
(no ``__init__.py``); the version lives in ``avmine.server``.
"""

from setuptools import find_packages, setup

FOLDERS = ("server", "atomic", "vlm", "store", "evaluation")

setup(
    packages=[
        *(f"avmine.{name}" for name in find_packages(include=[f"{folder}*" for folder in FOLDERS])),
        "avmine.server.agent_configs",
    ],
)
