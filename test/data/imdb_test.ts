import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { UserError } from "../../src/spec/errors.ts";
import { readImdb } from "../../src/data/imdb.ts";
import { realDataset } from "../data_available.ts";

const IMDB = realDataset("imdb/aclImdb_v1.tar.gz");

/** A miniature aclImdb tree, with the extra files the real one has. */
const REVIEWS: Record<string, string> = {
  "train/pos/10_9.txt": "A great film.<br /><br />Loved it!",
  "train/pos/2_8.txt": "Great acting.",
  "train/neg/0_1.txt": "A dull film, not great.",
  "train/neg/7_3.txt": "Dull.",
  "train/neg/11_2.txt": "Awful acting.",
  "test/pos/0_10.txt": "Great!",
  "test/neg/3_4.txt": "Not great: dull and awful, a waste.",
  "train/unsup/0_0.txt": "Unlabelled text that must be ignored.",
  "train/labeledBow.feat": "0:1 2:3",
  "train/urls_pos.txt": "http://www.imdb.com/title/tt0000001/",
  "imdb.vocab": "the\nand\n",
  "README": "Large Movie Review Dataset v1.0",
};

async function makeTree(root: string): Promise<void> {
  for (const [path, text] of Object.entries(REVIEWS)) {
    await Deno.mkdir(dirname(join(root, "aclImdb", path)), { recursive: true });
    await Deno.writeTextFile(join(root, "aclImdb", path), text);
  }
}

Deno.test("reads the extracted directory and the tar.gz identically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-imdb-" });
  try {
    await makeTree(dir);
    const archive = join(dir, "aclImdb_v1.tar.gz");
    const tar = await new Deno.Command("tar", {
      args: ["-czf", archive, "-C", dir, "aclImdb"],
    }).output();
    assert.equal(tar.code, 0, new TextDecoder().decode(tar.stderr));

    const fromArchive = await readImdb(archive);
    const fromDirectory = await readImdb(join(dir, "aclImdb"));
    assert.deepEqual(fromArchive.labels, ["neg", "pos"]);
    assert.deepEqual(fromArchive.train.labels, Int32Array.from([0, 0, 0, 1, 1]));
    assert.deepEqual(fromArchive.test.labels, Int32Array.from([0, 1]));
    assert.equal(fromArchive.valid, undefined);
    // Ordered by label, then numeric id: neg 0, 7, 11; pos 2, 10.
    const words = (ids: Int32Array) => [...ids].map((id) => fromArchive.vocab.decode(id)).join(" ");
    assert.equal(words(fromArchive.train.texts[0]), "a dull film , not great .");
    assert.equal(words(fromArchive.train.texts[2]), "awful acting .");
    assert.equal(
      words(fromArchive.train.texts[4]),
      "a great film . loved it !",
    );
    assert.ok(!fromArchive.vocab.has("unlabelled"));
    assert.deepEqual(fromDirectory.vocab.tokens, fromArchive.vocab.tokens);
    assert.deepEqual(fromDirectory.train, fromArchive.train);
    assert.deepEqual(fromDirectory.test, fromArchive.test);

    // A folder holding the archive or aclImdb/ is accepted too.
    const viaParent = await readImdb(dir);
    assert.deepEqual(viaParent.train, fromDirectory.train);
    await Deno.remove(join(dir, "aclImdb"), { recursive: true });
    const viaArchive = await readImdb(dir);
    assert.deepEqual(viaArchive.train, fromArchive.train);
    assert.equal(viaArchive.source, archive);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("errors: missing path, a folder without IMDB, an archive without reviews", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-imdb-" });
  try {
    await assert.rejects(
      readImdb(join(dir, "nowhere")),
      (err: unknown) => err instanceof UserError && /nowhere" does not exist/.test(err.message),
    );
    await assert.rejects(readImdb(dir), /no IMDB data in .*aclImdb_v1\.tar\.gz/);
    await Deno.writeTextFile(join(dir, "README"), "nothing here");
    const archive = join(dir, "other.tar.gz");
    const tar = await new Deno.Command("tar", {
      args: ["-czf", archive, "-C", dir, "README"],
    }).output();
    assert.equal(tar.code, 0);
    await assert.rejects(readImdb(archive), /no training examples in/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "real IMDB (../shared/datasets/imdb): 25,000 train and test reviews, half positive",
  ignore: IMDB.ignore,
  async fn() {
    IMDB.assertPresent();
    const data = await readImdb(IMDB.path, { maxLength: 1 });
    assert.deepEqual(data.labels, ["neg", "pos"]);
    for (const split of [data.train, data.test]) {
      assert.equal(split.labels.length, 25_000);
      assert.equal(split.labels.filter((label) => label === 1).length, 12_500);
    }
    // Reviews were decoded and tokenised: "the" is the most frequent word.
    assert.equal(data.vocab.tokens[2], "the");
    assert.ok(data.train.texts.every((text) => text.length === 1));
  },
});
