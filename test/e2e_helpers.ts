/**
 * Shared pieces of the end-to-end tests (e2e_test.ts, gru_e2e_test.ts,
 * rhn_e2e_test.ts): a short sparse training run on the bundled fixtures,
 * and an opened bundle that is always released.
 *
 * @module
 */

import { join } from "node:path";
import {
  type Bundle,
  DEFAULT_CLASSIFIER_CONFIG,
  DEFAULT_LM_CONFIG,
  openBundle,
  sparseConfigFor,
  train,
  type TrainResult,
} from "../mod.ts";
import type { TrainConfig } from "../src/train/config.ts";
import { REPO_ROOT } from "./helpers.ts";

/** A few steps of everything: small enough for a test, sparse enough for sparse storage. */
export const SHORT_RUN = {
  epochs: 2,
  maxSteps: 3,
  batchSize: 8,
  logEvery: 0,
  sparse: sparseConfigFor("strnn", { sparsity: 0.8 }),
};

/** The model of an end-to-end run: its cell, and what differs from 16 units with dropout 0.1. */
export type E2eModel = Pick<TrainConfig["model"], "cell"> & Partial<TrainConfig["model"]>;

function e2eModel(model: E2eModel, layers: number): TrainConfig["model"] {
  return { embedSize: 16, hiddenSize: 16, layers, dropout: 0.1, ...model };
}

/** Trains a 2-layer language model on fixtures/tinylm into `checkpoint`, quietly. */
export function trainE2eLm(checkpoint: string, model: E2eModel): Promise<TrainResult> {
  return train({
    ...DEFAULT_LM_CONFIG,
    ...SHORT_RUN,
    data: join(REPO_ROOT, "fixtures/tinylm"),
    out: checkpoint,
    model: e2eModel(model, 2),
    bptt: 10,
  }, () => {});
}

/** Trains a 1-layer classifier on fixtures/sentiment into `checkpoint`, quietly. */
export function trainE2eClassifier(checkpoint: string, model: E2eModel): Promise<TrainResult> {
  return train({
    ...DEFAULT_CLASSIFIER_CONFIG,
    ...SHORT_RUN,
    data: join(REPO_ROOT, "fixtures/sentiment"),
    out: checkpoint,
    model: e2eModel(model, 1),
    maxLength: 30,
  }, () => {});
}

/** Runs `fn` on the bundle at `path`, then releases its session whatever happened. */
export async function withBundle<T>(path: string, fn: (bundle: Bundle) => Promise<T>): Promise<T> {
  const bundle = await openBundle(path);
  try {
    return await fn(bundle);
  } finally {
    await bundle.session.release();
  }
}
