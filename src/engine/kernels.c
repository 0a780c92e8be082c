// The kernels of src/engine/kernels.ts in C for wasm32 with SIMD128.
//
// Built by `deno task build:kernels` (tools/build_kernels.ts) into kernels.wasm;
// `deno task build:kernels --check` verifies the committed kernels.wasm.
// No libc: exp, tanh and log are written here. Memory is imported and shared
// so that several instances (Web Workers) can run on the same buffers; none
// of these functions touches the C stack in linear memory (no local arrays,
// no address-taken locals), so instances need no stacks of their own.
//
// Layouts are those of kernels.ts: activations are feature-major rows of `ld`
// floats, SIMD runs along a row (the columns), and sparse weights are CSR over
// output rows. Pointers are byte addresses in the shared memory; a null
// optional buffer is passed as 0 (the allocator never hands out address 0).

#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define INLINE static inline __attribute__((always_inline))
// Loops over a constant number of vectors must unroll so the vectors stay in
// registers (locals) and never spill to the C stack.
#define UNROLL _Pragma("clang loop unroll(full)")

typedef v128_t V;

INLINE V splat(float x) { return wasm_f32x4_splat(x); }
INLINE V load(const float *p) { return wasm_v128_load(p); }
INLINE void store(float *p, V v) { wasm_v128_store(p, v); }
INLINE V add(V a, V b) { return wasm_f32x4_add(a, b); }
INLINE V sub(V a, V b) { return wasm_f32x4_sub(a, b); }
INLINE V mul(V a, V b) { return wasm_f32x4_mul(a, b); }
INLINE V mla(V acc, V a, V b) { return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b)); }

// Loads the first n lanes (n <= 4) of p, zero in the others; never reads p[n..4).
INLINE V load_part(const float *p, int n) {
  if (n >= 4) return load(p);
  V v = splat(0.0f);
  if (n > 0) v = wasm_f32x4_replace_lane(v, 0, p[0]);
  if (n > 1) v = wasm_f32x4_replace_lane(v, 1, p[1]);
  if (n > 2) v = wasm_f32x4_replace_lane(v, 2, p[2]);
  return v;
}

// Stores the first n lanes (n <= 4) of v to p; never writes p[n..4).
INLINE void store_part(float *p, V v, int n) {
  if (n >= 4) {
    store(p, v);
    return;
  }
  if (n > 0) p[0] = wasm_f32x4_extract_lane(v, 0);
  if (n > 1) p[1] = wasm_f32x4_extract_lane(v, 1);
  if (n > 2) p[2] = wasm_f32x4_extract_lane(v, 2);
}

INLINE float hsum(V v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

// ---------------------------------------------------------------------------
// Elementary functions

// e^x to about 2e-7 relative: x = n·ln2 + r with |r| <= ln2/2, e^r by its
// Taylor polynomial of degree 7 (truncation below 1e-8), 2^n added to the
// exponent bits. x is clamped to [-87.33, 88] so 2^n stays a normal float:
// below, the result is the smallest normal (~1e-38) instead of ~0. pmin/pmax
// and the rounding by adding 1.5·2^23 are single instructions on x86, where
// f32x4.min/max, nearest and trunc_sat are sequences.
INLINE V vexp(V x) {
  const float magic = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, splat(-87.33f)), splat(88.0f));
  V t = add(mul(x, splat(1.44269504088896341f)), splat(magic));
  V n = sub(t, splat(magic));
  // ln2 in two parts: the first has 9 significant bits, so n·hi is exact.
  V r = sub(x, mul(n, splat(0.693359375f)));
  r = sub(r, mul(n, splat(-2.12194440054690583e-4f)));
  V p = splat(1.0f / 5040.0f);
  p = mla(splat(1.0f / 720.0f), p, r);
  p = mla(splat(1.0f / 120.0f), p, r);
  p = mla(splat(1.0f / 24.0f), p, r);
  p = mla(splat(1.0f / 6.0f), p, r);
  p = mla(splat(0.5f), p, r);
  p = mla(splat(1.0f), p, r);
  p = mla(splat(1.0f), p, r);
  // The low mantissa bits of t hold n (two's complement); shifted by 23 they
  // are n in the exponent field, the bits of the magic number shifted out.
  return wasm_i32x4_add(p, wasm_i32x4_shl(t, 23));
}

INLINE V vsigmoid(V x) {
  return wasm_f32x4_div(splat(1.0f), add(splat(1.0f), vexp(wasm_f32x4_neg(x))));
}

// tanh: near 0 its odd Taylor polynomial to x^11 (the next term is below
// 1e-7 relative for |x| < 0.4), where 1 - 2/(e^{2|x|} + 1) would cancel;
// elsewhere that formula with the sign of x. e^{2|x|} is clamped, so large
// |x| gives exactly ±1.
INLINE V vtanh(V x) {
  V a = wasm_f32x4_abs(x);
  V big = sub(splat(1.0f), wasm_f32x4_div(splat(2.0f), add(vexp(add(a, a)), splat(1.0f))));
  big = wasm_v128_or(big, wasm_v128_and(x, wasm_i32x4_splat((int32_t)0x80000000u)));
  V x2 = mul(x, x);
  V p = splat(-1382.0f / 155925.0f);
  p = mla(splat(62.0f / 2835.0f), p, x2);
  p = mla(splat(-17.0f / 315.0f), p, x2);
  p = mla(splat(2.0f / 15.0f), p, x2);
  p = mla(splat(-1.0f / 3.0f), p, x2);
  V small = mla(x, mul(p, x2), x);
  return wasm_v128_bitselect(small, big, wasm_f32x4_lt(a, splat(0.4f)));
}

