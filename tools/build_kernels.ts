/**
 * Builds src/engine/kernels.wasm from src/engine/kernels.c with clang and
 * wasm-ld (Debian: `apt-get install clang lld`).
 *
 *     deno task build:kernels           # rebuild and write kernels.wasm
 *     deno task build:kernels --check   # rebuild into a temp file; exit 1 if it differs
 *
 * The build is reproducible: no debug information, sources named by a
 * relative path, so the same clang gives the same bytes.
 *
 * @module
 */

const ENGINE = new URL("../src/engine/", import.meta.url).pathname;
const OUTPUT = `${ENGINE}kernels.wasm`;

/** clang arguments, run in src/engine/. */
export const CLANG_ARGS: string[] = [
  "--target=wasm32",
  "-O3",
  "-g0",
  "-msimd128",
  "-matomics",
  "-mbulk-memory",
  // Each Worker sets its own stack pointer (an exported mutable global).
  "-mmutable-globals",
  "-nostdlib",
  "-ffreestanding",
  "-Wall",
  "-Wextra",
  "-Werror",
  // Shared imported memory, so Web Workers can run kernels on the same buffers.
  "-Wl,--no-entry,--import-memory,--shared-memory,--max-memory=4294967296",
  // The TypeScript side allocates buffers from __heap_base upwards, and gives
  // every thread but the first a stack of its own.
  "-Wl,--export=__heap_base,--export=__stack_pointer,-z,stack-size=65536",
  "kernels.c",
];

async function clang(output: string): Promise<void> {
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command("clang", {
      args: [...CLANG_ARGS, "-o", output],
      cwd: ENGINE,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error("clang not found: install clang and lld (Debian: apt-get install clang lld)");
    }
    throw e;
  }
  if (!result.success) throw new Error(`clang failed (exit ${result.code}) building kernels.c`);
}

/** The clang named in a module's producers section ("processed-by clang 14.0.6"), if any. */
function producer(wasm: Uint8Array): string {
  const text = new TextDecoder("latin1").decode(wasm);
  const version = /processed-by[\s\S]*?clang[\s\S]([0-9]+\.[0-9]+\.[0-9]+)/.exec(text)?.[1];
  return version ? `clang ${version}` : "an unknown clang";
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function main(args: string[]): Promise<number> {
  const check = args.includes("--check");
  const temp = await Deno.makeTempFile({ dir: ENGINE, prefix: ".kernels-", suffix: ".wasm" });
  try {
    await clang(temp);
    if (check) {
      const built = await Deno.readFile(temp);
      let committed = new Uint8Array();
      try {
        committed = await Deno.readFile(OUTPUT);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      if (!same(built, committed)) {
        const [mine, theirs] = [producer(built), producer(committed)];
        console.error(
          mine === theirs
            ? "src/engine/kernels.wasm is out of date with kernels.c: run `deno task build:kernels` and commit it"
            : `src/engine/kernels.wasm differs from this build, but it was built with ${theirs} and this is ${mine}: check with that clang`,
        );
        return 1;
      }
      console.log("src/engine/kernels.wasm matches kernels.c");
      return 0;
    }
    await Deno.chmod(temp, 0o644);
    await Deno.rename(temp, OUTPUT);
    console.log(`wrote src/engine/kernels.wasm (${(await Deno.stat(OUTPUT)).size} bytes)`);
    return 0;
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(1);
  }
}
