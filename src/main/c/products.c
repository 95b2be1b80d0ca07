/*
 * The matrix-vector products of KV-cached decoding, once per instruction set (AVX-512, AVX2 with
 * FMA, plain C), the work sharing between the threads of a parallel region, and the choice of
 * loops when the library loads.
 *
 * Why: one decoding step reads every weight once and does little else, so its speed is the speed
 * of reading memory, and TF's MatMul reads a one-row product well below it (docs/benchmarks.md,
 * "What a step costs, and the bound"). They compute what MatMul does in float32, summing in
 * another order. M is the batch (one position per row). x w^T streams w once per call; x w once
 * per 8 rows of x; its partial sums reuse one buffer per calling thread, not a malloc per call.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2j.h"

/* Each loop once per instruction set: AVX-512, AVX2 with FMA, and plain C for any x86-64, so a jar
 * built on one machine runs on any other. choose_loops takes the widest the processor has when
 * the library loads; GPT2J_ISA=avx2 or GPT2J_ISA=generic forces a narrower one, so that every
 * path is tested on any machine. */
#if defined(__x86_64__)
#define ISA_AVX512 __attribute__((target("avx512f")))
#define ISA_AVX2 __attribute__((target("avx2,fma")))
#endif
#define ISA_GENERIC

/* A bfloat16 is the top half of a float32: widening is a shift. */
static inline float widen_bf16(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  __builtin_memcpy(&f, &bits, sizeof f);
  return f;
}
#define LOAD_F32(p, i) ((p)[i])
#define LOAD_BF16(p, i) widen_bf16((p)[i])

/* The kernels, once per weight type (float32, bfloat16 widened to float32 as it is read); x, y
 * and the sums are float32 either way. Macros rather than two copies of each loop. Bfloat16
 * weights are only read [N, K] (the decoding step repacks OpenAI's [K, N] matrices once): widened
 * as read, the [K, N] loop, which loads and stores its partial sums every few multiply-adds, was
 * compute-bound (docs/benchmarks.md, "Weights held [out, in] for bfloat16 decoding"). */

/* y[m, n] = dot(x[m, :], w[n, :]) for n in [n0, n1); four rows of w at a time, so four
 * independent sums hide the add latency; then the epilogue e on them, in the loop's instructions
 * (finish is inlined). */
// clang-format off
#define MAT_VEC_T_ROWS(NAME, WT, LOAD, ATTR)                                                       \
ATTR static void NAME(const float* x, const WT* w, float* y, int64_t m_rows, int64_t k_dim,        \
                      int64_t n_dim, int64_t n0, int64_t n1, const epilogue* e) {                  \
  int64_t n = n0;                                                                                  \
  for (; n + 4 <= n1; n += 4) {                                                                    \
    const WT *w0 = w + n * k_dim, *w1 = w0 + k_dim, *w2 = w1 + k_dim, *w3 = w2 + k_dim;            \
    for (int64_t m = 0; m < m_rows; m++) {                                                         \
      const float* xm = x + m * k_dim;                                                             \
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                        \
      _Pragma("omp simd reduction(+ : s0, s1, s2, s3)")                                            \
      for (int64_t k = 0; k < k_dim; k++) {                                                        \
        s0 += xm[k] * LOAD(w0, k);                                                                 \
        s1 += xm[k] * LOAD(w1, k);                                                                 \
        s2 += xm[k] * LOAD(w2, k);                                                                 \
        s3 += xm[k] * LOAD(w3, k);                                                                 \
      }                                                                                            \
      float* ym = y + m * n_dim + n;                                                               \
      ym[0] = s0, ym[1] = s1, ym[2] = s2, ym[3] = s3;                                              \
    }                                                                                              \
  }                                                                                                \
  for (; n < n1; n++) {                                                                            \
    for (int64_t m = 0; m < m_rows; m++) {                                                         \
      float s = 0;                                                                                 \
      _Pragma("omp simd reduction(+ : s)")                                                         \
      for (int64_t k = 0; k < k_dim; k++) s += x[m * k_dim + k] * LOAD(w, n * k_dim + k);          \
      y[m * n_dim + n] = s;                                                                        \
    }                                                                                              \
  }                                                                                                \
  finish(y, m_rows, n_dim, n0, n1, e);                                                             \
}
// clang-format on

/* tanh as Eigen computes it for TF's Tanh (a rational function, clamped; within 4e-7 of tanh): a
 * loop of it vectorizes, where one of libm's tanhf does not. Written without branches (and without
 * fminf and fmaxf, which gcc calls from libm without -ffast-math) so that it does. */
