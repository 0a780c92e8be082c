import assert from "node:assert/strict";
import { join } from "node:path";
import { loadCheckpoint } from "../../src/spec/checkpoint.ts";
import { crc32, grayscalePng } from "../../src/train/png.ts";
import { maskDensity, reportPath, runReportHtml } from "../../src/train/run_report.ts";
import { train } from "../../src/train/train.ts";
import { runCli, tinyLmConfig, withTempDir } from "../helpers.ts";

/** Throws unless `xml`'s tags nest properly (a well-formedness check without a DOM). */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  const body = xml.replace(/<!--[\s\S]*?-->/g, "");
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w:.-]*)(?:\s[^<>]*?)?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (!closing) stack.push(name);
    else assert.equal(stack.pop(), name, `</${name}> closes <${stack.at(-1)}>`);
  }
  assert.deepEqual(stack, [], "every element is closed");
}

function svgs(html: string): string[] {
  return [...html.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);
}

Deno.test("training writes a run report beside its checkpoint: one plot per section, valid SVG, mask pictures", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "run", "lm.sparrow");
    await train(tinyLmConfig(out, { epochs: 3 }), () => {}, { htmlReport: true });
    const path = reportPath(out);
    assert.equal(path, join(dir, "run", "lm.report.html"));
    const html = await Deno.readTextFile(path);
    const sections = html.split("<section>").slice(1);
    assert.deepEqual(
      sections.map((s) => s.match(/<h2>([^<]*)<\/h2>/)![1]),
      [
        "Last epoch",
        "Loss",
        "Perplexity",
        "Nonzeros per sparse matrix",
        "Rewired per topology update",
        "Masks",
      ],
    );
    // The four plotted sections hold one SVG each.
    assert.deepEqual(sections.map((s) => svgs(s).length), [0, 1, 1, 1, 1, 0]);
    for (const svg of svgs(html)) {
      assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assertWellFormed(svg);
    }
    // One picture per sparse matrix.
    const ckpt = await loadCheckpoint(out);
    const images = [...html.matchAll(/<img alt="mask of ([^"]+)" src="data:image\/png;base64,/g)];
    assert.deepEqual(images.map((m) => m[1]).sort(), Object.keys(ckpt.masks).sort());
    // The history the plots come from.
    const { progress } = ckpt.meta;
    assert.equal(progress.nonzeros!.length, 3);
    assert.deepEqual(Object.keys(progress.nonzeros![0]).sort(), Object.keys(ckpt.masks).sort());
    assert.equal(progress.updates!.length, progress.topologyUpdates);
    assert.ok(progress.updates!.every((u) => u.rewired > 0 && u.rewired <= 1));
  });
});

Deno.test("a run recorded before nonzeros and rewiring were kept still gets a report", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "lm.sparrow");
    const { checkpoint } = await train(tinyLmConfig(out), () => {});
    delete checkpoint.meta.progress.nonzeros;
    delete checkpoint.meta.progress.updates;
    const html = await runReportHtml(checkpoint, out);
    assert.equal(svgs(html).length, 2);
    assert.equal((html.match(/Not recorded for this run/g) ?? []).length, 2);
  });
});

Deno.test("deno task report writes the report of a checkpoint; a bad path is one line", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "lm.sparrow");
    await train(tinyLmConfig(out), () => {});
    const ok = await runCli("report", [out, "--out", join(dir, "r.html")]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(svgs(await Deno.readTextFile(join(dir, "r.html"))).length, 4);
    const bad = await runCli("report", [join(dir, "missing.sparrow")]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: .*missing\.sparrow/);
    assert.doesNotMatch(bad.stderr, /^\s+at /m);
  });
});

Deno.test("mask pictures: each pixel is its block's density, dark is dense", () => {
  // 2×4 mask in blocks of 2: left block full, right block half full.
  const mask = Uint8Array.from([1, 1, 1, 0, 1, 1, 0, 1]);
  const picture = maskDensity(mask, 2, 4, 2);
  assert.deepEqual([picture.width, picture.height], [2, 1]);
  assert.deepEqual([...picture.pixels], [0, 128]);
});

Deno.test("PNG: the CRC-32 check value, and pixels that decompress back", async () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  const png = await grayscalePng(Uint8Array.from([0, 255, 7, 9, 100, 200]), 3, 2);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer);
  const idatLength = view.getUint32(33);
  assert.equal(new TextDecoder().decode(png.subarray(37, 41)), "IDAT");
  const stream = new Blob([png.slice(41, 41 + idatLength)]).stream()
    .pipeThrough(new DecompressionStream("deflate"));
  const raw = new Uint8Array(await new Response(stream).arrayBuffer());
  assert.deepEqual([...raw], [0, 0, 255, 7, 0, 9, 100, 200]);
});
