/**
 * A character model (`--unit char`) keeps its unit through export: the
 * bundle reads and writes plain text, character by character.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { exportBundle } from "../../export/bundle.ts";
import { encodeLmText, generate, openBundle, score } from "../../src/infer/bundle.ts";
import { DEFAULT_INPUT } from "../../src/data/input.ts";
import { REPO_ROOT, trainTiny, withTempDir } from "../helpers.ts";

Deno.test("char unit: trained, exported, then text in and text out", async () => {
  await withTempDir(async (dir) => {
    const { path, result } = await trainTiny("lm", dir, {
      data: join(REPO_ROOT, "fixtures/formats/raw.txt"),
      input: { ...DEFAULT_INPUT, unit: "char", split: [0.8, 0.1, 0.1] },
    });
    assert.deepEqual(result.checkpoint.meta.tokenizer, { scheme: "chars" });
    assert.ok(result.metrics.valid_bpc > 0);
    assert.ok(Math.abs(result.metrics.valid_bpc - Math.log2(result.metrics.valid_ppl)) < 1e-9);
    await exportBundle(path, join(dir, "bundle"));
    const bundle = await openBundle(join(dir, "bundle"));
    try {
      assert.match(String(bundle.metadata.tokenizer?.rule), /each character/);
      const text = "The dog.\nRuns.";
      const ids = encodeLmText(bundle, text);
      assert.equal(ids.length, Array.from(text).length);
      assert.equal(ids.map((id) => bundle.vocab.decode(id)).join(""), text);
      const scored = await score(bundle, text);
      assert.ok(Math.abs(scored.bitsPerCharacter! - Math.log2(scored.perplexity)) < 1e-9);
      const out = await generate(bundle, "The ", { length: 12, temperature: 1, seed: 1 });
      assert.equal(out.length, 12);
      assert.ok(out.every((c) => Array.from(c).length === 1), JSON.stringify(out));
    } finally {
      await bundle.session.release();
    }
  });
});
