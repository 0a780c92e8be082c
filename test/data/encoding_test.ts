import assert from "node:assert/strict";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../../src/spec/errors.ts";
import { readText } from "../../src/data/files.ts";
import { readLanguageModelData } from "../../src/data/lm.ts";
import { readClassificationData } from "../../src/data/classification.ts";
import { readImdb } from "../../src/data/imdb.ts";

const BAD = resolve(dirname(fileURLToPath(import.meta.url)), "../../fixtures/bad");

function rejectsWith(...patterns: RegExp[]) {
  return (err: unknown) =>
    err instanceof UserError && !err.message.includes("\n") &&
    patterns.every((pattern) => pattern.test(err.message));
}

/** Writes `bytes` to a temporary file and returns `readText`'s promise and the path. */
async function withFile<T>(bytes: Uint8Array, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-enc-" });
  try {
    const path = join(dir, "data.txt");
    await Deno.writeFile(path, bytes);
    return await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const utf8 = (text: string) => new TextEncoder().encode(text);
const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

Deno.test("a UTF-8 byte-order mark at the start is dropped; U+FEFF elsewhere is kept", async () => {
  await withFile(utf8("\ufeffcafé \ufeff ok\n"), async (path) => {
    assert.equal(await readText(path), "café \ufeff ok\n");
  });
});

Deno.test("valid UTF-8 of every length reads unchanged", async () => {
  const text = "a é € 𝄞 \u00a0 \u2009 end\n";
  await withFile(utf8(text), async (path) => assert.equal(await readText(path), text));
});

Deno.test("a UTF-16 file is refused, naming it, the encoding and the iconv command", async () => {
  await assert.rejects(
    readLanguageModelData(join(BAD, "lm_utf16")),
    rejectsWith(
      /lm_utf16\/train\.txt" is UTF-16LE text \(it starts with a UTF-16LE byte-order mark\)/,
      /iconv -f UTF-16LE -t utf-8 '.*lm_utf16\/train\.txt'/,
    ),
  );
  // Without a byte-order mark, the NULs of ASCII characters give it away.
  const be = Uint8Array.from([..."label\ttext\n"].flatMap((c) => [0, c.charCodeAt(0)]));
  await withFile(be, async (path) => {
    await assert.rejects(
      readText(path),
      rejectsWith(/is UTF-16BE text without a byte-order mark/, /iconv -f UTF-16BE/),
    );
  });
  await withFile(Uint8Array.of(0xff, 0xfe, 0, 0, 0x61, 0, 0, 0), async (path) => {
    await assert.rejects(readText(path), rejectsWith(/is UTF-32LE text/));
  });
});

Deno.test("a Latin-1 file is refused with the line of the first bad byte", async () => {
  await assert.rejects(
    readClassificationData(join(BAD, "tsv_latin1")),
    rejectsWith(
      /tsv_latin1\/train\.tsv" is not UTF-8 \(byte 0xE9 on line 3 is invalid\)/,
      /looks like Latin-1 \(ISO-8859-1\) text/,
      /iconv -f latin1 -t utf-8 '.*train\.tsv' > '.*train\.tsv\.utf8'/,
    ),
  );
});

Deno.test("Windows-1252 quotes (bytes 0x80-0x9F) name Windows-1252", async () => {
  await withFile(latin1("ok\nit\x92s \x93quoted\x94\n"), async (path) => {
    await assert.rejects(
      readText(path),
      rejectsWith(/0x92 on line 2/, /looks like Windows-1252/, /iconv -f cp1252/),
    );
  });
});

Deno.test("overlong forms, surrogates, truncated sequences and NULs are refused", async () => {
  for (
    const bytes of [
      [0x61, 0xc0, 0xaf], // overlong "/"
      [0xed, 0xa0, 0x80], // a UTF-16 surrogate
      [0x61, 0xe2, 0x82], // cut short at the end
      [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    ]
  ) {
    await withFile(Uint8Array.from(bytes), async (path) => {
      await assert.rejects(readText(path), rejectsWith(/is not UTF-8/), bytes.join(" "));
    });
  }
  await withFile(utf8("binary\n\0\x01\x02 data"), async (path) => {
    await assert.rejects(readText(path), rejectsWith(/contains a NUL byte \(line 2\)/));
  });
});

Deno.test("an IMDB review that is not UTF-8 is refused by name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-enc-" });
  try {
    for (const split of ["train", "test"]) {
      for (const label of ["pos", "neg"]) {
        await Deno.mkdir(join(dir, "aclImdb", split, label), { recursive: true });
        await Deno.writeTextFile(join(dir, "aclImdb", split, label, "0_5.txt"), "fine");
      }
    }
    await Deno.writeFile(join(dir, "aclImdb", "train", "pos", "1_9.txt"), latin1("Tr\xe8s bien"));
    await assert.rejects(
      readImdb(dir),
      rejectsWith(/train\/pos\/1_9\.txt" is not UTF-8/, /Latin-1/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