// Natural log of a positive finite double: x = m·2^e with m in [√½, √2),
// log m = 2·atanh(s), s = (m-1)/(m+1), |s| < 0.172, series to s^19.
static double dlog(double x) {
  union {
    double d;
    uint64_t u;
  } v = {x};
  int e = (int)((v.u >> 52) & 0x7ff) - 1023;
  v.u = (v.u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
  double m = v.d;
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e += 1;
  }
  double s = (m - 1.0) / (m + 1.0);
  double s2 = s * s;
  double p = 1.0 / 19.0;
  p = 1.0 / 17.0 + s2 * p;
  p = 1.0 / 15.0 + s2 * p;
  p = 1.0 / 13.0 + s2 * p;
  p = 1.0 / 11.0 + s2 * p;
  p = 1.0 / 9.0 + s2 * p;
  p = 1.0 / 7.0 + s2 * p;
  p = 1.0 / 5.0 + s2 * p;
  p = 1.0 / 3.0 + s2 * p;
  p = 1.0 + s2 * p;
  return (double)e * 0.6931471805599453 + 2.0 * s * p;
}

// ---------------------------------------------------------------------------
// Sparse products. Columns are processed in chunks of up to 32 floats (8
// vectors) held in registers while the loop runs over a row's nonzeros; NV
// is a constant after inlining, so the chunk loops unroll.

#define MAXV 8

// y[0..4·NV) = init + Σ_k val[k]·x[ci[k]][0..4·NV) for one row. With 3 to 6
// vectors the adds of successive nonzeros wait on each other (latency, not
// throughput, bounds the loop), so even and odd nonzeros get accumulators of
// their own; fewer vectors are bound by the loop overhead, more by throughput
// (and twice 8 would not fit in the registers). Measured, not guessed.
INLINE void fwd_chunk(const int NV, const int *ci, const float *val, int k0, int k1,
                      const float *x, int ldx, float *y, const float *init) {
  const int dual = NV >= 3 && NV <= 6;
  V acc[MAXV], odd[MAXV];
  UNROLL
  for (int j = 0; j < NV; j++) {
    acc[j] = init ? load(init + 4 * j) : splat(0.0f);
    odd[j] = splat(0.0f);
  }
  int k = k0;
  if (dual) {
    for (; k + 2 <= k1; k += 2) {
      V w0 = splat(val[k]), w1 = splat(val[k + 1]);
      const float *x0 = x + ci[k] * ldx;
      const float *x1 = x + ci[k + 1] * ldx;
      UNROLL
      for (int j = 0; j < NV; j++) {
        acc[j] = mla(acc[j], w0, load(x0 + 4 * j));
        odd[j] = mla(odd[j], w1, load(x1 + 4 * j));
      }
    }
  }
  for (; k < k1; k++) {
    V w = splat(val[k]);
    const float *xp = x + ci[k] * ldx;
    UNROLL
    for (int j = 0; j < NV; j++) acc[j] = mla(acc[j], w, load(xp + 4 * j));
  }
  UNROLL
  for (int j = 0; j < NV; j++) store(y + 4 * j, dual ? add(acc[j], odd[j]) : acc[j]);
}

// fwd_chunk on every row, for the columns [n, n + 4·NV).
INLINE void fwd_rows(const int NV, int n, int rows, const int *rp, const int *ci, const float *val,
                     const float *x, int ldx, float *y, int ldy, const float *init, int ldi) {
  for (int r = 0; r < rows; r++) {
    fwd_chunk(NV, ci, val, rp[r], rp[r + 1], x + n, ldx, y + r * ldy + n,
              init ? init + r * ldi + n : 0);
  }
}

// y = init + W·x on N columns; init is y itself, another matrix, or 0 (none).
// Column chunks outside, rows inside: the chunk's slab of x (cols × 32 floats)
// stays in cache while every row reads it.
static void csr_fwd(int rows, const int *rp, const int *ci, const float *val, const float *x,
                    int ldx, float *y, int ldy, int N, const float *init, int ldi) {
  int n = 0;
  for (; n + 32 <= N; n += 32) fwd_rows(8, n, rows, rp, ci, val, x, ldx, y, ldy, init, ldi);
  switch ((N - n) >> 2) {
    case 7: fwd_rows(7, n, rows, rp, ci, val, x, ldx, y, ldy, init, ldi); break;
    case 6: fwd_rows(6, n, rows, rp, ci, val, x, ldx, y, ldy, init, ldi); break;
    case 5: fwd_rows(5, n, rows, rp, ci, val, x, ldx, y, ldy, init, ldi); break;
    case 4: fwd_rows(4, n, rows, rp, ci, val, x, ldx, y, ldy, init, ldi); break;
    case 3: fwd_rows(3, n, rows, rp, ci, val, x, ldx, y, ldy, init, ldi); break;
    case 2: fwd_rows(2, n, rows, rp, ci, val, x, ldx, y, ldy, init, ldi); break;
    case 1: fwd_rows(1, n, rows, rp, ci, val, x, ldx, y, ldy, init, ldi); break;
  }
  n += (N - n) & ~3;
  if (n == N) return;
  for (int r = 0; r < rows; r++) {
    int k0 = rp[r], k1 = rp[r + 1];
    float *yr = y + r * ldy;
    const float *ir = init ? init + r * ldi : 0;
    for (int m = n; m < N; m++) {
      float s = ir ? ir[m] : 0.0f;
      for (int k = k0; k < k1; k++) s += val[k] * x[ci[k] * ldx + m];
      yr[m] = s;
    }
  }
}

// dx[ci[k]][0..4·NV) += val[k]·dy[0..4·NV) for the nonzeros of one row.
INLINE void bwd_chunk(const int NV, const int *ci, const float *val, int k0, int k1,
                      const float *dy, float *dx, int lddx) {
  V d[MAXV];
  for (int j = 0; j < NV; j++) d[j] = load(dy + 4 * j);
  for (int k = k0; k < k1; k++) {
    V w = splat(val[k]);
    float *xp = dx + ci[k] * lddx;
    for (int j = 0; j < NV; j++) store(xp + 4 * j, mla(load(xp + 4 * j), w, d[j]));
  }
}

