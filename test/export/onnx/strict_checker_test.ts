/**
 * Every export mode against onnx's own strict checker
 * (`onnx.checker.check_model(full_check=True)`, which runs shape inference).
 * It needs Python with the `onnx` package: `python3`, or the interpreter
 * named by `SPARROW_PYTHON`. Without one the test is reported as ignored.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  buildOnnxModel,
  COMPUTE_MODES,
  STORAGE_CHOICES,
  VALUE_PRECISIONS,
} from "../../../export/onnx_model.ts";
import { randomWeights, TINY_LM, tinyClassifier } from "../helpers.ts";

const PYTHON = Deno.env.get("SPARROW_PYTHON") ?? "python3";

async function hasOnnx(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(PYTHON, {
      args: ["-c", "import onnx"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

const CHECK = `
import glob, sys, onnx
for path in sorted(glob.glob(sys.argv[1] + "/*.onnx")):
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
    except Exception as error:
        print(path.rsplit("/", 1)[1], str(error).splitlines()[0])
`;

Deno.test({
  name: "every export mode passes onnx's strict checker (needs Python with onnx)",
  ignore: !(await hasOnnx()),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sparrow-strict-" });
    try {
      let count = 0;
      for (const config of [TINY_LM, tinyClassifier(2)]) {
        const weights = randomWeights(config, 0.3, 1, 0.4);
        for (const compute of COMPUTE_MODES) {
          for (const storage of STORAGE_CHOICES) {
            for (const values of VALUE_PRECISIONS) {
              const name = `${config.kind}-${compute}-${storage}-${values}.onnx`;
              const bytes = buildOnnxModel(config, weights, { compute, storage, values });
              await Deno.writeFile(join(dir, name), bytes);
              count++;
            }
          }
        }
      }
      const output = await new Deno.Command(PYTHON, { args: ["-c", CHECK, dir] }).output();
      const failures = new TextDecoder().decode(output.stdout).trim();
      assert.ok(output.success, new TextDecoder().decode(output.stderr));
      assert.equal(failures, "", `of ${count} models:\n${failures}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
