"""Shared fixtures: the `cellforge` command beside the library under test, and
small tabulated helpers. The package under test is the installed one, or the
source tree's (PYTHONPATH=python, CELLFORGE_LIB=build/libcellforge.so)."""

import os
import subprocess

import pytest

import cellforge
from cellforge import _lib

# The skeletons the tests build: small, so every family trains in seconds.
SKELETONS = {
    "nb201": {"C": 4, "N": 1},
    "darts": {"C": 4, "layers": 3, "auxiliary": 1},
    "nb101": {"stem_channels": 8, "cells_per_stack": 1},
    "mobile": {"width": 0.25},
}


@pytest.fixture(scope="session")
def cli():
    path = _lib.cli_path()
    assert path, "the cellforge command is not beside %s" % _lib.path
    return path


def run_cli(cli, *args, input=None, timeout=600):
    res = subprocess.run([cli, *map(str, args)], input=input, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, "cellforge %s failed (%d):\n%s%s" % (" ".join(map(str, args)), res.returncode,
                                                                     res.stdout[-2000:], res.stderr[-2000:])
    return res.stdout


def set_args(options):
    out = []
    for k, v in options.items():
        out += ["--set", "%s=%s" % (k, v)]
    return out


@pytest.fixture
def chdir_tmp(tmp_path):
    old = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(old)