// bwd_chunk on every row, for the columns [n, n + 4·NV).
INLINE void bwd_rows(const int NV, int n, int rows, const int *rp, const int *ci, const float *val,
                     const float *dy, int lddy, float *dx, int lddx) {
  for (int r = 0; r < rows; r++) {
    if (rp[r] < rp[r + 1]) bwd_chunk(NV, ci, val, rp[r], rp[r + 1], dy + r * lddy + n, dx + n, lddx);
  }
}

// dx += Wᵀ·dy, chunks outside and rows inside as in csr_fwd.
static void csr_bwd(int rows, const int *rp, const int *ci, const float *val, const float *dy,
                    int lddy, float *dx, int lddx, int N) {
  int n = 0;
  for (; n + 32 <= N; n += 32) bwd_rows(8, n, rows, rp, ci, val, dy, lddy, dx, lddx);
  switch ((N - n) >> 2) {
    case 7: bwd_rows(7, n, rows, rp, ci, val, dy, lddy, dx, lddx); break;
    case 6: bwd_rows(6, n, rows, rp, ci, val, dy, lddy, dx, lddx); break;
    case 5: bwd_rows(5, n, rows, rp, ci, val, dy, lddy, dx, lddx); break;
    case 4: bwd_rows(4, n, rows, rp, ci, val, dy, lddy, dx, lddx); break;
    case 3: bwd_rows(3, n, rows, rp, ci, val, dy, lddy, dx, lddx); break;
    case 2: bwd_rows(2, n, rows, rp, ci, val, dy, lddy, dx, lddx); break;
    case 1: bwd_rows(1, n, rows, rp, ci, val, dy, lddy, dx, lddx); break;
  }
  n += (N - n) & ~3;
  if (n == N) return;
  for (int r = 0; r < rows; r++) {
    const float *dr = dy + r * lddy;
    for (int k = rp[r]; k < rp[r + 1]; k++) {
      float *xp = dx + ci[k] * lddx;
      for (int m = n; m < N; m++) xp[m] += val[k] * dr[m];
    }
  }
}

// grad[k] += dy[0..4·NV)·x[ci[k]][0..4·NV) for the nonzeros of one row.
INLINE void wgrad_chunk(const int NV, const int *ci, int k0, int k1, const float *dy,
                        const float *x, int ldx, float *grad) {
  V d[MAXV];
  for (int j = 0; j < NV; j++) d[j] = load(dy + 4 * j);
  for (int k = k0; k < k1; k++) {
    const float *xp = x + ci[k] * ldx;
    V s = mul(d[0], load(xp));
    for (int j = 1; j < NV; j++) s = mla(s, d[j], load(xp + 4 * j));
    grad[k] += hsum(s);
  }
}

// wgrad_chunk on every row, for the columns [n, n + 4·NV).
INLINE void wgrad_rows(const int NV, int n, int rows, const int *rp, const int *ci, const float *dy,
                       int lddy, const float *x, int ldx, float *grad) {
  for (int r = 0; r < rows; r++) {
    if (rp[r] < rp[r + 1]) wgrad_chunk(NV, ci, rp[r], rp[r + 1], dy + r * lddy + n, x + n, ldx, grad);
  }
}

// grad[k] += dy[row k]·x[ci[k]], chunks outside and rows inside as in csr_fwd.
static void csr_wgrad(int rows, const int *rp, const int *ci, const float *dy, int lddy,
                      const float *x, int ldx, int N, float *grad) {
  int n = 0;
  for (; n + 32 <= N; n += 32) wgrad_rows(8, n, rows, rp, ci, dy, lddy, x, ldx, grad);
  switch ((N - n) >> 2) {
    case 7: wgrad_rows(7, n, rows, rp, ci, dy, lddy, x, ldx, grad); break;
    case 6: wgrad_rows(6, n, rows, rp, ci, dy, lddy, x, ldx, grad); break;
    case 5: wgrad_rows(5, n, rows, rp, ci, dy, lddy, x, ldx, grad); break;
    case 4: wgrad_rows(4, n, rows, rp, ci, dy, lddy, x, ldx, grad); break;
    case 3: wgrad_rows(3, n, rows, rp, ci, dy, lddy, x, ldx, grad); break;
    case 2: wgrad_rows(2, n, rows, rp, ci, dy, lddy, x, ldx, grad); break;
    case 1: wgrad_rows(1, n, rows, rp, ci, dy, lddy, x, ldx, grad); break;
  }
  n += (N - n) & ~3;
  if (n == N) return;
  for (int r = 0; r < rows; r++) {
    const float *dr = dy + r * lddy;
    for (int k = rp[r]; k < rp[r + 1]; k++) {
      const float *xp = x + ci[k] * ldx;
      float s = 0.0f;
      for (int m = n; m < N; m++) s += dr[m] * xp[m];
      grad[k] += s;
    }
  }
}

EXPORT(csr_forward)
void csr_forward(int rows, const int *rp, const int *ci, const float *val, const float *x, int ldx,
                 float *y, int ldy, int N, int accumulate) {
  csr_fwd(rows, rp, ci, val, x, ldx, y, ldy, N, accumulate ? y : 0, ldy);
}

EXPORT(csr_backward_input)
void csr_backward_input(int rows, const int *rp, const int *ci, const float *val, const float *dy,
                        int lddy, float *dx, int lddx, int N) {
  csr_bwd(rows, rp, ci, val, dy, lddy, dx, lddx, N);
}

EXPORT(csr_weight_grad)
void csr_weight_grad(int rows, const int *rp, const int *ci, const float *dy, int lddy,
                     const float *x, int ldx, int N, float *grad) {
  csr_wgrad(rows, rp, ci, dy, lddy, x, ldx, N, grad);
}

