/*
 * A decoding step's GPT-2 blocks, as one op's work (Gpt2Blocks, Gpt2BlocksBf16; tf_ops.c checks
 * the inputs and hands them over): openai/gpt-2's block() n times, one after another, for one new
 * position per row, given the keys and values the cache holds.
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
 * Row b attends to the first length[b] positions of each layer's cache and to its new key, and
 * the op writes the new key and value into the cache at position length[b], in place, as TF's
 * ScatterNdUpdate would: the cache inputs are ref inputs (the variables' own buffers), so a step
 * runs no write op per layer and its keys and values are never copied out. Matrices are float32
 * [1, K, N] as OpenAI stores them, or bfloat16 [N, K] (the decoding step's repacked copies).
 * H = C / D. Why one op: a step of the picoGPT-style graph runs a hundred small TF ops per block,
 * and TF's executor, running them one after another, took a third of a bfloat16 step
 * (docs/benchmarks.md, "What a batch-1 bfloat16 step spends outside the products"); with one op
 * per block, the worker thread still waited while the master ran TF's nodes between blocks ("One
 * op for every block").
 *
 * The functions below are called by every thread of the step's one parallel region: each splits
 * its work among them (omp for) or leaves it to one (omp single), and returns when all are done.
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "gpt2j.h"

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
                                             const float* v_past, const int32_t* length, float* out,
                                             float* scores, int64_t rows, int64_t heads,
                                             int64_t kv_heads, int64_t s_dim, int64_t d) {
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
      memcpy((float*)in[V_PAST] + at, r->qkv + b * width + c + kv + h * s->d, sizeof(float) * s->d);
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
int blocks_step(int bf16, void* const* data, int n, const block_dims* s, float* y) {
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
    for (int l = 0; l < n; l++) {
      layer_view(data, n, l, layer);
      block_team(bf16, layer, s, &r, &shares, y);
    }
  }
  return 1;
}