static inline float tanh_rational(float a) {
  const float clamp = 7.90531110763549805f;
  float x = a > clamp ? clamp : a;
  x = x < -clamp ? -clamp : x;
  float x2 = x * x;
  float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = x2 * p - 8.60467152213735e-11f;
  p = x2 * p + 5.12229709037114e-08f;
  p = x2 * p + 1.48572235717979e-05f;
  p = x2 * p + 6.37261928875436e-04f;
  p = x2 * p + 4.89352455891786e-03f;
  float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = x2 * q + 2.26843463243900e-03f;
  q = x2 * q + 4.89352518554385e-03f;
  float r = x * p / q;
  return fabsf(a) < 0.0004f ? a : r;
}
/* the epilogue on columns [n0, n1) of y [m_rows, n_dim]; inlined, so that it is compiled for the
 * instruction set of the loop that calls it */
__attribute__((always_inline)) static inline void finish(float* y, int64_t m_rows, int64_t n_dim,
                                                         int64_t n0, int64_t n1,
                                                         const epilogue* e) {
  if (e == NULL) return;
  for (int64_t m = 0; m < m_rows; m++) {
    float* ym = y + m * n_dim;
    const float* rm = e->residual == NULL ? NULL : e->residual + m * n_dim;
#pragma omp simd
    for (int64_t n = n0; n < n1; n++) ym[n] += e->bias[n];
    if (rm != NULL) {
#pragma omp simd
      for (int64_t n = n0; n < n1; n++) ym[n] += rm[n];
    }
    if (e->gelu) {
#pragma omp simd
      for (int64_t n = n0; n < n1; n++) {
        float u = ym[n];
        ym[n] = 0.5f * u * (1 + tanh_rational(0.7978845608028654f * (u + 0.044715f * u * u * u)));
      }
    }
  }
}
/* One product's claims, as one thread makes them */
typedef struct {
  share_counter* set; /* this product's counters, one per share */
  int t, team;
  int visited; /* shares emptied so far, this thread's own first */
  int64_t n, share;
} claims;

/* Before a product of n outputs: zeroes this thread's counter for the product after it */
static claims start_claims(sharing* s, int64_t n) {
  int t = omp_get_thread_num(), team = omp_get_num_threads();
  atomic_store_explicit(&s->counters[(1 - s->turn) * team + t].claimed, 0, memory_order_relaxed);
  int64_t share = ((n + team - 1) / team + GRAIN - 1) / GRAIN * GRAIN;
  return (claims){s->counters + s->turn * team, t, team, 0, n, share};
}

/* The next [*from, *to) this thread computes, or 0 when every share is taken */
static inline int claim(claims* c, int64_t* from, int64_t* to) {
  for (; c->visited < c->team; c->visited++) {
    int v = (c->t + c->visited) % c->team;
    int64_t start = min64(v * c->share, c->n), end = min64(start + c->share, c->n);
    int64_t at =
        start + GRAIN * atomic_fetch_add_explicit(&c->set[v].claimed, 1, memory_order_relaxed);
    if (at < end) {
      *from = at, *to = min64(at + GRAIN, end);
      return 1;
    }
  }
  return 0;
}

/* After the product, before its barrier: the next product takes the other set */
static void end_claims(sharing* s) { s->turn = 1 - s->turn; }

/* x w^T, the outputs (w's rows) shared out by claims */
// clang-format off
#define MAT_VEC_T(NAME, WT, T_ROWS)                                                                \
void NAME(const float* x, const WT* w, float* y, int64_t m_rows, int64_t k_dim,                    \
          int64_t n_dim, sharing* s, const epilogue* e) {                                          \
  claims c = start_claims(s, n_dim);                                                               \
  int64_t n0, n1;                                                                                  \
  while (claim(&c, &n0, &n1)) {                                                                    \
    T_ROWS(x, w, y, m_rows, k_dim, n_dim, n0, n1, e);                                              \
  }                                                                                                \
  end_claims(s);                                                                                   \
  _Pragma("omp barrier")                                                                           \
}
// clang-format on

/* y[m, :] = sum over k in [k0, k1) of x[m, k] w[k, :]. Rows k0..k1 of w are one contiguous
 * block, read front to back once per 8 rows of x; four rows of w go into each pass over y. */
