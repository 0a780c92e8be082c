import assert from "node:assert/strict";
import { Rng } from "../../src/core/rng.ts";
import type { Csr, LstmCache, Strided } from "../../src/engine/kernels.ts";
import { createOracleKernels } from "../../src/engine/oracle.ts";
import { createWasmKernels, createWasmKernelsSync } from "../../src/engine/wasm.ts";
import { assertClose, fillUniform, randomCsr } from "./helpers.ts";

const oracle = createOracleKernels();
const wasm = createWasmKernelsSync();
const TOL = 1e-5;
const DENSITIES = [1, 0.5, 0.1, 0.01, 0];

/** Floats around every wasm buffer that no kernel may write. */
const PAD = 8;
const GUARD = 12345.5;
let guarded: (Float32Array | Int32Array)[] = [];

function resetWasm(): void {
  wasm.reset();
  guarded = [];
}

/** A copy of `src` in wasm memory, with guard values on both sides. */
function w32(src: Float32Array): Float32Array {
  const b = wasm.f32(src.length + 2 * PAD);
  b.fill(GUARD);
  b.set(src, PAD);
  guarded.push(b);
  return b.subarray(PAD, PAD + src.length);
}

function wi32(src: Int32Array): Int32Array {
  const b = wasm.i32(src.length + 2 * PAD);
  b.fill(GUARD | 0);
  b.set(src, PAD);
  guarded.push(b);
  return b.subarray(PAD, PAD + src.length);
}

function checkGuards(what: string): void {
  for (const b of guarded) {
    const want = b instanceof Float32Array ? GUARD : GUARD | 0;
    for (let i = 0; i < PAD; i++) {
      assert.equal(b[i], want, `${what}: wrote before a buffer`);
      assert.equal(b[b.length - 1 - i], want, `${what}: wrote after a buffer`);
    }
  }
}

function f32(n: number): Float32Array {
  return new Float32Array(n);
}

function i32(n: number): Int32Array {
  return new Int32Array(n);
}

function rand(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  return fillUniform(rng, f32(n), lo, hi) as Float32Array;
}

function csrPair(rng: Rng, rows: number, cols: number, density: number): [Csr, Csr] {
  const o = randomCsr(rng, rows, cols, density, f32, i32) as Csr;
  const w = {
    rows,
    cols,
    rowPtr: wi32(o.rowPtr),
    colIdx: wi32(o.colIdx),
    values: w32(o.values),
  };
  return [o, w];
}

function stridedPair(rng: Rng, rows: number, ld: number): [Strided, Strided] {
  const data = rand(rng, rows * ld);
  return [{ data, ld }, { data: w32(data), ld }];
}

Deno.test("wasm csr kernels match the oracle on every sparsity and edge shape", () => {
  const rng = new Rng(11);
  const shapes = [[1, 1], [8, 5], [37, 23], [64, 16], [5, 70]];
  for (const [rows, cols] of shapes) {
    for (const density of DENSITIES) {
      for (const N of [0, 1, 3, 4, 5, 16, 17, 20, 33, 64, 70]) {
        resetWasm();
        const what = `${rows}x${cols} density ${density} N ${N}`;
        const ld = N + 3;
        const [Wo, Ww] = csrPair(rng, rows, cols, density);
        const [xo, xw] = stridedPair(rng, cols, ld);
        const [yo, yw] = stridedPair(rng, rows, ld);
        const accumulate = rng.next() < 0.5;
        oracle.csrForward(Wo, xo, yo, N, accumulate);
        wasm.csrForward(Ww, xw, yw, N, accumulate);
        assertClose(yw.data, yo.data, TOL, `csrForward ${what}`);

        const [dxo, dxw] = stridedPair(rng, cols, ld);
        oracle.csrBackwardInput(Wo, yo, dxo, N);
        wasm.csrBackwardInput(Ww, yw, dxw, N);
        assertClose(dxw.data, dxo.data, TOL, `csrBackwardInput ${what}`);

        const go = rand(rng, Wo.values.length);
        const gw = w32(go);
        oracle.csrWeightGrad(Wo, yo, xo, N, go);
        wasm.csrWeightGrad(Ww, yw, xw, N, gw);
        assertClose(gw, go, TOL, `csrWeightGrad ${what}`);
        checkGuards(what);
      }
    }
  }
});

