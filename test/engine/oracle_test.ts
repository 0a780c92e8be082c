import assert from "node:assert/strict";
import { Rng } from "../../src/core/rng.ts";
import { type LstmCacheN, oracleOps as K } from "../../src/engine/oracle.ts";
import { assertClose, dot, f64, fillUniform, i32, numericGrad, randomCsr } from "./helpers.ts";

Deno.test("oracle csr kernels: gradients of a scalar loss match finite differences", () => {
  const rng = new Rng(1);
  const rows = 5, cols = 7, N = 3, ldx = 4, ldy = 6;
  const W = randomCsr(rng, rows, cols, 0.5, f64, i32);
  const x = { data: fillUniform(rng, f64(cols * ldx)), ld: ldx };
  const a = { data: fillUniform(rng, f64(rows * ldy)), ld: ldy };
  const y = { data: f64(rows * ldy), ld: ldy };
  const loss = () => {
    K.csrForward(W, x, y, N, false);
    let s = 0;
    for (let r = 0; r < rows; r++) {
      for (let n = 0; n < N; n++) s += a.data[r * ldy + n] * y.data[r * ldy + n];
    }
    return s;
  };
  const dx = { data: f64(cols * ldx), ld: ldx };
  K.csrBackwardInput(W, a, dx, N);
  const numX = numericGrad(x.data, loss);
  // Columns past N are not part of the product: zero gradient, untouched dx.
  assertClose(dx.data, numX, 1e-7, "dx");
  const dW = f64(W.values.length);
  K.csrWeightGrad(W, a, x, N, dW);
  assertClose(dW, numericGrad(W.values, loss), 1e-7, "dW");
  assert.ok(W.values.length > 0);

  // accumulate adds to y; backward and weight-grad add to their outputs.
  K.csrForward(W, x, y, N, false);
  const y1 = Float64Array.from(y.data);
  K.csrForward(W, x, y, N, true);
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < N; n++) {
      assert.ok(Math.abs(y.data[r * ldy + n] - 2 * y1[r * ldy + n]) < 1e-12);
    }
    for (let n = N; n < ldy; n++) assert.equal(y.data[r * ldy + n], 0);
  }
  const dx2 = { data: Float64Array.from(dx.data), ld: ldx };
  K.csrBackwardInput(W, a, dx2, N);
  assertClose(dx2.data, dx.data.map((v) => 2 * v), 1e-12, "dx accumulates");
  const dW2 = Float64Array.from(dW);
  K.csrWeightGrad(W, a, x, N, dW2);
  assertClose(dW2, dW.map((v) => 2 * v), 1e-12, "dW accumulates");
});

Deno.test("oracle bias kernels and multiply", () => {
  const rng = new Rng(2);
  const y = { data: fillUniform(rng, f64(3 * 5)), ld: 5 };
  const before = Float64Array.from(y.data);
  const bias = Float64Array.of(1, 2, 3);
  K.addBias(y, 3, 4, bias);
  for (let r = 0; r < 3; r++) {
    for (let n = 0; n < 5; n++) {
      assert.equal(y.data[r * 5 + n], before[r * 5 + n] + (n < 4 ? bias[r] : 0));
    }
  }
  const g = Float64Array.of(1, 0, 0);
  K.biasGrad(y, 3, 4, g);
  for (let r = 0; r < 3; r++) {
    let s = r === 0 ? 1 : 0;
    for (let n = 0; n < 4; n++) s += y.data[r * 5 + n];
    assert.ok(Math.abs(g[r] - s) < 1e-12);
  }
  const x = Float64Array.of(1, 2, 3, 4);
  K.multiply(x, Float64Array.of(0, 2, 2, 9), 3);
  assert.deepEqual([...x], [0, 4, 6, 4]);
});

Deno.test("oracle embedding: lookup and gradient at the nonzeros", () => {
  const rng = new Rng(3);
  const vocab = 6, dim = 5, N = 7, ld = 9;
  const E = randomCsr(rng, vocab, dim, 0.6, f64, i32);
  const tokens = Int32Array.of(0, 3, 3, 5, 1, 0, 2);
  const out = { data: fillUniform(rng, f64(dim * ld)), ld };
  K.embedForward(E, tokens, out, N);
  for (let n = 0; n < N; n++) {
    for (let e = 0; e < dim; e++) {
      let want = 0;
      const v = tokens[n];
      for (let k = E.rowPtr[v]; k < E.rowPtr[v + 1]; k++) if (E.colIdx[k] === e) want = E.values[k];
      assert.equal(out.data[e * ld + n], want);
    }
  }
  const a = { data: fillUniform(rng, f64(dim * ld)), ld };
  const loss = () => {
    K.embedForward(E, tokens, out, N);
    let s = 0;
    for (let e = 0; e < dim; e++) {
      for (let n = 0; n < N; n++) s += a.data[e * ld + n] * out.data[e * ld + n];
    }
    return s;
  };
  const grad = f64(E.values.length);
  K.embedBackward(E, tokens, a, N, grad);
  assertClose(grad, numericGrad(E.values, loss), 1e-7, "dE");
});

