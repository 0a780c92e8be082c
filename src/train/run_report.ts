/**
 * The run report: one self-contained HTML page beside the checkpoint
 * (`<checkpoint>.report.html`) with plots of the training and validation
 * loss and the metric per epoch, the nonzeros of each sparse matrix over
 * time, the fraction of connections each topology update rewired, and a
 * picture of each sparse matrix's mask. Training rewrites it (atomically)
 * after every epoch; `deno task report CHECKPOINT` writes it from any
 * checkpoint.
 *
 * Plots are Vega-Lite specifications rendered to SVG by Vega without a DOM
 * (loaded only when a report is written); masks are grayscale PNGs in data
 * URIs, each pixel the density of a block of the matrix.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { basename, dirname, extname, join } from "node:path";
import { countActive } from "../core/mask.ts";
import { writeFileAtomic } from "../spec/atomic.ts";
import type { Checkpoint } from "../spec/checkpoint.ts";
import { grayscalePng } from "./png.ts";

/** Where the report of the checkpoint at `checkpointPath` goes. */
export function reportPath(checkpointPath: string): string {
  const name = basename(checkpointPath);
  const stem = extname(name) ? name.slice(0, -extname(name).length) : name;
  return join(dirname(checkpointPath), `${stem}.report.html`);
}

/** A point of a plotted series. */
export interface SeriesPoint {
  x: number;
  y: number;
  series: string;
}

/** One plot: its title, axes and points. */
export interface Plot {
  title: string;
  x: string;
  y: string;
  points: SeriesPoint[];
  /** A log-scale y axis (perplexities). */
  logY?: boolean;
  /** A y axis from zero (counts). */
  zeroY?: boolean;
  /** A d3 format for the y axis's labels (e.g. `.0%`). */
  yFormat?: string;
}

/** The plots of a run, by section; a section without data has none. */
export function runPlots(
  ckpt: Checkpoint,
): Record<"loss" | "metric" | "nonzeros" | "rewired", Plot | undefined> {
  const { history, nonzeros, updates } = ckpt.meta.progress;
  const lm = ckpt.meta.model.kind === "lm";
  const series = (keys: [string, string, (v: number) => number][]): SeriesPoint[] =>
    keys.flatMap(([key, name, f]) =>
      history.flatMap((h, i) =>
        Number.isFinite(h[key]) ? [{ x: h.epoch ?? i + 1, y: f(h[key]), series: name }] : []
      )
    );
  const same = (v: number) => v;
  const loss = series([
    ["train_loss", "training", same],
    lm ? ["valid_ppl", "validation", Math.log] : ["valid_loss", "validation", same],
    lm ? ["test_ppl", "test", Math.log] : ["test_loss", "test", same],
  ]);
  const metric = lm
    ? series([["valid_ppl", "validation", same], ["test_ppl", "test", same]])
    : series([
      ["valid_acc", "validation accuracy", same],
      ["valid_macro_f1", "validation macro-F1", same],
      ["test_acc", "test accuracy", same],
      ["test_macro_f1", "test macro-F1", same],
    ]);
  const firstEpoch = history.length - (nonzeros?.length ?? 0);
  const nnz = (nonzeros ?? []).flatMap((counts, i) =>
    Object.entries(counts).map(([name, n]) => ({ x: firstEpoch + i + 1, y: n, series: name }))
  );
  const rewired = (updates ?? []).map((u) => ({ x: u.step, y: u.rewired, series: "rewired" }));
  const plot = (p: Plot) => (p.points.length > 0 ? p : undefined);
  return {
    loss: plot({
      title: "Loss per epoch",
      x: "epoch",
      y: "loss (nats per prediction)",
      points: loss,
    }),
    metric: plot({
      title: lm ? "Perplexity per epoch" : "Accuracy and macro-F1 per epoch",
      x: "epoch",
      y: lm ? "perplexity" : "score",
      points: metric,
      logY: lm,
    }),
    nonzeros: plot({
      title: "Nonzeros per sparse matrix",
      x: "epoch",
      y: "nonzeros",
      points: nnz,
      zeroY: true,
    }),
    rewired: plot({
      title: "Connections rewired per topology update",
      x: "step",
      y: "share of active connections",
      points: rewired,
      zeroY: true,
      yFormat: ".0%",
    }),
  };
}

