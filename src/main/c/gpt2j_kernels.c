/*
 * Matrix-vector products and whole blocks for KV-cached decoding, as TensorFlow ops loaded with
 * TensorFlow.loadLibrary (see dev.gpt2j.kernels.NativeKernels and FusedBlocks).
 *
 * Why: one decoding step reads every weight once and does little else, so its speed is the speed
 * of reading memory, and TF's MatMul reads a one-row product well below it (docs/benchmarks.md,
 * "What a step costs, and the bound"). They compute what MatMul does in float32, summing in
 * another order.
 *
 *   Gpt2MatVec   x [M, K], w [K, N] -> x w     (c_attn, c_proj, c_fc: OpenAI's [nx, nf] layout)
 *   Gpt2MatVecT  x [M, K], w [N, K] -> x w^T   (the LM head against wte [n_vocab, n_embd])
 *   Gpt2MatVecTBf16: x w^T with w in bfloat16 (half the bytes to read), widened as it is read;
 *                x, y and the sums stay float32 (the decoding step reads its bfloat16 matrices
 *                from copies held [N, K]: NativeKernels.StepProduct)
 *
 *   Gpt2Blocks, Gpt2BlocksBf16: a decoding step's GPT-2 blocks on those products (see
 *                blocks_step below)
 *
 * M is the batch (one position per row). Gpt2MatVecT streams w once per call; Gpt2MatVec once
 * per 8 rows of x; its partial sums reuse one buffer per calling thread, not a malloc per call.
 * Threads: OpenMP, one per core, one parallel region per op. Only TF's C API is used; its
 * headers are not shipped with TF Java, so the few declarations needed are below
 * (tensorflow/c/{c_api,kernels,ops,tf_tensor}.h).
 */
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct TF_Status TF_Status;
typedef struct TF_Tensor TF_Tensor;
typedef struct TF_KernelBuilder TF_KernelBuilder;
typedef struct TF_OpKernelConstruction TF_OpKernelConstruction;
typedef struct TF_OpKernelContext TF_OpKernelContext;
typedef struct TF_OpDefinitionBuilder TF_OpDefinitionBuilder;
typedef struct TF_ShapeInferenceContext TF_ShapeInferenceContext;
typedef struct TF_ShapeHandle TF_ShapeHandle;
enum { TF_OK = 0, TF_INVALID_ARGUMENT = 3, TF_RESOURCE_EXHAUSTED = 8 };
enum { TF_FLOAT = 1, TF_INT32 = 3 };

extern TF_Status* TF_NewStatus(void);
extern void TF_DeleteStatus(TF_Status*);
extern int TF_GetCode(const TF_Status*);
extern const char* TF_Message(const TF_Status*);
extern void TF_SetStatus(TF_Status*, int code, const char* msg);
extern void* TF_TensorData(const TF_Tensor*);
extern int TF_NumDims(const TF_Tensor*);
extern int64_t TF_Dim(const TF_Tensor*, int);
extern size_t TF_TensorByteSize(const TF_Tensor*);
extern void TF_DeleteTensor(TF_Tensor*);
extern TF_KernelBuilder* TF_NewKernelBuilder(const char* op, const char* device,
    void* (*create)(TF_OpKernelConstruction*), void (*compute)(void*, TF_OpKernelContext*),
    void (*destroy)(void*));
extern void TF_RegisterKernelBuilder(const char* name, TF_KernelBuilder*, TF_Status*);
extern int TF_NumInputs(TF_OpKernelContext*);
extern void TF_GetInput(TF_OpKernelContext*, int i, TF_Tensor**, TF_Status*);
extern void TF_GetInputTensorFromVariable(TF_OpKernelContext*, int input, bool lock_held,
    bool is_variant, bool sparse, void (*copy)(TF_OpKernelContext*, TF_Tensor*, TF_Tensor*),
    TF_Tensor** out, TF_Status*);
extern TF_Tensor* TF_AllocateOutput(TF_OpKernelContext*, int i, int dtype, const int64_t* dims,
    int num_dims, size_t len, TF_Status*);
extern void TF_OpKernelContext_Failure(TF_OpKernelContext*, TF_Status*);
extern TF_OpDefinitionBuilder* TF_NewOpDefinitionBuilder(const char* name);
extern void TF_OpDefinitionBuilderAddAttr(TF_OpDefinitionBuilder*, const char* spec);
extern void TF_OpDefinitionBuilderAddInput(TF_OpDefinitionBuilder*, const char* spec);
extern void TF_OpDefinitionBuilderAddOutput(TF_OpDefinitionBuilder*, const char* spec);
extern void TF_OpDefinitionBuilderSetIsStateful(TF_OpDefinitionBuilder*, bool is_stateful);
extern void TF_OpDefinitionBuilderSetShapeInferenceFunction(TF_OpDefinitionBuilder*,
    void (*fn)(TF_ShapeInferenceContext*, TF_Status*));
extern void TF_RegisterOpDefinition(TF_OpDefinitionBuilder*, TF_Status*);
extern TF_ShapeHandle* TF_NewShapeHandle(void);
extern int64_t TF_ShapeInferenceContextNumInputs(TF_ShapeInferenceContext*);
extern void TF_DeleteShapeHandle(TF_ShapeHandle*);
extern void TF_ShapeInferenceContextGetInput(TF_ShapeInferenceContext*, int i, TF_ShapeHandle*,
    TF_Status*);
extern void TF_ShapeInferenceContextWithRank(TF_ShapeInferenceContext*, TF_ShapeHandle*,
    int64_t rank, TF_ShapeHandle*, TF_Status*);
extern void TF_ShapeInferenceContextSubshape(TF_ShapeInferenceContext*, TF_ShapeHandle*,
    int64_t start, int64_t end, TF_ShapeHandle*, TF_Status*);