// ---------------------------------------------------------------------------
// Elementwise kernels

EXPORT(add_bias)
void add_bias(float *y, int ld, int rows, int N, const float *bias) {
  for (int r = 0; r < rows; r++) {
    float *yr = y + r * ld;
    V b = splat(bias[r]);
    int n = 0;
    for (; n + 4 <= N; n += 4) store(yr + n, add(load(yr + n), b));
    for (; n < N; n++) yr[n] += bias[r];
  }
}

EXPORT(bias_grad)
void bias_grad(const float *dy, int ld, int rows, int N, float *grad) {
  for (int r = 0; r < rows; r++) {
    const float *dr = dy + r * ld;
    V s = splat(0.0f);
    int n = 0;
    for (; n + 4 <= N; n += 4) s = add(s, load(dr + n));
    float t = hsum(s);
    for (; n < N; n++) t += dr[n];
    grad[r] += t;
  }
}

EXPORT(multiply)
void multiply(float *x, const float *mask, int length) {
  int i = 0;
  for (; i + 4 <= length; i += 4) store(x + i, mul(load(x + i), load(mask + i)));
  for (; i < length; i++) x[i] *= mask[i];
}

EXPORT(scale)
void scale(float *x, int length, float s) {
  V v = splat(s);
  int i = 0;
  for (; i + 4 <= length; i += 4) store(x + i, mul(load(x + i), v));
  for (; i < length; i++) x[i] *= s;
}

EXPORT(sum_squares)
double sum_squares(const float *x, int length) {
  v128_t s0 = wasm_f64x2_splat(0.0), s1 = wasm_f64x2_splat(0.0);
  int i = 0;
  for (; i + 4 <= length; i += 4) {
    V v = load(x + i);
    v128_t lo = wasm_f64x2_promote_low_f32x4(v);
    v128_t hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    s0 = wasm_f64x2_add(s0, wasm_f64x2_mul(lo, lo));
    s1 = wasm_f64x2_add(s1, wasm_f64x2_mul(hi, hi));
  }
  v128_t s = wasm_f64x2_add(s0, s1);
  double t = wasm_f64x2_extract_lane(s, 0) + wasm_f64x2_extract_lane(s, 1);
  for (; i < length; i++) t += (double)x[i] * (double)x[i];
  return t;
}

EXPORT(adam)
void adam(float *w, float *g, float *m, float *s, int length, float lr, float beta1, float beta2,
          float epsilon, float c1, float c2, float wd) {
  V vwd = splat(wd), vb1 = splat(beta1), vb2 = splat(beta2), va1 = splat(1.0f - beta1),
    va2 = splat(1.0f - beta2), vlr = splat(lr), vc1 = splat(c1), vc2 = splat(c2),
    veps = splat(epsilon);
  int i = 0;
  for (; i + 4 <= length; i += 4) {
    V wi = load(w + i);
    V gi = mla(load(g + i), vwd, wi);
    V mi = add(mul(vb1, load(m + i)), mul(va1, gi));
    V si = add(mul(vb2, load(s + i)), mul(va2, mul(gi, gi)));
    V den = add(wasm_f32x4_sqrt(wasm_f32x4_div(si, vc2)), veps);
    store(g + i, gi);
    store(m + i, mi);
    store(s + i, si);
    store(w + i, sub(wi, wasm_f32x4_div(mul(vlr, wasm_f32x4_div(mi, vc1)), den)));
  }
  for (; i < length; i++) {
    float gi = g[i] + wd * w[i];
    float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    float si = beta2 * s[i] + (1.0f - beta2) * gi * gi;
    g[i] = gi;
    m[i] = mi;
    s[i] = si;
    w[i] -= lr * (mi / c1) / (__builtin_sqrtf(si / c2) + epsilon);
  }
}

EXPORT(sgd)
void sgd(float *w, float *g, float *v, int length, float lr, float momentum, float wd) {
  V vwd = splat(wd), vlr = splat(lr), vmu = splat(momentum);
  int useV = momentum > 0.0f && v != 0;
  int i = 0;
  for (; i + 4 <= length; i += 4) {
    V wi = load(w + i);
    V gi = mla(load(g + i), vwd, wi);
    store(g + i, gi);
    if (useV) {
      gi = mla(gi, vmu, load(v + i));
      store(v + i, gi);
    }
    store(w + i, sub(wi, mul(vlr, gi)));
  }
  for (; i < length; i++) {
    float gi = g[i] + wd * w[i];
    g[i] = gi;
    if (useV) {
      gi = momentum * v[i] + gi;
      v[i] = gi;
    }
    w[i] -= lr * gi;
  }
}

// ---------------------------------------------------------------------------
// Embedding

EXPORT(embed_forward)
void embed_forward(int cols, const int *rp, const int *ci, const float *val, const int *tokens,
                   float *out, int ld, int N) {
  for (int e = 0; e < cols; e++) {
    float *o = out + e * ld;
    int n = 0;
    for (; n + 4 <= N; n += 4) store(o + n, splat(0.0f));
    for (; n < N; n++) o[n] = 0.0f;
  }
  for (int n = 0; n < N; n++) {
    int v = tokens[n];
    for (int k = rp[v]; k < rp[v + 1]; k++) out[ci[k] * ld + n] = val[k];
  }
}

EXPORT(embed_backward)
void embed_backward(const int *rp, const int *ci, const int *tokens, const float *dOut, int ld,
                    int N, float *grad) {
  for (int n = 0; n < N; n++) {
    int v = tokens[n];
    for (int k = rp[v]; k < rp[v + 1]; k++) grad[k] += dOut[ci[k] * ld + n];
  }
}

// ---------------------------------------------------------------------------
// LSTM layer over all time steps. Gate rows i, f, g, o of the [4H][T·B]
// matrices; step t is the column block [t·B, t·B + B).

