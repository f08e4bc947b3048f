from setuptools import find_packages, setup

setup(
    name="testbed",
    version="0.1.0",
    description="Network emulation testbed: networkx topologies built as namespaces, veths, bridges",
    packages=find_packages(include=["testbed", "testbed.*"]),
    python_requires=">=3.11",
    install_requires=[
        "networkx==3.6.1",
        "pyroute2==0.9.7",
        "matplotlib==3.10.9",
        "mininet==2.3.0.dev6",
    ],
    extras_require={
        "test": ["pytest==8.4.2", "pytest-timeout==2.4.0", "pexpect==4.9.0", "hypothesis==6.170.17"],
    },
    entry_points={"console_scripts": ["testbed=testbed.cli.main:main"]},
)
