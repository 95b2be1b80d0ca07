#!/usr/bin/env bash
# Builds libgpt2j_kernels.so (every .c file here) into the directory $1, which Maven packs into the
# jar; with $2 = none, removes it instead (GPU builds). It never fails the build: without a working
# C compiler (or with one that rejects these flags) it says so in one line and the jar is built
# without the kernels, so decoding uses TF's MatMul.
set -uo pipefail
out=$1
rm -f "$out/libgpt2j_kernels.so"
if [[ ${2:-build} == none ]]; then
  echo "[gpt2j] native decoding kernels left out (native.kernels=none)"
  exit 0
fi
src=$(dirname "$0")
cc=${CC:-gcc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The library needs TF's C API at run time. It links against a stub that only carries TF's
# soname, so the loader binds it to the libtensorflow_framework TF Java has already loaded.
# No -ffast-math: gcc would link crtfastmath.o, whose constructor turns on flush-to-zero for the
# JVM thread that loads the library; `omp simd` pragmas vectorize the dot products instead.
# -fno-trapping-math changes no result: it lets gcc compute both sides of a select (the GELU's
# tanh), so that the loop vectorizes. -fvisibility=hidden: the library exports only what gpt2j.h
# marks GPT2J_EXPORT.
if "$cc" -shared -fPIC -o "$tmp/libtensorflow_framework.so.2" -Wl,-soname,libtensorflow_framework.so.2 \
     -x c /dev/null >"$tmp/log" 2>&1 &&
   "$cc" -O3 -fno-trapping-math -mprefer-vector-width=512 -fopenmp -fPIC -shared -Wall \
     -fvisibility=hidden -o "$tmp/libgpt2j_kernels.so" "$src"/*.c -L"$tmp" -Wl,--no-as-needed -l:libtensorflow_framework.so.2 -lm \
     >>"$tmp/log" 2>&1; then
  mkdir -p "$out" && mv "$tmp/libgpt2j_kernels.so" "$out/libgpt2j_kernels.so"
else
  why=$(grep -m1 -iE 'error|not found' "$tmp/log" || head -1 "$tmp/log")
  echo "[gpt2j] native decoding kernels not built ($cc failed${why:+: $why}); decoding will use TF's MatMul"
fi
exit 0