function lstmCase(masked: boolean) {
  const rng = new Rng(masked ? 5 : 4);
  const H = 3, B = 2, T = 4, ld = T * B;
  const R = randomCsr(rng, 4 * H, H, 0.7, f64, i32);
  const zx = fillUniform(rng, f64(4 * H * ld), -2, 2);
  const h0 = fillUniform(rng, f64(H * B));
  const c0 = fillUniform(rng, f64(H * B));
  // Sequence 1 is padded after its second step; sequence 0 has a padded step in the middle.
  const mask = masked ? Float64Array.of(1, 1, 1, 1, 0, 0, 1, 0) : null;
  const a = fillUniform(rng, f64(H * ld));
  const aT = fillUniform(rng, f64(H * B));
  const aC = fillUniform(rng, f64(H * B));
  const h = f64(H * ld);
  const cache: LstmCacheN = { gates: f64(4 * H * ld), c: f64(H * ld), tanhC: f64(H * ld) };
  const hT = f64(H * B);
  const cT = f64(H * B);
  const forward = () => K.lstmForward(R, zx, h0, c0, T, B, mask, h, cache, hT, cT);
  const loss = () => {
    forward();
    return dot(a, h) + dot(aT, hT) + dot(aC, cT);
  };
  forward();
  if (mask !== null) {
    // A padded step carries the state over.
    for (let j = 0; j < H; j++) {
      assert.equal(h[j * ld + 2 * B + 1], h[j * ld + 1 * B + 1]);
      assert.equal(cache.c[j * ld + 3 * B + 1], cache.c[j * ld + 1 * B + 1]);
      assert.equal(hT[j * B + 1], h[j * ld + 1 * B + 1]);
      assert.equal(h[j * ld + 2 * B], h[j * ld + 1 * B]);
    }
  }
  const dh = Float64Array.from(a);
  const dz = f64(4 * H * ld);
  const dh0 = f64(H * B);
  const dc0 = f64(H * B);
  const dR = f64(R.values.length);
  K.lstmBackward(R, h0, c0, T, B, mask, h, cache, dh, aT, aC, dz, dh0, dc0, dR);
  assertClose(dz, numericGrad(zx, loss), 1e-6, "dz");
  assertClose(dh0, numericGrad(h0, loss), 1e-6, "dh0");
  assertClose(dc0, numericGrad(c0, loss), 1e-6, "dc0");
  assertClose(dR, numericGrad(R.values, loss), 1e-6, "dR");
  // dR accumulates.
  const dR2 = Float64Array.from(dR);
  forward();
  K.lstmBackward(R, h0, c0, T, B, mask, h, cache, Float64Array.from(a), aT, aC, dz, dh0, dc0, dR2);
  assertClose(dR2, dR.map((v) => 2 * v), 1e-12, "dR accumulates");
}

Deno.test("oracle lstm: gradients match finite differences", () => lstmCase(false));
Deno.test("oracle lstm with a step mask: gradients match finite differences", () => lstmCase(true));

Deno.test("oracle lstm: cache holds the gate activations and cell state", () => {
  const rng = new Rng(6);
  const H = 2, B = 1, T = 1;
  const R = randomCsr(rng, 4 * H, H, 1, f64, i32);
  const zx = fillUniform(rng, f64(4 * H));
  const h0 = fillUniform(rng, f64(H));
  const c0 = fillUniform(rng, f64(H));
  const h = f64(H);
  const cache: LstmCacheN = { gates: f64(4 * H), c: f64(H), tanhC: f64(H) };
  const hT = f64(H), cT = f64(H);
  K.lstmForward(R, zx, h0, c0, T, B, null, h, cache, hT, cT);
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  for (let j = 0; j < H; j++) {
    const z = [0, 1, 2, 3].map((q) => {
      let s = zx[q * H + j];
      for (let k = R.rowPtr[q * H + j]; k < R.rowPtr[q * H + j + 1]; k++) {
        s += R.values[k] * h0[R.colIdx[k]];
      }
      return s;
    });
    const [i, f, g, o] = [sig(z[0]), sig(z[1]), Math.tanh(z[2]), sig(z[3])];
    const c = f * c0[j] + i * g;
    assertClose(
      [cache.gates[j], cache.gates[H + j], cache.gates[2 * H + j], cache.gates[3 * H + j]],
      [i, f, g, o],
      1e-14,
      "gates",
    );
    assertClose(
      [cache.c[j], cache.tanhC[j], h[j], hT[j], cT[j]],
      [c, Math.tanh(c), o * Math.tanh(c), o * Math.tanh(c), c],
      1e-14,
      "state",
    );
  }
});

