/**
 * Applies a `--preset` (src/train/presets.ts) to the train command's flags:
 * each setting of the preset becomes the value of its flag unless that flag
 * was given on the command line.
 *
 * @module
 */

import type { Command } from "commander";
import { methodPreset } from "../src/core/methods.ts";
import { UserError } from "../src/spec/errors.ts";
import { PRESET_SETTING_FLAGS, presetEntries, PRESETS } from "../src/train/presets.ts";

// deno-lint-ignore no-explicit-any
type Flags = Record<string, any>;

/**
 * `flags` with the settings of `flags.preset` in place of every flag that
 * `wasGiven` says was not on the command line. The preset's sparse-topology
 * settings (ε, a sparse embedding) apply only to methods that train sparse,
 * and its ε gives way to a `--sparsity` given. Throws a UserError naming
 * every setting the preset needs that this build has no flag (or no such
 * choice) for.
 */
export function applyPreset(
  command: Command,
  flags: Flags,
  wasGiven: (name: string) => boolean,
): Flags {
  if (flags.preset === undefined) return flags;
  const preset = PRESETS[flags.preset];
  if (!preset) {
    throw new UserError(
      `--preset ${flags.preset} is not a preset; use one of ${Object.keys(PRESETS).join(", ")}`,
    );
  }
  const out = { ...flags };
  const missing: string[] = [];
  for (const [path, value] of presetEntries(preset.settings)) {
    const flag = PRESET_SETTING_FLAGS[path];
    const option = command.options.find((o) => o.long === flag);
    if (!option) {
      missing.push(`${flag ?? path} ${value}`);
      continue;
    }
    const choices = option.argChoices;
    if (choices && !choices.includes(String(value))) {
      missing.push(`${flag} ${value}`);
      continue;
    }
    const name = option.attributeName();
    if (wasGiven(name)) continue;
    if (path.startsWith("sparse.") && !trainsSparse(out.method)) continue;
    if (path === "sparse.epsilon" && wasGiven("sparsity")) continue;
    out[name] = value;
  }
  if (missing.length > 0) {
    throw new UserError(
      `--preset ${flags.preset} sets ${missing.join(", ")}, which this build of sparrow has no ` +
        "flag for; pass the settings it has by hand, or use a build with them",
    );
  }
  return out;
}

function trainsSparse(method: string | undefined): boolean {
  return method === undefined || methodPreset(method).kind === "dynamic";
}
