import assert from "node:assert/strict";
import { join } from "node:path";
import { UserError } from "../../src/spec/errors.ts";
import { readTar, readTarGz } from "../../src/data/tar.ts";

const encoder = new TextEncoder();

/** Writes `value` as zero-padded octal with a NUL into `length` bytes. */
function octal(header: Uint8Array, at: number, length: number, value: number) {
  header.set(encoder.encode(value.toString(8).padStart(length - 1, "0")), at);
}

/** One ustar header block plus the padded body. */
function entry(
  name: string,
  body: Uint8Array | string,
  type = "0",
  prefix = "",
): Uint8Array {
  const data = typeof body === "string" ? encoder.encode(body) : body;
  const header = new Uint8Array(512);
  header.set(encoder.encode(name), 0);
  octal(header, 100, 8, 0o644);
  octal(header, 108, 8, 0);
  octal(header, 116, 8, 0);
  octal(header, 124, 12, data.length);
  octal(header, 136, 12, 0);
  header[156] = type.charCodeAt(0);
  header.set(encoder.encode("ustar\u000000"), 257);
  header.set(encoder.encode(prefix), 345);
  header.fill(0x20, 148, 156);
  const sum = header.reduce((a, b) => a + b, 0);
  octal(header, 148, 7, sum);
  header[155] = 0x20;
  const out = new Uint8Array(512 + Math.ceil(data.length / 512) * 512);
  out.set(header);
  out.set(data, 512);
  return out;
}

function paxRecord(key: string, value: string): string {
  // The length counts the whole record, its own digits included.
  const rest = ` ${key}=${value}\n`;
  let length = rest.length + 1;
  while (`${length}${rest}`.length !== length) length++;
  return `${length}${rest}`;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function streamOf(
  bytes: Uint8Array,
  chunk = 100,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = streamOf(bytes, 4096).pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const LONG = `dir/${"x".repeat(150)}.txt`;
const big = Uint8Array.from({ length: 513 }, (_, i) => i % 251);
const ARCHIVE = concat([
  entry("top/", "", "5"),
  entry("top/a.txt", "alpha"),
  entry("top/empty.txt", ""),
  entry("top/big.bin", big),
  entry("top/link", "", "2"),
  entry("name.txt", "split path", "0", "very/deep/prefix"),
  entry("././@LongLink", `${LONG}\0`, "L"),
  entry("truncated-name", "gnu long name"),
  entry("PaxHeader", paxRecord("path", "pax/ñame.txt"), "x"),
  entry("pax-short", "pax body"),
  new Uint8Array(1024),
]);

async function collect(stream: AsyncIterable<{ name: string; data: Uint8Array }>) {
  const files = new Map<string, Uint8Array>();
  for await (const file of stream) files.set(file.name, file.data);
  return files;
}

Deno.test("reads regular files, prefixes, GNU long names and pax paths", async () => {
  const files = await collect(readTar(streamOf(ARCHIVE), "test.tar"));
  assert.deepEqual([...files.keys()], [
    "top/a.txt",
    "top/empty.txt",
    "top/big.bin",
    "very/deep/prefix/name.txt",
    LONG,
    "pax/ñame.txt",
  ]);
  const text = (name: string) => new TextDecoder().decode(files.get(name));
  assert.equal(text("top/a.txt"), "alpha");
  assert.equal(files.get("top/empty.txt")!.length, 0);
  assert.deepEqual(files.get("top/big.bin"), big);
  assert.equal(text(LONG), "gnu long name");
  assert.equal(text("pax/ñame.txt"), "pax body");
});

Deno.test("unwanted members are skipped and gzip archives are read from disk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-tar-" });
  try {
    const path = join(dir, "test.tar.gz");
    await Deno.writeFile(path, await gzip(ARCHIVE));
    const files = await collect(
      readTarGz(path, (name) => name.endsWith(".bin")),
    );
    assert.deepEqual([...files.keys()], ["top/big.bin"]);
    assert.deepEqual(files.get("top/big.bin"), big);
    // Stopping early must release the file (the test sanitizer checks).
    for await (const file of readTarGz(path)) {
      assert.equal(file.name, "top/a.txt");
      break;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("matches archives written by the system tar (gnu and pax formats)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sparrow-tar-" });
  try {
    const deep = `src/${"d".repeat(120)}/${"f".repeat(90)}.txt`;
    await Deno.mkdir(join(dir, deep, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, deep), "deep");
    await Deno.writeTextFile(join(dir, "src/short.txt"), "short\n");
    for (const format of ["gnu", "pax"]) {
      const archive = join(dir, `${format}.tar.gz`);
      const { code, stderr } = await new Deno.Command("tar", {
        args: [`--format=${format}`, "-czf", archive, "-C", dir, "src"],
      }).output();
      assert.equal(code, 0, new TextDecoder().decode(stderr));
      const files = await collect(readTarGz(archive));
      assert.equal(new TextDecoder().decode(files.get(deep)), "deep", format);
      assert.equal(new TextDecoder().decode(files.get("src/short.txt")), "short\n");
      assert.equal(files.size, 2, format);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("errors: truncated archive, bad checksum, not gzip, missing file", async () => {
  await assert.rejects(
    collect(readTar(streamOf(ARCHIVE.slice(0, 2000)), "cut.tar")),
    (err: unknown) => err instanceof UserError && /"cut\.tar" ends in the middle/.test(err.message),
  );
  const corrupt = ARCHIVE.slice();
  corrupt[0] ^= 1;
  await assert.rejects(
    collect(readTar(streamOf(corrupt), "bad.tar")),
    /"bad\.tar" is not a tar archive or is corrupt/,
  );
  const dir = await Deno.makeTempDir({ prefix: "sparrow-tar-" });
  try {
    const path = join(dir, "plain.tar.gz");
    await Deno.writeFile(path, ARCHIVE);
    await assert.rejects(collect(readTarGz(path)), /could not be decompressed/);
    await assert.rejects(
      collect(readTarGz(join(dir, "missing.tar.gz"))),
      /missing\.tar\.gz" does not exist/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