// clang-format off
#define MAT_VEC_ROWS(NAME, WT, LOAD, ATTR)                                                         \
ATTR static void NAME(const float* x, const WT* w, float* y, int64_t m_rows,                       \
                      int64_t k_dim, int64_t n_dim, int64_t k0, int64_t k1) {                      \
  for (int64_t m0 = 0; m0 < m_rows; m0 += 8) {                                                     \
    int64_t m1 = min64(m0 + 8, m_rows);                                                            \
    for (int64_t i = m0 * n_dim; i < m1 * n_dim; i++) y[i] = 0;                                    \
    int64_t k = k0;                                                                                \
    for (; k + 4 <= k1; k += 4) {                                                                  \
      const WT *w0 = w + k * n_dim, *w1 = w0 + n_dim, *w2 = w1 + n_dim, *w3 = w2 + n_dim;          \
      for (int64_t m = m0; m < m1; m++) {                                                          \
        const float* xm = x + m * k_dim + k;                                                       \
        float a0 = xm[0], a1 = xm[1], a2 = xm[2], a3 = xm[3];                                      \
        float* ym = y + m * n_dim;                                                                 \
        for (int64_t n = 0; n < n_dim; n++)                                                        \
          ym[n] += a0 * LOAD(w0, n) + a1 * LOAD(w1, n) + a2 * LOAD(w2, n) + a3 * LOAD(w3, n);      \
      }                                                                                            \
    }                                                                                              \
    for (; k < k1; k++) {                                                                          \
      const WT* wk = w + k * n_dim;                                                                \
      for (int64_t m = m0; m < m1; m++) {                                                          \
        float a = x[m * k_dim + k];                                                                \
        float* ym = y + m * n_dim;                                                                 \
        for (int64_t n = 0; n < n_dim; n++) ym[n] += a * LOAD(wk, n);                              \
      }                                                                                            \
    }                                                                                              \
  }                                                                                                \
}
// clang-format on

/* x w: each thread reads its own block of w's rows into its own partial y, then the partials
 * are summed. Splitting by rows keeps every thread's reads contiguous (splitting y's columns
 * instead, with no partials, measured slower: docs/benchmarks.md, "one process per command").
 * Then each thread sums a block of y's columns. partial: room for (threads - 1) m_rows n_dim sums
 * (partial_room), shared by the team; y must not be e's residual. */
// clang-format off
#define MAT_VEC(NAME, WT, ROWS)                                                                    \
void NAME(const float* x, const WT* w, float* y, int64_t m_rows, int64_t k_dim,                    \
          int64_t n_dim, float* partial, const epilogue* e) {                                      \
  int t = omp_get_thread_num(), team = omp_get_num_threads();                                      \
  int64_t size = m_rows * n_dim;                                                                   \
  int64_t chunk = (k_dim + team - 1) / team;                                                       \
  int64_t k0 = min64(t * chunk, k_dim), k1 = min64(k0 + chunk, k_dim);                             \
  ROWS(x, w, t == 0 ? y : partial + (t - 1) * size, m_rows, k_dim, n_dim, k0, k1);                 \
  _Pragma("omp barrier")                                                                           \
  int64_t columns = (n_dim + team - 1) / team;                                                     \
  int64_t n0 = min64(t * columns, n_dim), n1 = min64(n0 + columns, n_dim);                         \
  for (int p = 1; p < team; p++) {                                                                 \
    for (int64_t m = 0; m < m_rows; m++) {                                                         \
      const float* from = partial + (p - 1) * size + m * n_dim;                                    \
      for (int64_t n = n0; n < n1; n++) y[m * n_dim + n] += from[n];                               \
    }                                                                                              \
  }                                                                                                \
  finish(y, m_rows, n_dim, n0, n1, e);                                                             \
  _Pragma("omp barrier")                                                                           \
}
// clang-format on

/* Memory kept with the calling (TF executor) thread for its next call rather than a malloc per
 * call: grown when asked for more, aligned to a cache line; NULL when out of memory. */
typedef struct {
  void* start;
  size_t bytes;
} thread_room;

static void* room_for(thread_room* r, size_t bytes) {
  if (bytes > r->bytes) {
    free(r->start);
    r->start = aligned_alloc(64, (bytes + 63) / 64 * 64);
    r->bytes = r->start == NULL ? 0 : bytes;
  }
  return r->start;
}

/* Room for n floats */
float* scratch(int64_t n) {
  static _Thread_local thread_room room;
  return room_for(&room, sizeof(float) * n);
}

