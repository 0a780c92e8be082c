/**
 * Datasets: vocabularies, the word-level language-model reader (PTB layout)
 * with its batching, the classification tokenizer, reader and batching, and
 * the IMDB loader. See docs/data.md for the file formats.
 *
 * @module
 */

export { type SourceLocation, UNK, Vocabulary, type VocabularyOptions } from "./vocab.ts";
export {
  type Batchified,
  batchify,
  type BpttWindow,
  bpttWindows,
  EOS,
  type LanguageModelData,
  lmFileNames,
  type LmFiles,
  type LmOptions,
  type LmSplit,
  readLanguageModelData,
  readLanguageModelFiles,
  windowCount,
} from "./lm.ts";
export {
  DEFAULT_TEXT_SETTINGS,
  parseTextSettings,
  splitWords,
  type TextSettings,
  tokenize,
  WHITESPACE,
} from "./text.ts";
export { decodeText } from "./encoding.ts";
export {
  batchCount,
  CLASSIFICATION_SPECIALS,
  type ClassificationBatch,
  classificationBatches,
  ClassificationBuilder,
  type ClassificationData,
  type ClassificationFiles,
  type ClassificationOptions,
  type ClassificationSplit,
  type ClassificationSplitName,
  describeClassificationData,
  MIN_CLASS_EXAMPLES,
  PAD,
  readClassificationData,
  readClassificationFiles,
} from "./classification.ts";
export { IMDB_ARCHIVE, readImdb } from "./imdb.ts";
export { readTar, readTarGz, type TarFile } from "./tar.ts";