EXPORT(lstm_forward)
void lstm_forward(int H, const int *rp, const int *ci, const float *val, const float *zx,
                  const float *h0, const float *c0, int T, int B, const float *mask, float *h,
                  float *gates, float *c, float *tanhC, float *hT, float *cT) {
  int ld = T * B;
  for (int t = 0; t < T; t++) {
    int col = t * B;
    const float *hPrev = t ? h + col - B : h0;
    int ldPrev = t ? ld : B;
    // The pre-activations go to the gate cache, then become activations in place.
    csr_fwd(4 * H, rp, ci, val, hPrev, ldPrev, gates + col, ld, B, zx + col, ld);
    for (int j = 0; j < H; j++) {
      float *gi = gates + j * ld + col;
      float *gf = gi + H * ld;
      float *gg = gf + H * ld;
      float *go = gg + H * ld;
      const float *cp = t ? c + j * ld + col - B : c0 + j * B;
      const float *hp = t ? h + j * ld + col - B : h0 + j * B;
      float *cj = c + j * ld + col;
      float *hj = h + j * ld + col;
      float *tj = tanhC + j * ld + col;
      for (int b = 0; b < B; b += 4) {
        int n = B - b < 4 ? B - b : 4;
        V i = vsigmoid(load_part(gi + b, n));
        V f = vsigmoid(load_part(gf + b, n));
        V g = vtanh(load_part(gg + b, n));
        V o = vsigmoid(load_part(go + b, n));
        store_part(gi + b, i, n);
        store_part(gf + b, f, n);
        store_part(gg + b, g, n);
        store_part(go + b, o, n);
        V cPrev = load_part(cp + b, n);
        V cNew = mla(mul(f, cPrev), i, g);
        V tc = vtanh(cNew);
        V hNew = mul(o, tc);
        store_part(tj + b, tc, n);
        if (mask) {
          V m = load_part(mask + col + b, n);
          V hPrevV = load_part(hp + b, n);
          cNew = mla(cPrev, m, sub(cNew, cPrev));
          hNew = mla(hPrevV, m, sub(hNew, hPrevV));
        }
        store_part(cj + b, cNew, n);
        store_part(hj + b, hNew, n);
      }
    }
  }
  for (int j = 0; j < H; j++) {
    for (int b = 0; b < B; b++) {
      hT[j * B + b] = T ? h[j * ld + (T - 1) * B + b] : h0[j * B + b];
      cT[j * B + b] = T ? c[j * ld + (T - 1) * B + b] : c0[j * B + b];
    }
  }
}

EXPORT(lstm_backward)
void lstm_backward(int H, const int *rp, const int *ci, const float *val, const float *h0,
                   const float *c0, int T, int B, const float *mask, const float *h,
                   const float *gates, const float *c, const float *tanhC, float *dh,
                   const float *dhT, const float *dcT, float *dz, float *dh0, float *dc0,
                   float *dR) {
  int ld = T * B;
  // dc0 carries the gradient at the current cell state back through time.
  for (int x = 0; x < H * B; x++) dc0[x] = dcT[x];
  if (T == 0) {
    for (int x = 0; x < H * B; x++) dh0[x] = dhT[x];
    return;
  }
  for (int j = 0; j < H; j++) {
    for (int b = 0; b < B; b++) dh[j * ld + (T - 1) * B + b] += dhT[j * B + b];
  }
  for (int t = T - 1; t >= 0; t--) {
    int col = t * B;
    for (int j = 0; j < H; j++) {
      const float *gi = gates + j * ld + col;
      const float *gf = gi + H * ld;
      const float *gg = gf + H * ld;
      const float *go = gg + H * ld;
      float *di = dz + j * ld + col;
      float *df = di + H * ld;
      float *dg = df + H * ld;
      float *dO = dg + H * ld;
      const float *cp = t ? c + j * ld + col - B : c0 + j * B;
      const float *tj = tanhC + j * ld + col;
      float *dhj = dh + j * ld + col;
      float *dcj = dc0 + j * B;
      // Where the gradient of the previous h goes (before Rᵀ·dz is added).
      float *dhp = t ? dhj - B : dh0 + j * B;
      for (int b = 0; b < B; b += 4) {
        int n = B - b < 4 ? B - b : 4;
        V one = splat(1.0f);
        V dht = load_part(dhj + b, n);
        V dct = load_part(dcj + b, n);
        V i = load_part(gi + b, n);
        V f = load_part(gf + b, n);
        V g = load_part(gg + b, n);
        V o = load_part(go + b, n);
        V tc = load_part(tj + b, n);
        V cPrev = load_part(cp + b, n);
        V m = mask ? load_part(mask + col + b, n) : one;
        V dhN = mul(m, dht);
        V dcN = mla(mul(m, dct), mul(dhN, o), sub(one, mul(tc, tc)));
        store_part(di + b, mul(mul(dcN, g), mul(i, sub(one, i))), n);
        store_part(df + b, mul(mul(dcN, cPrev), mul(f, sub(one, f))), n);
        store_part(dg + b, mul(mul(dcN, i), sub(one, mul(g, g))), n);
        store_part(dO + b, mul(mul(dhN, tc), mul(o, sub(one, o))), n);
        V keep = sub(one, m);
        store_part(dcj + b, mla(mul(keep, dct), dcN, f), n);
        if (t == 0) {
          store_part(dhp + b, mul(keep, dht), n);
        } else if (mask) {
          store_part(dhp + b, mla(load_part(dhp + b, n), keep, dht), n);
        }
      }
    }
    const float *hPrev = t ? h + col - B : h0;
    int ldPrev = t ? ld : B;
    csr_bwd(4 * H, rp, ci, val, dz + col, ld, t ? dh + col - B : dh0, ldPrev, B);
    csr_wgrad(4 * H, rp, ci, dz + col, ld, hPrev, ldPrev, B, dR);
  }
}

