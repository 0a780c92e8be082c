/**
 * Random parameters of a model for the tests that check one forward or
 * backward against another (tfjs-free, so the spec tests can use it too).
 *
 * @module
 */

import type { Rng } from "../src/core/rng.ts";
import { type ModelConfig, paramSpecs, sizeOf } from "../src/spec/config.ts";
import type { HostParams } from "../src/spec/params.ts";

/**
 * Every parameter of `config` in `paramSpecs` order, normal with standard
 * deviation `scale`; with `zeroFraction`, each entry is first zero with that
 * probability (one more draw from `rng` per entry).
 */
export function randomParams(
  config: ModelConfig,
  rng: Rng,
  scale: number,
  zeroFraction?: number,
): HostParams {
  const params: HostParams = {};
  for (const spec of paramSpecs(config)) {
    const draw = zeroFraction === undefined
      ? () => scale * rng.normal()
      : () => (rng.next() < zeroFraction ? 0 : scale * rng.normal());
    const data = Float32Array.from({ length: sizeOf(spec.shape) }, draw);
    params[spec.name] = { shape: spec.shape, data };
  }
  return params;
}
