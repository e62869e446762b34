#!/bin/sh
# gpu_check.sh - build cellforge on a GPU machine that has the CUDA toolkit,
# CMake and PyTorch but no Debian packages, then run the gpu-labelled tests
# and the GPU training benchmark against PyTorch.
#
#   tools/gpu_check.sh bundle      # on a Debian build machine: fill gpu-bundle/
#   tools/gpu_check.sh run         # on the GPU machine, from the checkout root
#
# `bundle` copies into gpu-bundle/ (git-ignored, about 40 MB packed) what such a
# machine lacks: the headers and shared libraries of cJSON, OpenBLAS (with its
# Fortran runtime), zlib, and the Fashion-MNIST files. `run` configures a
# native build against them (ninja where present), with cuDNN and NCCL from
# the toolkit, else from the system's multiarch directories
# (/usr/include/x86_64-linux-gnu/cudnn.h, /usr/lib/x86_64-linux-gnu/libcudnn.so.9,
# /usr/include/nccl.h, /usr/lib/x86_64-linux-gnu/libnccl.so.2: only versioned
# .so files there, so the paths are passed), else from PyTorch's nvidia-*
# wheels; builds for the local GPU's architecture; runs every gpu test with
# its output; and runs benchmarks/bench_train.py on the GPU in fp32 for each
# network of BENCH (default: nb201 nb201n5 darts mobile), cellforge against
# PyTorch eager, a warm-up epoch left out on both sides; COMPILE=1 adds
# torch.compile(mode="reduce-overhead") for nb201; then both sides in bf16
# for each network of BENCH16 (default: nb201 nb201n5) and in fp16 for
# nb201n5 (BENCH16="" skips the 16-bit runs); then cellforge alone with
# CUDA graphs off (nb201) and with its own depthwise kernels (darts, mobile);
# with SEARCH_TIME=S, benchmarks/bench_gpu_search.py for S seconds per
# configuration (SEARCH_PROCS: the PyTorch process counts, default 1,4,8,16).
# BENCH="" skips the training comparisons with PyTorch. Results go to $OUT
# (or gpu-results/).
set -eu
cd "$(dirname "$0")/.."
mode=${1:-run}
B=$PWD/gpu-bundle
DATA=/usr/share/datasets/fashion-mnist

