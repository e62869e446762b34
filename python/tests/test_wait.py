"""The package loads libcellforge.so with the binary's OpenMP wait setting
(threads spin briefly, then sleep) unless the user set one, as libgomp itself
reports it (OMP_DISPLAY_ENV=verbose prints what it read when it was loaded),
and leaves the environment as it was for the programs the process starts."""

import os
import re
import subprocess
import sys

from cellforge import _lib

PROBE = ("import os, cellforge; "
         "print('env', os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))")


def import_cellforge(**env):
    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    base.update(env, OMP_DISPLAY_ENV="verbose")
    res = subprocess.run([sys.executable, "-c", PROBE], env=base, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    # libgomp's report: one per load, and the last one counts
    spin = re.findall(r"^\s*GOMP_SPINCOUNT = '(\d+)'", res.stderr, re.M)
    policy = re.findall(r"^\s*OMP_WAIT_POLICY = '(\w+)'", res.stderr, re.M)
    assert spin and policy, "libgomp printed no settings:\n" + res.stderr[-2000:]
    return spin[-1], policy[-1], res.stdout.split("env ", 1)[1].split()


def test_the_package_sets_the_binary_setting():
    var, value = _lib.WAIT_SETTING
    spin, policy, after = import_cellforge()
    if var == "GOMP_SPINCOUNT":
        assert spin == value
    else:
        assert policy == value.upper()
    # gone again: the programs this process starts see the user's environment
    assert after == ["None", "None"]


def test_a_setting_of_the_users_is_kept():
    spin, _, after = import_cellforge(GOMP_SPINCOUNT="4321")
    assert spin == "4321" and after == ["4321", "None"]
    _, policy, after = import_cellforge(OMP_WAIT_POLICY="active")
    assert policy == "ACTIVE" and after == ["None", "active"]
