/**
 * Optimizer settings as plain data: both compute paths (the tfjs optimizer
 * in ../train/optimizer.ts and the engine's in ../engine/trainer.ts) read
 * them, and checkpoints record them.
 *
 * @module
 */

/** Optimizer settings, as plain data. */
export interface OptimizerConfig {
  name: "sgd" | "adam";
  /** SGD momentum μ (0 = plain SGD). */
  momentum: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

/** Default settings for each optimizer. */
export const DEFAULT_OPTIMIZER: Record<OptimizerConfig["name"], OptimizerConfig> = {
  sgd: { name: "sgd", momentum: 0.9, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
  adam: { name: "adam", momentum: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
};
