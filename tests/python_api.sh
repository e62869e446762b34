#!/bin/sh
# The Python package's tests (python/tests, pytest) against this build's
# libcellforge.so and the source tree's package.
#   tests/python_api.sh LIBCELLFORGE SOURCE_DIR
# Skipped (77) where no python3 with pytest and numpy is found.
set -eu
lib=$1
src=$2
py=""
for cand in ${PYTHON:-} /usr/bin/python3 python3; do
    if command -v "$cand" > /dev/null 2>&1 && "$cand" -c "import pytest, numpy" 2> /dev/null; then
        py=$cand
        break
    fi
done
[ -n "$py" ] || { echo "no python3 with pytest and numpy (apt-get install python3-pytest python3-numpy): skipped"; exit 77; }
export CELLFORGE_LIB="$lib" PYTHONPATH="$src/python" CELLFORGE_SPACES="$src/search_spaces"
exec "$py" -m pytest -q -p no:cacheprovider "$src/python/tests"