// ---------------------------------------------------------------------------
// Softmax cross-entropy, column by column: a group of NV vectors (4·NV
// columns, the last vector holding `lanes` of them) is taken through three
// passes over the V rows: max (and argmax), sum of exp, gradient.

// Sums of exp are float32 over blocks of this many rows, then float64: a
// float32 sum over a 30k vocabulary would be off by ~1e-5 relative.
#define SUM_BLOCK 256

INLINE v128_t promote_hi(V v) { return wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1)); }

INLINE double softmax_group(const int NV, int lanes, float *L, int ld, int Vn, const int *tg,
                            float scale, int *pred, int grad) {
  V mx[MAXV], am[MAXV];
  v128_t slo[MAXV], shi[MAXV];  // float64 sums of lanes 0-1 and 2-3
  UNROLL
  for (int j = 0; j < NV; j++) {
    mx[j] = splat(-__builtin_inff());
    am[j] = wasm_i32x4_splat(0);
    slo[j] = shi[j] = wasm_f64x2_splat(0.0);
  }
  for (int v = 0; v < Vn; v++) {
    float *row = L + v * ld;
    V vi = wasm_i32x4_splat(v);
    UNROLL
    for (int j = 0; j < NV; j++) {
      V x = load_part(row + 4 * j, j == NV - 1 ? lanes : 4);
      V gt = wasm_f32x4_gt(x, mx[j]);
      mx[j] = wasm_v128_bitselect(x, mx[j], gt);
      if (pred) am[j] = wasm_v128_bitselect(vi, am[j], gt);
    }
  }
  int cols = 4 * (NV - 1) + lanes;
  double loss = 0.0;
  for (int n = 0; n < cols; n++) loss -= L[tg[n] * ld + n];
  for (int v0 = 0; v0 < Vn; v0 += SUM_BLOCK) {
    int v1 = Vn - v0 < SUM_BLOCK ? Vn : v0 + SUM_BLOCK;
    V sum[MAXV];
    UNROLL
    for (int j = 0; j < NV; j++) sum[j] = splat(0.0f);
    for (int v = v0; v < v1; v++) {
      float *row = L + v * ld;
      UNROLL
      for (int j = 0; j < NV; j++) {
        int nl = j == NV - 1 ? lanes : 4;
        V e = vexp(sub(load_part(row + 4 * j, nl), mx[j]));
        sum[j] = add(sum[j], e);
        if (grad) store_part(row + 4 * j, e, nl);
      }
    }
    UNROLL
    for (int j = 0; j < NV; j++) {
      slo[j] = wasm_f64x2_add(slo[j], wasm_f64x2_promote_low_f32x4(sum[j]));
      shi[j] = wasm_f64x2_add(shi[j], promote_hi(sum[j]));
    }
  }
  UNROLL
  for (int j = 0; j < NV; j++) {
    int nl = j == NV - 1 ? lanes : 4;
    // Lane extraction needs constant indices.
    if (nl > 0) loss += dlog(wasm_f64x2_extract_lane(slo[j], 0)) + wasm_f32x4_extract_lane(mx[j], 0);
    if (nl > 1) loss += dlog(wasm_f64x2_extract_lane(slo[j], 1)) + wasm_f32x4_extract_lane(mx[j], 1);
    if (nl > 2) loss += dlog(wasm_f64x2_extract_lane(shi[j], 0)) + wasm_f32x4_extract_lane(mx[j], 2);
    if (nl > 3) loss += dlog(wasm_f64x2_extract_lane(shi[j], 1)) + wasm_f32x4_extract_lane(mx[j], 3);
    if (pred) {
      int *p = pred + 4 * j;
      if (nl > 0) p[0] = wasm_i32x4_extract_lane(am[j], 0);
      if (nl > 1) p[1] = wasm_i32x4_extract_lane(am[j], 1);
      if (nl > 2) p[2] = wasm_i32x4_extract_lane(am[j], 2);
      if (nl > 3) p[3] = wasm_i32x4_extract_lane(am[j], 3);
    }
  }
  if (grad) {
    V f[MAXV];
    v128_t s = wasm_f64x2_splat((double)scale);
    UNROLL
    for (int j = 0; j < NV; j++) {
      f[j] = wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(wasm_f64x2_div(s, slo[j])),
                                wasm_f32x4_demote_f64x2_zero(wasm_f64x2_div(s, shi[j])), 0, 1, 4, 5);
    }
    for (int v = 0; v < Vn; v++) {
      float *row = L + v * ld;
      UNROLL
      for (int j = 0; j < NV; j++) {
        int nl = j == NV - 1 ? lanes : 4;
        store_part(row + 4 * j, mul(load_part(row + 4 * j, nl), f[j]), nl);
      }
    }
    for (int n = 0; n < cols; n++) L[tg[n] * ld + n] -= scale;
  }
  return loss;
}

static double softmax_columns(float *L, int ld, int Vn, int N, const int *tg, float scale,
                              int *pred, int grad) {
  double loss = 0.0;
  int n = 0;
  for (; n + 16 <= N; n += 16) {
    loss += softmax_group(4, 4, L + n, ld, Vn, tg + n, scale, pred ? pred + n : 0, grad);
  }
  for (; n < N; n += 4) {
    int lanes = N - n < 4 ? N - n : 4;
    loss += softmax_group(1, lanes, L + n, ld, Vn, tg + n, scale, pred ? pred + n : 0, grad);
  }
  return loss;
}

EXPORT(softmax_cross_entropy)
double softmax_cross_entropy(float *L, int ld, int Vn, int N, const int *tg, float scale) {
  return softmax_columns(L, ld, Vn, N, tg, scale, 0, 1);
}

