import assert from "node:assert/strict";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateFixtures } from "../../fixtures/generate.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

Deno.test("committed fixtures are exactly what fixtures/generate.ts produces", async () => {
  const { files } = generateFixtures();
  assert.equal(files.size, 6);
  let bytes = 0;
  for (const [path, text] of files) {
    const committed = await Deno.readTextFile(join(REPO, "fixtures", path));
    assert.ok(
      committed === text,
      `fixtures/${path} differs from the generator's output; run deno run -A fixtures/generate.ts`,
    );
    bytes += text.length;
  }
  assert.ok(bytes < 1_000_000, `fixtures total ${bytes} bytes`);
});

Deno.test("docs/data.md quotes the generator's current statistics", async () => {
  const docs = await Deno.readTextFile(join(REPO, "docs", "data.md"));
  for (const line of generateFixtures().stats) {
    assert.ok(docs.includes(line), `docs/data.md lacks: ${line}`);
  }
});

Deno.test("tinylm splits use only training words and sentiment texts never repeat", () => {
  const { files } = generateFixtures();
  const words = (path: string) => new Set(files.get(path)!.split(/\s+/).filter(Boolean));
  const train = words("tinylm/train.txt");
  for (const split of ["valid", "test"]) {
    for (const word of words(`tinylm/${split}.txt`)) {
      assert.ok(train.has(word), `${split} word "${word}" is not in train`);
    }
  }
  const texts = ["train", "valid", "test"].flatMap((split) =>
    files.get(`sentiment/${split}.tsv`)!.trimEnd().split("\n").map((line) => line.split("\t")[1])
  );
  assert.equal(new Set(texts).size, texts.length);
});
