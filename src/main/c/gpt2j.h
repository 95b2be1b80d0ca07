/*
 * What the kernels' files share: the products' epilogue and work sharing (products.c), a block's
 * sizes and a decoding step's inputs (blocks.c), which the TF op glue (tf_ops.c) checks and hands
 * over. Everything here is internal to the library, which exports only gpt2j_isa and
 * gpt2j_choose_isa (build.sh compiles with -fvisibility=hidden).
 */
#ifndef GPT2J_H
#define GPT2J_H

#include <stdatomic.h>
#include <stdint.h>

#define GPT2J_EXPORT __attribute__((visibility("default")))

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* What a product does to its outputs before it returns, in the block: y = y + bias (+ residual),
 * then GELU (openai's gelu(), the tanh approximation) when asked; NULL: nothing. Done by the
 * thread that computed those outputs, so that a block needs no pass of its own for them. */
typedef struct {
  const float* bias;     /* [N] */
  const float* residual; /* [M, N], or NULL */
  int gelu;
} epilogue;

/* How x w^T's outputs are shared out. The host often runs one of our cores slower than the other
 * (docs/benchmarks.md), so equal static shares left the faster thread waiting at
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

/* The products, called by every thread of a parallel region (a kernel's, or a whole step's: one
 * region for every block, not one per product); each returns when all threads are done, each
 * thread having run the epilogue e (NULL: none) on the outputs it computed. */

/* x [M, K] w [K, N]: partial has room for partial_room(M, N) floats, shared by the team; y must not
 * be e's residual */
void mat_vec_f32(const float* x, const float* w, float* y, int64_t m_rows, int64_t k_dim,
                 int64_t n_dim, float* partial, const epilogue* e);
/* x [M, K] w^T, w [N, K] in float32 or bfloat16, outputs shared out by claims on s */
void mat_vec_f32_t(const float* x, const float* w, float* y, int64_t m_rows, int64_t k_dim,
                   int64_t n_dim, sharing* s, const epilogue* e);
void mat_vec_bf16_t(const float* x, const uint16_t* w, float* y, int64_t m_rows, int64_t k_dim,
                    int64_t n_dim, sharing* s, const epilogue* e);

/* Room for n floats kept with the calling thread for its next call; NULL when out of memory */
float* scratch(int64_t n);
/* Two zeroed sets of share counters for the calling thread's next parallel region, or NULL */
share_counter* fresh_counters(void);
/* How many floats mat_vec_f32's partial sums of an m_rows x n_dim product take */
int64_t partial_room(int64_t m_rows, int64_t n_dim);
/* Picks the loops for this processor (or GPT2J_ISA's); once, before any product */
void choose_loops(void);

/* A decoding step's inputs, per layer, in this order (see blocks.c) */
enum { X, K_PAST, V_PAST, FIRST, LENGTH, VECTORS, ATTN_W, PROJ_W, FC_W, MPROJ_W, BLOCK_INPUTS };

/* A block's sizes, read from its inputs once (tf_ops.c checks them) */
typedef struct {
  int64_t rows, c, kv_heads, s_dim, d, heads, kv, width, f;
  int32_t first;
} block_dims;

/* Where input `kind` of layer `layer` is in the op's flat list of inputs (x, the n caches' k, then
 * their v, first, length, then n of each of vectors and the four matrices) */
static inline int flat_index(int kind, int layer, int n) {
  switch (kind) {
    case X:
      return 0;
    case K_PAST:
      return 1 + layer;
    case V_PAST:
      return 1 + n + layer;
    case FIRST:
      return 1 + 2 * n;
    case LENGTH:
      return 2 + 2 * n;
    default:
      return 3 + 2 * n + (kind - VECTORS) * n + layer;
  }
}

/* Layer `layer`'s inputs, in block order, from the flat list */
static inline void layer_view(void* const* flat, int n, int layer, void** out) {
  for (int kind = 0; kind < BLOCK_INPUTS; kind++) out[kind] = flat[flat_index(kind, layer, n)];
}

/* Every block on the step's inputs (their data, flat), whose shapes s describes, in one parallel
 * region, y holding x on entry; 0 when out of memory */
int blocks_step(int bf16, void* const* data, int n, const block_dims* s, float* y);

#endif
