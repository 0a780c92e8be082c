/**
 * Vocabularies: the mapping between words and the integer ids a model sees.
 *
 * A vocabulary is built from the training text only, so that validation and
 * test scores measure what a model would do on unseen text. Its order is
 * deterministic (special tokens first, then descending frequency, ties broken
 * by first occurrence), so the same text and options always give the same
 * ids, and a saved model's embedding rows keep their meaning.
 *
 * A vocabulary is *open* when it contains {@link UNK}: unknown words map to
 * it. Otherwise it is *closed* and an unknown word is an error, because
 * silently dropping or remapping words would corrupt a perplexity.
 *
 * @module
 */

import { check, UserError } from "../spec/errors.ts";

/** The token unknown words map to in an open vocabulary. */
export const UNK = "<unk>";

/** Where a word was read, to name it in an error message. */
export interface SourceLocation {
  /** The file (or archive member) the word came from. */
  file: string;
  /** 1-based line number. */
  line: number;
}

/** How to build a vocabulary from counted training words. */
export interface VocabularyOptions {
  /**
   * The largest vocabulary, special tokens and {@link UNK} included. Setting
   * it makes the vocabulary open: rarer words map to `<unk>`.
   */
  maxSize?: number;
  /**
   * Words seen fewer times than this in training are left out. Setting it
   * makes the vocabulary open: those words map to `<unk>`.
   */
  minCount?: number;
  /**
   * Tokens that take the first ids, in this order, whether or not they occur
   * in the text (e.g. `["<pad>", "<unk>"]` for classification).
   */
  specials?: readonly string[];
}

/** An ordered list of distinct tokens and the index of each. */
export class Vocabulary {
  /** The tokens; a token's id is its index here. */
  readonly tokens: readonly string[];
  /** {@link UNK} for an open vocabulary, `null` for a closed one. */
  readonly unkToken: string | null;
  /** The id of {@link UNK}, or -1 for a closed vocabulary. */
  readonly unkId: number;
  readonly #index: Map<string, number>;

  /**
   * Wraps a list of distinct tokens. The vocabulary is open exactly when the
   * list contains {@link UNK}, which keeps a saved token list self-describing.
   */
  constructor(tokens: readonly string[]) {
    const index = new Map<string, number>();
    tokens.forEach((token, i) => {
      check(
        typeof token === "string" && token.length > 0,
        `vocabulary entry ${i} is not a non-empty string; the saved vocabulary is corrupt, rebuild it from the training data`,
      );
      check(
        !index.has(token),
        `vocabulary token "${token}" appears twice (ids ${
          index.get(token)
        } and ${i}); the saved vocabulary is corrupt, rebuild it from the training data`,
      );
      index.set(token, i);
    });
    check(
      tokens.length > 0,
      "the vocabulary is empty; build it from a training text with at least one word",
    );
    this.tokens = Object.freeze([...tokens]);
    this.#index = index;
    this.unkId = index.get(UNK) ?? -1;
    this.unkToken = this.unkId >= 0 ? UNK : null;
  }

  /**
   * Builds a vocabulary from word counts whose insertion order is the order
   * of first occurrence (as a `Map` filled while reading keeps it).
   */
  static fromCounts(
    counts: ReadonlyMap<string, number>,
    options: VocabularyOptions = {},
  ): Vocabulary {
    const { maxSize, minCount } = options;
    if (maxSize !== undefined) {
      check(
        Number.isInteger(maxSize) && maxSize >= 1,
        `maximum vocabulary size ${maxSize} is not a positive integer; pass a whole number such as 10000`,
      );
    }
    if (minCount !== undefined) {
      check(
        Number.isInteger(minCount) && minCount >= 1,
        `minimum word count ${minCount} is not a positive integer; pass a whole number such as 2`,
      );
    }
    const specials = [...(options.specials ?? [])];
    const open = maxSize !== undefined || minCount !== undefined;
    if (open && !specials.includes(UNK)) specials.unshift(UNK);
    if (maxSize !== undefined) {
      check(
        maxSize > specials.length,
        `maximum vocabulary size ${maxSize} leaves no room for words after the ${specials.length} special tokens (${
          specials.join(" ")
        }); raise it`,
      );
    }
    const reserved = new Set(specials);
    // Array.prototype.sort is stable, so equal counts keep first-occurrence order.
    const words = [...counts]
      .filter(([word, count]) => !reserved.has(word) && count >= (minCount ?? 1))
      .sort((a, b) => b[1] - a[1])
      .map(([word]) => word);
    const room = maxSize === undefined ? words.length : maxSize - specials.length;
    return new Vocabulary([...specials, ...words.slice(0, room)]);
  }

  /** Counts `words` and builds a vocabulary from them (see {@link Vocabulary.fromCounts}). */
  static build(
    words: Iterable<string>,
    options: VocabularyOptions = {},
  ): Vocabulary {
    const counts = new Map<string, number>();
    for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
    return Vocabulary.fromCounts(counts, options);
  }

  /** Restores a vocabulary saved with {@link Vocabulary.toJSON}. */
  static fromJSON(value: unknown): Vocabulary {
    check(
      Array.isArray(value),
      "the saved vocabulary is not a list of strings; the checkpoint or bundle is corrupt, re-export it",
    );
    return new Vocabulary(value as string[]);
  }

  /** Number of tokens. */
  get size(): number {
    return this.tokens.length;
  }

  /** Whether `word` has an id of its own. */
  has(word: string): boolean {
    return this.#index.has(word);
  }

  /** The id of `word`, or -1 when it has none (ignoring `<unk>`). */
  id(word: string): number {
    return this.#index.get(word) ?? -1;
  }

  /**
   * The id of `word`: its own, else `<unk>`'s in an open vocabulary. In a
   * closed vocabulary an unknown word throws a {@link UserError} naming it
   * and, when given, where it was read.
   */
  encode(word: string, where?: SourceLocation): number {
    const id = this.#index.get(word);
    if (id !== undefined) return id;
    if (this.unkId >= 0) return this.unkId;
    const place = where ? `${where.file}:${where.line}: ` : "";
    throw new UserError(
      `${place}word "${word}" is not in the vocabulary, which is closed (built from the training text, no ${UNK}); add it to the training text or use a vocabulary with ${UNK} (set a maximum size or minimum count)`,
    );
  }

  /** The token with id `id`. */
  decode(id: number): string {
    const token = this.tokens[id];
    if (token === undefined) {
      throw new RangeError(
        `token id ${id} is outside the vocabulary of ${this.size}`,
      );
    }
    return token;
  }

  /** The token list, which is all a vocabulary needs to be rebuilt. */
  toJSON(): string[] {
    return [...this.tokens];
  }
}
