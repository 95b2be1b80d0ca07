/*
 * Matrix-vector products for KV-cached decoding, as two TensorFlow ops loaded with
 * TensorFlow.loadLibrary (see dev.gpt2j.kernels.NativeKernels).
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
 * M is the batch (one position per row). Gpt2MatVecT streams w once per call; Gpt2MatVec once
 * per 8 rows of x; its partial sums reuse one buffer per calling thread, not a malloc per call.
 * Threads: OpenMP, one per core. Only TF's C API is used; its headers are not shipped with TF
 * Java, so the few declarations needed are below (tensorflow/c/{c_api,kernels,ops,tf_tensor}.h).
 */
#include <omp.h>
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
enum { TF_FLOAT = 1 };

extern TF_Status* TF_NewStatus(void);
extern void TF_DeleteStatus(TF_Status*);
extern int TF_GetCode(const TF_Status*);
extern const char* TF_Message(const TF_Status*);
extern void TF_SetStatus(TF_Status*, int code, const char* msg);
extern void* TF_TensorData(const TF_Tensor*);
extern int TF_NumDims(const TF_Tensor*);
extern int64_t TF_Dim(const TF_Tensor*, int);
extern void TF_DeleteTensor(TF_Tensor*);
extern TF_KernelBuilder* TF_NewKernelBuilder(const char* op, const char* device,
    void* (*create)(TF_OpKernelConstruction*), void (*compute)(void*, TF_OpKernelContext*),
    void (*destroy)(void*));
extern void TF_RegisterKernelBuilder(const char* name, TF_KernelBuilder*, TF_Status*);
extern void TF_GetInput(TF_OpKernelContext*, int i, TF_Tensor**, TF_Status*);
extern TF_Tensor* TF_AllocateOutput(TF_OpKernelContext*, int i, int dtype, const int64_t* dims,
    int num_dims, size_t len, TF_Status*);
extern void TF_OpKernelContext_Failure(TF_OpKernelContext*, TF_Status*);
extern TF_OpDefinitionBuilder* TF_NewOpDefinitionBuilder(const char* name);
extern void TF_OpDefinitionBuilderAddInput(TF_OpDefinitionBuilder*, const char* spec);
extern void TF_OpDefinitionBuilderAddOutput(TF_OpDefinitionBuilder*, const char* spec);
extern void TF_OpDefinitionBuilderSetShapeInferenceFunction(TF_OpDefinitionBuilder*,
    void (*fn)(TF_ShapeInferenceContext*, TF_Status*));
extern void TF_RegisterOpDefinition(TF_OpDefinitionBuilder*, TF_Status*);
extern TF_ShapeHandle* TF_NewShapeHandle(void);
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
 * independent sums hide the add latency. */                                                      \
ATTR static void NAME(const float* x, const WT* w, float* y, int64_t m_rows,                     \
                                     int64_t k_dim, int64_t n_dim, int64_t n0, int64_t n1) {      \
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
}

#define MAT_VEC_T(NAME, WT, T_ROWS)                                                               \
/* x w^T: each thread takes a contiguous block of w's rows (outputs). */                          \
static void NAME(const float* x, const WT* w, float* y, int64_t m_rows, int64_t k_dim,        \
                     int64_t n_dim) {                                                             \
  _Pragma("omp parallel")                                                                         \
  {                                                                                               \
    int t = omp_get_thread_num(), team = omp_get_num_threads();                                   \
    int64_t chunk = (n_dim + team - 1) / team;                                                    \
    int64_t n0 = min64(t * chunk, n_dim), n1 = min64(n0 + chunk, n_dim);                          \
    T_ROWS(x, w, y, m_rows, k_dim, n_dim, n0, n1);                                              \
  }                                                                                               \
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
 * instead, with no partials, measured slower: docs/benchmarks.md, "one process per command"). */ \
static int NAME(const float* x, const WT* w, float* y, int64_t m_rows, int64_t k_dim,             \
                int64_t n_dim) {                                                                  \
  int threads = omp_get_max_threads();                                                            \
  int64_t size = m_rows * n_dim;                                                                  \
  float* partial = partial_sums(size * (threads - 1));                                            \
  if (partial == NULL && threads > 1) return 0;                                                   \
  _Pragma("omp parallel num_threads(threads)")                                                    \
  {                                                                                               \
    int t = omp_get_thread_num(), team = omp_get_num_threads();                                   \
    int64_t chunk = (k_dim + team - 1) / team;                                                    \
    int64_t k0 = min64(t * chunk, k_dim), k1 = min64(k0 + chunk, k_dim);                          \
    ROWS(x, w, t == 0 ? y : partial + (t - 1) * size, m_rows, k_dim, n_dim, k0, k1);            \
    _Pragma("omp barrier")                                                                        \
    _Pragma("omp for")                                                                            \
    for (int64_t i = 0; i < size; i++) {                                                          \
      for (int p = 1; p < team; p++) y[i] += partial[(p - 1) * size + i];                         \
    }                                                                                             \
  }                                                                                               \
  return 1;                                                                                       \
}                                                                                                 \


/* Room for n partial sums, kept with the calling (TF executor) thread for its next call rather
 * than a malloc per call; NULL when out of memory. */