extern void TF_ShapeInferenceContextConcatenateShapes(TF_ShapeInferenceContext*, TF_ShapeHandle*,
    TF_ShapeHandle*, TF_ShapeHandle*, TF_Status*);
extern void TF_ShapeInferenceContextSetOutput(TF_ShapeInferenceContext*, int i, TF_ShapeHandle*,
    TF_Status*);

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

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
#define MAT_VEC_T_ROWS(NAME, WT, LOAD, ATTR)                                                \
/* y[m, n] = dot(x[m, :], w[n, :]) for n in [n0, n1); four rows of w at a time, so four          \
 * independent sums hide the add latency; then the epilogue e on them, in the loop's instructions \
 * (finish is inlined). */                                                                        \
ATTR static void NAME(const float* x, const WT* w, float* y, int64_t m_rows, int64_t k_dim,      \
                      int64_t n_dim, int64_t n0, int64_t n1, const epilogue* e) {                 \
  int64_t n = n0;                                                                                 \
  for (; n + 4 <= n1; n += 4) {                                                                   \
    const WT *w0 = w + n * k_dim, *w1 = w0 + k_dim, *w2 = w1 + k_dim, *w3 = w2 + k_dim;           \
    for (int64_t m = 0; m < m_rows; m++) {                                                        \
      const float* xm = x + m * k_dim;                                                            \
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                       \
      _Pragma("omp simd reduction(+ : s0, s1, s2, s3)")                                           \
      for (int64_t k = 0; k < k_dim; k++) {                                                       \
        s0 += xm[k] * LOAD(w0, k);                                                                \
        s1 += xm[k] * LOAD(w1, k);                                                                \
        s2 += xm[k] * LOAD(w2, k);                                                                \
        s3 += xm[k] * LOAD(w3, k);                                                                \
      }                                                                                           \
      float* ym = y + m * n_dim + n;                                                              \
      ym[0] = s0, ym[1] = s1, ym[2] = s2, ym[3] = s3;                                             \
    }                                                                                             \
  }                                                                                               \
  for (; n < n1; n++) {                                                                           \
    for (int64_t m = 0; m < m_rows; m++) {                                                        \
      float s = 0;                                                                                \
      _Pragma("omp simd reduction(+ : s)")                                                        \
      for (int64_t k = 0; k < k_dim; k++) s += x[m * k_dim + k] * LOAD(w, n * k_dim + k);         \
      y[m * n_dim + n] = s;                                                                       \
    }                                                                                             \
  }                                                                                               \
  finish(y, m_rows, n_dim, n0, n1, e);                                                            \
}

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

/* What a product does to its outputs before it returns, in the block: y = y + bias (+ residual),
 * then GELU (openai's gelu(), the tanh approximation) when asked; NULL: nothing. Done by the
 * thread that computed those outputs, so that a block needs no pass of its own for them. */
typedef struct {
  const float* bias;     /* [N] */
  const float* residual; /* [M, N], or NULL */
  int gelu;
} epilogue;

/* the epilogue on columns [n0, n1) of y [m_rows, n_dim]; inlined, so that it is compiled for the
 * instruction set of the loop that calls it */
__attribute__((always_inline)) static inline void finish(float* y, int64_t m_rows, int64_t n_dim,
                                                        int64_t n0, int64_t n1, const epilogue* e) {
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

/* The products are called by every thread of a parallel region (a kernel's, or a whole step's:
 * one region for every block, not one per product), and return when all are done. Each thread runs
 * the epilogue e on the outputs it has computed. */

/* How x w^T's outputs are shared out. The host often runs one of our cores slower than the other
 * (by up to 1.7x, docs/benchmarks.md), so equal static shares left the faster thread waiting at
 * each product's barrier. Each thread starts on its own contiguous share and claims it GRAIN
 * outputs at a time; done, it claims what the others have left of theirs. A share's counter
 * counts its claimed grains. There are two sets of counters, used by every other product, so that
 * each thread can zero its own for the next product while this one runs: the barrier that ends a
 * product publishes them. Only x w^T shares this way: each of its outputs is one dot product, the
 * same whichever thread computes it, where MAT_VEC's partial sums would be added in an order that
 * changed from run to run, and with them the float32 logits' last bits. */
enum { GRAIN = 32 };
typedef struct {
  _Atomic int64_t claimed;
  char pad[64 - sizeof(int64_t)]; /* a cache line each: threads claim without meeting */
} share_counter;

typedef struct {
  share_counter* counters; /* [2][team], shared, zeroed before the region */
  int turn;                /* which set this product uses; each thread keeps its own copy */
} sharing;

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
    int64_t at = start + GRAIN * atomic_fetch_add_explicit(&c->set[v].claimed, 1,
                                                           memory_order_relaxed);
    if (at < end) {
      *from = at, *to = min64(at + GRAIN, end);
      return 1;
    }
  }
  return 0;
}

/* After the product, before its barrier: the next product takes the other set */
static void end_claims(sharing* s) { s->turn = 1 - s->turn; }

#define MAT_VEC_T(NAME, WT, T_ROWS)                                                               \
/* x w^T, the outputs (w's rows) shared out by claims */                                          \
static void NAME(const float* x, const WT* w, float* y, int64_t m_rows, int64_t k_dim,            \
                 int64_t n_dim, sharing* s, const epilogue* e) {                                  \
  claims c = start_claims(s, n_dim);                                                              \
  int64_t n0, n1;                                                                                 \
  while (claim(&c, &n0, &n1)) {                                                                   \
    T_ROWS(x, w, y, m_rows, k_dim, n_dim, n0, n1, e);                                             \
  }                                                                                               \
  end_claims(s);                                                                                  \
  _Pragma("omp barrier")                                                                          \
}