/* Two zeroed sets of share counters for the calling thread's next parallel region */
share_counter* fresh_counters(void) {
  static _Thread_local thread_room room;
  int n = 2 * omp_get_max_threads();
  share_counter* counters = room_for(&room, sizeof(share_counter) * n);
  for (int i = 0; counters != NULL && i < n; i++) atomic_init(&counters[i].claimed, 0);
  return counters;
}

/* How many floats MAT_VEC's partial sums of an m_rows x n_dim product take */
int64_t partial_room(int64_t m_rows, int64_t n_dim) {
  return m_rows * n_dim * (omp_get_max_threads() - 1);
}
/* The loops the kernels call, chosen once, when the library loads (choose_loops). */
typedef void (*f32_loop)(const float* x, const float* w, float* y, int64_t m_rows, int64_t k_dim,
                         int64_t n_dim, int64_t from, int64_t to);
typedef void (*f32_t_loop)(const float* x, const float* w, float* y, int64_t m_rows, int64_t k_dim,
                           int64_t n_dim, int64_t from, int64_t to, const epilogue* e);
typedef void (*bf16_t_loop)(const float* x, const uint16_t* w, float* y, int64_t m_rows,
                            int64_t k_dim, int64_t n_dim, int64_t from, int64_t to,
                            const epilogue* e);
static f32_loop f32_rows;
static f32_t_loop f32_t_rows;
static bf16_t_loop bf16_t_rows;
static const char* isa = "generic";

MAT_VEC_ROWS(f32_rows_generic, float, LOAD_F32, ISA_GENERIC)
MAT_VEC_T_ROWS(f32_t_rows_generic, float, LOAD_F32, ISA_GENERIC)
MAT_VEC_T_ROWS(bf16_t_rows_generic, uint16_t, LOAD_BF16, ISA_GENERIC)
#if defined(__x86_64__)
MAT_VEC_ROWS(f32_rows_avx2, float, LOAD_F32, ISA_AVX2)
MAT_VEC_T_ROWS(f32_t_rows_avx2, float, LOAD_F32, ISA_AVX2)
MAT_VEC_ROWS(f32_rows_avx512, float, LOAD_F32, ISA_AVX512)
MAT_VEC_T_ROWS(f32_t_rows_avx512, float, LOAD_F32, ISA_AVX512)
#endif

MAT_VEC(mat_vec_f32, float, f32_rows)
MAT_VEC_T(mat_vec_f32_t, float, f32_t_rows)
MAT_VEC_T(mat_vec_bf16_t, uint16_t, bf16_t_rows)

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static inline __m512 widen16(const uint16_t* p) {
  __m512i bits = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(bits, 16));
}

/* mat_vec_bf16_t_rows with 16 columns per AVX-512 register (gcc vectorizes the macro's loop only 8
 * wide for bfloat16's widening 16-bit loads): four rows of w, a 16-wide sum for each. */
__attribute__((target("avx512f"))) static void bf16_t_rows_avx512(const float* x, const uint16_t* w,
                                                                  float* y, int64_t m_rows,
                                                                  int64_t k_dim, int64_t n_dim,
                                                                  int64_t n0, int64_t n1,
                                                                  const epilogue* e) {
  for (int64_t n = n0; n < n1; n += 4) {
    int64_t rows = min64(4, n1 - n);
    for (int64_t m = 0; m < m_rows; m++) {
      const float* xm = x + m * k_dim;
      __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                       _mm512_setzero_ps()};
      int64_t k = 0;
      for (; k + 16 <= k_dim; k += 16) {
        __m512 xv = _mm512_loadu_ps(xm + k);
        for (int r = 0; r < rows; r++) {
          acc[r] = _mm512_fmadd_ps(xv, widen16(w + (n + r) * k_dim + k), acc[r]);
        }
      }
      for (int r = 0; r < rows; r++) {
        float s = _mm512_reduce_add_ps(acc[r]);
        for (int64_t kk = k; kk < k_dim; kk++) s += xm[kk] * widen_bf16(w[(n + r) * k_dim + kk]);
        y[m * n_dim + n + r] = s;
      }
    }
  }
  finish(y, m_rows, n_dim, n0, n1, e);
}
#endif

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static inline float sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* mat_vec_bf16_t_rows for AVX2 by hand: gcc's vectorization of the macro widens each 8 weights with
 * a lane-crossing vpmovzxwd and a shift (docs/benchmarks.md, "AVX2's loops against ggml"). Here 16
 * weights are one load: a shift gives the even ones as float32, a mask the odd ones, and x is split
 * into its even and odd elements once per 16, for all four rows of w. */
