/**
 * Character-level language-model data (`--unit char`): raw text read as a
 * stream of characters, spaces and newlines included, as in the character
 * PTB (`ptb.char.train.txt`) or enwik8 setups. A character is a Unicode code
 * point; `\r\n` counts as one newline. There is no `<eos>`: the newline is
 * a character like any other. The vocabulary is the training text's
 * characters, by descending count; when valid or test hold a character that
 * train lacks, `<unk>` is added (at id 0) and such characters map to it.
 *
 * @module
 */

import { check } from "../spec/errors.ts";
import type { LanguageModelData, LmFiles } from "./lm.ts";
import { Vocabulary } from "./vocab.ts";

/** The tokenizer record a character model saves, so export and inference read text the same way. */
export const CHAR_TOKENIZER: Readonly<{ scheme: "chars" }> = Object.freeze({ scheme: "chars" });

/** Whether a saved tokenizer record says the model reads characters. */
export function isCharTokenizer(tokenizer: Record<string, unknown> | undefined): boolean {
  return tokenizer?.scheme === CHAR_TOKENIZER.scheme;
}

/** The characters of `text`, by code point, with `\r\n` read as `\n`. */
export function charTokens(text: string): string[] {
  return Array.from(text.replace(/\r\n/g, "\n"));
}

/** The texts of each split, and the files they came from (for messages and the record). */
export function charLanguageModelData(
  texts: { train: string; valid: string; test?: string },
  files: LmFiles,
): LanguageModelData {
  const train = charTokens(texts.train);
  const valid = charTokens(texts.valid);
  const test = texts.test === undefined ? undefined : charTokens(texts.test);
  check(
    train.length >= 2,
    `file "${files.train}" has fewer than two characters; give it some text`,
  );
  check(
    valid.length >= 2,
    `file "${files.valid}" has fewer than two characters; give it some text`,
  );
  const counts = new Map<string, number>();
  for (const c of train) counts.set(c, (counts.get(c) ?? 0) + 1);
  const unseen = [...valid, ...(test ?? [])].some((c) => !counts.has(c));
  // minCount 1 keeps every training character and adds <unk> for the others.
  const vocab = Vocabulary.fromCounts(counts, unseen ? { minCount: 1 } : {});
  const encode = (chars: string[]) => {
    const ids = new Int32Array(chars.length);
    let unknown = 0;
    chars.forEach((c, i) => {
      const id = vocab.id(c);
      if (id < 0) unknown++;
      ids[i] = id < 0 ? vocab.unkId : id;
    });
    return { ids, unknown };
  };
  const [tr, va, te] = [encode(train), encode(valid), test && encode(test)];
  return {
    vocab,
    files,
    train: tr.ids,
    valid: va.ids,
    ...(te ? { test: te.ids } : {}),
    unknownWords: { train: tr.unknown, valid: va.unknown, ...(te ? { test: te.unknown } : {}) },
  };
}

/** Bits per character from a mean loss in nats per character: `ln(ppl) / ln 2`. */
export function bitsPerCharacter(natsPerChar: number): number {
  return natsPerChar / Math.LN2;
}
