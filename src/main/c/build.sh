#!/usr/bin/env bash
# Builds libgpt2j_kernels.so (gpt2j_kernels.c) into the directory $1, which Maven packs into the
# jar; with $2 = none, removes it instead (GPU builds). Without a C compiler it says so and
# succeeds: decoding then uses TF's MatMul.
set -euo pipefail
out=$1
if [[ ${2:-build} == none ]]; then
  rm -f "$out/libgpt2j_kernels.so"
  echo "[gpt2j] native decoding kernels left out (native.kernels=none)"
  exit 0
fi
src=$(dirname "$0")/gpt2j_kernels.c
cc=${CC:-gcc}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "[gpt2j] no C compiler ($cc): building without the native decoding kernels (slower sampling)"
  exit 0
fi
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The library needs TF's C API at run time. It links against a stub that only carries TF's
# soname, so the loader binds it to the libtensorflow_framework TF Java has already loaded.
"$cc" -shared -fPIC -o "$tmp/libtensorflow_framework.so.2" -Wl,-soname,libtensorflow_framework.so.2 -x c /dev/null
# -ffast-math lets the sums vectorize in any order
"$cc" -O3 -mprefer-vector-width=512 -ffast-math -fopenmp -fPIC -shared -Wall \
  -o "$tmp/libgpt2j_kernels.so" "$src" -L"$tmp" -Wl,--no-as-needed -l:libtensorflow_framework.so.2
mv "$tmp/libgpt2j_kernels.so" "$out/libgpt2j_kernels.so"
