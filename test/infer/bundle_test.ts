import assert from "node:assert/strict";
import { join } from "node:path";
import { exportBundle } from "../../export/bundle.ts";
import { UserError } from "../../src/spec/errors.ts";
import {
  type Bundle,
  classify,
  encodeClassifierText,
  encodeLmText,
  generate,
  openBundle,
  score,
  sha256Hex,
  streamStep,
  UNCLASSIFIED,
} from "../../src/infer/bundle.ts";
import { runLanguageModel } from "../../src/infer/onnx_runtime.ts";
import type { ClassifierConfig, LanguageModelConfig } from "../../src/spec/config.ts";
import { referenceClassifierForward, referenceLmForward } from "../../src/spec/reference.ts";
import type { Checkpoint } from "../../src/spec/checkpoint.ts";
import { maxAbsDiff, REPO_ROOT, trainTiny } from "../helpers.ts";

function softmax(logits: ArrayLike<number>, offset: number, n: number): number[] {
  const row = Array.from({ length: n }, (_, i) => logits[offset + i]);
  const max = Math.max(...row);
  const exps = row.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Asserts that `fn` fails with a UserError whose message matches `message`. */
async function assertUserError(fn: () => Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof UserError, `not a UserError: ${err}`);
    assert.match(err.message, message);
    return true;
  });
}

