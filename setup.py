"""Packaging for source-conversations, an Airbyte source for PolyAI and Vectara conversation logs."""

from pathlib import Path

from setuptools import find_packages, setup

VERSION = "0.1.0"

setup(
    name="source-conversations",
    version=VERSION,
    description="Airbyte source connector for PolyAI and Vectara conversation logs.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["source_conversations", "source_conversations.*"]),
    package_data={"source_conversations": ["manifest.yaml", "components.py"]},
    include_package_data=True,
    install_requires=[
        # 7.39 is the minor version every test and benchmark in this repo runs against.
        "airbyte-cdk~=7.39.1",
        "requests>=2.31,<3",
        "orjson>=3.9,<4",
        "PyYAML>=6,<7",
    ],
    extras_require={
        "tests": [
            "pytest>=8,<10",
            "requests-mock>=1.11,<2",
            "pytest-timeout>=2.3,<3",
            "freezegun>=1.4,<2",
            "ruff==0.17.5",
        ],
        # Loading into a local warehouse (scripts/demo.sh, integration_tests/test_warehouse_e2e.py).
        # PyAirbyte 0.71 declares airbyte-cdk>=7.28.3,<8, so it shares one environment with
        # airbyte-cdk~=7.39.1; it pins duckdb==1.4.3 itself, the range here only documents it.
        "warehouse": [
            "airbyte>=0.71.3,<0.72",
            "duckdb>=1.4.3,<1.5",
        ],
    },
    entry_points={"console_scripts": ["source-conversations=source_conversations.run:run"]},
)