EXPORT(softmax_loss)
double softmax_loss(float *L, int ld, int Vn, int N, const int *tg, int *pred) {
  return softmax_columns(L, ld, Vn, N, tg, 0.0f, pred, 0);
}

// ---------------------------------------------------------------------------
// Recurrent Highway Network layer (rhn.ts has the same loops in TypeScript,
// the reference these are tested against). Per step, micro-layers k = 0..D-1:
// the state entering k (after the hidden-dropout mask) goes to sIn, the
// pre-activations [2H] (candidate, then transform gate) to acts, which then
// hold tanh and sigmoid of them, and the new state s_k = p + t·(tanh − p) to s.
// `tab` holds, per micro-layer, the addresses of R_k's rowPtr, colIdx and
// values and of b_k (micro-layer 0's bias is already in zx).

INLINE const void *address(int a) { return (const void *)(uintptr_t)(unsigned)a; }

// Where micro-layer k of step t reads its previous state, and that buffer's stride.
INLINE const float *rhn_prev(const float *s, const float *s0, int H, int D, int ld, int B, int t,
                             int k, int *ldp) {
  *ldp = ld;
  if (k > 0) return s + (k - 1) * H * ld + t * B;
  if (t > 0) return s + (D - 1) * H * ld + (t - 1) * B;
  *ldp = B;
  return s0;
}

EXPORT(rhn_forward)
void rhn_forward(int H, int D, const int *tab, const float *zx, const float *s0, int T, int B,
                 const float *mask, const float *hmask, float *s, float *acts, float *sIn,
                 float *sT) {
  int ld = T * B;
  for (int t = 0; t < T; t++) {
    int col = t * B;
    for (int k = 0; k < D; k++) {
      const int *rp = address(tab[4 * k]);
      const int *ci = address(tab[4 * k + 1]);
      const float *val = address(tab[4 * k + 2]);
      const float *bias = address(tab[4 * k + 3]);
      int ldp;
      const float *prev = rhn_prev(s, s0, H, D, ld, B, t, k, &ldp);
      float *in = sIn + k * H * ld + col;
      for (int j = 0; j < H; j++) {
        for (int b = 0; b < B; b++) {
          float p = prev[j * ldp + b];
          in[j * ld + b] = hmask ? p * hmask[j * B + b] : p;
        }
      }
      float *a = acts + k * 2 * H * ld + col;
      if (k == 0) {
        csr_fwd(2 * H, rp, ci, val, in, ld, a, ld, B, zx + col, ld);
      } else {
        for (int r = 0; r < 2 * H; r++) {
          for (int b = 0; b < B; b++) a[r * ld + b] = bias[r];
        }
        csr_fwd(2 * H, rp, ci, val, in, ld, a, ld, B, a, ld);
      }
      float *sk = s + k * H * ld + col;
      for (int j = 0; j < H; j++) {
        float *ah = a + j * ld;
        float *at = a + (H + j) * ld;
        for (int b = 0; b < B; b += 4) {
          int n = B - b < 4 ? B - b : 4;
          V h = vtanh(load_part(ah + b, n));
          V g = vsigmoid(load_part(at + b, n));
          store_part(ah + b, h, n);
          store_part(at + b, g, n);
          V p = load_part(prev + j * ldp + b, n);
          V next = mla(p, g, sub(h, p));
          if (mask) next = mla(p, load_part(mask + col + b, n), sub(next, p));
          store_part(sk + j * ld + b, next, n);
        }
      }
    }
  }
  const float *last = s + (D - 1) * H * ld;
  for (int j = 0; j < H; j++) {
    for (int b = 0; b < B; b++) {
      sT[j * B + b] = T ? last[j * ld + (T - 1) * B + b] : s0[j * B + b];
    }
  }
}

EXPORT(rhn_backward)
void rhn_backward(int H, int D, const int *tab, const float *s0, int T, int B, const float *mask,
                  const float *hmask, const float *s, const float *acts, const float *dOut,
                  const float *dsT, float *dz, float *ds0, float *dp, float *dIn) {
  int ld = T * B;
  // ds0 carries the gradient at the state entering the current micro-layer.
  float *ds = ds0;
  for (int x = 0; x < H * B; x++) ds[x] = dsT[x];
  for (int t = T - 1; t >= 0; t--) {
    int col = t * B;
    for (int j = 0; j < H; j++) {
      for (int b = 0; b < B; b++) ds[j * B + b] += dOut[j * ld + col + b];
    }
    for (int k = D - 1; k >= 0; k--) {
      const int *rp = address(tab[4 * k]);
      const int *ci = address(tab[4 * k + 1]);
      const float *val = address(tab[4 * k + 2]);
      int ldp;
      const float *prev = rhn_prev(s, s0, H, D, ld, B, t, k, &ldp);
      const float *a = acts + k * 2 * H * ld + col;
      float *d = dz + k * 2 * H * ld + col;
      for (int j = 0; j < H; j++) {
        for (int b = 0; b < B; b += 4) {
          int n = B - b < 4 ? B - b : 4;
          V one = splat(1.0f);
          V m = mask ? load_part(mask + col + b, n) : one;
          V h = load_part(a + j * ld + b, n);
          V g = load_part(a + (H + j) * ld + b, n);
          V p = load_part(prev + j * ldp + b, n);
          V dsv = load_part(ds + j * B + b, n);
          V dNext = mul(m, dsv);
          store_part(d + j * ld + b, mul(mul(dNext, g), sub(one, mul(h, h))), n);
          store_part(d + (H + j) * ld + b, mul(mul(dNext, sub(h, p)), mul(g, sub(one, g))), n);
          store_part(dp + j * B + b, mla(mul(sub(one, m), dsv), dNext, sub(one, g)), n);
        }
      }
      if (hmask) {
        // The product read the dropped state: its gradient passes the mask.
        for (int x = 0; x < H * B; x++) dIn[x] = 0.0f;
        csr_bwd(2 * H, rp, ci, val, d, ld, dIn, B, B);
        for (int x = 0; x < H * B; x++) dp[x] += dIn[x] * hmask[x];
      } else {
        csr_bwd(2 * H, rp, ci, val, d, ld, dp, B, B);
      }
      for (int x = 0; x < H * B; x++) ds[x] = dp[x];
    }
  }
}