__attribute__((target("avx2,fma"))) static void bf16_t_rows_avx2(const float* x, const uint16_t* w,
                                                                 float* y, int64_t m_rows,
                                                                 int64_t k_dim, int64_t n_dim,
                                                                 int64_t n0, int64_t n1,
                                                                 const epilogue* e) {
  const __m256i high = _mm256_set1_epi32((int)0xffff0000u);
  for (int64_t n = n0; n < n1; n += 4) {
    int64_t rows = min64(4, n1 - n);
    for (int64_t m = 0; m < m_rows; m++) {
      const float* xm = x + m * k_dim;
      __m256 even[4], odd[4];
      for (int r = 0; r < 4; r++) even[r] = odd[r] = _mm256_setzero_ps();
      int64_t k = 0;
      for (; k + 16 <= k_dim; k += 16) {
        __m256 a = _mm256_loadu_ps(xm + k), b = _mm256_loadu_ps(xm + k + 8);
        /* [x0 x2 x8 x10 | x4 x6 x12 x14], then the middle 64-bit pairs swapped */
        __m256 xe = _mm256_castsi256_ps(
            _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(a, b, 0x88)), 0xd8));
        __m256 xo = _mm256_castsi256_ps(
            _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(a, b, 0xdd)), 0xd8));
        for (int r = 0; r < rows; r++) {
          __m256i wv = _mm256_loadu_si256((const __m256i*)(w + (n + r) * k_dim + k));
          even[r] = _mm256_fmadd_ps(xe, _mm256_castsi256_ps(_mm256_slli_epi32(wv, 16)), even[r]);
          odd[r] = _mm256_fmadd_ps(xo, _mm256_castsi256_ps(_mm256_and_si256(wv, high)), odd[r]);
        }
      }
      for (int r = 0; r < rows; r++) {
        float s = sum8(_mm256_add_ps(even[r], odd[r]));
        for (int64_t kk = k; kk < k_dim; kk++) s += xm[kk] * widen_bf16(w[(n + r) * k_dim + kk]);
        y[m * n_dim + n + r] = s;
      }
    }
  }
  finish(y, m_rows, n_dim, n0, n1, e);
}
#endif
/*
 * Which loops run (0 generic, 1 avx2, 2 avx512) on a processor that runs up to `has`, when
 * GPT2J_ISA is `asked` (NULL when it is not set): the widest it has, or the narrower ones asked
 * for. *refused is set when `asked` names no loops this processor runs. Exported so that a test can
 * ask it about processors other than the one it runs on.
 */
GPT2J_EXPORT int gpt2j_choose_isa(int has, const char* asked, int* refused) {
  *refused = 0;
  if (asked == NULL) return has;
  int want = strcmp(asked, "avx512") == 0    ? 2
             : strcmp(asked, "avx2") == 0    ? 1
             : strcmp(asked, "generic") == 0 ? 0
                                             : -1;
  if (want < 0 || want > has) {
    *refused = 1;
    return has;
  }
  return want;
}

void choose_loops(void) {
  f32_rows = f32_rows_generic;
  f32_t_rows = f32_t_rows_generic;
  bf16_t_rows = bf16_t_rows_generic;
#if defined(__x86_64__)
  __builtin_cpu_init(); /* this runs from a constructor, before libgcc's own may have */
  int has = __builtin_cpu_supports("avx512f")                                 ? 2
            : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1
                                                                              : 0;
  const char* asked = getenv("GPT2J_ISA");
  int refused;
  int want = gpt2j_choose_isa(has, asked, &refused);
  if (refused) {
    fprintf(stderr,
            "[gpt2j] GPT2J_ISA=%s: expected avx512, avx2 or generic, one this processor"
            " runs; using the widest it has\n",
            asked);
  }
  if (want >= 1) {
    f32_rows = f32_rows_avx2;
    f32_t_rows = f32_t_rows_avx2;
    bf16_t_rows = bf16_t_rows_avx2;
    isa = "avx2";
  }
  if (want == 2) {
    f32_rows = f32_rows_avx512;
    f32_t_rows = f32_t_rows_avx512;
    bf16_t_rows = bf16_t_rows_avx512;
    isa = "avx512";
  }
#endif
}

/* Which loops run: "avx512", "avx2" or "generic" (NativeKernels.instructionSet reads it). */
GPT2J_EXPORT const char* gpt2j_isa(void) { return isa; }
