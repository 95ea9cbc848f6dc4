"""What pyproject.toml cannot say: agent_configs/ (at the top of the repository) ships as server.agent_configs."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["server*", "atomic*", "vlm*", "store*", "evaluation*"]), "server.agent_configs"],
    package_dir={"server.agent_configs": "agent_configs"},
)