#define MAT_VEC_ROWS(NAME, WT, LOAD, ATTR)                                                    \
/* y[m, :] = sum over k in [k0, k1) of x[m, k] w[k, :]. Rows k0..k1 of w are one contiguous     \
 * block, read front to back once per 8 rows of x; four rows of w go into each pass over y. */   \
ATTR static void NAME(const float* x, const WT* w, float* y, int64_t m_rows,         \
                                   int64_t k_dim, int64_t n_dim, int64_t k0, int64_t k1) {        \
  for (int64_t m0 = 0; m0 < m_rows; m0 += 8) {                                                    \
    int64_t m1 = min64(m0 + 8, m_rows);                                                           \
    for (int64_t i = m0 * n_dim; i < m1 * n_dim; i++) y[i] = 0;                                   \
    int64_t k = k0;                                                                               \
    for (; k + 4 <= k1; k += 4) {                                                                 \
      const WT *w0 = w + k * n_dim, *w1 = w0 + n_dim, *w2 = w1 + n_dim, *w3 = w2 + n_dim;         \
      for (int64_t m = m0; m < m1; m++) {                                                         \
        const float* xm = x + m * k_dim + k;                                                      \
        float a0 = xm[0], a1 = xm[1], a2 = xm[2], a3 = xm[3];                                     \
        float* ym = y + m * n_dim;                                                                \
        for (int64_t n = 0; n < n_dim; n++)                                                       \
          ym[n] += a0 * LOAD(w0, n) + a1 * LOAD(w1, n) + a2 * LOAD(w2, n) + a3 * LOAD(w3, n);     \
      }                                                                                           \
    }                                                                                             \
    for (; k < k1; k++) {                                                                         \
      const WT* wk = w + k * n_dim;                                                               \
      for (int64_t m = m0; m < m1; m++) {                                                         \
        float a = x[m * k_dim + k];                                                               \
        float* ym = y + m * n_dim;                                                                \
        for (int64_t n = 0; n < n_dim; n++) ym[n] += a * LOAD(wk, n);                             \
      }                                                                                           \
    }                                                                                             \
  }                                                                                               \
}

#define MAT_VEC(NAME, WT, ROWS)                                                                  \
/* x w: each thread reads its own block of w's rows into its own partial y, then the partials    \
 * are summed. Splitting by rows keeps every thread's reads contiguous (splitting y's columns     \
 * instead, with no partials, measured slower: docs/benchmarks.md, "one process per command").    \
 * Then each thread sums a block of y's columns. partial: room for (threads - 1) m_rows n_dim sums \
 * (partial_room), shared by the team; y must not be e's residual. */                             \
static void NAME(const float* x, const WT* w, float* y, int64_t m_rows, int64_t k_dim,            \
                 int64_t n_dim, float* partial, const epilogue* e) {                              \
  int t = omp_get_thread_num(), team = omp_get_num_threads();                                     \
  int64_t size = m_rows * n_dim;                                                                  \
  int64_t chunk = (k_dim + team - 1) / team;                                                      \
  int64_t k0 = min64(t * chunk, k_dim), k1 = min64(k0 + chunk, k_dim);                            \
  ROWS(x, w, t == 0 ? y : partial + (t - 1) * size, m_rows, k_dim, n_dim, k0, k1);              \
  _Pragma("omp barrier")                                                                          \
  int64_t columns = (n_dim + team - 1) / team;                                                    \
  int64_t n0 = min64(t * columns, n_dim), n1 = min64(n0 + columns, n_dim);                        \
  for (int p = 1; p < team; p++) {                                                                \
    for (int64_t m = 0; m < m_rows; m++) {                                                        \
      const float* from = partial + (p - 1) * size + m * n_dim;                                   \
      for (int64_t n = n0; n < n1; n++) y[m * n_dim + n] += from[n];                              \
    }                                                                                             \
  }                                                                                               \
  finish(y, m_rows, n_dim, n0, n1, e);                                                            \
  _Pragma("omp barrier")                                                                          \
}


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
static float* scratch(int64_t n) {
  static _Thread_local thread_room room;
  return room_for(&room, sizeof(float) * n);
}

/* Two zeroed sets of share counters for the calling thread's next parallel region */
static share_counter* fresh_counters(void) {
  static _Thread_local thread_room room;
  int n = 2 * omp_get_max_threads();
  share_counter* counters = room_for(&room, sizeof(share_counter) * n);
  for (int i = 0; counters != NULL && i < n; i++) atomic_init(&counters[i].claimed, 0);
  return counters;
}

/* How many floats MAT_VEC's partial sums of an m_rows x n_dim product take */
static int64_t partial_room(int64_t m_rows, int64_t n_dim) {
  return m_rows * n_dim * (omp_get_max_threads() - 1);
}

/* The loops the kernels call, chosen once, when the library loads (choose_loops). */
typedef void (*f32_loop)(const float* x, const float* w, float* y, int64_t m_rows, int64_t k_dim,
                         int64_t n_dim, int64_t from, int64_t to);
