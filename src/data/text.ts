/**
 * The tokenizer for classification text (reviews, sentences): optionally
 * lowercase, turn HTML line breaks (`<br />`, as in IMDB reviews) into
 * spaces, then split into words and punctuation marks.
 *
 * A word is a run of letters, digits and combining marks, with apostrophes
 * allowed inside it so contractions stay whole (`don't`, `it's`). Every
 * other character except ASCII whitespace ({@link WHITESPACE}) is a token
 * on its own (`!`, `,`, `-`, `(`, and also U+00A0 or U+FEFF).
 *
 * The settings are a plain object saved with a model, so inference tokenises
 * text exactly as training did.
 *
 * @module
 */

import { check } from "../spec/errors.ts";

/** How text is tokenised. */
export interface TextSettings {
  /** The tokenizer; only `"words"` (described in this module) exists. */
  scheme: "words";
  /** Lowercase before splitting. */
  lowercase: boolean;
  /** Replace `<br>`, `<br/>` and `<br />` (any case) by a space. */
  htmlBreaks: boolean;
}

/** The settings used unless a caller chooses others. */
export const DEFAULT_TEXT_SETTINGS: Readonly<TextSettings> = Object.freeze({
  scheme: "words",
  lowercase: true,
  htmlBreaks: true,
});

/**
 * The characters that separate words: ASCII whitespace (space, `\t`, `\n`,
 * `\v`, `\f`, `\r`), as C's `isspace` and the tools that produced the
 * published corpus statistics split. JavaScript's `\s` also matches U+FEFF,
 * U+00A0 and other Unicode spaces; those are text here, so that a corpus
 * gives the same tokens (and counts) as everywhere else.
 */
export const WHITESPACE: RegExp = /[ \t\n\v\f\r]+/;

const BREAK_TAG = /<br[ \t\n\v\f\r]*\/?>/gi;
const TOKEN = /[\p{L}\p{N}\p{M}]+(?:['\u2019][\p{L}\p{N}\p{M}]+)*|[^ \t\n\v\f\r\p{L}\p{N}\p{M}]/gu;

/**
 * Splits `text` into its whitespace-separated words ({@link WHITESPACE}),
 * the rule of word-level language-model corpora such as PTB and WikiText.
 */
export function splitWords(text: string): string[] {
  return text.split(WHITESPACE).filter((word) => word.length > 0);
}

/** Whether `text` is empty or only {@link WHITESPACE}. */
export function isBlank(text: string): boolean {
  return /^[ \t\n\v\f\r]*$/.test(text);
}

/** `text` without leading and trailing {@link WHITESPACE}. */
export function trimWhitespace(text: string): string {
  return text.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, "");
}

/** Splits `text` into tokens as {@link TextSettings} describe. */
export function tokenize(
  text: string,
  settings: Readonly<TextSettings> = DEFAULT_TEXT_SETTINGS,
): string[] {
  let prepared = settings.lowercase ? text.toLowerCase() : text;
  if (settings.htmlBreaks) prepared = prepared.replace(BREAK_TAG, " ");
  return prepared.match(TOKEN) ?? [];
}

/**
 * Validates settings read back from a saved model, so a corrupt or newer
 * file fails with a clear message instead of tokenising differently.
 */
export function parseTextSettings(value: unknown): TextSettings {
  const fix = "the saved model is corrupt or from a newer version; re-export it";
  check(
    typeof value === "object" && value !== null,
    `tokenizer settings are not an object; ${fix}`,
  );
  const settings = value as Record<string, unknown>;
  check(
    settings.scheme === "words",
    `unknown tokenizer scheme ${JSON.stringify(settings.scheme)}; ${fix}`,
  );
  check(
    typeof settings.lowercase === "boolean" &&
      typeof settings.htmlBreaks === "boolean",
    `tokenizer settings need boolean "lowercase" and "htmlBreaks"; ${fix}`,
  );
  return {
    scheme: "words",
    lowercase: settings.lowercase,
    htmlBreaks: settings.htmlBreaks,
  };
}
