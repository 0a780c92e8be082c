/**
 * `deno task export --target auto`: tries every export format on the
 * machine it runs on and keeps the fastest one that is accurate enough.
 *
 * Each candidate is built and verified like any export (structural check,
 * parity with the trained model), written to a temporary file, and measured
 * in a fresh process: load time, median latency of one call at batch 1,
 * and peak RSS. The rule: the fastest eligible candidate wins; candidates
 * within {@link TIE_FRACTION} of its latency count as tied (that is within
 * measurement noise on a shared machine), and the smallest file among them
 * wins. A candidate is eligible when its logits are within the tolerance
 * (1e-4 unless the user loosens it, which lets fp16 or int8 compete).
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../src/spec/errors.ts";
import type { BundleMetadata } from "../src/infer/bundle.ts";
import type { ModelConfig } from "../src/spec/config.ts";
import type { HostParams } from "../src/spec/params.ts";
import { buildVerified, type ExportOptions, type VerifiedExport } from "./bundle.ts";
import { measureInChild, type Measurement } from "./measure.ts";
import {
  type ComputeMode,
  computeModesFor,
  type StorageChoice,
  type ValuePrecision,
} from "./onnx_model.ts";
import { PARITY_TOLERANCE } from "./parity.ts";

/** Latencies within this fraction of the fastest count as tied. */
export const TIE_FRACTION = 0.05;

/** One export format `--target auto` considers. */
export interface Format {
  storage: StorageChoice;
  compute: ComputeMode;
  values: ValuePrecision;
}

/** The formats tried: every storage with the LSTM op, then the other compute modes, each in fp32 and fp16. */
export const TARGET_FORMATS: readonly Format[] = (["fp32", "fp16"] as const).flatMap((values) => [
  ...(["dense", "sparse-init", "packed", "bitmask"] as const).map((storage) => ({
    storage,
    compute: "op" as const,
    values,
  })),
  { storage: "auto" as const, compute: "sparse-scan" as const, values },
  { storage: "auto" as const, compute: "int8" as const, values },
]);

/** A format's short name, e.g. `op/packed/fp32`. */
export function formatName(format: Format): string {
  return `${format.compute}/${format.storage}/${format.values}`;
}

/** One row of the decision table. */
export interface Candidate {
  format: Format;
  /** Why it could not be used at all (failed build or check), if so. */
  failure?: string;
  bytes: number;
  loadMs: number;
  latencyMs: number;
  peakRssBytes: number;
  maxAbsDiff: number;
  /** Within the tolerance asked for. */
  eligible: boolean;
}

/** What {@link chooseTarget} decided. */
export interface TargetChoice {
  chosen: Candidate;
  candidates: Candidate[];
  /** The chosen format's verified build, ready to write. */
  verified: VerifiedExport;
  /** The decision rule, in words. */
  rule: string;
}

/** Options of {@link chooseTarget}. */
export interface TargetOptions {
  /** Accuracy asked for; 1e-4 by default. */
  tolerance?: number;
  /** Tokens per timed call; 35 by default. */
  steps?: number;
  /** Measuring rounds (the best of them counts); 2 by default. */
  rounds?: number;
  /** Progress lines go here. */
  log?: (line: string) => void;
  /** The formats to try; {@link TARGET_FORMATS} by default. */
  formats?: readonly Format[];
}

function rank(candidates: Candidate[]): Candidate | undefined {
  const eligible = candidates.filter((c) => c.eligible);
  if (eligible.length === 0) return undefined;
  const fastest = Math.min(...eligible.map((c) => c.latencyMs));
  const tied = eligible.filter((c) => c.latencyMs <= fastest * (1 + TIE_FRACTION));
  return tied.reduce((best, c) => c.bytes < best.bytes ? c : best);
}

/**
 * Builds, verifies and measures every format for `model` with `params`, and
 * picks one by the module's rule.
 */