Deno.test("oracle softmax cross-entropy: loss, gradient and argmax", () => {
  const rng = new Rng(7);
  const V = 6, N = 4, ld = 5, scale = 0.25;
  const logits = { data: fillUniform(rng, f64(V * ld), -3, 3), ld };
  const targets = Int32Array.of(0, 5, 2, 2);
  const original = Float64Array.from(logits.data);
  const predicted = i32(N);
  const lossOnly = K.softmaxLoss({ data: original, ld }, V, N, targets, predicted);
  let want = 0;
  for (let n = 0; n < N; n++) {
    let s = 0, best = 0;
    for (let v = 0; v < V; v++) {
      s += Math.exp(original[v * ld + n]);
      if (original[v * ld + n] > original[best * ld + n]) best = v;
    }
    want += Math.log(s) - original[targets[n] * ld + n];
    assert.equal(predicted[n], best);
  }
  assert.ok(Math.abs(lossOnly - want) < 1e-12);
  const loss = K.softmaxCrossEntropy(logits, V, N, targets, scale);
  assert.ok(Math.abs(loss - want) < 1e-12);
  const work = Float64Array.from(original);
  const num = numericGrad(work, () => {
    const copy = { data: Float64Array.from(work), ld };
    return scale * K.softmaxLoss(copy, V, N, targets, i32(N));
  });
  for (let v = 0; v < V; v++) {
    // Columns past N keep their logits.
    for (let n = N; n < ld; n++) assert.equal(logits.data[v * ld + n], original[v * ld + n]);
    for (let n = N; n < ld; n++) num[v * ld + n] = original[v * ld + n];
  }
  assertClose(logits.data, num, 1e-7, "dlogits");
});

Deno.test("oracle optimizers: adam and sgd follow their formulas", () => {
  const rng = new Rng(8);
  const n = 9;
  const w = fillUniform(rng, f64(n)), g = fillUniform(rng, f64(n));
  const m = fillUniform(rng, f64(n)), s = fillUniform(rng, f64(n), 0, 1);
  const o = {
    lr: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-7,
    c1: 1 - 0.9 ** 3,
    c2: 1 - 0.999 ** 3,
    weightDecay: 0.1,
  };
  const [w1, g1, m1, s1] = [w, g, m, s].map((x) => Float64Array.from(x));
  K.adam(w1, g1, m1, s1, n - 1, o);
  for (let i = 0; i < n; i++) {
    if (i === n - 1) {
      assert.deepEqual([w1[i], g1[i], m1[i], s1[i]], [w[i], g[i], m[i], s[i]]);
      continue;
    }
    const gi = g[i] + o.weightDecay * w[i];
    const mi = o.beta1 * m[i] + (1 - o.beta1) * gi;
    const si = o.beta2 * s[i] + (1 - o.beta2) * gi * gi;
    const wi = w[i] - o.lr * (mi / o.c1) / (Math.sqrt(si / o.c2) + o.epsilon);
    assertClose([w1[i], m1[i], s1[i]], [wi, mi, si], 1e-14, "adam");
  }
  for (const momentum of [0, 0.9]) {
    const so = { lr: 0.1, momentum, weightDecay: 0.01 };
    const [w2, g2, v2] = [w, g, m].map((x) => Float64Array.from(x));
    K.sgd(w2, g2, momentum > 0 ? v2 : null, n, so);
    for (let i = 0; i < n; i++) {
      const gi = g[i] + so.weightDecay * w[i];
      const vi = momentum * m[i] + gi;
      const wi = w[i] - so.lr * (momentum > 0 ? vi : gi);
      assertClose([w2[i]], [wi], 1e-14, "sgd w");
      if (momentum > 0) assertClose([v2[i]], [vi], 1e-14, "sgd v");
    }
  }
  const x = Float64Array.of(1, 2, 3);
  assert.equal(K.sumSquares(x, 2), 5);
  K.scale(x, 2, 3);
  assert.deepEqual([...x], [3, 6, 3]);
});
