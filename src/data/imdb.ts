/**
 * The IMDB Large Movie Review Dataset (Maas et al. 2011), read either from
 * the official `aclImdb_v1.tar.gz` as downloaded or from its extracted
 * `aclImdb/` directory. Reviews are `aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`;
 * everything else in the archive (the unlabelled `unsup/` reviews, bag-of-words
 * features, URL lists) is ignored.
 *
 * Both sources give identical data: reviews are ordered by split, label and
 * numeric id, not by the order they are stored in.
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../spec/errors.ts";
import {
  ClassificationBuilder,
  type ClassificationData,
  type ClassificationOptions,
} from "./classification.ts";
import { decodeText } from "./encoding.ts";
import { exists } from "./files.ts";
import { readTarGz } from "./tar.ts";

/** The archive's file name, searched for inside a directory. */
export const IMDB_ARCHIVE = "aclImdb_v1.tar.gz";

const SPLITS = ["train", "test"] as const;
const LABELS = ["neg", "pos"] as const;
const REVIEW = /(?:^|\/)(train|test)\/(pos|neg)\/(\d+)_(\d+)\.txt$/;

/**
 * Reads IMDB from `path`: the `.tar.gz` itself, an extracted `aclImdb/`
 * directory (holding `train/` and `test/`), or a directory containing either.
 * Labels are `neg` (id 0) and `pos` (id 1); there is no validation split.
 */
export async function readImdb(
  path: string,
  options: ClassificationOptions = {},
): Promise<ClassificationData> {
  const source = await locate(path);
  const builder = new ClassificationBuilder(options);
  const add = (member: string, where: string, bytes: Uint8Array) => {
    const match = REVIEW.exec(member)!;
    const [, split, label, id] = match;
    builder.add(
      split as "train" | "test",
      label,
      decodeText(bytes, where),
      { file: where, line: 1 },
      `${label}/${id.padStart(12, "0")}`,
    );
  };
  if (source.kind === "archive") {
    const wanted = (name: string) => REVIEW.test(name);
    for await (const file of readTarGz(source.path, wanted)) {
      add(file.name, `${source.path}(${file.name})`, file.data);
    }
  } else {
    for (const split of SPLITS) {
      for (const label of LABELS) {
        const dir = join(source.path, split, label);
        if (!(await exists(dir))) continue;
        for await (const entry of Deno.readDir(dir)) {
          const member = `${split}/${label}/${entry.name}`;
          if (!entry.isFile || !REVIEW.test(member)) continue;
          const file = join(dir, entry.name);
          add(member, file, await Deno.readFile(file));
        }
      }
    }
  }
  return builder.finish(source.path);
}

async function locate(
  path: string,
): Promise<{ kind: "archive" | "directory"; path: string }> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(
        `IMDB data "${path}" does not exist; pass ${IMDB_ARCHIVE} or the extracted aclImdb directory`,
      );
    }
    throw err;
  }
  if (info.isFile) return { kind: "archive", path };
  const isExtracted = async (dir: string) =>
    (await exists(join(dir, "train"))) && (await exists(join(dir, "test")));
  if (await isExtracted(path)) return { kind: "directory", path };
  if (await isExtracted(join(path, "aclImdb"))) {
    return { kind: "directory", path: join(path, "aclImdb") };
  }
  if (await exists(join(path, IMDB_ARCHIVE))) {
    return { kind: "archive", path: join(path, IMDB_ARCHIVE) };
  }
  throw new UserError(
    `no IMDB data in "${path}": looked for train/ and test/, aclImdb/ and ${IMDB_ARCHIVE}; pass the archive or the extracted aclImdb directory`,
  );
}
