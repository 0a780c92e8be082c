import assert from "node:assert/strict";
import { join } from "node:path";
import { loadClassificationInput } from "../../src/data/input.ts";
import { DEFAULT_INPUT } from "../../src/data/input.ts";
import { formatSummary, median, summarizeClassification } from "../../src/data/summary.ts";
import { withTempDir } from "../helpers.ts";

// Counted by hand: train has 4 "a" and 2 "b" texts; valid 2 "a"; test 1 "a", 1 "b".
const TRAIN =
  "label,text\na,one two three\na,one\na,one two\na,two two two two\nb,three\nb,one one\n";
const VALID = "label,text\na,one four\na,two\n";
const TEST = "label,text\nb,five six seven\na,one\n";

Deno.test("summary: numbers of a dataset counted by hand", async () => {
  await withTempDir(async (dir) => {
    for (const [name, text] of [["train", TRAIN], ["valid", VALID], ["test", TEST]]) {
      await Deno.writeTextFile(join(dir, `${name}.csv`), text);
    }
    const { data, format } = await loadClassificationInput(
      dir,
      { ...DEFAULT_INPUT },
      { maxLength: 3 },
      1,
    );
    const s = summarizeClassification(data, { train: data.train, valid: data.valid }, { format });
    // Vocabulary: <pad>, <unk>, one, two, three.
    assert.equal(s.vocabSize, 5);
    assert.deepEqual(
      { ...s.train, classCounts: undefined },
      {
        examples: 6,
        tokens: 13,
        unknownRate: 0,
        longest: 4,
        median: 2,
        cut: 1,
        classCounts: undefined,
      },
    );
    assert.deepEqual(s.train.classCounts, { a: 4, b: 2 });
    // valid: "one four", "two": four is unknown, 1 of 3 tokens.
    assert.equal(s.valid!.unknownRate, 1 / 3);
    // test: "five six seven" (3 unknown), "one": 3 of 4.
    assert.equal(s.test!.unknownRate, 3 / 4);
    assert.deepEqual(s.majority, { label: "a", train: 4 / 6, valid: 1, test: 0.5 });
    // Both classes have fewer than 10 examples, and valid lacks b.
    assert.equal(s.warnings.filter((w) => /training example/.test(w)).length, 2);
    assert.ok(s.warnings.some((w) => /valid has no example of class "b"/.test(w)));
    const lines = formatSummary(s);
    assert.match(lines.join("\n"), /majority-class baseline \("a"\): 66\.7% train, 100\.0% valid/);
  });
});

Deno.test("summary: median of odd and even counts", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), 0);
});
