/**
 * The named training methods as plain data: which initial allocation,
 * prune, growth, schedule and redistribution each uses, and which dense
 * quantities it needs from training. Training and FLOPs accounting read
 * these presets; nothing here runs anything.
 *
 * @module
 */

import { check, UserError } from "../spec/errors.ts";
import { type ModelConfig, paramSpecs, sizeOf } from "../spec/config.ts";
import type { DensityMethod } from "./density.ts";
import type { GrowName } from "./grow.ts";
import type { PruneName } from "./prune.ts";
import type { RedistributeName } from "./redistribute.ts";
import type { ScheduleName } from "./schedule.ts";

/** The names of the methods. */
export type MethodName =
  | "strnn"
  | "set"
  | "snfs"
  | "rigl"
  | "dense"
  | "small-dense"
  | "gmp";

/**
 * How a method treats sparsity over a run: `dynamic` keeps a fixed nonzero
 * count and moves it (prune and regrow), `dense` never masks, `gradual`
 * starts dense and prunes towards the target without regrowth.
 */
export type MethodKind = "dynamic" | "dense" | "gradual";

/** One method's recipe. */
export interface MethodPreset {
  name: MethodName;
  /** One line for `--help` and reports. */
  description: string;
  kind: MethodKind;
  /** The initial nonzero allocation; `null` when training starts dense. */
  init: DensityMethod | null;
  /** How weights are removed; `null` when they never are. */
  prune: PruneName | null;
  /** How connections are added; `null` when they never are. */
  grow: GrowName | null;
  /** The prune-rate schedule of topology updates; `null` without updates. */
  schedule: ScheduleName | null;
  /** The prune rate at the first update, a default that configs may override. */
  initialPruneRate: number;
  redistribute: RedistributeName;
  /** Dense quantities training must compute for this method. */
  needs: {
    /** The dense weight gradient at each topology update (RigL). */
    denseGradientAtUpdate: boolean;
    /** Dense optimizer momentum, hence a dense weight gradient, every step (SNFS). */
    denseMomentumEveryStep: boolean;
  };
}

const noNeeds = { denseGradientAtUpdate: false, denseMomentumEveryStep: false };

/** Every method, by name. */
export const methodsByName: Readonly<Record<MethodName, MethodPreset>> = {
  strnn: {
    name: "strnn",
    description:
      "ST-RNN (Liu et al. 2021): Erdős–Rényi init, magnitude prune, random regrowth, cosine prune rate",
    kind: "dynamic",
    init: "er",
    prune: "magnitude",
    grow: "random",
    schedule: "cosine",
    initialPruneRate: 0.5,
    redistribute: "none",
    needs: noNeeds,
  },
  set: {
    name: "set",
    description:
      "SET (Mocanu et al. 2018): drop the weights closest to zero on each side, random regrowth, constant rate",
    kind: "dynamic",
    init: "er",
    prune: "set",
    grow: "random",
    schedule: "constant",
    initialPruneRate: 0.3,
    redistribute: "none",
    needs: noNeeds,
  },
  snfs: {
    name: "snfs",
    description:
      "Sparse Momentum (Dettmers & Zettlemoyer 2019): magnitude prune, regrowth by dense momentum, momentum redistribution",
    kind: "dynamic",
    init: "uniform",
    prune: "magnitude",
    grow: "momentum",
    schedule: "cosine",
    initialPruneRate: 0.5,
    redistribute: "momentum",
    needs: { denseGradientAtUpdate: false, denseMomentumEveryStep: true },
  },
  rigl: {
    name: "rigl",
    description:
      "RigL (Evci et al. 2020): ERK init, magnitude prune, regrowth by dense gradient at each update, cosine rate",
    kind: "dynamic",
    init: "erk",
    prune: "magnitude",
    grow: "gradient",
    schedule: "cosine",
    initialPruneRate: 0.3,
    redistribute: "none",
    needs: { denseGradientAtUpdate: true, denseMomentumEveryStep: false },
  },
  dense: {
    name: "dense",
    description: "the dense model, no masks",
    kind: "dense",
    init: null,
    prune: null,
    grow: null,
    schedule: null,
    initialPruneRate: 0,
    redistribute: "none",
    needs: noNeeds,
  },
  "small-dense": {
    name: "small-dense",
    description: "a dense model whose hidden size is shrunk to the sparse model's nonzero count",
    kind: "dense",
    init: null,
    prune: null,
    grow: null,
    schedule: null,
    initialPruneRate: 0,
    redistribute: "none",
    needs: noNeeds,
  },
  gmp: {
    name: "gmp",
    description:
      "gradual magnitude pruning (Zhu & Gupta 2017): dense start, cubic sparsity schedule, no regrowth",
    kind: "gradual",
    init: null,
    prune: "magnitude",
    grow: null,
    schedule: null,
    initialPruneRate: 0,
    redistribute: "none",
    needs: noNeeds,
  },
};

/** Every method name, in a fixed order. */
export const methodNames: readonly MethodName[] = Object.keys(
  methodsByName,
) as MethodName[];

/** Looks up a method named on the command line or in a config file. */
export function methodPreset(name: string): MethodPreset {
  check(
    Object.hasOwn(methodsByName, name),
    `unknown method "${name}": use one of ${methodNames.join(", ")}`,
  );
  return methodsByName[name as MethodName];
}

/** The number of parameters of a dense model (every entry of every spec). */
export function denseParamCount(config: ModelConfig): number {
  return paramSpecs(config).reduce((sum, spec) => sum + sizeOf(spec.shape), 0);
}

/**
 * The hidden size whose dense parameter count (embedding, LSTM, biases,
 * decoder; see `paramSpecs`) is closest to `targetParams`, ties to the
 * smaller size. `targetParams` is the sparse model's total nonzero count,
 * dense parameters such as biases included.
 */
export function smallDenseHiddenSize(
  config: ModelConfig,
  targetParams: number,
): number {
  check(
    Number.isFinite(targetParams) && targetParams > 0,
    `target parameter count must be > 0, got ${targetParams}`,
  );
  const count = (hiddenSize: number) => denseParamCount({ ...config, hiddenSize });
  const smallest = count(1);
  if (targetParams < smallest) {
    throw new UserError(
      `target of ${targetParams} parameters is below the smallest model (hidden size 1 has ${smallest}): raise the density or shrink the embedding`,
    );
  }
  // The count grows strictly with the hidden size, so bisect for the first
  // size at or above the target and compare it with its predecessor.
  let low = 1;
  let high = Math.max(2, config.hiddenSize);
  while (count(high) < targetParams) high *= 2;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (count(mid) < targetParams) low = mid + 1;
    else high = mid;
  }
  if (low > 1 && targetParams - count(low - 1) <= count(low) - targetParams) {
    return low - 1;
  }
  return low;
}