Deno.test("wasm csr kernels: unaligned views and a leading dimension larger than N", () => {
  const rng = new Rng(12);
  resetWasm();
  const [Wo, Ww] = csrPair(rng, 20, 30, 0.3);
  // Views that start one float into a buffer, and column blocks of a wider matrix.
  const ld = 41;
  const xo = rand(rng, 30 * ld + 1);
  const yo = rand(rng, 20 * ld + 1);
  const xw = w32(xo);
  const yw = w32(yo);
  for (const [offset, N] of [[1, 17], [18, 20], [5, 36]]) {
    oracle.csrForward(
      Wo,
      { data: xo.subarray(offset), ld },
      { data: yo.subarray(offset), ld },
      N,
      true,
    );
    wasm.csrForward(
      Ww,
      { data: xw.subarray(offset), ld },
      { data: yw.subarray(offset), ld },
      N,
      true,
    );
    assertClose(yw, yo, TOL, `offset ${offset} N ${N}`);
  }
  checkGuards("unaligned");
});

Deno.test("wasm bias, multiply, scale and sumSquares match the oracle", () => {
  const rng = new Rng(13);
  for (const N of [0, 1, 3, 4, 5, 17, 100]) {
    resetWasm();
    const rows = 6, ld = N + 2;
    const [yo, yw] = stridedPair(rng, rows, ld);
    const bias = rand(rng, rows);
    oracle.addBias(yo, rows, N, bias);
    wasm.addBias(yw, rows, N, w32(bias));
    assertClose(yw.data, yo.data, TOL, `addBias N ${N}`);
    const go = rand(rng, rows);
    const gw = w32(go);
    oracle.biasGrad(yo, rows, N, go);
    wasm.biasGrad(yw, rows, N, gw);
    assertClose(gw, go, TOL, `biasGrad N ${N}`);

    const xo = rand(rng, N + 3);
    const xw = w32(xo);
    const mask = rand(rng, N + 3, 0, 2);
    oracle.multiply(xo, mask, N);
    wasm.multiply(xw, w32(mask), N);
    assertClose(xw, xo, TOL, `multiply N ${N}`);
    oracle.scale(xo, N, 1.7);
    wasm.scale(xw, N, 1.7);
    assertClose(xw, xo, TOL, `scale N ${N}`);
    const ss = wasm.sumSquares(xw, N);
    assert.ok(Math.abs(ss - oracle.sumSquares(xw, N)) <= 1e-12 * (1 + ss), `sumSquares N ${N}`);
    checkGuards(`elementwise N ${N}`);
  }
});

Deno.test("wasm embedding matches the oracle", () => {
  const rng = new Rng(14);
  for (const density of DENSITIES) {
    for (const N of [0, 1, 3, 5, 17, 40]) {
      resetWasm();
      const vocab = 11, dim = 9, ld = N + 1;
      const [Eo, Ew] = csrPair(rng, vocab, dim, density);
      const tokens = i32(N).map(() => rng.int(vocab));
      const tw = wi32(tokens);
      const [oo, ow] = stridedPair(rng, dim, ld);
      oracle.embedForward(Eo, tokens, oo, N);
      wasm.embedForward(Ew, tw, ow, N);
      assertClose(ow.data, oo.data, 0, `embedForward density ${density} N ${N}`);
      const go = rand(rng, Eo.values.length);
      const gw = w32(go);
      oracle.embedBackward(Eo, tokens, oo, N, go);
      wasm.embedBackward(Ew, tw, ow, N, gw);
      assertClose(gw, go, TOL, `embedBackward density ${density} N ${N}`);
      checkGuards(`embed density ${density} N ${N}`);
    }
  }
});

