/**
 * The `masked` compute path: tfjs on dense tensors with masks, `W ⊙ M`
 * (../model). The reference for the sparse engine, and the path that runs
 * on the webgpu backend.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { classifierForward } from "../model/classifier.ts";
import {
  crossEntropy,
  type DropoutPlan,
  languageModelForward,
  zeroState,
} from "../model/language_model.ts";
import type { LstmState } from "../model/lstm.ts";
import { type Params, toHost, toVariables } from "../model/params.ts";
import type { TopologyReport } from "../core/topology.ts";
import { countConfusion, emptyConfusion } from "../core/metrics.ts";
import type { Compute, ComputeInit } from "./compute.ts";
import { Optimizer } from "./optimizer.ts";
import { SparseWeights, type UpdateOptions } from "./sparse_weights.ts";
import { trainStep } from "./step.ts";
import type { Batch, EvalTotals, Task } from "./tasks.ts";
import { paramSpecs } from "../spec/config.ts";

/**
 * The mean loss of a batch as a function of the parameters (call inside
 * `tf.variableGrads`), and a forward-only evaluation. An LM carries its
 * state from window to window, from the zero state at `batch.reset`.
 */
export class TfjsModel {
  readonly #task: Task;
  #state?: LstmState[];

  constructor(task: Task) {
    this.#task = task;
  }

  #logits(
    params: Params,
    batch: Batch,
    state: LstmState[] | undefined,
    drop?: DropoutPlan,
  ): { logits: tf.Tensor2D; state?: LstmState[] } {
    const model = this.#task.model;
    const tokens = tf.tensor2d(batch.tokens, [batch.T, batch.B], "int32");
    if (model.kind === "classifier") {
      return { logits: classifierForward(model, params, tokens, batch.lengths!, drop) };
    }
    return languageModelForward(model, params, tokens, state!, drop);
  }

  /** Mean loss (nats) of `batch`; the LM's carried state moves to the window's end. */
  loss(params: Params, batch: Batch, drop?: DropoutPlan): tf.Scalar {
    const model = this.#task.model;
    if (model.kind === "lm" && (batch.reset || !this.#state)) {
      this.dispose();
      this.#state = zeroState(model, batch.B);
    }
    const out = this.#logits(params, batch, this.#state, drop);
    if (out.state) {
      // Carry the final state into the next window, outside the gradient tape's tidy.
      const next = out.state.map((s) => ({ h: tf.keep(s.h), c: tf.keep(s.c) }));
      this.dispose();
      this.#state = next;
    }
    return crossEntropy(out.logits, tf.tensor1d(batch.targets, "int32"));
  }

  /** Totals of a forward-only pass over `batches` (state carried for the LM). */
  async evaluate(params: Params, batches: Iterable<Batch>): Promise<EvalTotals> {
    const model = this.#task.model;
    const totals: EvalTotals = { nats: 0, count: 0, correct: 0 };
    if (model.kind === "classifier") totals.confusion = emptyConfusion(model.numClasses);
    let state: LstmState[] | undefined;
    const free = () => tf.dispose((state ?? []).flatMap((s) => [s.h, s.c]));
    try {
      for (const batch of batches) {
        if (model.kind === "lm" && (batch.reset || !state)) {
          free();
          state = zeroState(model, batch.B);
        }
        const [loss, predictions, next] = tf.tidy(() => {
          const out = this.#logits(params, batch, state);
          const loss = crossEntropy(out.logits, tf.tensor1d(batch.targets, "int32"));
          return [loss, tf.argMax(out.logits, 1), out.state] as const;
        });
        if (next) {
          free();
          state = next;
        }
        const count = batch.targets.length;
        totals.nats += (await loss.data())[0] * count;
        totals.count += count;
        const predicted = await predictions.data();
        for (let i = 0; i < count; i++) if (predicted[i] === batch.targets[i]) totals.correct++;
        if (totals.confusion) {
          countConfusion(batch.targets, predicted, totals.confusion.length, totals.confusion);
        }
        tf.dispose([loss, predictions]);
      }
    } finally {
      free();
    }
    return totals;
  }

  /** Frees the carried state. */
  dispose(): void {
    if (this.#state) tf.dispose(this.#state.flatMap((s) => [s.h, s.c]));
    this.#state = undefined;
  }
}

/** The masked compute path. */
export class MaskedCompute implements Compute {
  readonly masks: Map<string, Uint8Array>;
  readonly #init: ComputeInit;
  readonly #params: Params;
  readonly #sparse: SparseWeights;
  readonly #optimizer: Optimizer;
  readonly #model: TfjsModel;
  #gradients?: Record<string, tf.Tensor>;

  constructor(init: ComputeInit) {
    this.#init = init;
    this.masks = init.masks;
    this.#params = toVariables(init.params);
    const shapes = Object.fromEntries(paramSpecs(init.model).map((s) => [s.name, s.shape]));
    this.#sparse = new SparseWeights(init.masks, shapes);
    this.#optimizer = new Optimizer(init.optimizer, this.#params);
    this.#model = new TfjsModel(init.task);
    this.#sparse.applyMasks(this.#params);
    if (init.optimizerState) {
      this.#optimizer.load(init.optimizerState.slots, init.optimizerState.steps);
    }
  }

  async step(batch: Batch, drop: DropoutPlan, lr: number, keep: boolean): Promise<number> {
    this.#freeGradients();
    const result = await trainStep(
      {
        loss: (params, b, d) => this.#model.loss(params, b, d),
        params: this.#params,
        optimizer: this.#optimizer,
        sparse: this.#sparse,
        clipNorm: this.#init.clipNorm,
        denseMomentum: this.#init.denseMomentum,
      },
      batch,
      drop,
      lr,
      keep,
    );
    this.#gradients = result.gradients;
    return result.loss;
  }

  async evaluate(split: "valid" | "test"): Promise<Record<string, number>> {
    return this.#init.task.metrics(split, await this.evaluateTotals(split));
  }

  evaluateTotals(split: "valid" | "test"): Promise<EvalTotals> {
    return this.#model.evaluate(this.#params, this.#init.task.evalBatches(split));
  }

  updateTopology(options: UpdateOptions): Promise<TopologyReport> {
    return this.#sparse.update(this.#params, this.#optimizer, options, this.#gradients);
  }

  pruneToSparsity(sparsity: number): Promise<number> {
    return this.#sparse.pruneToSparsity(this.#params, this.#optimizer, sparsity);
  }

  get optimizerSteps(): number {
    return this.#optimizer.steps;
  }

  async snapshot() {
    return {
      params: await toHost(this.#params),
      slots: await this.#optimizer.toHost(),
    };
  }

  #freeGradients(): void {
    if (this.#gradients) tf.dispose(Object.values(this.#gradients));
    this.#gradients = undefined;
  }

  dispose(): void {
    this.#freeGradients();
    tf.dispose(Object.values(this.#params));
    this.#optimizer.dispose();
    this.#sparse.dispose();
    this.#model.dispose();
  }
}