typedef void (*f32_t_loop)(const float* x, const float* w, float* y, int64_t m_rows,
                           int64_t k_dim, int64_t n_dim, int64_t from, int64_t to,
                           const epilogue* e);
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
__attribute__((target("avx512f"))) static void bf16_t_rows_avx512(
    const float* x, const uint16_t* w, float* y, int64_t m_rows, int64_t k_dim, int64_t n_dim,
    int64_t n0, int64_t n1, const epilogue* e) {
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
__attribute__((target("avx2,fma"))) static void bf16_t_rows_avx2(
    const float* x, const uint16_t* w, float* y, int64_t m_rows, int64_t k_dim, int64_t n_dim,
    int64_t n0, int64_t n1, const epilogue* e) {
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
 * GPT2J_ISA is `asked` (NULL when it is not set): the widest it has, or the narrower ones asked for.
 * *refused is set when `asked` names no loops this processor runs. Exported so that a test can ask
 * it about processors other than the one it runs on.
 */
int gpt2j_choose_isa(int has, const char* asked, int* refused) {
  *refused = 0;
  if (asked == NULL) return has;
  int want = strcmp(asked, "avx512") == 0 ? 2
             : strcmp(asked, "avx2") == 0 ? 1 : strcmp(asked, "generic") == 0 ? 0 : -1;
  if (want < 0 || want > has) {
    *refused = 1;
    return has;
  }
  return want;
}

static void choose_loops(void) {
  f32_rows = f32_rows_generic;
  f32_t_rows = f32_t_rows_generic;
  bf16_t_rows = bf16_t_rows_generic;
#if defined(__x86_64__)
  __builtin_cpu_init(); /* this runs from a constructor, before libgcc's own may have */
  int has = __builtin_cpu_supports("avx512f") ? 2
            : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
  const char* asked = getenv("GPT2J_ISA");
  int refused;
  int want = gpt2j_choose_isa(has, asked, &refused);
  if (refused) {
    fprintf(stderr, "[gpt2j] GPT2J_ISA=%s: expected avx512, avx2 or generic, one this processor"
            " runs; using the widest it has\n", asked);
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
const char* gpt2j_isa(void) { return isa; }

static void compute(int transposed, int bf16, TF_OpKernelContext* ctx) {
  TF_Status* status = TF_NewStatus();
  TF_Tensor *x = NULL, *w = NULL, *y = NULL;
  TF_GetInput(ctx, 0, &x, status);
  if (TF_GetCode(status) == TF_OK) TF_GetInput(ctx, 1, &w, status);
  if (TF_GetCode(status) == TF_OK) {
    if (TF_NumDims(x) != 2 || TF_NumDims(w) != 2
        || TF_Dim(x, 1) != TF_Dim(w, transposed ? 1 : 0)) {
      TF_SetStatus(status, TF_INVALID_ARGUMENT, transposed
          ? "Gpt2MatVecT: x must be [M, K] and w [N, K]"
          : "Gpt2MatVec: x must be [M, K] and w [K, N]");
    } else {
      int64_t m_rows = TF_Dim(x, 0), k_dim = TF_Dim(x, 1), n_dim = TF_Dim(w, transposed ? 0 : 1);
      int64_t dims[2] = {m_rows, n_dim};
      y = TF_AllocateOutput(ctx, 0, TF_FLOAT, dims, 2, sizeof(float) * m_rows * n_dim, status);
      if (TF_GetCode(status) == TF_OK && m_rows * n_dim > 0) {
        const float* xp = TF_TensorData(x);
        const void* wp = TF_TensorData(w);
        float* yp = TF_TensorData(y);
        float* partial = transposed ? NULL : scratch(partial_room(m_rows, n_dim));
        share_counter* counters = transposed ? fresh_counters() : NULL;
        if (transposed ? counters == NULL : partial == NULL && omp_get_max_threads() > 1) {
          TF_SetStatus(status, TF_RESOURCE_EXHAUSTED, "Gpt2MatVec: out of memory");
        } else {
#pragma omp parallel
          {
            sharing shares = {counters, 0};
            if (transposed && bf16) {
              mat_vec_bf16_t(xp, wp, yp, m_rows, k_dim, n_dim, &shares, NULL);
            } else if (transposed) {
              mat_vec_f32_t(xp, wp, yp, m_rows, k_dim, n_dim, &shares, NULL);
            } else {
              mat_vec_f32(xp, wp, yp, m_rows, k_dim, n_dim, partial, NULL);
            }
          }
        }
      }
    }
  }
  if (TF_GetCode(status) != TF_OK) TF_OpKernelContext_Failure(ctx, status);
  if (x) TF_DeleteTensor(x);
  if (w) TF_DeleteTensor(w);
  if (y) TF_DeleteTensor(y);
  TF_DeleteStatus(status);
}

static void compute_mat_vec(void* kernel, TF_OpKernelContext* ctx) { compute(0, 0, ctx); }
static void compute_mat_vec_t(void* kernel, TF_OpKernelContext* ctx) { compute(1, 0, ctx); }
static void compute_mat_vec_t_bf16(void* kernel, TF_OpKernelContext* ctx) { compute(1, 1, ctx); }

/* y's shape: [x's rows, w's dimension n_axis] */
static void infer_shape(TF_ShapeInferenceContext* ctx, TF_Status* status, int64_t n_axis) {
  TF_ShapeHandle *x = TF_NewShapeHandle(), *w = TF_NewShapeHandle();
  TF_ShapeHandle *rows = TF_NewShapeHandle(), *cols = TF_NewShapeHandle(), *y = TF_NewShapeHandle();
  TF_ShapeInferenceContextGetInput(ctx, 0, x, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextWithRank(ctx, x, 2, x, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextGetInput(ctx, 1, w, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextWithRank(ctx, w, 2, w, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSubshape(ctx, x, 0, 1, rows, status);
  if (TF_GetCode(status) == TF_OK) {
    TF_ShapeInferenceContextSubshape(ctx, w, n_axis, n_axis + 1, cols, status);
  }
  if (TF_GetCode(status) == TF_OK) {
    TF_ShapeInferenceContextConcatenateShapes(ctx, rows, cols, y, status);
  }
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 0, y, status);
  TF_DeleteShapeHandle(x);
  TF_DeleteShapeHandle(w);
  TF_DeleteShapeHandle(rows);
  TF_DeleteShapeHandle(cols);
  TF_DeleteShapeHandle(y);
}

static void shape_mat_vec(TF_ShapeInferenceContext* c, TF_Status* s) { infer_shape(c, s, 1); }
static void shape_mat_vec_t(TF_ShapeInferenceContext* c, TF_Status* s) { infer_shape(c, s, 0); }

/* Registers op, whose inputs and outputs are declared, and its CPU kernel */
static void register_kernel(const char* name, TF_OpDefinitionBuilder* op,
                            void (*compute_fn)(void*, TF_OpKernelContext*),
                            void (*shape_fn)(TF_ShapeInferenceContext*, TF_Status*)) {
  TF_Status* status = TF_NewStatus();
  TF_OpDefinitionBuilderSetShapeInferenceFunction(op, shape_fn);
  TF_RegisterOpDefinition(op, status);
  if (TF_GetCode(status) == TF_OK) {
    TF_KernelBuilder* kernel = TF_NewKernelBuilder(name, "CPU", NULL, compute_fn, NULL);
    TF_RegisterKernelBuilder(name, kernel, status);
  }
  /* Java checks the op list TF_LoadLibrary returns; this says why one is missing */
  if (TF_GetCode(status) != TF_OK) fprintf(stderr, "[gpt2j] %s: %s\n", name, TF_Message(status));
  TF_DeleteStatus(status);
}

static void register_op(const char* name, const char* w_spec,
                        void (*compute_fn)(void*, TF_OpKernelContext*),
                        void (*shape_fn)(TF_ShapeInferenceContext*, TF_Status*)) {
  TF_OpDefinitionBuilder* op = TF_NewOpDefinitionBuilder(name);
  TF_OpDefinitionBuilderAddInput(op, "x: float");
  TF_OpDefinitionBuilderAddInput(op, w_spec);
  TF_OpDefinitionBuilderAddOutput(op, "y: float");
  register_kernel(name, op, compute_fn, shape_fn);
}

/* ---- A decoding step's GPT-2 blocks, as one op ----
 *
 * Gpt2Blocks (float32 matrices) and Gpt2BlocksBf16 (bfloat16) compute openai/gpt-2's block() n
 * times, one after another, for one new position per row, given the keys and values the cache
 * holds:
 *
 *   inputs  x [B, C]; k, v: n each [R, Hkv, S, D], references to each layer's cache variables,
 *           of which rows [first, first + B) are x's; first a scalar; length [B] (positions each
 *           row holds, fewer than S);
 *           vectors: n, each ln_1 g, b, c_attn b, attn c_proj b, ln_2 g, b, c_fc b, mlp c_proj b
 *           one after another [6 C + W + F] (one input, where eight would cost eight variable
 *           reads); the matrices, n of each: c_attn [C, W = C + 2 Hkv D], attn c_proj [C, C],
 *           c_fc [C, F], mlp c_proj [F, C]
 *   output  y [B, C] the last block's output
 *
 * Row b attends to the first length[b] positions of each layer's cache and to its new key, and the
 * op writes the new key and value into the cache at position length[b], in place, as TF's
 * ScatterNdUpdate would: the cache inputs are ref inputs (the variables' own buffers), so a step
 * runs no write op per layer and its keys and values are never copied out. Matrices are float32 [1, K, N] as OpenAI stores them, or bfloat16 [N, K] (the
 * decoding step's repacked copies). H = C / D. Why one op: a step of the picoGPT-style graph runs
 * a hundred small TF ops per block, and TF's executor, running them one after another, took a
 * third of a bfloat16 step (docs/benchmarks.md, "What a batch-1 bfloat16 step spends outside the
 * products"); with one op per block, the worker thread still waited while the master ran TF's
 * nodes between blocks ("One op for every block"). */

enum { X, K_PAST, V_PAST, FIRST, LENGTH, VECTORS, ATTN_W, PROJ_W, FC_W, MPROJ_W, BLOCK_INPUTS };

/* The functions below are called by every thread of the step's one parallel region: each splits
 * its work among them (omp for) or leaves it to one (omp single), and returns when all are done. */

/* openai's norm(): mean and variance over each row of C, eps 1e-5, then gain and bias; a few
 * microseconds' work, which every thread does into its own y rather than wait for one */
static void layer_norm(const float* x, const float* g, const float* b, float* y, int64_t rows,
                       int64_t c) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * c;
    float* yr = y + r * c;
    float mean = 0, var = 0;
    for (int64_t i = 0; i < c; i++) mean += xr[i];
    mean /= c;
    for (int64_t i = 0; i < c; i++) var += (xr[i] - mean) * (xr[i] - mean);
    float inv = 1 / sqrtf(var / c + 1e-5f);
    for (int64_t i = 0; i < c; i++) yr[i] = (xr[i] - mean) * inv * g[i] + b[i];
  }
}

/* Attention of each row's new query over its cached keys and its new key, per head (not inlined,
 * so that a profile shows it apart):
 * softmax(q k^T / sqrt(D)) v, query head h reading key/value head h / (H / Hkv). qkv [B, C + 2 Hkv
 * D] is c_attn's output; out [B, C] the heads merged; scores room for B H (S + 1). */
__attribute__((noinline)) static void attend(const float* qkv, const float* k_past,
                                             const float* v_past, const int32_t* length,
                                             float* out, float* scores, int64_t rows,
                                             int64_t heads, int64_t kv_heads, int64_t s_dim,
                                             int64_t d) {
  int64_t c = heads * d, width = c + 2 * kv_heads * d;
  float scale = 1 / sqrtf((float)d);
  /* a head at a time to whichever thread is free: one core is often slower (see sharing) */
#pragma omp for collapse(2) schedule(dynamic)
  for (int64_t b = 0; b < rows; b++) {
    for (int64_t h = 0; h < heads; h++) {
      int64_t kvh = h / (heads / kv_heads), n = length[b];
      const float* q = qkv + b * width + h * d;
      const float* k_new = qkv + b * width + c + kvh * d;
      const float* v_new = k_new + kv_heads * d;
      const float* kp = k_past + (b * kv_heads + kvh) * s_dim * d;
      const float* vp = v_past + (b * kv_heads + kvh) * s_dim * d;
      float* w = scores + (b * heads + h) * (s_dim + 1);
      float max = -INFINITY, sum = 0;
      for (int64_t s = 0; s <= n; s++) {
        const float* key = s < n ? kp + s * d : k_new;
        float dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t i = 0; i < d; i++) dot += q[i] * key[i];
        w[s] = dot * scale;
        max = w[s] > max ? w[s] : max;
      }
      for (int64_t s = 0; s <= n; s++) sum += w[s] = expf(w[s] - max);
      float* o = out + b * c + h * d;
      for (int64_t i = 0; i < d; i++) o[i] = 0;
      for (int64_t s = 0; s <= n; s++) {
        const float* value = s < n ? vp + s * d : v_new;
        float p = w[s] / sum;
#pragma omp simd
        for (int64_t i = 0; i < d; i++) o[i] += p * value[i];
      }
    }
  }
}

/* y = e(x w) (w float32 [.., K, N]) or e(x w^T) (w bfloat16 [N, K]) */
static void block_product(int bf16, const float* x, const void* w, float* y, int64_t m, int64_t k,
                          int64_t n, float* partial, sharing* shares, epilogue e) {
  if (bf16) {
    mat_vec_bf16_t(x, w, y, m, k, n, shares, &e);
  } else {
    mat_vec_f32(x, w, y, m, k, n, partial, &e);
  }
}

/* N of a block's matrix whose K is k, or -1 when it is not shaped as the op says */
static int64_t product_width(int bf16, TF_Tensor* w, int64_t k) {
  int r = TF_NumDims(w);
  if (bf16) return r == 2 && TF_Dim(w, 1) == k ? TF_Dim(w, 0) : -1;
  if (r < 2 || TF_Dim(w, r - 2) != k) return -1;
  for (int i = 0; i < r - 2; i++) {
    if (TF_Dim(w, i) != 1) return -1;
  }
  return TF_Dim(w, r - 1);
}

static int is_vector(TF_Tensor* t, int64_t n) { return TF_NumDims(t) == 1 && TF_Dim(t, 0) == n; }

/* A block's sizes, read from its inputs once (check_block) */
typedef struct {
  int64_t rows, c, kv_heads, s_dim, d, heads, kv, width, f;
  int32_t first;
} block_dims;

/* The shapes' check: NULL when they fit together, else what is wrong; fills *dims. */
static const char* check_block(int bf16, TF_Tensor** in, block_dims* dims) {
  if (TF_NumDims(in[X]) != 2 || TF_NumDims(in[K_PAST]) != 4 || TF_NumDims(in[V_PAST]) != 4) {
    return "x must be [B, C] and the cache's k and v [R, Hkv, S, D]";
  }
  int64_t rows = TF_Dim(in[X], 0), c = TF_Dim(in[X], 1);
  int64_t kv_heads = TF_Dim(in[K_PAST], 1), s_dim = TF_Dim(in[K_PAST], 2);
  int64_t d = TF_Dim(in[K_PAST], 3);
  for (int i = 0; i < 4; i++) {
    if (TF_Dim(in[K_PAST], i) != TF_Dim(in[V_PAST], i)) return "k and v must have one shape";
  }
  int32_t first = TF_NumDims(in[FIRST]) == 0 ? *(const int32_t*)TF_TensorData(in[FIRST]) : -1;
  if (first < 0 || first + rows > TF_Dim(in[K_PAST], 0)) {
    return "first must be a scalar, and the cache must hold rows [first, first + B)";
  }
  if (!is_vector(in[LENGTH], rows)) return "length must have x's rows";
  if (d == 0 || kv_heads == 0 || c % d != 0 || (c / d) % kv_heads != 0) {
    return "C must be a multiple of D, and the heads a multiple of Hkv";
  }
  int64_t width = c + 2 * kv_heads * d, f = product_width(bf16, in[FC_W], c);
  if (product_width(bf16, in[ATTN_W], c) != width || product_width(bf16, in[PROJ_W], c) != c
      || f < 0 || product_width(bf16, in[MPROJ_W], f) != c) {
    return "c_attn, c_proj, c_fc and mlp c_proj must be [C, C + 2 Hkv D], [C, C], [C, F] and "
           "[F, C] ([1, K, N] in float32, [N, K] in bfloat16)";
  }
  if (!is_vector(in[VECTORS], 6 * c + width + f)) {
    return "vectors must be [6 C + W + F]: the norms' g and b and the biases";
  }
  const int32_t* length = TF_TensorData(in[LENGTH]);
  for (int64_t b = 0; b < rows; b++) {
    if (length[b] < 0 || length[b] >= s_dim) {
      return "length must be under the cache's S positions, leaving room for the new one";
    }
  }
  *dims = (block_dims){rows, c, kv_heads, s_dim, d, c / d, kv_heads * d, width, f, first};
  return NULL;
}

/* The vectors input, cut into its parts */
typedef struct {
  const float *ln1_g, *ln1_b, *attn_b, *proj_b, *ln2_g, *ln2_b, *fc_b, *mproj_b;
} block_vectors;

static block_vectors vectors_of(const float* v, const block_dims* s) {
  block_vectors b;
  b.ln1_g = v, b.ln1_b = v + s->c, b.attn_b = v + 2 * s->c, b.proj_b = b.attn_b + s->width;
  b.ln2_g = b.proj_b + s->c, b.ln2_b = b.ln2_g + s->c, b.fc_b = b.ln2_b + s->c;
  b.mproj_b = b.fc_b + s->f;
  return b;
}

/* A block's intermediate values: shared by the team, but for normed, one [B, C] per thread */
typedef struct {
  float *qkv, *attended, *mid, *hidden, *scores, *normed, *partial;
  share_counter* counters;
} block_room;

/* One block's steps, by every thread of the step's parallel region, on x_y [B, C] in place: the
 * block's input, then its output. In place is safe: every read of x (ln_1, c_proj's residual)
 * comes before the barrier that ends c_proj, and y is written by the last product, after it.
 * Between two products only the threads' barriers: the biases, residuals and GELU are the
 * products' epilogues, and each thread normalizes for itself. */
static void block_team(int bf16, void* const* in, const block_dims* s, const block_room* r,
                       sharing* shares, float* x_y) {
  int64_t rows = s->rows, c = s->c, kv = s->kv, width = s->width, f = s->f;
  float* normed = r->normed + omp_get_thread_num() * rows * c;
  block_vectors p = vectors_of(in[VECTORS], s);
  layer_norm(x_y, p.ln1_g, p.ln1_b, normed, rows, c);
  block_product(bf16, normed, in[ATTN_W], r->qkv, rows, c, width, r->partial, shares,
                (epilogue){p.attn_b, NULL, 0});
  int64_t skip = s->first * kv * s->s_dim;
  /* the new keys and values into the cache, at a position attention reads from qkv, not there */
#pragma omp single nowait
  for (int64_t b = 0; b < rows; b++) {
    const int32_t* length = in[LENGTH];
    for (int64_t h = 0; h < s->kv_heads; h++) {
      int64_t at = skip + ((b * s->kv_heads + h) * s->s_dim + length[b]) * s->d;
      memcpy((float*)in[K_PAST] + at, r->qkv + b * width + c + h * s->d, sizeof(float) * s->d);
      memcpy((float*)in[V_PAST] + at, r->qkv + b * width + c + kv + h * s->d,
             sizeof(float) * s->d);
    }
  }
  attend(r->qkv, (const float*)in[K_PAST] + skip, (const float*)in[V_PAST] + skip, in[LENGTH],
         r->attended, r->scores, rows, s->heads, s->kv_heads, s->s_dim, s->d);
  block_product(bf16, r->attended, in[PROJ_W], r->mid, rows, c, c, r->partial, shares,
                (epilogue){p.proj_b, x_y, 0});
  layer_norm(r->mid, p.ln2_g, p.ln2_b, normed, rows, c);
  block_product(bf16, normed, in[FC_W], r->hidden, rows, c, f, r->partial, shares,
                (epilogue){p.fc_b, NULL, 1});
  block_product(bf16, r->hidden, in[MPROJ_W], x_y, rows, f, c, r->partial, shares,
                (epilogue){p.mproj_b, r->mid, 0});
}

/* A step's inputs as TF gives them, one flat list (x, the n caches' k, then their v, first,
 * length, then n of each of vectors and the four matrices), and their data, read once: the
 * threads' loops over the layers call none of TF's functions. layer_view gives a layer's in
 * block order. */
typedef struct {
  TF_Tensor** flat;
  void** data;
  int n;
} step_inputs;

static int flat_index(int kind, int layer, int n) {
  switch (kind) {
    case X: return 0;
    case K_PAST: return 1 + layer;
    case V_PAST: return 1 + n + layer;
    case FIRST: return 1 + 2 * n;
    case LENGTH: return 2 + 2 * n;
    default: return 3 + 2 * n + (kind - VECTORS) * n + layer;
  }
}

static void layer_view(void* const* flat, int n, int layer, void** out) {
  for (int kind = 0; kind < BLOCK_INPUTS; kind++) out[kind] = flat[flat_index(kind, layer, n)];
}

static int same_dims(const block_dims* a, const block_dims* b) {
  return a->rows == b->rows && a->c == b->c && a->kv_heads == b->kv_heads && a->s_dim == b->s_dim
         && a->d == b->d && a->f == b->f && a->first == b->first;
}

/* The shapes' check, layer by layer, each with layer 0's sizes: NULL when they fit together, else
 * what is wrong, in message; fills *dims. */
static const char* check_step(int bf16, const step_inputs* in, block_dims* dims, char* message,
                              size_t size) {
  for (int l = 0; l < in->n; l++) {
    TF_Tensor* layer[BLOCK_INPUTS];
    block_dims d;
    layer_view((void* const*)in->flat, in->n, l, (void**)layer);
    const char* wrong = check_block(bf16, layer, &d);
    if (wrong == NULL && l > 0 && !same_dims(&d, dims)) {
      wrong = "every layer must have layer 0's sizes";
    }
    if (wrong != NULL) {
      snprintf(message, size, "%s: layer %d: %s", bf16 ? "Gpt2BlocksBf16" : "Gpt2Blocks", l, wrong);
      return message;
    }
    if (l == 0) *dims = d;
  }
  return NULL;
}

/* Every block, on inputs whose shapes check_step accepted, in one parallel region, y holding x on
 * entry; 0 when out of memory. */
static int blocks_step(int bf16, const step_inputs* in, const block_dims* s, float* y) {
  int64_t rows = s->rows, c = s->c;
  int64_t scores = rows * s->heads * (s->s_dim + 1);
  int64_t normed = omp_get_max_threads() * rows * c;
  int64_t partials = bf16 ? 0 : partial_room(rows, s->width > s->f ? s->width : s->f);
  float* base = scratch(rows * (s->width + 2 * c + s->f) + scores + normed + partials);
  share_counter* counters = bf16 ? fresh_counters() : NULL; /* float32's products split evenly */
  if (base == NULL || (bf16 && counters == NULL)) return 0;
  block_room r;
  r.counters = counters;
  r.qkv = base, r.attended = r.qkv + rows * s->width, r.mid = r.attended + rows * c;
  r.hidden = r.mid + rows * c, r.scores = r.hidden + rows * s->f, r.normed = r.scores + scores;
  r.partial = r.normed + normed;
#pragma omp parallel
  {
    sharing shares = {r.counters, 0};
    void* layer[BLOCK_INPUTS];
    for (int l = 0; l < in->n; l++) {
      layer_view(in->data, in->n, l, layer);
      block_team(bf16, layer, s, &r, &shares, y);
    }
  }
  return 1;
}

/* a ref input's copy for a variable in copy-on-read mode: resource variables only, never ours */
static void copy_tensor(TF_OpKernelContext* ctx, TF_Tensor* source, TF_Tensor* dest) {
  memcpy(TF_TensorData(dest), TF_TensorData(source), TF_TensorByteSize(source));
}

static int is_cache(int i, int n) {
  return i >= flat_index(K_PAST, 0, n) && i < flat_index(FIRST, 0, n);
}

static void compute_blocks(int bf16, TF_OpKernelContext* ctx) {
  TF_Status* status = TF_NewStatus();
  int inputs = TF_NumInputs(ctx), n = (inputs - 3) / 7;
  TF_Tensor** flat = calloc(inputs + 1, sizeof(TF_Tensor*)); /* the inputs, then y */
  void** data = calloc(inputs, sizeof(void*));
  step_inputs in = {flat, data, n};
  block_dims s;
  char message[256];
  if (flat == NULL || data == NULL) {
    TF_SetStatus(status, TF_RESOURCE_EXHAUSTED, "Gpt2Blocks: out of memory");
  }
  for (int i = 0; i < inputs && TF_GetCode(status) == TF_OK; i++) {
    if (is_cache(i, n)) {
      TF_GetInputTensorFromVariable(ctx, i, false, false, false, copy_tensor, &flat[i], status);
    } else {
      TF_GetInput(ctx, i, &flat[i], status);
    }
    if (TF_GetCode(status) == TF_OK) data[i] = TF_TensorData(flat[i]);
  }
  if (TF_GetCode(status) == TF_OK && check_step(bf16, &in, &s, message, sizeof message) != NULL) {
    TF_SetStatus(status, TF_INVALID_ARGUMENT, message);
  }
  if (TF_GetCode(status) == TF_OK) {
    int64_t y_dims[2] = {s.rows, s.c};
    flat[inputs] =
        TF_AllocateOutput(ctx, 0, TF_FLOAT, y_dims, 2, sizeof(float) * s.rows * s.c, status);
  }
  if (TF_GetCode(status) == TF_OK && s.rows > 0) {
    float* y = TF_TensorData(flat[inputs]);
    memcpy(y, data[0], sizeof(float) * s.rows * s.c);
    if (!blocks_step(bf16, &in, &s, y)) {
      TF_SetStatus(status, TF_RESOURCE_EXHAUSTED, "Gpt2Blocks: out of memory");
    }
  }
  if (TF_GetCode(status) != TF_OK) TF_OpKernelContext_Failure(ctx, status);
  for (int i = 0; flat != NULL && i <= inputs; i++) {
    if (flat[i]) TF_DeleteTensor(flat[i]);
  }
  free(flat);
  free(data);
  TF_DeleteStatus(status);
}

static void compute_blocks_f32(void* kernel, TF_OpKernelContext* ctx) { compute_blocks(0, ctx); }
static void compute_blocks_bf16(void* kernel, TF_OpKernelContext* ctx) { compute_blocks(1, ctx); }

/* y: x's shape */
static void shape_blocks(TF_ShapeInferenceContext* ctx, TF_Status* status) {
  int n = (int)((TF_ShapeInferenceContextNumInputs(ctx) - 3) / 7);
  TF_ShapeHandle* x = TF_NewShapeHandle();
  TF_ShapeInferenceContextGetInput(ctx, flat_index(X, 0, n), x, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextWithRank(ctx, x, 2, x, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 0, x, status);
  TF_DeleteShapeHandle(x);
}

static void register_blocks(const char* name, const char* w_type,
                            void (*compute_fn)(void*, TF_OpKernelContext*)) {
  static const char* inputs[BLOCK_INPUTS] = {
      "x: float", "k: Ref(n * float)", "v: Ref(n * float)", "first: int32", "length: int32",
      "vectors: n * float", "c_attn_w: n * ", "attn_c_proj_w: n * ", "c_fc_w: n * ",
      "mlp_c_proj_w: n * "};
  TF_OpDefinitionBuilder* op = TF_NewOpDefinitionBuilder(name);
  TF_OpDefinitionBuilderAddAttr(op, "n: int >= 1");
  for (int i = 0; i < BLOCK_INPUTS; i++) {
    char spec[64];
    snprintf(spec, sizeof spec, "%s%s", inputs[i], i >= ATTN_W ? w_type : "");
    TF_OpDefinitionBuilderAddInput(op, spec);
  }
  TF_OpDefinitionBuilderAddOutput(op, "y: float");
  /* it writes the cache: never merged with a twin, folded or reordered as a pure function */
  TF_OpDefinitionBuilderSetIsStateful(op, true);
  register_kernel(name, op, compute_fn, shape_blocks);
}

/* TF_LoadLibrary collects the ops and kernels registered while the library loads. */
__attribute__((constructor)) static void register_ops(void) {
  choose_loops();
  register_op("Gpt2MatVec", "w: float", compute_mat_vec, shape_mat_vec);
  register_op("Gpt2MatVecT", "w: float", compute_mat_vec_t, shape_mat_vec_t);
  register_op("Gpt2MatVecTBf16", "w: bfloat16", compute_mat_vec_t_bf16, shape_mat_vec_t);
  register_blocks("Gpt2Blocks", "float", compute_blocks_f32);
  register_blocks("Gpt2BlocksBf16", "bfloat16", compute_blocks_bf16);
}