interface LstmCase {
  H: number;
  B: number;
  T: number;
  density: number;
  masked: boolean;
  /** Range of the pre-activations: large values saturate the gates. */
  range: number;
}

function lstmCase(rng: Rng, c: LstmCase): void {
  resetWasm();
  const { H, B, T } = c;
  const what = JSON.stringify(c);
  const TB = T * B;
  const [Ro, Rw] = csrPair(rng, 4 * H, H, c.density);
  const zx = rand(rng, 4 * H * TB, -c.range, c.range);
  const h0 = rand(rng, H * B);
  const c0 = rand(rng, H * B);
  let mask: Float32Array | null = null;
  if (c.masked) {
    // Each sequence is real up to its own length, padded after it (length 0 included).
    mask = f32(TB);
    for (let b = 0; b < B; b++) {
      const len = rng.int(T + 1);
      for (let t = 0; t < len; t++) mask[t * B + b] = 1;
    }
  }
  const cacheO: LstmCache = { gates: f32(4 * H * TB), c: f32(H * TB), tanhC: f32(H * TB) };
  const cacheW: LstmCache = {
    gates: w32(cacheO.gates),
    c: w32(cacheO.c),
    tanhC: w32(cacheO.tanhC),
  };
  const [ho, hTo, cTo] = [f32(H * TB), f32(H * B), f32(H * B)];
  const [hw, hTw, cTw] = [w32(ho), w32(hTo), w32(cTo)];
  const [h0w, c0w] = [w32(h0), w32(c0)];
  const maskW = mask === null ? null : w32(mask);
  oracle.lstmForward(Ro, zx, h0, c0, T, B, mask, ho, cacheO, hTo, cTo);
  wasm.lstmForward(Rw, w32(zx), h0w, c0w, T, B, maskW, hw, cacheW, hTw, cTw);
  assertClose(cacheW.gates, cacheO.gates, TOL, `gates ${what}`);
  assertClose(cacheW.c, cacheO.c, TOL, `c ${what}`);
  assertClose(cacheW.tanhC, cacheO.tanhC, TOL, `tanhC ${what}`);
  assertClose(hw, ho, TOL, `h ${what}`);
  assertClose(hTw, hTo, TOL, `hT ${what}`);
  assertClose(cTw, cTo, TOL, `cT ${what}`);

  // Backward from the oracle's forward values on both sides, so only the backward differs.
  const dh = rand(rng, H * TB);
  const dhT = rand(rng, H * B);
  const dcT = rand(rng, H * B);
  const dRo = rand(rng, Ro.values.length);
  const dRw = w32(dRo);
  const [dzo, dh0o, dc0o] = [rand(rng, 4 * H * TB), rand(rng, H * B), rand(rng, H * B)];
  const [dzw, dh0w, dc0w] = [w32(dzo), w32(dh0o), w32(dc0o)];
  const dhw = w32(dh);
  const cacheW2: LstmCache = {
    gates: w32(cacheO.gates),
    c: w32(cacheO.c),
    tanhC: w32(cacheO.tanhC),
  };
  const hw2 = w32(ho);
  oracle.lstmBackward(Ro, h0, c0, T, B, mask, ho, cacheO, dh, dhT, dcT, dzo, dh0o, dc0o, dRo);
  wasm.lstmBackward(
    Rw,
    h0w,
    c0w,
    T,
    B,
    maskW,
    hw2,
    cacheW2,
    dhw,
    w32(dhT),
    w32(dcT),
    dzw,
    dh0w,
    dc0w,
    dRw,
  );
  assertClose(dzw, dzo, TOL, `dz ${what}`);
  assertClose(dh0w, dh0o, TOL, `dh0 ${what}`);
  assertClose(dc0w, dc0o, TOL, `dc0 ${what}`);
  assertClose(dRw, dRo, TOL, `dR ${what}`);
  checkGuards(what);
}

