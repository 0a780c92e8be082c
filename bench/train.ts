/**
 * `deno task bench train`: training-step speed and peak memory of the two
 * compute paths, side by side in one run, on the workloads of
 * bench/train_step.ts: `sparse` (the CPU engine; one thread and, where it
 * has them, all threads) against `masked` (tfjs-wasm, W ⊙ M), at several
 * sparsities. The LM's embedding and decoder are sparse too.
 *
 * Each measurement runs in its own process, so each peak RSS is its own;
 * the RSS columns are those of the one-thread runs. Every variant is measured
 * twice, alternating with the others, and the faster measurement counts.
 * Where Debian's PyTorch is installed (`python3-torch`, with
 * `libopenblas0-pthread`), nn.LSTM with masks re-applied after each step is
 * timed on the same shapes, one thread. `--quick` shrinks the workloads 4x
 * and measures two sparsities.
 *
 * @module
 */

import { WORKLOADS } from "./train_step.ts";

interface Timing {
  msPerStep: number;
  tokensPerSecond: number;
  peakRssBytes: number;
  hidden: number;
  vocab: number;
}

async function measure(args: string[]): Promise<Timing> {
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./train_step.ts", import.meta.url).pathname, ...args],
    stderr: "inherit",
  }).output();
  if (!child.success) throw new Error(`train_step ${args.join(" ")} failed`);
  const lines = new TextDecoder().decode(child.stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!);
}

const PYTORCH_STEP = `
import json, sys, time, torch
torch.set_num_threads(1)
kind, V, H, L, B, T, C, s, repeats = sys.argv[1], *map(int, sys.argv[2:8]), float(sys.argv[8]), int(sys.argv[9])
torch.manual_seed(1)
emb, lstm = torch.nn.Embedding(V, H), torch.nn.LSTM(H, H, L)
dec = torch.nn.Linear(H, V if kind == "lm" else C)
params = list(emb.parameters()) + list(lstm.parameters()) + list(dec.parameters())
masks = [(torch.rand_like(p) >= s).float() if p.dim() == 2 else None for p in params]
opt = torch.optim.SGD(params, lr=0.1)
x = torch.randint(V, (T, B))
y = torch.randint(V, (T * B,)) if kind == "lm" else torch.randint(C, (B,))
def step():
    out, _ = lstm(emb(x))
    logits = dec(out.reshape(T * B, H)) if kind == "lm" else dec(out[-1])
    loss = torch.nn.functional.cross_entropy(logits, y)
    opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad():
        for p, m in zip(params, masks):
            if m is not None: p.mul_(m)
step()
t0 = time.perf_counter()
for _ in range(repeats): step()
ms = (time.perf_counter() - t0) / repeats * 1000
print(json.dumps({"msPerStep": ms, "tokensPerSecond": T * B / (ms / 1000)}))
`;

/** PyTorch's tokens/s on a workload, or undefined where Debian's python3-torch is missing. */
async function pytorch(
  workload: keyof typeof WORKLOADS,
  sparsity: number,
  scale: number,
  repeats: number,
): Promise<number | undefined> {
  const w = WORKLOADS[workload];
  const args = [
    w.kind,
    Math.max(16, Math.round(w.vocab * scale)),
    Math.max(8, Math.round(w.hidden * scale)),
    w.layers,
    w.batch,
    w.steps,
    Math.max(w.classes, 2),
    sparsity,
    repeats,
  ].map(String);
  try {
    const child = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", PYTORCH_STEP, ...args],
      env: { OMP_NUM_THREADS: "1" },
      stderr: "null",
    }).output();
    if (!child.success) return undefined;
    return JSON.parse(new TextDecoder().decode(child.stdout).trim()).tokensPerSecond;
  } catch {
    return undefined;
  }
}

const fmt = (v: number) => Math.round(v).toLocaleString("en-US");
const mb = (bytes: number) => Number.isFinite(bytes) ? `${Math.round(bytes / 2 ** 20)}` : "n/a";
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

/** Runs the benchmark and prints its table. */
export async function main(args: string[]): Promise<void> {
  const quick = args.includes("--quick");
  const scale = quick ? 0.25 : 1;
  const repeats = quick ? 3 : 7;
  const sparsities = quick ? [0.8, 0.95] : [0.67, 0.8, 0.9, 0.95, 0.99];
  const threads = navigator.hardwareConcurrency;
  const common = ["--scale", `${scale}`, "--repeats", `${repeats}`, "--sparse-io"];
  const torchAvailable = (await pytorch("lm", 0.8, 0.05, 1)) !== undefined;
  console.log(
    `one step = one batch, the median of ${repeats} after 3 warm-up steps; tok/s = tokens per second; ` +
      `RSS = peak resident memory of the process (MiB); ` +
      `${threads} hardware threads`,
  );
  if (!torchAvailable) {
    console.log("PyTorch (Debian python3-torch) is not installed: its column is skipped.");
  }
  console.log(
    `| workload | sparsity | masked tok/s | sparse 1 thread tok/s | sparse/masked | sparse ${threads} threads tok/s | ${threads} threads/1 | masked RSS | sparse RSS | RSS sparse/masked |` +
      (torchAvailable ? " PyTorch tok/s | sparse 1 thread/PyTorch |" : ""),
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|" + (torchAvailable ? "---|---|" : ""));
  for (const workload of Object.keys(WORKLOADS) as (keyof typeof WORKLOADS)[]) {
    for (const sparsity of sparsities) {
      const at = ["--workload", workload, "--sparsity", `${sparsity}`, ...common];
      // Two rounds, the variants alternating, and the faster of each variant's two: noise
      // from other work on a shared machine only ever slows a measurement down.
      const variants = [
        ["--compute", "masked"],
        ["--compute", "sparse", "--threads", "1"],
        ["--compute", "sparse", "--threads", `${threads}`],
      ];
      const best: Timing[] = [];
      for (let round = 0; round < 2; round++) {
        for (const [i, variant] of variants.entries()) {
          const t = await measure([...at, ...variant]);
          if (!best[i] || t.tokensPerSecond > best[i].tokensPerSecond) best[i] = t;
        }
      }
      const [masked, sparse, parallel] = best;
      const torch = torchAvailable ? await pytorch(workload, sparsity, scale, repeats) : undefined;
      console.log(
        `| ${workload} H=${sparse.hidden} V=${sparse.vocab} | ${sparsity} | ${
          fmt(masked.tokensPerSecond)
        } | ${fmt(sparse.tokensPerSecond)} | ${
          ratio(sparse.tokensPerSecond, masked.tokensPerSecond)
        } | ${fmt(parallel.tokensPerSecond)} | ${
          ratio(parallel.tokensPerSecond, sparse.tokensPerSecond)
        } | ${mb(masked.peakRssBytes)} | ${mb(sparse.peakRssBytes)} | ${
          (sparse.peakRssBytes / masked.peakRssBytes).toFixed(2)
        } |` +
          (torchAvailable
            ? ` ${torch ? fmt(torch) : "failed"} | ${
              torch ? ratio(sparse.tokensPerSecond, torch) : "n/a"
            } |`
            : ""),
      );
    }
  }
}
