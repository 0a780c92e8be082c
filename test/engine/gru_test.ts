import assert from "node:assert/strict";
import { Rng } from "../../src/core/rng.ts";
import type { Csr, GruCache } from "../../src/engine/kernels.ts";
import { createOracleKernels, oracleOps as K } from "../../src/engine/oracle.ts";
import { createWasmKernelsSync } from "../../src/engine/wasm.ts";
import { assertClose, dot, f64, fillUniform, i32, numericGrad, randomCsr } from "./helpers.ts";

const f32 = (n: number) => new Float32Array(n);

function oracleCase(masked: boolean) {
  const rng = new Rng(masked ? 25 : 24);
  const H = 3, B = 2, T = 4, ld = T * B;
  const R = randomCsr(rng, 3 * H, H, 0.7, f64, i32);
  const bR = fillUniform(rng, f64(H));
  const zx = fillUniform(rng, f64(3 * H * ld), -2, 2);
  const h0 = fillUniform(rng, f64(H * B));
  const mask = masked ? Float64Array.of(1, 1, 1, 1, 0, 0, 1, 0) : null;
  const a = fillUniform(rng, f64(H * ld));
  const aT = fillUniform(rng, f64(H * B));
  const h = f64(H * ld);
  const cache = { gates: f64(4 * H * ld) };
  const hT = f64(H * B);
  const forward = () => K.gruForward(R, bR, zx, h0, T, B, mask, h, cache, hT);
  const loss = () => {
    forward();
    return dot(a, h) + dot(aT, hT);
  };
  forward();
  if (mask !== null) {
    for (let j = 0; j < H; j++) {
      assert.equal(h[j * ld + 2 * B + 1], h[j * ld + 1 * B + 1]);
      assert.equal(hT[j * B + 1], h[j * ld + 1 * B + 1]);
      assert.equal(h[j * ld + 2 * B], h[j * ld + 1 * B]);
    }
  }
  const dh = Float64Array.from(a);
  const dz = f64(3 * H * ld);
  const da = f64(3 * H * ld);
  const dh0 = f64(H * B);
  const dR = f64(R.values.length);
  K.gruBackward(R, h0, T, B, mask, h, cache, dh, aT, dz, da, dh0, dR);
  assertClose(dz, numericGrad(zx, loss), 1e-6, "dz");
  assertClose(dh0, numericGrad(h0, loss), 1e-6, "dh0");
  assertClose(dR, numericGrad(R.values, loss), 1e-6, "dR");
  // The rows [2H, 3H) of da are the gradient of bR.
  const dbR = f64(H);
  K.biasGrad({ data: da.subarray(2 * H * ld), ld }, H, ld, dbR);
  assertClose(dbR, numericGrad(bR, loss), 1e-6, "dbR");
  // z and r see the same gradient from both sides; the candidate's recurrent side is scaled by r.
  for (let i = 0; i < 2 * H * ld; i++) assert.equal(da[i], dz[i]);
  const dR2 = Float64Array.from(dR);
  forward();
  K.gruBackward(R, h0, T, B, mask, h, cache, Float64Array.from(a), aT, dz, da, dh0, dR2);
  assertClose(dR2, dR.map((v) => 2 * v), 1e-12, "dR accumulates");
}

Deno.test("oracle gru: gradients match finite differences", () => oracleCase(false));
Deno.test("oracle gru with a step mask: gradients match finite differences", () =>
  oracleCase(true));

Deno.test("oracle gru: one step is the GRU formula", () => {
  // H = 1, dense R = [rz, rr, rn]: h' = (1 − z)·n + z·h.
  const R: Csr = {
    rows: 3,
    cols: 1,
    rowPtr: Int32Array.of(0, 1, 2, 3),
    colIdx: Int32Array.of(0, 0, 0),
    values: Float32Array.of(0.5, -0.3, 0.8),
  };
  const k = createOracleKernels();
  const zx = Float32Array.of(0.2, 0.1, -0.4);
  const h0 = Float32Array.of(0.6);
  const h = f32(1), hT = f32(1), cache: GruCache = { gates: f32(4) };
  k.gruForward(R, Float32Array.of(0.25), zx, h0, 1, 1, null, h, cache, hT);
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const z = sig(0.2 + 0.5 * 0.6), r = sig(0.1 - 0.3 * 0.6);
  const n = Math.tanh(-0.4 + r * (0.8 * 0.6 + 0.25));
  assert.ok(Math.abs(h[0] - ((1 - z) * n + z * 0.6)) < 1e-6);
  assert.equal(hT[0], h[0]);
});