Deno.test("wasm lstm forward and backward match the oracle", () => {
  const rng = new Rng(15);
  for (const density of DENSITIES) {
    for (const [H, B, T] of [[1, 1, 1], [3, 5, 4], [8, 4, 3], [13, 17, 5], [6, 20, 2], [4, 3, 0]]) {
      for (const masked of [false, true]) {
        lstmCase(rng, { H, B, T, density, masked, range: 2 });
      }
    }
  }
});

Deno.test("wasm lstm: saturated gates stay finite and match the oracle", () => {
  const rng = new Rng(16);
  lstmCase(rng, { H: 5, B: 7, T: 6, density: 0.5, masked: true, range: 60 });
  lstmCase(rng, { H: 5, B: 8, T: 6, density: 1, masked: false, range: 200 });
});

Deno.test("wasm lstm: gate activations are accurate to 3e-7 relative in each element", () => {
  resetWasm();
  const H = 250, B = 16, n = 4 * H * B;
  const zx = f32(n);
  // Dense near 0 (where tanh must not cancel), then out to ±20.
  for (let i = 0; i < n; i++) zx[i] = i < n / 2 ? -0.6 + (1.2 * i) / (n / 2) : -20 + (40 * i) / n;
  const R: Csr = { rows: 4 * H, cols: H, rowPtr: i32(4 * H + 1), colIdx: i32(0), values: f32(0) };
  const Rw: Csr = { ...R, rowPtr: wi32(R.rowPtr), colIdx: wi32(R.colIdx), values: w32(R.values) };
  const cache = { gates: w32(f32(n)), c: w32(f32(H * B)), tanhC: w32(f32(H * B)) };
  const z = () => w32(f32(H * B));
  wasm.lstmForward(Rw, w32(zx), z(), z(), 1, B, null, z(), cache, z(), z());
  for (let i = 0; i < n; i++) {
    const x = zx[i];
    const want = i >= 2 * H * B && i < 3 * H * B ? Math.tanh(x) : 1 / (1 + Math.exp(-x));
    const err = Math.abs(cache.gates[i] - want) / Math.max(Math.abs(want), 1e-30);
    assert.ok(err <= 3e-7, `activation of ${x}: ${cache.gates[i]} != ${want}`);
  }
});

Deno.test("wasm softmax cross-entropy and loss match the oracle", () => {
  const rng = new Rng(17);
  // 600 rows span more than one block of the float64 sum of exp.
  for (const V of [1, 2, 7, 100, 600]) {
    for (const N of [0, 1, 3, 5, 16, 17, 35]) {
      for (const range of [3, 80]) {
        resetWasm();
        const what = `V ${V} N ${N} range ${range}`;
        const ld = N + 3;
        const logits = rand(rng, V * ld, -range, range);
        const targets = i32(N).map(() => rng.int(V));
        const tw = wi32(targets);
        const pw = wi32(i32(N));
        const po = i32(N);
        const lossO = oracle.softmaxLoss({ data: logits, ld }, V, N, targets, po);
        const lossW = wasm.softmaxLoss({ data: w32(logits), ld }, V, N, tw, pw);
        assert.ok(Math.abs(lossW - lossO) <= TOL * (1 + Math.abs(lossO)), `softmaxLoss ${what}`);
        assert.deepEqual([...pw], [...po], `predicted ${what}`);
        const lw = w32(logits);
        const gradO = logits.slice();
        const xentO = oracle.softmaxCrossEntropy({ data: gradO, ld }, V, N, targets, 0.5);
        const xentW = wasm.softmaxCrossEntropy({ data: lw, ld }, V, N, tw, 0.5);
        assert.ok(Math.abs(xentW - xentO) <= TOL * (1 + Math.abs(xentO)), `xent ${what}`);
        assertClose(lw, gradO, TOL, `softmax gradient ${what}`, 0.5);
        checkGuards(what);
      }
    }
  }
});