case "$mode" in
bundle)
    rm -rf "$B"
    mkdir -p "$B/lib" "$B/include/cjson" "$B/include/openblas" "$B/fashion-mnist"
    cp /usr/include/cjson/cJSON.h "$B/include/cjson/"
    cp /usr/include/zlib.h /usr/include/zconf.h "$B/include/"
    blas=$(dirname "$(find /usr/include -name cblas.h -path '*openblas*' | head -n 1)")
    cp "$blas"/*.h "$B/include/openblas/"
    for lib in libcjson.so.1 libopenblas.so.0 libgfortran.so.5 libquadmath.so.0 libz.so.1; do
        cp -L "/lib/x86_64-linux-gnu/$lib" "$B/lib/"
    done
    cp "$DATA"/*.gz "$B/fashion-mnist/"
    # packed: the carry to a GPU machine is limited to 64 MiB
    tar -C "$B" -cJf "$B/lib.tar.xz" lib && rm -rf "$B/lib"
    du -sh "$B"
    ;;
run)
    out=${OUT:-$PWD/gpu-results}
    mkdir -p "$out"
    [ -d "$B/lib" ] || tar -C "$B" -xJf "$B/lib.tar.xz"
    nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || true
    cuda=${CUDAToolkit_ROOT:-/usr/local/cuda}
    extra=""
    sys_inc=/usr/include/x86_64-linux-gnu sys_lib=/usr/lib/x86_64-linux-gnu
    # cuDNN and NCCL: the toolkit's, else the system's, else those PyTorch was installed with
    if ls "$cuda"/lib64/libcudnn.so* >/dev/null 2>&1; then
        :
    elif [ -f "$sys_inc/cudnn.h" ] && ls "$sys_lib"/libcudnn.so.* >/dev/null 2>&1; then
        extra="-DCF_CUDNN_INCLUDE=$sys_inc -DCF_CUDNN_LIB=$(ls "$sys_lib"/libcudnn.so.* | sort | head -n 1)"
        nccl_inc=/usr/include
        [ -f "$sys_inc/nccl.h" ] && nccl_inc=$sys_inc
        extra="$extra -DCF_NCCL_INCLUDE=$nccl_inc -DCF_NCCL_LIB=$(ls "$sys_lib"/libnccl.so.* | sort | head -n 1)"
    else
        nv=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null || true)
        nv=$nv/nvidia
        extra="-DCF_CUDNN_INCLUDE=$nv/cudnn/include -DCF_CUDNN_LIB=$(ls "$nv"/cudnn/lib/libcudnn.so* | head -n 1)"
        extra="$extra -DCF_NCCL_INCLUDE=$nv/nccl/include -DCF_NCCL_LIB=$(ls "$nv"/nccl/lib/libnccl.so* | head -n 1)"
        LD_LIBRARY_PATH="$nv/cudnn/lib:$nv/nccl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    LD_LIBRARY_PATH="$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
    arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '.' || true)
    gen=""
    command -v ninja >/dev/null 2>&1 && gen="-G Ninja"
    # shellcheck disable=SC2086
    cmake -S . -B build-gpu $gen -DCMAKE_BUILD_TYPE=Release -DCF_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${arch:-90}" \
        -DCUDAToolkit_ROOT="$cuda" -DCMAKE_CUDA_COMPILER="$cuda/bin/nvcc" \
        -DCF_CJSON_INCLUDE="$B/include" -DCF_CJSON_LIB="$B/lib/libcjson.so.1" \
        -DCF_OPENBLAS_INCLUDE="$B/include/openblas" -DCF_OPENBLAS_LIB="$B/lib/libopenblas.so.0" \
        -DZLIB_INCLUDE_DIR="$B/include" -DZLIB_LIBRARY="$B/lib/libz.so.1" $extra 2>&1 | tee "$out/configure.txt"
    cmake --build build-gpu -j "$(nproc)" 2>&1 | tail -n 30 | tee "$out/build.txt"
    build-gpu/cellforge devices | tee "$out/devices.txt"
    ctest --test-dir build-gpu -L gpu --output-on-failure -V 2>&1 | tee "$out/ctest-gpu.txt" || true
    for net in ${BENCH-nb201 nb201n5 darts mobile}; do
        epochs=3
        [ "$net" = nb201 ] || epochs=2
        flags=""
        [ "$net" = nb201 ] && [ "${COMPILE:-0}" = 1 ] && flags="--compile"
        # shellcheck disable=SC2086
        python3 benchmarks/bench_train.py --device cuda --precision fp32 --data "$B/fashion-mnist" \
            --cellforge build-gpu/cellforge --net "$net" --epochs "$epochs" --warmup 1 $flags 2>&1 |
            tee -a "$out/bench-gpu.jsonl" || true
    done
    # mixed precision: both sides in bf16 (cellforge --precision, PyTorch autocast), and fp16
    for net in ${BENCH16-nb201 nb201n5}; do
        python3 benchmarks/bench_train.py --device cuda --precision bf16 --data "$B/fashion-mnist" \
            --cellforge build-gpu/cellforge --net "$net" --epochs 3 --warmup 1 2>&1 |
            tee -a "$out/bench-gpu.jsonl" || true
    done
    [ -n "${BENCH16-x}" ] && python3 benchmarks/bench_train.py --device cuda --precision fp16 --data "$B/fashion-mnist" \
        --cellforge build-gpu/cellforge --net nb201n5 --epochs 3 --warmup 1 2>&1 | tee -a "$out/bench-gpu.jsonl" || true
    # the switches, cellforge alone: step graphs off; depthwise convolutions on our kernels
    CELLFORGE_GRAPHS=0 python3 benchmarks/bench_train.py --device cuda --data "$B/fashion-mnist" \
        --cellforge build-gpu/cellforge --net nb201 --epochs 3 --warmup 1 --skip-torch 2>&1 |
        sed 's/"impl": "cellforge"/"impl": "cellforge-nographs"/' | tee -a "$out/bench-gpu.jsonl" || true
    for net in darts mobile; do
        CELLFORGE_DEPTHWISE=ours python3 benchmarks/bench_train.py --device cuda --data "$B/fashion-mnist" \
            --cellforge build-gpu/cellforge --net "$net" --epochs 2 --warmup 1 --skip-torch 2>&1 |
            sed 's/"impl": "cellforge"/"impl": "cellforge-own-depthwise"/' | tee -a "$out/bench-gpu.jsonl" || true
    done
    # search throughput: SEARCH_TIME seconds per configuration (0: skipped)
    if [ "${SEARCH_TIME:-0}" -gt 0 ]; then
        CELLFORGE_SPACES=$PWD/search_spaces python3 benchmarks/bench_gpu_search.py --time "$SEARCH_TIME" \
            --procs "${SEARCH_PROCS:-1,4,8,16}" --data "$B/fashion-mnist" --cellforge build-gpu/cellforge 2>&1 |
            tee "$out/bench-search.jsonl" || true
    fi
    ;;
*)
    echo "usage: tools/gpu_check.sh bundle | run" >&2
    exit 2
    ;;
esac
