/**
 * The WASM RHN kernels (`rhn_forward`, `rhn_backward` in kernels.c) against
 * their TypeScript reference (src/engine/rhn.ts, run by the oracle), on
 * batch widths around the SIMD and chunk boundaries, sparse and empty
 * recurrent matrices, padding masks and hidden dropout; no write outside
 * the output buffers.
 */
import assert from "node:assert/strict";
import { Rng } from "../../src/core/rng.ts";
import type { Kernels } from "../../src/engine/kernels.ts";
import { createOracleKernels } from "../../src/engine/oracle.ts";
import type { RhnShape } from "../../src/engine/rhn.ts";
import { createWasmKernelsSync } from "../../src/engine/wasm.ts";
import { assertClose, fillUniform, randomCsr } from "./helpers.ts";

const GUARD = 12345.5;
const PAD = 8;

/** Runs forward and backward on `k`, inputs copied into its memory; returns every output. */
function run(
  k: Kernels,
  shape: RhnShape,
  inputs: Record<string, Float32Array>,
  csrs: { rowPtr: Int32Array; colIdx: Int32Array; values: Float32Array }[],
  masks: { step: boolean; hidden: boolean },
) {
  const { T, B, H, D } = shape;
  const N = T * B;
  const guarded: Float32Array[] = [];
  const buf = (src: Float32Array | number) => {
    const length = typeof src === "number" ? src : src.length;
    const b = k.f32(length + 2 * PAD);
    b.fill(GUARD);
    const view = b.subarray(PAD, PAD + length);
    if (typeof src !== "number") view.set(src);
    else view.fill(0);
    guarded.push(b);
    return view;
  };
  const int = (src: Int32Array) => {
    const b = k.i32(src.length);
    b.set(src);
    return b;
  };
  const weights = {
    R: csrs.map((c) => ({
      rows: 2 * H,
      cols: H,
      rowPtr: int(c.rowPtr),
      colIdx: int(c.colIdx),
      values: buf(c.values),
    })),
    b: Array.from({ length: D }, (_, m) => buf(inputs[`b${m}`])),
  };
  const cache = { s: buf(D * H * N), acts: buf(D * 2 * H * N), sIn: buf(D * H * N) };
  const s0 = buf(inputs.s0), sT = buf(H * B);
  const stepMask = masks.step ? buf(inputs.stepMask) : null;
  const hiddenMask = masks.hidden ? buf(inputs.hiddenMask) : null;
  k.rhnForward(weights, buf(inputs.zx), s0, shape, stepMask, hiddenMask, cache, sT);
  const dz = buf(D * 2 * H * N), ds0 = buf(H * B);
  k.rhnBackward(
    weights,
    s0,
    shape,
    stepMask,
    hiddenMask,
    cache,
    buf(inputs.dOut),
    buf(inputs.dsT),
    dz,
    ds0,
    buf(H * B),
    buf(H * B),
  );
  for (const b of guarded) {
    for (let i = 0; i < PAD; i++) {
      assert.equal(b[i], GUARD, "wrote before a buffer");
      assert.equal(b[b.length - 1 - i], GUARD, "wrote after a buffer");
    }
  }
  const copy = (v: Float32Array) => Float32Array.from(v);
  return {
    s: copy(cache.s),
    acts: copy(cache.acts),
    sIn: copy(cache.sIn),
    sT: copy(sT),
    dz: copy(dz),
    ds0: copy(ds0),
  };
}

Deno.test("wasm RHN forward and backward match the TypeScript reference", () => {
  const oracle = createOracleKernels();
  const wasm = createWasmKernelsSync();
  const rng = new Rng(3);
  let cases = 0;
  for (const B of [1, 3, 4, 37]) {
    for (const density of [1, 0.3, 0]) {
      for (const masks of [{ step: false, hidden: false }, { step: true, hidden: true }]) {
        const shape = { T: 3, B, H: 5, D: 3 };
        const { T, H, D } = shape;
        const N = T * B;
        const rand = (n: number, lo = -1, hi = 1) =>
          fillUniform(rng, new Float32Array(n), lo, hi) as Float32Array;
        const inputs: Record<string, Float32Array> = {
          zx: rand(2 * H * N, -2, 2),
          s0: rand(H * B),
          dOut: rand(H * N),
          dsT: rand(H * B),
          stepMask: Float32Array.from({ length: N }, () => rng.next() < 0.7 ? 1 : 0),
          hiddenMask: Float32Array.from({ length: H * B }, () => rng.next() < 0.3 ? 0 : 1.4),
        };
        for (let m = 0; m < D; m++) inputs[`b${m}`] = rand(2 * H);
        const plain = (n: number) => new Float32Array(n);
        const ints = (n: number) => new Int32Array(n);
        const csrs = Array.from(
          { length: D },
          () => randomCsr(rng, 2 * H, H, density, plain, ints),
        );
        const want = run(oracle, shape, inputs, csrs as never, masks);
        const got = run(wasm, shape, inputs, csrs as never, masks);
        const what = `B=${B} density ${density} masks ${JSON.stringify(masks)}`;
        for (const key of Object.keys(want) as (keyof typeof want)[]) {
          assertClose(got[key], want[key], 2e-5, `${what} ${key}`);
        }
        wasm.reset();
        cases++;
      }
    }
  }
  assert.equal(cases, 24);
});
