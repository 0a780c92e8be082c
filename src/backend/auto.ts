/**
 * `--backend auto` (the default): a real GPU adapter trains on webgpu
 * (`--compute masked`, with the fused recurrence), anything else on the CPU
 * engine (`--compute sparse`). A software adapter (Mesa's lavapipe,
 * SwiftShader) counts as no GPU: it is slower than the CPU engine.
 *
 * @module
 */

/** `--compute`'s modes (../train/compute.ts), spelled out to keep this module free of tfjs. */
type ComputeMode = "sparse" | "masked";

/** What WebGPU says about an adapter (`GPUAdapterInfo`), reduced to what the choice needs. */
export interface AdapterFacts {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** `GPUAdapterInfo.isFallbackAdapter`: a CPU implementation. */
  isFallbackAdapter: boolean;
}

/** The backend and compute path `--backend auto` picked, and why (one line). */
export interface AutoChoice {
  backend: "webgpu" | "wasm";
  compute: ComputeMode;
  reason: string;
}

const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic render/i;

/** Whether `adapter` runs on the CPU (a software rasterizer), not on a GPU. */
export function isSoftwareAdapter(adapter: AdapterFacts): boolean {
  return adapter.isFallbackAdapter ||
    SOFTWARE_NAMES.test(`${adapter.description} ${adapter.device} ${adapter.architecture}`);
}

/** A short human name of an adapter: its description, else vendor and device. */
export function adapterName(adapter: AdapterFacts): string {
  return adapter.description ||
    [adapter.vendor, adapter.architecture, adapter.device].filter(Boolean).join(" ") ||
    "unnamed adapter";
}

/** The WebGPU adapter Deno finds, or null (no WebGPU, no Vulkan driver, no device). */
export async function findAdapter(): Promise<AdapterFacts | null> {
  if (!("gpu" in navigator)) return null;
  quietWindowSystemProbe();
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" })
    .catch(() => null);
  if (!adapter) return null;
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  return {
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    description: info.description ?? "",
    isFallbackAdapter: info.isFallbackAdapter ??
      (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
  };
}

/**
 * What `--backend auto` runs, given the adapter found (null: none) and the
 * `--compute` the user gave, if any: `--compute sparse` always means the
 * CPU engine, `--compute masked` without a GPU means tfjs on wasm.
 */
export function chooseBackend(adapter: AdapterFacts | null, compute?: ComputeMode): AutoChoice {
  const found = adapter
    ? `${isSoftwareAdapter(adapter) ? "software" : "GPU"} adapter ` +
      `"${adapterName(adapter)}"`
    : "no WebGPU adapter";
  const gpu = adapter !== null && !isSoftwareAdapter(adapter);
  if (gpu && compute !== "sparse") {
    return {
      backend: "webgpu",
      compute: "masked",
      reason: `--backend auto: found ${found}; training with --compute masked on webgpu`,
    };
  }
  const why = gpu
    ? "--compute sparse runs on the CPU"
    : adapter
    ? "a software adapter is slower than the CPU"
    : "nothing to run webgpu on";
  const path = compute === "masked"
    ? "--compute masked on wasm"
    : "the CPU engine (--compute sparse)";
  return {
    backend: "wasm",
    compute: compute ?? "sparse",
    reason: `--backend auto: found ${found}; ${why}, so training with ${path}`,
  };
}

/**
 * Mesa's Vulkan drivers look for a window system through XDG_RUNTIME_DIR and
 * print an error at exit when it is unset, as on a headless server. sparrow
 * draws no windows, so a private directory is enough to keep stderr clean.
 */
function quietWindowSystemProbe(): void {
  if (Deno.env.get("XDG_RUNTIME_DIR")) return;
  const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/sparrow-runtime-${Deno.uid() ?? "user"}`;
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // Only cosmetic: without it Mesa prints its harmless message.
  }
}