Deno.test("wasm gru forward and backward match the oracle", () => {
  const oracle = createOracleKernels();
  const wasm = createWasmKernelsSync();
  const rng = new Rng(35);
  const w32 = (src: Float32Array) => {
    const b = wasm.f32(src.length);
    b.set(src);
    return b;
  };
  const wi32 = (src: Int32Array) => {
    const b = wasm.i32(src.length);
    b.set(src);
    return b;
  };
  const rand = (n: number, lo = -1, hi = 1) => fillUniform(rng, f32(n), lo, hi) as Float32Array;
  for (const density of [1, 0.5, 0.1, 0]) {
    for (const [H, B, T] of [[1, 1, 1], [3, 5, 4], [8, 4, 3], [13, 17, 5], [4, 3, 0]]) {
      for (const masked of [false, true]) {
        for (const range of [2, 60]) {
          wasm.reset();
          const what = JSON.stringify({ density, H, B, T, masked, range });
          const TB = T * B;
          const Ro = randomCsr(rng, 3 * H, H, density, f32, i32) as Csr;
          const Rw: Csr = {
            rows: Ro.rows,
            cols: Ro.cols,
            rowPtr: wi32(Ro.rowPtr),
            colIdx: wi32(Ro.colIdx),
            values: w32(Ro.values),
          };
          const bR = rand(H), zx = rand(3 * H * TB, -range, range), h0 = rand(H * B);
          let mask: Float32Array | null = null;
          if (masked) {
            mask = f32(TB);
            for (let b = 0; b < B; b++) {
              const len = rng.int(T + 1);
              for (let t = 0; t < len; t++) mask[t * B + b] = 1;
            }
          }
          const maskW = mask && w32(mask);
          const cacheO = { gates: f32(4 * H * TB) }, cacheW = { gates: w32(cacheO.gates) };
          const ho = f32(H * TB), hTo = f32(H * B), hw = w32(ho), hTw = w32(hTo);
          oracle.gruForward(Ro, bR, zx, h0, T, B, mask, ho, cacheO, hTo);
          wasm.gruForward(Rw, w32(bR), w32(zx), w32(h0), T, B, maskW, hw, cacheW, hTw);
          assertClose(cacheW.gates, cacheO.gates, 1e-5, `gates ${what}`);
          assertClose(hw, ho, 1e-5, `h ${what}`);
          assertClose(hTw, hTo, 1e-5, `hT ${what}`);

          const dh = rand(H * TB), dhT = rand(H * B), dRo = rand(Ro.values.length);
          const dzo = rand(3 * H * TB), dao = rand(3 * H * TB), dh0o = rand(H * B);
          const dRw = w32(dRo), dzw = w32(dzo), daw = w32(dao), dh0w = w32(dh0o);
          const dhw = w32(dh);
          oracle.gruBackward(Ro, h0, T, B, mask, ho, cacheO, dh, dhT, dzo, dao, dh0o, dRo);
          wasm.gruBackward(
            Rw,
            w32(h0),
            T,
            B,
            maskW,
            w32(ho),
            { gates: w32(cacheO.gates) },
            dhw,
            w32(dhT),
            dzw,
            daw,
            dh0w,
            dRw,
          );
          assertClose(dzw, dzo, 1e-5, `dz ${what}`);
          assertClose(daw, dao, 1e-5, `da ${what}`);
          assertClose(dh0w, dh0o, 1e-5, `dh0 ${what}`);
          assertClose(dRw, dRo, 1e-5, `dR ${what}`);
          for (const v of hw) assert.ok(Number.isFinite(v), what);
        }
      }
    }
  }
});