static float* partial_sums(int64_t n) {
  static _Thread_local float* scratch = NULL;
  static _Thread_local int64_t capacity = 0;
  if (n > capacity) {
    free(scratch);
    scratch = malloc(sizeof(float) * n);
    capacity = scratch == NULL ? 0 : n;
  }
  return scratch;
}

/* The loops the kernels call, chosen once, when the library loads (choose_loops). */
typedef void (*f32_loop)(const float* x, const float* w, float* y, int64_t m_rows, int64_t k_dim,
                         int64_t n_dim, int64_t from, int64_t to);
typedef void (*bf16_loop)(const float* x, const uint16_t* w, float* y, int64_t m_rows,
                          int64_t k_dim, int64_t n_dim, int64_t from, int64_t to);
static f32_loop f32_rows;
static f32_loop f32_t_rows;
static bf16_loop bf16_t_rows;
static const char* isa = "generic";

MAT_VEC_ROWS(f32_rows_generic, float, LOAD_F32, ISA_GENERIC)
MAT_VEC_T_ROWS(f32_t_rows_generic, float, LOAD_F32, ISA_GENERIC)
MAT_VEC_T_ROWS(bf16_t_rows_generic, uint16_t, LOAD_BF16, ISA_GENERIC)
#if defined(__x86_64__)
MAT_VEC_ROWS(f32_rows_avx2, float, LOAD_F32, ISA_AVX2)
MAT_VEC_T_ROWS(f32_t_rows_avx2, float, LOAD_F32, ISA_AVX2)
MAT_VEC_T_ROWS(bf16_t_rows_avx2, uint16_t, LOAD_BF16, ISA_AVX2)
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
    int64_t n0, int64_t n1) {
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
}
#endif

/* The widest loops the processor runs, or the narrower ones GPT2J_ISA asks for. */
static void choose_loops(void) {
  f32_rows = f32_rows_generic;
  f32_t_rows = f32_t_rows_generic;
  bf16_t_rows = bf16_t_rows_generic;
#if defined(__x86_64__)
  __builtin_cpu_init(); /* this runs from a constructor, before libgcc's own may have */
  int has = __builtin_cpu_supports("avx512f") ? 2
            : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
  const char* asked = getenv("GPT2J_ISA");
  int want = asked == NULL || strcmp(asked, "avx512") == 0 ? 2
             : strcmp(asked, "avx2") == 0 ? 1 : strcmp(asked, "generic") == 0 ? 0 : -1;
  if (want < 0 || want > has) {
    fprintf(stderr, "[gpt2j] GPT2J_ISA=%s: expected avx512, avx2 or generic, one this processor"
            " runs; using the widest it has\n", asked);
    want = has;
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
        int ok = 1;
        if (transposed && bf16) {
          mat_vec_bf16_t(xp, wp, yp, m_rows, k_dim, n_dim);
        } else if (transposed) {
          mat_vec_f32_t(xp, wp, yp, m_rows, k_dim, n_dim);
        } else {
          ok = mat_vec_f32(xp, wp, yp, m_rows, k_dim, n_dim);
        }
        if (!ok) TF_SetStatus(status, TF_RESOURCE_EXHAUSTED, "Gpt2MatVec: out of memory");
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
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextConcatenateShapes(ctx, rows, cols, y, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 0, y, status);
  TF_DeleteShapeHandle(x);
  TF_DeleteShapeHandle(w);
  TF_DeleteShapeHandle(rows);
  TF_DeleteShapeHandle(cols);
  TF_DeleteShapeHandle(y);
}

static void shape_mat_vec(TF_ShapeInferenceContext* c, TF_Status* s) { infer_shape(c, s, 1); }
static void shape_mat_vec_t(TF_ShapeInferenceContext* c, TF_Status* s) { infer_shape(c, s, 0); }

static void register_op(const char* name, const char* w_spec,
                        void (*compute_fn)(void*, TF_OpKernelContext*),
                        void (*shape_fn)(TF_ShapeInferenceContext*, TF_Status*)) {
  TF_Status* status = TF_NewStatus();
  TF_OpDefinitionBuilder* op = TF_NewOpDefinitionBuilder(name);
  TF_OpDefinitionBuilderAddInput(op, "x: float");
  TF_OpDefinitionBuilderAddInput(op, w_spec);
  TF_OpDefinitionBuilderAddOutput(op, "y: float");
  TF_OpDefinitionBuilderSetShapeInferenceFunction(op, shape_fn);
  TF_RegisterOpDefinition(op, status);
  if (TF_GetCode(status) == TF_OK) {
    TF_RegisterKernelBuilder(name, TF_NewKernelBuilder(name, "CPU", NULL, compute_fn, NULL), status);
  }
  /* Java checks the op list TF_LoadLibrary returns; this says why one is missing */
  if (TF_GetCode(status) != TF_OK) fprintf(stderr, "[gpt2j] %s: %s\n", name, TF_Message(status));
  TF_DeleteStatus(status);
}

/* TF_LoadLibrary collects the ops and kernels registered while the library loads. */
__attribute__((constructor)) static void register_ops(void) {
  choose_loops();
  register_op("Gpt2MatVec", "w: float", compute_mat_vec, shape_mat_vec);
  register_op("Gpt2MatVecT", "w: float", compute_mat_vec_t, shape_mat_vec_t);
  register_op("Gpt2MatVecTBf16", "w: bfloat16", compute_mat_vec_t_bf16, shape_mat_vec_t);
}