async function copyBundle(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

Deno.test("inference on exported bundles", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-infer-" });
  const opened: Bundle[] = [];
  try {
    const lmRun = await trainTiny("lm", dir);
    const clsRun = await trainTiny("classifier", dir);
    const lmCkpt: Checkpoint = lmRun.result.checkpoint;
    const clsCkpt: Checkpoint = clsRun.result.checkpoint;
    await exportBundle(lmRun.path, join(dir, "lm"));
    await exportBundle(clsRun.path, join(dir, "cls"));
    const lm = await openBundle(join(dir, "lm"));
    const cls = await openBundle(join(dir, "cls"));
    opened.push(lm, cls);
    const lmModel = lmCkpt.meta.model as LanguageModelConfig;
    const clsModel = clsCkpt.meta.model as ClassifierConfig;
    const V = lmModel.vocabSize;

    await t.step("openBundle reads the metadata and vocabulary", () => {
      assert.equal(lm.metadata.kind, "lm");
      assert.equal(cls.metadata.kind, "classifier");
      assert.deepEqual([...lm.vocab.tokens], lmCkpt.meta.vocab);
      assert.deepEqual(cls.metadata.labels, clsCkpt.meta.labels);
      // Special tokens as the trained vocabularies have them.
      const { padding, unk } = cls.metadata.specialTokens;
      assert.deepEqual([padding.token, padding.id], ["<pad>", clsCkpt.meta.vocab.indexOf("<pad>")]);
      assert.equal(unk!.id, clsCkpt.meta.vocab.indexOf("<unk>"));
      assert.equal(lm.metadata.specialTokens.eos!.id, lmCkpt.meta.vocab.indexOf("<eos>"));
    });

    await t.step(
      "classify gives the reference model's probabilities, in batches of any size",
      async () => {
        const lines = (await Deno.readTextFile(join(REPO_ROOT, "fixtures/sentiment/test.tsv")))
          .split("\n").filter((l) => l.includes("\t")).slice(0, 70).map((l) => l.split("\t")[1]);
        // 70 texts cross the 64-text chunk boundary.
        const results = await classify(cls, lines);
        assert.equal(results.length, 70);
        const labels = clsCkpt.meta.labels!;
        const ids = lines.map((text) => encodeClassifierText(cls, text));
        const logits = referenceClassifierForward(clsModel, clsCkpt.params, ids);
        results.forEach((r, i) => {
          assert.equal(r.text, lines[i]);
          const expected = softmax(logits, i * labels.length, labels.length);
          const actual = labels.map((l) => r.probabilities[l]);
          assert.ok(maxAbsDiff(actual, expected) <= 1e-5, `text ${i}`);
          assert.equal(r.label, labels[actual.indexOf(Math.max(...actual))]);
        });
        const [single] = await classify(cls, [lines[66]]);
        assert.deepEqual(single.label, results[66].label);
      },
    );

    await t.step("a classifier keeps the end of a long text its tokenizer names", () => {
      const words = clsCkpt.meta.vocab.filter((w) => /^[a-z]+$/.test(w)).slice(0, 5);
      const saved = cls.metadata.tokenizer;
      try {
        cls.metadata.tokenizer = { ...saved, maxLength: 3 };
        const first = encodeClassifierText(cls, words.join(" "));
        cls.metadata.tokenizer = { ...saved, maxLength: 3, keep: "last" };
        const last = encodeClassifierText(cls, words.join(" "));
        const ids = words.map((w) => cls.vocab.encode(w));
        assert.deepEqual(first, ids.slice(0, 3));
        assert.deepEqual(last, ids.slice(2));
      } finally {
        cls.metadata.tokenizer = saved;
      }
    });

    await t.step("classify gives one result per text; no known word means no label", async () => {
      const known = clsCkpt.meta.vocab.find((w) => /^[a-z]+$/.test(w))!;
      const texts = [`${known} ${known}`, "", "   ", "zzqx qqzy", known];
      const results = await classify(cls, texts);
      assert.deepEqual(results.map((r) => r.text), texts);
      for (const i of [1, 2, 3]) {
        assert.equal(results[i].label, UNCLASSIFIED, `text ${i}`);
        assert.deepEqual(results[i].probabilities, {});
      }
      for (const i of [0, 4]) assert.ok(clsCkpt.meta.labels!.includes(results[i].label));
    });

    await t.step("generate refuses a length that is not a positive whole number", async () => {
      for (const length of [-3, 0, 1.5]) {
        await assertUserError(
          () => generate(lm, "the", { length, temperature: 1, seed: 1 }),
          /--length must be a whole number of words, at least 1/,
        );
      }
    });

    await t.step("score is the perplexity of the reference model over the whole text", async () => {
      // About 600 tokens: more than one 256-token chunk, state carried between them.
      const text = (await Deno.readTextFile(join(REPO_ROOT, "fixtures/tinylm/test.txt")))
        .split("\n").slice(0, 60).join("\n");
      const ids = encodeLmText(lm, text);
      assert.ok(ids.length > 2 * 256, `${ids.length} tokens`);
      const { logits } = referenceLmForward(lmModel, lmCkpt.params, ids.map((id) => [id]));
      let nats = 0;
      for (let t = 0; t < ids.length - 1; t++) {
        nats -= Math.log(softmax(logits, t * V, V)[ids[t + 1]]);
      }
      const expected = Math.exp(nats / (ids.length - 1));
      const result = await score(lm, text, "test.txt");
      assert.equal(result.tokens, ids.length - 1);
      assert.ok(Math.abs(result.perplexity - expected) <= 1e-4 * expected);
    });

    await t.step("score names unknown words and too-short input", async () => {
      await assertUserError(
        () => score(lm, "the company\nthe zzzunknownword said", "mine.txt"),
        /^mine\.txt:2: word "zzzunknownword" is not in the vocabulary/,
      );
      await assertUserError(
        () => score(lm, "\n  \n", "blank.txt"),
        /blank\.txt has fewer than two/,
      );
    });

    await t.step("generate samples words of the vocabulary, reproducibly by seed", async () => {
      const options = { length: 12, temperature: 1, seed: 5 };
      const words = await generate(lm, "the company", options);
      assert.equal(words.length, 12);
      assert.ok(words.every((w) => lmCkpt.meta.vocab.includes(w)));
      assert.deepEqual(await generate(lm, "the company", options), words);
      assert.notDeepEqual(await generate(lm, "the company", { ...options, seed: 6 }), words);
      assert.equal((await generate(lm, "", { ...options, length: 3 })).length, 3);
      await assertUserError(
        () => generate(lm, "the", { ...options, temperature: 0 }),
        /--temperature must be positive/,
      );
    });

    await t.step("streaming one word at a time carries the state like one long run", async () => {
      const words = ["the", "company", "said", "<eos>", "the"];
      let state;
      for (const [i, word] of words.entries()) {
        const step = await streamStep(lm, word, state);
        state = step.state;
        const ids = words.slice(0, i + 1).map((w) => lm.vocab.encode(w));
        const whole = await runLanguageModel(lm.session, ids.map((id) => [id]));
        assert.ok(maxAbsDiff(state.h, whole.state.h) <= 1e-5, `h after ${word}`);
        assert.ok(maxAbsDiff(state.c, whole.state.c) <= 1e-5, `c after ${word}`);
        const p = softmax(whole.logits, i * V, V);
        assert.equal(step.next.length, 3);
        const best = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, 3);
        for (const [k, next] of step.next.entries()) {
          assert.ok(Math.abs(next.probability - p[best[k]]) <= 1e-5, `next ${k} after ${word}`);
          if (k > 0) assert.ok(next.probability <= step.next[k - 1].probability);
        }
      }
    });

    await t.step("the wrong kind of bundle for a command is a UserError", async () => {
      await assertUserError(
        () => classify(lm, ["a fine film"]),
        /classify needs a classifier bundle/,
      );
      await assertUserError(() => score(cls, "the film"), /score needs a language model bundle/);
      await assertUserError(
        () => generate(cls, "the", { length: 2, temperature: 1, seed: 1 }),
        /generate needs a language model/,
      );
      await assertUserError(() => streamStep(cls, "the"), /stream needs a language model/);
    });

    await t.step("a bundle opens from its directory, model.onnx or metadata.json", async () => {
      for (const file of ["model.onnx", "metadata.json"]) {
        const b = await openBundle(join(dir, "lm", file));
        assert.equal(b.dir, join(dir, "lm"));
        await b.session.release();
      }
    });

    await t.step("missing and incomplete bundles are UserErrors naming the path", async () => {
      await assertUserError(() => openBundle(join(dir, "nowhere")), /nowhere does not exist/);
      const broken = async (name: string, damage: (path: string) => Promise<void>) => {
        const path = join(dir, name);
        await copyBundle(join(dir, "lm"), path);
        await damage(path);
        return path;
      };
      /** Rewrites metadata.json of the bundle in `p` with `edit`. */
      const editMetadata = async (p: string, edit: (m: Record<string, unknown>) => void) => {
        const m = JSON.parse(await Deno.readTextFile(join(p, "metadata.json")));
        edit(m);
        await Deno.writeTextFile(join(p, "metadata.json"), JSON.stringify(m));
      };
      const cases: [string, (path: string) => Promise<void>, RegExp][] = [
        [
          "no-metadata",
          (p) => Deno.remove(join(p, "metadata.json")),
          /not a complete sparrow bundle/,
        ],
        ["no-vocab", (p) => Deno.remove(join(p, "vocab.json")), /not a complete sparrow bundle/],
        ["no-model", (p) => Deno.remove(join(p, "model.onnx")), /not a complete sparrow bundle/],
        ["bad-json", (p) => Deno.writeTextFile(join(p, "metadata.json"), "{"), /not valid JSON/],
        [
          "not-sparrow",
          (p) => Deno.writeTextFile(join(p, "metadata.json"), '{"format": "other"}'),
          /not sparrow bundle metadata/,
        ],
        ["old-version", (p) => editMetadata(p, (m) => m.version = 1), /version 1.*export/],
        ["no-model-key", (p) => editMetadata(p, (m) => delete m.model), /no "model" entry/],
        ["no-sha256", (p) => editMetadata(p, (m) => delete m.sha256), /no "sha256" entry/],
        [
          "short-vocab",
          (p) =>
            Deno.writeTextFile(join(p, "vocab.json"), JSON.stringify(lmCkpt.meta.vocab.slice(1))),
          /vocab\.json does not match the sha256/,
        ],
        [
          "swapped-vocab",
          (p) => {
            const vocab = [...lmCkpt.meta.vocab];
            [vocab[1], vocab[2]] = [vocab[2], vocab[1]];
            return Deno.writeTextFile(join(p, "vocab.json"), JSON.stringify(vocab));
          },
          /vocab\.json does not match the sha256.*export the bundle again/,
        ],
        [
          "flipped-byte",
          async (p) => {
            const bytes = await Deno.readFile(join(p, "model.onnx"));
            bytes[bytes.length - 100] ^= 0x01;
            await Deno.writeFile(join(p, "model.onnx"), bytes);
          },
          /model\.onnx does not match the sha256.*export the bundle again/,
        ],
        [
          "garbage-model",
          async (p) => {
            await Deno.writeTextFile(join(p, "model.onnx"), "not onnx");
            const sha = await sha256Hex(new TextEncoder().encode("not onnx"));
            await editMetadata(p, (m) => (m.sha256 as Record<string, string>)["model.onnx"] = sha);
          },
          /Cannot load ONNX/,
        ],
        [
          "escaping-model",
          (p) =>
            editMetadata(p, (m) => (m.files as Record<string, string>).model = "../../etc/passwd"),
          /files\.model is "\.\.\/\.\.\/etc\/passwd", not a file inside the bundle/,
        ],
        [
          "absolute-vocab",
          (p) => editMetadata(p, (m) => (m.files as Record<string, string>).vocab = "/etc/passwd"),
          /files\.vocab is "\/etc\/passwd", not a file inside the bundle/,
        ],
      ];
      for (const [name, damage, message] of cases) {
        const path = await broken(name, damage);
        await assert.rejects(() => openBundle(path), (err: unknown) => {
          assert.ok(err instanceof UserError, `${name}: not a UserError: ${err}`);
          assert.match(err.message, message, name);
          assert.ok(err.message.includes(path), `${name}: ${err.message} does not name ${path}`);
          return true;
        });
      }
    });
  } finally {
    for (const b of opened) await b.session.release();
    await Deno.remove(dir, { recursive: true });
  }
});
