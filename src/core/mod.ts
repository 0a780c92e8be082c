/**
 * The sparse-topology core: masks, nonzero allocation, prune and growth
 * strategies, schedules, redistribution, whole-model topology updates,
 * method presets and FLOPs accounting. Pure TypeScript on typed arrays, so
 * it runs the same under every backend.
 *
 * @module
 */

export * from "./apportion.ts";
export * from "./density.ts";
export * from "./flops.ts";
export * from "./grow.ts";
export * from "./init.ts";
export * from "./mask.ts";
export * from "./methods.ts";
export * from "./prune.ts";
export * from "./redistribute.ts";
export { Rng } from "./rng.ts";
export * from "./schedule.ts";
export * from "./select.ts";
export * from "./topology.ts";
export * from "./dropout.ts";
