/**
 * Which parameters are sparse, and how many nonzeros each one gets.
 *
 * Three allocations are offered:
 * - `uniform`: every sparse matrix has the same sparsity.
 * - `er` (Erdős–Rényi, as in the ST-RNN paper): each *gate* matrix
 *   `[n_in, n_out]` gets density `ε·(n_in + n_out) / (n_in·n_out)`, capped at
 *   1. A fused LSTM matrix `[in, g·H]` counts as `g` gate matrices `[in, H]`.
 * - `erk` (RigL's Erdős–Rényi-Kernel): the same formula over the whole
 *   variable, so a fused `[in, g·H]` matrix is one `[in, g·H]` matrix.
 *
 * A target is either an overall `sparsity` (ε is then solved so that the
 * total nonzero count is exactly `round((1 - s)·total)`) or, for `er`/`erk`,
 * an explicit `epsilon`.
 *
 * @module
 */

import { check, UserError } from "../spec/errors.ts";
import { type ParamSpec, sizeOf } from "../spec/config.ts";
import { apportion } from "./apportion.ts";

/** How nonzeros are spread over the sparse matrices. */
export type DensityMethod = "uniform" | "er" | "erk";

/** Every {@link DensityMethod}, for validating names from the command line. */
export const densityMethods: readonly DensityMethod[] = [
  "uniform",
  "er",
  "erk",
];

/** An overall sparsity in [0, 1), or an Erdős–Rényi ε > 0. */
export type DensityTarget = { sparsity: number } | { epsilon: number };

/** The shape of one sparse matrix: a {@link ParamSpec} satisfies it. */
export interface SparseLayerShape {
  name: string;
  /** `[rows, cols]`. */
  shape: readonly number[];
  /** Gate matrices fused column-wise (4 for LSTM W and R, else 1). */
  gates: number;
}

/** The nonzero budget of one sparse matrix. */
export interface LayerAllocation {
  name: string;
  size: number;
  nonzeros: number;
}

/** Which optional parameters are sparse besides the gate matrices. */
export interface SparseParamOptions {
  sparseEmbedding?: boolean;
  sparseDecoder?: boolean;
}

/**
 * The parameters that carry a mask: gate matrices always, the embedding and
 * decoder weights when asked, biases never.
 */
export function sparseParams(
  specs: readonly ParamSpec[],
  options: SparseParamOptions = {},
): ParamSpec[] {
  return specs.filter((spec) => {
    switch (spec.role) {
      case "gate":
        return true;
      case "embedding":
        return options.sparseEmbedding === true;
      case "decoder":
        return options.sparseDecoder === true;
      case "bias":
        return false;
    }
  });
}

/** Checks a density method name from user input and narrows its type. */
export function parseDensityMethod(name: string): DensityMethod {
  check(
    (densityMethods as readonly string[]).includes(name),
    `unknown density method "${name}": use one of ${densityMethods.join(", ")}`,
  );
  return name as DensityMethod;
}

/** Throws a {@link UserError} unless `target` is a usable sparsity or ε. */
export function checkDensityTarget(target: DensityTarget): void {
  if ("sparsity" in target) {
    const s = target.sparsity;
    check(
      Number.isFinite(s) && s >= 0 && s < 1,
      `sparsity must be in [0, 1), got ${s}: pass e.g. 0.9 for 90% zeros`,
    );
  } else {
    const e = target.epsilon;
    check(
      Number.isFinite(e) && e > 0,
      `epsilon must be a number > 0, got ${e}: pass e.g. 10`,
    );
  }
}

/**
 * The nonzero count of every layer, in the order given.
 *
 * With a sparsity target, `uniform` rounds each layer on its own
 * (`round((1 - s)·size)`), while `er` and `erk` hit `round((1 - s)·total)`
 * exactly over all layers. With an ε target (only `er`/`erk`), each gate
 * matrix gets `min(size, round(ε·(n_in + n_out)))`.
 */
export function allocateNonzeros(
  layers: readonly SparseLayerShape[],
  target: DensityTarget,
  method: DensityMethod,
): LayerAllocation[] {
  checkDensityTarget(target);
  const blocks = layers.map(gateBlock);
  const sizes = layers.map((layer) => sizeOf(layer.shape));
  const allocation = (nonzeros: number[]) =>
    layers.map((layer, l) => ({
      name: layer.name,
      size: sizes[l],
      nonzeros: nonzeros[l],
    }));
  if (method === "uniform") {
    if (!("sparsity" in target)) {
      throw new UserError(
        "the uniform density method needs a sparsity, not an epsilon: pass --sparsity or use --density er",
      );
    }
    return allocation(
      sizes.map((size) => Math.round((1 - target.sparsity) * size)),
    );
  }
  // Each layer is `copies` identical matrices of `rows x cols`.
  const parts = blocks.map((b) =>
    method === "er" ? b : { rows: b.rows, cols: b.cols * b.copies, copies: 1 }
  );
  if ("epsilon" in target) {
    return allocation(parts.map((p) =>
      p.copies *
      Math.min(p.rows * p.cols, Math.round(target.epsilon * (p.rows + p.cols)))
    ));
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  const wanted = Math.round((1 - target.sparsity) * total);
  return allocation(
    apportion(wanted, parts.map((p) => p.copies * (p.rows + p.cols)), sizes),
  );
}

/** The overall sparsity of an allocation: zeros over all entries. */
export function allocationSparsity(
  allocation: readonly LayerAllocation[],
): number {
  let size = 0;
  let nonzeros = 0;
  for (const layer of allocation) {
    size += layer.size;
    nonzeros += layer.nonzeros;
  }
  return size === 0 ? 0 : 1 - nonzeros / size;
}

function gateBlock(layer: SparseLayerShape) {
  if (layer.shape.length !== 2) {
    throw new RangeError(
      `${layer.name}: only matrices can be sparse, got shape [${layer.shape}]`,
    );
  }
  const [rows, cols] = layer.shape;
  if (
    !Number.isInteger(layer.gates) || layer.gates < 1 ||
    cols % layer.gates !== 0
  ) {
    throw new RangeError(
      `${layer.name}: ${cols} columns do not split into ${layer.gates} gates`,
    );
  }
  return { rows, cols: cols / layer.gates, copies: layer.gates };
}