export async function chooseTarget(
  model: ModelConfig,
  params: HostParams,
  options: TargetOptions = {},
): Promise<TargetChoice> {
  const tolerance = options.tolerance ?? PARITY_TOLERANCE;
  const log = options.log ?? (() => {});
  // Compute modes the cell has no layers for (a GRU's int8, say) are not candidates.
  const formats = (options.formats ?? TARGET_FORMATS).filter((f) =>
    computeModesFor(model).includes(f.compute)
  );
  const dir = await Deno.makeTempDir({ prefix: "sparrow-target-" });
  try {
    const built: { format: Format; verified?: VerifiedExport; failure?: string; path: string }[] =
      [];
    for (const [i, format] of formats.entries()) {
      const path = join(dir, `candidate${i}.onnx`);
      let verified: VerifiedExport;
      try {
        // Every candidate is measured; `tolerance` decides eligibility below.
        verified = await buildVerified(
          model,
          params,
          {
            ...format,
            tolerance: Infinity,
          } satisfies ExportOptions,
        );
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        built.push({ format, failure: error.message, path });
        continue;
      }
      try {
        await Deno.writeFile(path, verified.build.bytes);
      } catch (error) {
        const reason = (error instanceof Error ? error.message : String(error)).split("\n")[0];
        throw new UserError(
          `--target auto cannot write its candidates to ${dir}: ${reason}; free disk space there`,
        );
      }
      built.push({ format, verified, path });
    }
    const best = new Map<number, Measurement>();
    const rounds = options.rounds ?? 2;
    for (let round = 0; round < rounds; round++) {
      for (const [i, b] of built.entries()) {
        if (!b.verified) continue;
        log(`measuring ${formatName(b.format)} (round ${round + 1} of ${rounds})`);
        const m = await measureInChild(b.path, {
          kind: model.kind,
          vocabSize: model.vocabSize,
          layers: model.layers,
          hidden: model.hiddenSize,
          steps: options.steps ?? 35,
          batches: [1],
          minRuns: 10,
          minMs: 300,
        });
        const previous = best.get(i);
        if (!previous || m.latencyMs[1] < previous.latencyMs[1]) {
          best.set(i, { ...m, loadMs: Math.min(m.loadMs, previous?.loadMs ?? Infinity) });
        } else {
          best.set(i, { ...previous, loadMs: Math.min(m.loadMs, previous.loadMs) });
        }
      }
    }
    const candidates: Candidate[] = built.map((b, i) => {
      const m = best.get(i);
      const maxAbsDiff = b.verified?.parity.maxAbsDiff ?? NaN;
      return {
        format: b.format,
        failure: b.failure,
        bytes: b.verified?.build.bytes.length ?? NaN,
        loadMs: m?.loadMs ?? NaN,
        latencyMs: m?.latencyMs[1] ?? NaN,
        peakRssBytes: m?.peakRssBytes ?? NaN,
        maxAbsDiff,
        eligible: b.verified !== undefined && maxAbsDiff <= tolerance,
      };
    });
    const chosen = rank(candidates);
    if (!chosen) {
      throw new UserError(
        `--target auto found no format within the tolerance ${tolerance}; ` +
          "pass a looser --tolerance or export a format explicitly",
      );
    }
    const verified = built[candidates.indexOf(chosen)].verified!;
    return {
      chosen,
      candidates,
      verified: { ...verified, parity: { ...verified.parity, tolerance } },
      rule: `fastest at batch 1 within max |Δlogit| ≤ ${tolerance}; latencies within ` +
        `${100 * TIE_FRACTION}% of the fastest count as tied and the smallest file among them wins`,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The decision as bundle metadata. */
export function targetMetadata(choice: TargetChoice): NonNullable<BundleMetadata["target"]> {
  return {
    rule: choice.rule,
    chosen: formatName(choice.chosen.format),
    candidates: choice.candidates.map((c) => ({
      format: formatName(c.format),
      bytes: c.bytes,
      loadMs: c.loadMs,
      latencyMs: c.latencyMs,
      peakRssBytes: c.peakRssBytes,
      maxAbsDiff: c.maxAbsDiff,
      tolerance: choice.verified.parity.tolerance,
      eligible: c.eligible,
    })),
  };
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "-";
}

/** The decision table as aligned text, the chosen row marked. */
export function formatTargetTable(choice: TargetChoice): string {
  const header = ["format", "file KB", "load ms", "B=1 ms", "peak RSS MB", "max |Δ|", ""];
  const rows = choice.candidates.map((c) => [
    formatName(c.format),
    fixed(c.bytes / 1024, 1),
    fixed(c.loadMs, 0),
    fixed(c.latencyMs, 2),
    fixed(c.peakRssBytes / 2 ** 20, 0),
    Number.isFinite(c.maxAbsDiff) ? c.maxAbsDiff.toExponential(1) : "-",
    c === choice.chosen
      ? "<- chosen"
      : c.failure
      ? `failed: ${c.failure.slice(0, 60)}`
      : c.eligible
      ? ""
      : "over tolerance",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) =>
      i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])
    )
      .join("  ").trimEnd();
  return [line(header), ...rows.map(line), `rule: ${choice.rule}`].join("\n");
}
