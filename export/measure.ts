/**
 * Measures an exported `.onnx` file the way a device would use it: load
 * time, latency per call at given batch sizes, and the process's peak
 * resident memory. {@link measureInChild} runs each measurement in a fresh
 * process, so one model's memory never shows up in another's figures.
 *
 * Run as a script it measures one file and prints the result as JSON:
 *
 * ```text
 * deno run -A export/measure.ts <model.onnx> '<MeasureRequest JSON>'
 * ```
 *
 * @module
 */

import * as ort from "onnxruntime-node";
import { Rng } from "../src/core/rng.ts";
import { type OnnxSession, openSession } from "../src/infer/onnx_runtime.ts";

/** What to measure. */
export interface MeasureRequest {
  /** Model kind, which decides the inputs. */
  kind: "lm" | "classifier";
  /** Vocabulary size, for random token ids. */
  vocabSize: number;
  /** Layers and hidden size, for the state inputs. */
  layers: number;
  hidden: number;
  /** Tokens per call. */
  steps: number;
  /** Batch sizes to time. */
  batches: number[];
  /** Calls timed per batch size: at least `minRuns`, and more until `minMs` have passed. */
  minRuns: number;
  minMs: number;
  /** Stop early once this long has passed and two calls are timed (slow formats); none by default. */
  maxMs?: number;
  /** Where to write the first batch size's output as float32, if anywhere. */
  outputPath?: string;
}

/** One model's figures. */
export interface Measurement {
  /** Time to create the session (read, optimize, fold constants). */
  loadMs: number;
  /** Median time per call, by batch size. */
  latencyMs: Record<string, number>;
  /** Peak resident memory of the whole process (VmHWM), load included. */
  peakRssBytes: number;
  /** Resident memory after loading and running, before the session is released. */
  rssBytes: number;
  /** Resident memory before the model was loaded (runtime and addon only). */
  baseRssBytes: number;
}

function procStatus(field: "VmHWM" | "VmRSS"): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    // Not Linux: memory figures are unavailable, timings still count.
    return NaN;
  }
}

function feeds(request: MeasureRequest, batch: number, rng: Rng): Record<string, ort.Tensor> {
  const { steps: T, layers: L, hidden: H } = request;
  const ids = BigInt64Array.from({ length: T * batch }, () => BigInt(rng.int(request.vocabSize)));
  const zeros = new Float32Array(L * batch * H);
  const inputs: Record<string, ort.Tensor> = {
    tokens: new ort.Tensor("int64", ids, [T, batch]),
    state_h: new ort.Tensor("float32", zeros, [L, batch, H]),
    state_c: new ort.Tensor("float32", zeros, [L, batch, H]),
  };
  if (request.kind === "classifier") {
    inputs.lengths = new ort.Tensor("int32", new Int32Array(batch).fill(T), [batch]);
  }
  return inputs;
}

async function timeCalls(
  session: OnnxSession,
  input: Record<string, ort.Tensor>,
  request: MeasureRequest,
): Promise<{ median: number; output: Float32Array }> {
  // The first call allocates buffers; it is not what a device sees later.
  let output = (await session.run(input)).logits.data as Float32Array;
  const times: number[] = [];
  const start = performance.now();
  const maxMs = request.maxMs ?? Infinity;
  const done = () => {
    const elapsed = performance.now() - start;
    return (times.length >= request.minRuns && elapsed >= request.minMs) ||
      (times.length >= 2 && elapsed >= maxMs);
  };
  while (!done()) {
    const t0 = performance.now();
    output = (await session.run(input)).logits.data as Float32Array;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], output };
}

/** Measures `path` in this process. */
export async function measureModel(path: string, request: MeasureRequest): Promise<Measurement> {
  const baseRssBytes = procStatus("VmRSS");
  const t0 = performance.now();
  const session = await openSession(path);
  const loadMs = performance.now() - t0;
  const rng = new Rng(1);
  const latencyMs: Record<string, number> = {};
  let rssBytes = NaN;
  try {
    for (const [i, batch] of request.batches.entries()) {
      // A GRU's graph has no state_c: feed only what the model reads.
      const input = Object.fromEntries(
        Object.entries(feeds(request, batch, rng)).filter(([n]) => session.inputNames.includes(n)),
      );
      const { median, output } = await timeCalls(session, input, request);
      latencyMs[batch] = median;
      if (i === 0 && request.outputPath) {
        await Deno.writeFile(
          request.outputPath,
          new Uint8Array(output.buffer, output.byteOffset, output.byteLength),
        );
      }
    }
    rssBytes = procStatus("VmRSS");
  } finally {
    await session.release();
  }
  return { loadMs, latencyMs, peakRssBytes: procStatus("VmHWM"), rssBytes, baseRssBytes };
}

/**
 * Measures `path` in a fresh Deno process and returns its figures. The
 * child loads only onnxruntime and this module.
 */
export async function measureInChild(path: string, request: MeasureRequest): Promise<Measurement> {
  const config = new URL("../deno.json", import.meta.url).pathname;
  const script = new URL(import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", config, script, path, JSON.stringify(request)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    const reason = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-3).join(" ");
    throw new Error(`measuring ${path} failed: ${reason}`);
  }
  return JSON.parse(text.split("\n").at(-1)!) as Measurement;
}

if (import.meta.main) {
  const [path, request] = Deno.args;
  console.log(JSON.stringify(await measureModel(path, JSON.parse(request) as MeasureRequest)));
}