/** A plot as an SVG string, drawn by Vega-Lite and Vega. */
export async function plotSvg(plot: Plot): Promise<string> {
  const vega = await import("vega");
  const vegaLite = await import("vega-lite");
  const series = [...new Set(plot.points.map((p) => p.series))];
  const spec = vegaLite.compile({
    width: 440,
    height: 200,
    data: { values: plot.points },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "x", type: "quantitative", title: plot.x, axis: { tickMinStep: 1, format: "d" } },
      y: {
        field: "y",
        type: "quantitative",
        title: plot.y,
        ...(plot.yFormat ? { axis: { format: plot.yFormat } } : {}),
        scale: plot.logY ? { type: "log", nice: false } : { zero: plot.zeroY ?? false },
      },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        // Series in the order they are first given (training before validation before test).
        scale: { domain: series },
        // One series needs no legend.
        ...(series.length === 1 ? { legend: null } : {}),
      },
    },
    config: { font: "sans-serif", legend: { orient: "bottom", columns: 2 } },
  }).spec;
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A mask's density picture: each pixel the fraction of active entries in its block. */
export function maskDensity(
  mask: Uint8Array,
  rows: number,
  cols: number,
  maxSide = 200,
): { pixels: Uint8Array; width: number; height: number } {
  const block = Math.max(1, Math.ceil(Math.max(rows, cols) / maxSide));
  const width = Math.ceil(cols / block), height = Math.ceil(rows / block);
  const active = new Float64Array(width * height), size = new Float64Array(width * height);
  for (let r = 0; r < rows; r++) {
    const y = Math.floor(r / block);
    for (let c = 0; c < cols; c++) {
      const i = y * width + Math.floor(c / block);
      active[i] += mask[r * cols + c], size[i]++;
    }
  }
  // Dark is dense: an empty block is white, a full one black.
  const pixels = Uint8Array.from(active, (a, i) => Math.round(255 * (1 - a / size[i])));
  return { pixels, width, height };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `
body { font-family: sans-serif; margin: 16px auto; max-width: 1140px; color: #222; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 0 24px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.summary { color: #555; margin: 0 0 8px; } table { border-collapse: collapse; }
td, th { padding: 2px 10px; text-align: right; border-bottom: 1px solid #eee; }
th:first-child, td:first-child { text-align: left; }
.missing { color: #888; font-style: italic; }
.masks { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; } figcaption { font-size: 12px; color: #555; max-width: 240px; }
figure img { width: 240px; image-rendering: pixelated; border: 1px solid #ccc; }
`;

/** The report of the run in `ckpt` as one HTML page; `name` titles it. */
export async function runReportHtml(ckpt: Checkpoint, name: string): Promise<string> {
  const { meta } = ckpt;
  const { progress, model } = meta;
  const training = meta.training as Record<string, unknown>;
  const sparse = (training.sparse ?? {}) as Record<string, unknown>;
  const epochs = training.epochs ?? progress.epoch;
  const plots = runPlots(ckpt);
  const section = async (title: string, plot: Plot | undefined, missing: string) =>
    `<section><h2>${escapeHtml(title)}</h2>${
      plot ? `<div class="plot">${await plotSvg(plot)}</div>` : `<p class="missing">${missing}</p>`
    }</section>`;
  const notRecorded =
    "Not recorded for this run (trained before sparrow kept it, or no epoch yet).";
  const last = progress.history.at(-1) ?? {};
  const metricRows = Object.entries(last).filter(([k]) => k !== "epoch").map(([k, v]) =>
    `<tr><td>${escapeHtml(k)}</td><td>${
      k.endsWith("acc") ? (100 * v).toFixed(2) + "%" : v.toFixed(4)
    }</td></tr>`
  ).join("");

  const masks = await Promise.all(
    Object.entries(ckpt.masks).map(async ([param, mask]) => {
      const shape = ckpt.params[param]?.shape ?? [1, mask.length];
      const rows = shape[0], cols = mask.length / rows;
      const picture = maskDensity(mask, rows, cols);
      const png = await grayscalePng(picture.pixels, picture.width, picture.height);
      const density = countActive(mask) / mask.length;
      return `<figure><img alt="mask of ${escapeHtml(param)}" src="data:image/png;base64,${
        Buffer.from(png).toString("base64")
      }"><figcaption>${escapeHtml(param)} [${rows}×${cols}]: ${
        (100 * density).toFixed(2)
      }% dense (${countActive(mask).toLocaleString("en-US")} nonzeros)</figcaption></figure>`;
    }),
  );

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(name)}: sparrow run report</title>
<style>${STYLE}</style></head><body>
<h1>${escapeHtml(name)}</h1>
<p class="summary">${
    model.kind === "lm" ? "language model" : "classifier"
  }, ${model.layers}×${model.hiddenSize} ${
    escapeHtml(String(model.cell ?? "lstm"))
  }, embedding ${model.embedSize}, vocabulary ${model.vocabSize}; ${
    escapeHtml(String(sparse.method ?? "?"))
  } at sparsity ${escapeHtml(String(sparse.sparsity ?? "?"))}; ${progress.epoch} of ${
    escapeHtml(String(epochs))
  } epochs, ${progress.step.toLocaleString("en-US")} steps${progress.done ? " (finished)" : ""}</p>
<section><h2>Last epoch</h2>${
    metricRows ? `<table>${metricRows}</table>` : `<p class="missing">${notRecorded}</p>`
  }</section>
<div class="grid">
${await section("Loss", plots.loss, notRecorded)}
${await section(
    model.kind === "lm" ? "Perplexity" : "Accuracy and macro-F1",
    plots.metric,
    notRecorded,
  )}
${await section("Nonzeros per sparse matrix", plots.nonzeros, notRecorded)}
${await section(
    "Rewired per topology update",
    plots.rewired,
    Object.keys(ckpt.masks).length === 0 || progress.topologyUpdates === 0
      ? "No topology update in this run."
      : notRecorded,
  )}
</div>
<section><h2>Masks</h2>${
    masks.length > 0
      ? `<p class="summary">Each pixel is a block of the matrix; darker is denser.</p><div class="masks">${
        masks.join("")
      }</div>`
      : `<p class="missing">No sparse matrix: the model is dense.</p>`
  }</section>
</body></html>
`;
}

/** Writes the report of `ckpt` beside its checkpoint at `checkpointPath`; returns its path. */
export async function saveRunReport(checkpointPath: string, ckpt: Checkpoint): Promise<string> {
  const path = reportPath(checkpointPath);
  await writeFileAtomic(path, await runReportHtml(ckpt, checkpointPath));
  return path;
}

/**
 * Writes the report during training. A report that cannot be written is
 * noted in one line and training goes on: the checkpoint is what matters.
 */
export async function writeRunReport(
  checkpointPath: string,
  ckpt: Checkpoint,
  log: (line: string) => void,
): Promise<void> {
  try {
    await saveRunReport(checkpointPath, ckpt);
  } catch (err) {
    log(`run report not written: ${err instanceof Error ? err.message : String(err)}`);
  }
}