Deno.test("wasm optimizers match the oracle", () => {
  const rng = new Rng(18);
  for (const n of [0, 1, 3, 4, 5, 17, 100]) {
    resetWasm();
    const [w, g, m] = [rand(rng, n), rand(rng, n), rand(rng, n)];
    const s = rand(rng, n, 0, 1);
    const o = {
      lr: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-7,
      c1: 1 - 0.9 ** 2,
      c2: 1 - 0.999 ** 2,
      weightDecay: 0.01,
    };
    const ow = [w, g, m, s].map((x) => x.slice());
    const ww = [w, g, m, s].map(w32);
    oracle.adam(ow[0], ow[1], ow[2], ow[3], n, o);
    wasm.adam(ww[0], ww[1], ww[2], ww[3], n, o);
    for (let i = 0; i < 4; i++) assertClose(ww[i], ow[i], TOL, `adam ${i} n ${n}`);
    for (const momentum of [0, 0.9]) {
      const so = { lr: 0.1, momentum, weightDecay: 0.001 };
      const os = [w, g, m].map((x) => x.slice());
      const ws = [w, g, m].map(w32);
      oracle.sgd(os[0], os[1], momentum > 0 ? os[2] : null, n, so);
      wasm.sgd(ws[0], ws[1], momentum > 0 ? ws[2] : null, n, so);
      for (let i = 0; i < 3; i++) assertClose(ws[i], os[i], TOL, `sgd ${i} n ${n}`);
    }
    checkGuards(`optimizers n ${n}`);
  }
});

Deno.test("wasm kernels: buffers are zeroed, survive growth, and foreign buffers are refused", async () => {
  const k = await createWasmKernels();
  const a = k.f32(10);
  a.fill(3);
  k.reset();
  const b = k.f32(10);
  assert.deepEqual([...b], new Array(10).fill(0), "a reused buffer is zeroed");
  b.fill(2);
  // Far more than the initial memory: it grows, and b stays valid.
  const big = k.f32(4_000_000);
  assert.equal(big.length, 4_000_000);
  k.scale(b, 10, 0.5);
  assert.deepEqual([...b], new Array(10).fill(1));
  k.scale(big.subarray(3_999_990), 10, 2);
  assert.throws(() => k.scale(new Float32Array(10), 10, 2), /x is not a buffer of these kernels/);
  assert.throws(() => k.multiply(b, wasm.f32(10), 10), /mask is not a buffer of these kernels/);
  assert.throws(() => k.scale(b, 11, 2), /x holds 10 elements, the kernel needs 11/);
  const W: Csr = { rows: 1, cols: 1, rowPtr: k.i32(2), colIdx: k.i32(0), values: k.f32(0) };
  W.rowPtr[1] = 1;
  assert.throws(
    () => k.csrForward(W, { data: b, ld: 1 }, { data: b, ld: 1 }, 1, false),
    /W.colIdx holds 0 elements, the kernel needs 1/,
  );
  // Indices the kernels would follow out of their buffers.
  const logits = { data: k.f32(6), ld: 2 };
  const targets = k.i32(2);
  targets[1] = 3;
  assert.throws(
    () => k.softmaxCrossEntropy(logits, 3, 2, targets, 1),
    /targets\[1\] is 3, outside the 3 classes/,
  );
  targets[1] = -1;
  assert.throws(() => k.softmaxLoss(logits, 3, 2, targets, k.i32(2)), /targets\[1\] is -1/);
  W.rowPtr[1] = 0;
  assert.throws(
    () => k.embedForward(W, targets, { data: b, ld: 2 }, 2),
    /tokens\[1\] is -1, outside the 1 rows of E/,
  );
});
