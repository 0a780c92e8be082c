/**
 * The parts of metadata.json that let someone run a bundle without reading
 * sparrow's code or docs: the graph's inputs and outputs, and the rule that
 * turns text into token ids.
 *
 * @module
 */

import type { ModelConfig } from "../src/spec/config.ts";
import type { Checkpoint } from "../src/spec/checkpoint.ts";
import type { BundleMetadata, TensorDescription } from "../src/infer/bundle.ts";
import { UNK } from "../src/data/vocab.ts";
import { isCharTokenizer } from "../src/data/chars.ts";

/** The inputs and outputs of the graph `export/onnx_model.ts` builds for `model`. */
export function describeIo(model: ModelConfig): BundleMetadata["io"] {
  const L = model.layers;
  const H = model.hiddenSize;
  const state = (name: string, description: string): TensorDescription => ({
    name,
    dtype: "float32",
    shape: [L, "batch", H],
    description,
  });
  const tokens: TensorDescription = {
    name: "tokens",
    dtype: "int64",
    shape: ["seq_len", "batch"],
    description: "token ids (line numbers of vocab.json, from 0), time-major",
  };
  // A GRU has no cell state; an RHN keeps the LSTM's state_c and passes it through.
  const cellState = model.cell !== "gru";
  const withCell = (values: TensorDescription[]) =>
    values.filter((v) => cellState || !v.name.startsWith("state_c"));
  if (model.kind === "lm") {
    return {
      inputs: withCell([
        tokens,
        state("state_h", "hidden state of each layer before the first step; zeros to start"),
        state("state_c", "cell state of each layer before the first step; zeros to start"),
      ]),
      outputs: withCell([
        {
          name: "logits",
          dtype: "float32",
          shape: ["seq_len", "batch", model.vocabSize],
          description:
            "unnormalised scores of the next token after each step; softmax over the last axis gives its probabilities",
        },
        state("state_h_out", "hidden state after the last step; feed it as state_h to continue"),
        state("state_c_out", "cell state after the last step; feed it as state_c to continue"),
      ]),
    };
  }
  return {
    inputs: withCell([
      { ...tokens, description: `${tokens.description}, padded to the longest sequence` },
      {
        name: "lengths",
        dtype: "int32",
        shape: ["batch"],
        description: "number of valid steps of each sequence, 1 to seq_len",
      },
      state("state_h", "initial hidden state; zeros"),
      state("state_c", "initial cell state; zeros"),
    ]),
    outputs: [{
      name: "logits",
      dtype: "float32",
      shape: ["batch", model.numClasses],
      description:
        "unnormalised class scores, in the order of `labels`; softmax gives the probabilities",
    }],
  };
}

/** The tokenizer's rule in words, from the settings saved at training. */
export function textRule(kind: ModelConfig["kind"], meta: Checkpoint["meta"]): string {
  const unknown = meta.vocab.includes(UNK)
    ? `a word not in vocab.json becomes ${UNK}`
    : "the vocabulary is closed: a word not in vocab.json cannot be encoded";
  if (kind === "lm" && isCharTokenizer(meta.tokenizer)) {
    return "each character (a Unicode code point; \\r\\n counts as \\n) is a token, spaces and " +
      "newlines included, with no <eos>; " + unknown.replace(/word/g, "character");
  }
  if (kind === "lm") {
    return "split each line on whitespace, keep case, append <eos> after each line's words; " +
      unknown;
  }
  const settings = meta.tokenizer ?? {};
  const steps = [
    settings.lowercase ? "lowercase" : "keep case",
    ...(settings.htmlBreaks ? ["replace <br>, <br/> and <br /> (any case) by a space"] : []),
    "take as tokens the runs of letters, digits and combining marks (an apostrophe ' or \u2019 " +
    "may join two runs: don't) and every other non-space character on its own",
    ...(typeof settings.maxLength === "number"
      ? [`keep the ${settings.keep === "last" ? "last" : "first"} ${settings.maxLength} tokens`]
      : []),
    unknown,
  ];
  return steps.join("; ");
}