// ---------------------------------------------------------------------------
// GRU layer over all time steps (gates z, r, n; the candidate's recurrent
// term R_n·h + bR is scaled by r, as ONNX's linear_before_reset=1). The cache
// is [4H][T·B]: rows z, r, n (activations) and hn = R_n·h + bR.

EXPORT(gru_forward)
void gru_forward(int H, const int *rp, const int *ci, const float *val, const float *bR,
                 const float *zx, const float *h0, int T, int B, const float *mask, float *h,
                 float *gates, float *hT) {
  int ld = T * B;
  for (int t = 0; t < T; t++) {
    int col = t * B;
    const float *hPrev = t ? h + col - B : h0;
    int ldPrev = t ? ld : B;
    // z and r start from their input projections; hn is the recurrent term alone.
    csr_fwd(2 * H, rp, ci, val, hPrev, ldPrev, gates + col, ld, B, zx + col, ld);
    csr_fwd(H, rp + 2 * H, ci, val, hPrev, ldPrev, gates + 3 * H * ld + col, ld, B, 0, 0);
    for (int j = 0; j < H; j++) {
      float *gz = gates + j * ld + col;
      float *gr = gz + H * ld;
      float *gn = gr + H * ld;
      float *ghn = gn + H * ld;
      const float *xn = zx + (2 * H + j) * ld + col;
      const float *hp = t ? h + j * ld + col - B : h0 + j * B;
      float *hj = h + j * ld + col;
      V bias = splat(bR[j]);
      for (int b = 0; b < B; b += 4) {
        int n = B - b < 4 ? B - b : 4;
        V z = vsigmoid(load_part(gz + b, n));
        V r = vsigmoid(load_part(gr + b, n));
        V hn = add(load_part(ghn + b, n), bias);
        V c = vtanh(mla(load_part(xn + b, n), r, hn));
        store_part(gz + b, z, n);
        store_part(gr + b, r, n);
        store_part(gn + b, c, n);
        store_part(ghn + b, hn, n);
        V hPrevV = load_part(hp + b, n);
        V hNew = mla(c, z, sub(hPrevV, c));
        if (mask) hNew = mla(hPrevV, load_part(mask + col + b, n), sub(hNew, hPrevV));
        store_part(hj + b, hNew, n);
      }
    }
  }
  for (int j = 0; j < H; j++) {
    for (int b = 0; b < B; b++) hT[j * B + b] = T ? h[j * ld + (T - 1) * B + b] : h0[j * B + b];
  }
}

EXPORT(gru_backward)
void gru_backward(int H, const int *rp, const int *ci, const float *val, const float *h0, int T,
                  int B, const float *mask, const float *h, const float *gates, float *dh,
                  const float *dhT, float *dz, float *da, float *dh0, float *dR) {
  int ld = T * B;
  if (T == 0) {
    for (int x = 0; x < H * B; x++) dh0[x] = dhT[x];
    return;
  }
  for (int j = 0; j < H; j++) {
    for (int b = 0; b < B; b++) dh[j * ld + (T - 1) * B + b] += dhT[j * B + b];
  }
  for (int t = T - 1; t >= 0; t--) {
    int col = t * B;
    for (int j = 0; j < H; j++) {
      const float *gz = gates + j * ld + col;
      const float *gr = gz + H * ld;
      const float *gn = gr + H * ld;
      const float *ghn = gn + H * ld;
      float *dzz = dz + j * ld + col;
      float *dzr = dzz + H * ld;
      float *dzn = dzr + H * ld;
      float *daz = da + j * ld + col;
      float *dar = daz + H * ld;
      float *dan = dar + H * ld;
      const float *hp = t ? h + j * ld + col - B : h0 + j * B;
      const float *dhj = dh + j * ld + col;
      // Where the gradient of the previous h goes (before Rᵀ·da is added).
      float *dhp = t ? dh + j * ld + col - B : dh0 + j * B;
      for (int b = 0; b < B; b += 4) {
        int n = B - b < 4 ? B - b : 4;
        V one = splat(1.0f);
        V dht = load_part(dhj + b, n);
        V z = load_part(gz + b, n);
        V r = load_part(gr + b, n);
        V c = load_part(gn + b, n);
        V hn = load_part(ghn + b, n);
        V hPrevV = load_part(hp + b, n);
        V m = mask ? load_part(mask + col + b, n) : one;
        V dhN = mul(m, dht);
        V dn = mul(mul(dhN, sub(one, z)), sub(one, mul(c, c)));
        V dzg = mul(mul(dhN, sub(hPrevV, c)), mul(z, sub(one, z)));
        V drg = mul(mul(dn, hn), mul(r, sub(one, r)));
        store_part(dzz + b, dzg, n);
        store_part(dzr + b, drg, n);
        store_part(dzn + b, dn, n);
        store_part(daz + b, dzg, n);
        store_part(dar + b, drg, n);
        store_part(dan + b, mul(dn, r), n);
        V direct = mla(mul(sub(one, m), dht), dhN, z);
        store_part(dhp + b, t ? add(load_part(dhp + b, n), direct) : direct, n);
      }
    }
    const float *hPrev = t ? h + col - B : h0;
    int ldPrev = t ? ld : B;
    csr_bwd(3 * H, rp, ci, val, da + col, ld, t ? dh + col - B : dh0, ldPrev, B);
    csr_wgrad(3 * H, rp, ci, da + col, ld, hPrev, ldPrev, B, dR);
  }
}
