#!/bin/sh
# quickstart.sh - install what is missing, build, then run cellforge or its tests.
#
#   ./quickstart.sh search [ARGS...]  install, build, run the default search
#   ./quickstart.sh test              install, build, run every test (ctest), then
#                                     pip install . into a venv and run the Python tests
#   ./quickstart.sh python            install, then pip install . into .venv (the
#                                     Python package; `. .venv/bin/activate` to use it)
#   ./quickstart.sh sanitize          build with address+UB sanitizers, run the CPU tests
#   ./quickstart.sh fuzz [SECONDS]    build the fuzz targets (clang, libFuzzer) and run
#                                     each for SECONDS (default 300): tools/fuzz.sh
#
# Packages come from Debian's archive (apt-get, through sudo when not root);
# nothing is installed when everything is already there. The CUDA backend is
# built when a CUDA toolkit is found at /usr/local/cuda (or CUDAToolkit_ROOT);
# without one the build is CPU-only. BUILD_DIR (default build) picks the build
# directory, JOBS the parallel build jobs (default: all cores).
set -eu

cd "$(dirname "$0")"
mode=${1:-search}
[ $# -gt 0 ] && shift

PACKAGES="build-essential cmake git zlib1g-dev libcjson-dev libopenblas-dev libpng-dev libjpeg-dev dataset-fashion-mnist"
# what the tests use besides: Chromium renders the report, numpy + onnx check the
# exported models, pip fetches onnxruntime (not in Debian 12) to run them; OpenMPI
# builds and tests the search over MPI ranks (ctest -L mpi)
TEST_PACKAGES="chromium python3-numpy python3-onnx python3-pil python3-pip python3-pytest python3-torch python3-pandas
               libopenmpi-dev openmpi-bin"
# the Python package: a venv that sees Debian's numpy, torch and pandas, and
# pip (scikit-build-core comes from PyPI)
PYTHON_PACKAGES="python3-venv python3-pip python3-numpy"
# the fuzz targets: clang, its libFuzzer runtime (libclang_rt.fuzzer-x86_64.a
# is in libclang-rt-14-dev) and clang's OpenMP
FUZZ_PACKAGES="clang libclang-rt-14-dev libomp-dev ninja-build"
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

say() { printf '==> %s\n' "$*"; }

install_packages() { # install_packages [EXTRA PACKAGES...]
    missing=""
    for p in $PACKAGES "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    say "installing:$missing"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
}

# onnxruntime for Debian's python3 from PyPI, without its dependencies (numpy
# and protobuf stay Debian's); where PyPI cannot be reached the ONNX runtime
# test reports "skipped" and everything else still runs.
install_onnxruntime() {
    /usr/bin/python3 -c "import onnxruntime" 2>/dev/null && return 0
    say "installing onnxruntime for /usr/bin/python3 (pip)"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo /usr/bin/python3 -m pip install -q --break-system-packages --no-deps onnxruntime ||
        say "onnxruntime could not be installed: the ONNX runtime test will be skipped"
}

build() { # build DIR [cmake options...]
    dir=$1; shift
    say "configuring $dir"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >"$dir.configure.log" 2>&1 || {
        cat "$dir.configure.log"; exit 1; }
    grep -E "cellforge:" "$dir.configure.log" || true
    say "building $dir ($JOBS jobs)"
    cmake --build "$dir" -j "$JOBS"
}

# pip install . into the venv $1 (made with Debian's python3, seeing its packages)
python_package() {
    venv=$1
    [ -x "$venv/bin/python" ] || { say "creating $venv"; /usr/bin/python3 -m venv --system-site-packages "$venv"; }
    say "pip install . into $venv"
    "$venv/bin/python" -m pip install -q .
    "$venv/bin/python" -c "import cellforge; print('cellforge', cellforge.__version__, 'from', cellforge.__file__)"
}

case "$mode" in
python)
    install_packages $PYTHON_PACKAGES
    python_package .venv
    say "ready: . .venv/bin/activate, then python3 -c 'import cellforge'"
    ;;
search)
    install_packages
    build "$BUILD_DIR"
    "$BUILD_DIR/cellforge" version
    "$BUILD_DIR/cellforge" devices
    say "cellforge search $*"
    exec "$BUILD_DIR/cellforge" search "$@"
    ;;
test)
    install_packages $TEST_PACKAGES
    install_onnxruntime
    build "$BUILD_DIR"
    say "running every test"
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
    install_packages $PYTHON_PACKAGES
    python_package "$BUILD_DIR/venv"
    say "the Python tests against the installed package"
    src=$(pwd)
    (cd "$BUILD_DIR" && venv/bin/python -m pytest -q -p no:cacheprovider "$src/python/tests")
    ;;
sanitize)
    install_packages $TEST_PACKAGES
    install_onnxruntime
    build "$BUILD_DIR-sanitize" -DCF_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
    say "running the CPU tests under AddressSanitizer and UndefinedBehaviorSanitizer"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        ctest --test-dir "$BUILD_DIR-sanitize" --output-on-failure -j "$JOBS" -L "unit|golden|cli"
    ;;
fuzz)
    install_packages $FUZZ_PACKAGES
    say "fuzzing every parser for ${1:-300} s each"
    BUILD_DIR="$BUILD_DIR-fuzz" JOBS="$JOBS" tools/fuzz.sh "${1:-300}"
    ;;
*)
    echo "usage: ./quickstart.sh search [ARGS...] | test | python | sanitize | fuzz [SECONDS]" >&2
    exit 2
    ;;
esac
