from setuptools import find_packages, setup

setup(
    name="lasagne-lstm",
    version="0.1.0",
    description="Lasagne's layer API on PyTensor, centred on LSTMLayer: masked "
                "and gradient-accumulation training of LSTMs on text.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["lasagne_lstm", "lasagne_lstm.*"]),
    python_requires=">=3.11",
    install_requires=[
        "numpy>=1.26",
        "pytensor>=3.0,<4",
        "nltk>=3.9",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        # the default backend: measured fastest on the CPU (benchmarks/)
        "jax>=0.4",
    ],
    extras_require={
        # pytest-xdist: the suite compiles many graphs, one per core at a time
        "test": ["pytest>=8", "hypothesis>=6.100", "pytest-xdist>=3.5"],
        # torch==2.13.0 is the CPU build kept on the machines' disk; other
        # versions pull a CUDA build of several GB.
        "bench": ["torch==2.13.0"],
        # --distributed mpi: mpi4py and an MPI library from PyPI (the mpich
        # wheel puts mpiexec in the environment's bin/; no system MPI needed)
        "mpi": ["mpi4py>=4", "mpich>=4"],
    },
    entry_points={"console_scripts": ["lasagne-lstm=lasagne_lstm.training.cli:main"]},
)
