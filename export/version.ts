/**
 * The package version (deno.json `version`), recorded as the ONNX
 * `producer_version` and in a bundle's metadata.
 *
 * @module
 */

import config from "../deno.json" with { type: "json" };

/** sparrow's version, as deno.json states it. */
export const SPARROW_VERSION: string = config.version;
