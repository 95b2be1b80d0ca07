/*
 * The TF op glue: matrix-vector products and whole blocks for KV-cached decoding, as TensorFlow ops
 * loaded with TensorFlow.loadLibrary (see dev.gpt2j.kernels.NativeKernels and FusedBlocks). Each
 * kernel reads its inputs, checks their shapes, allocates its output and calls products.c or
 * blocks.c.
 *
 *   Gpt2MatVec   x [M, K], w [K, N] -> x w     (c_attn, c_proj, c_fc: OpenAI's [nx, nf] layout)
 *   Gpt2MatVecT  x [M, K], w [N, K] -> x w^T   (the LM head against wte [n_vocab, n_embd])
 *   Gpt2MatVecTBf16: x w^T with w in bfloat16 (half the bytes to read), widened as it is read;
 *                x, y and the sums stay float32 (the decoding step reads its bfloat16 matrices
 *                from copies held [N, K]: NativeKernels.StepProduct)
 *   Gpt2Blocks, Gpt2BlocksBf16: a decoding step's GPT-2 blocks on those products (blocks.c)
 *
 * Threads: OpenMP, one per core, one parallel region per op.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2j.h"
#include "tf_c_api.h"

static void compute(int transposed, int bf16, TF_OpKernelContext* ctx) {
  TF_Status* status = TF_NewStatus();
  TF_Tensor *x = NULL, *w = NULL, *y = NULL;
  TF_GetInput(ctx, 0, &x, status);
  if (TF_GetCode(status) == TF_OK) TF_GetInput(ctx, 1, &w, status);
  if (TF_GetCode(status) == TF_OK) {
    if (TF_NumDims(x) != 2 || TF_NumDims(w) != 2 || TF_Dim(x, 1) != TF_Dim(w, transposed ? 1 : 0)) {
      TF_SetStatus(status, TF_INVALID_ARGUMENT,
                   transposed ? "Gpt2MatVecT: x must be [M, K] and w [N, K]"
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
/* A step's inputs as TF gives them, one flat list (flat_index), and their data, read once: the
 * threads' loops over the layers call none of TF's functions. */
typedef struct {
  TF_Tensor** flat;
  void** data;
  int n;
} step_inputs;
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
    if (!blocks_step(bf16, in.data, in.n, &s, y)) {
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
      "x: float",      "k: Ref(n * float)",  "v: Ref(n * float)", "first: int32",
      "length: int32", "vectors: n * float", "c_attn_w: n * ",    "attn_c_proj_w: n * ",
      "c_fc_w: n * ",  "mlp_c_proj_w: n * "};
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
