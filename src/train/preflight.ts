/**
 * Checks made once the model's shape is known and before anything large is
 * allocated: an ε that leaves nothing sparse, and a model too large for the
 * memory it would train in. Plus the one-line message for an allocation that
 * fails anyway.
 *
 * @module
 */

import { allocateNonzeros, sparseParams } from "../core/density.ts";
import { methodPreset } from "../core/methods.ts";
import { type ModelConfig, paramSpecs, sizeOf } from "../spec/config.ts";
import { UserError } from "../spec/errors.ts";
import type { TrainConfig } from "./config.ts";

/**
 * Refuses an `--epsilon` whose Erdős–Rényi density is 1 or more for every
 * sparse matrix: the model would train dense while reporting a sparse method.
 */
export function checkEpsilon(config: TrainConfig, model: ModelConfig): void {
  const { epsilon, init } = config.sparse;
  if (epsilon === undefined) return;
  const layers = sparseParams(paramSpecs(model), config.sparse);
  const method = init === "erk" ? "erk" : "er";
  const allocation = allocateNonzeros(layers, { epsilon }, method);
  if (allocation.some((a) => a.nonzeros < a.size)) return;
  // A gate matrix keeps round(ε·(r + c)) of its r·c entries: fewer for ε under (r·c - ½)/(r + c).
  const largest = Math.max(
    ...layers.map((l) => {
      const [rows, cols] = l.shape;
      const c = method === "er" ? cols / l.gates : cols;
      return (rows * c - 0.5) / (rows + c);
    }),
  );
  throw new UserError(
    `--epsilon ${epsilon} makes every sparse matrix dense (Erdős–Rényi density ≥ 1); ` +
      `pass an --epsilon below ${
        Math.floor(100 * largest) / 100
      }, or --method dense for a dense model`,
  );
}

/** The largest heap tfjs's wasm backend can grow to (wasm32: 4 GiB less one page). */
const WASM_HEAP_BYTES = 4294901760;

/**
 * The bytes a run of `model` needs, roughly: on the backend, each parameter
 * as weight, gradient, optimizer slots and a float mask, plus one
 * temporary; on the host, the copies a checkpoint is written from.
 */
export function trainingMemory(
  config: TrainConfig,
  model: ModelConfig,
): { parameters: number; backendBytes: number; hostBytes: number } {
  const parameters = paramSpecs(model).reduce((n, s) => n + sizeOf(s.shape), 0);
  const slots = config.optimizer.name === "adam" ? 2 : config.optimizer.momentum > 0 ? 1 : 0;
  const mask = methodPreset(config.sparse.method).kind === "dense" ? 0 : 1;
  return {
    parameters,
    backendBytes: 4 * parameters * (3 + slots + mask),
    hostBytes: 4 * parameters * (1 + slots) + parameters * mask,
  };
}

/** Refuses a model that cannot fit in this machine's memory (or the wasm heap). */
export function checkMemory(config: TrainConfig, model: ModelConfig, totalMemory: number): void {
  const need = trainingMemory(config, model);
  const size =
    `--hidden-size ${config.model.hiddenSize} and --embed-size ${config.model.embedSize}`;
  const what = `a model of ${need.parameters.toExponential(2)} parameters`;
  if (
    (config.compute === "sparse" || config.backend === "wasm") &&
    need.backendBytes > WASM_HEAP_BYTES
  ) {
    throw new UserError(
      `${size} give ${what}, which needs about ${gib(need.backendBytes)} to train, more than ` +
        `the WebAssembly heap's ${
          gib(WASM_HEAP_BYTES)
        }; pass a smaller --hidden-size or --embed-size`,
    );
  }
  const bytes = need.backendBytes + need.hostBytes;
  if (bytes > totalMemory) {
    throw new UserError(
      `${size} give ${what}, which needs about ${gib(bytes)} to train, more than ` +
        `this machine's ${
          gib(totalMemory)
        } of memory; pass a smaller --hidden-size or --embed-size`,
    );
  }
}

/**
 * The one-line error for a failed allocation (the estimate above is rough),
 * or undefined when `err` is something else.
 */
export function allocationFailure(err: unknown, config: TrainConfig): UserError | undefined {
  if (err instanceof UserError) return undefined;
  const message = err instanceof Error ? err.message : "";
  const outOfMemory = err instanceof RangeError &&
      /allocation failed|invalid (typed )?array length|out of memory|maximum memory/i.test(
        message,
      ) ||
    /out of memory|cannot enlarge memory|\bOOM\b/i.test(message);
  if (!outOfMemory) return undefined;
  return new UserError(
    `out of memory while training (${message.split("\n")[0]}) with --hidden-size ` +
      `${config.model.hiddenSize} and --batch-size ${config.batchSize}; pass smaller values`,
  );
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}
