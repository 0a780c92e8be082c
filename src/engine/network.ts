/**
 * The CPU engine's network: both model kinds (../spec/config.ts) with an
 * explicit forward and backward pass over CSR weights, one kernel call per
 * layer and direction (./kernels.ts). Activations are feature-major
 * `[F][T·B]`; see the layouts there.
 *
 * Forward: embedding → dropout → LSTM, GRU or RHN layers (dropout after each) → decoder
 * → softmax cross-entropy (LM: every step; classifier: the last real step).
 * Backward runs the same path in reverse and leaves the gradient of the
 * mean loss in each parameter's `grad`, at its stored entries only. An RHN
 * layer runs in ./rhn.ts; its state rides in `h` (its `c` stays zero).
 *
 * @module
 */

import { dropoutMaskFeatureMajor } from "../core/dropout.ts";
import { type Confusion, countConfusion } from "../core/metrics.ts";
import { applySequenceMask, applyWordMask, variationalSeed } from "../core/variational_dropout.ts";
import {
  gateCount,
  type ModelConfig,
  outputSize,
  paramSpecs,
  recurrenceDepth,
  sizeOf,
  tiedDecoder,
  variationalRates,
} from "../spec/config.ts";
import type { HostParams } from "../spec/params.ts";
import type { Csr, Kernels, LstmCache, Strided } from "./kernels.ts";
import type { WasmKernels } from "./wasm.ts";
import { csrPattern, gather, type Orientation, scatter, specIndices } from "./layout.ts";
import { type RhnCache, rhnGradientSites, type RhnShape, type RhnWeights } from "./rhn.ts";

/** One parameter as the engine holds it. */
export interface EngineParam {
  name: string;
  /** Spec-layout shape. */
  shape: number[];
  /** The stored entries of a matrix; biases have none. */
  csr?: Csr;
  orientation?: Orientation;
  /** Spec-layout index of each stored value (matrices). */
  index?: Int32Array;
  /** The stored values: `csr.values` or the bias. */
  values: Float32Array;
  grad: Float32Array;
  /** Masked-dense matrices: 1 or 0 per stored value, re-applied after each update. */
  keep?: Float32Array;
}

/** One batch: time-major `[T][B]` tokens, i.e. column `t·B + b`. */
export interface EngineBatch {
  tokens: Int32Array;
  T: number;
  B: number;
  /** Next-token targets `[T·B]` (LM) or class ids `[B]` (classifier). */
  targets: Int32Array;
  /** Real tokens per sequence (classifier). */
  lengths?: Int32Array;
}

/** Per-layer recurrent state, each `[H][B]`, carried across LM windows. */
export interface RecurrentStates {
  h: Float32Array[];
  c: Float32Array[];
}

/** Dropout of one training step (`undefined` at evaluation). */
export interface EngineDropout {
  rate: number;
  seed: number;
}

/**
 * Where a batch computed by one thread sits in the whole batch: sequences
 * `[offset, offset + size)` of `batch`. Dropout masks follow the whole
 * batch's columns, and the loss is the whole batch's mean.
 */
export interface BatchSlice {
  offset: number;
  size: number;
  batch: number;
}

/** A parameter's storage as byte addresses, for a replica in another thread. */
export interface SharedParam {
  name: string;
  shape: number[];
  orientation?: Orientation;
  csr?: { rows: number; cols: number; rowPtr: number; colIdx: number; nnz: number };
  values: number;
  length: number;
  keep?: number;
}

/** How parameters become engine storage. */
export interface NetworkInit {
  params: HostParams;
  /** Masks of the sparse parameters (spec layout). */
  masks: ReadonlyMap<string, Uint8Array>;
  /**
   * Store only a mask's nonzeros (sparse training); otherwise every entry,
   * with the mask re-applied after each update (dense gradients, SNFS).
   */
  storeNonzerosOnly: boolean;
}

interface LayerBuffers {
  /** The initial state (copied, since the caller's state becomes the final one). */
  h0: Float32Array;
  c0: Float32Array;
  /**
   * The input projection plus bias, `[gates·H][N]` (RHN: micro-layer 0's
   * `[2H][N]`); it is dead once the forward pass has used it, so it shares its
   * buffer with `dz`.
   */
  zx: Float32Array;
  /** LSTM and GRU: every step's output `[H][N]`; RHN: unused. */
  h: Float32Array;
  /** A GRU's cache is `gates` alone (`[4H][N]`, see ./kernels.ts GruCache). */
  cache: LstmCache;
  /** RHN: states and activations of every micro-layer (empty for other cells). */
  rhn: RhnCache;
  /** The layer's output `[H][N]` in the current pass: `h`, or the RHN's last micro-layer. */
  out: Float32Array;
  hT: Float32Array;
  cT: Float32Array;
  /**
   * Gradients of the pre-activations: `[gates·H][N]`, RHN `[D][2H][N]`
   * (micro-layer 0 first).
   */
  dz: Float32Array;
  /** GRU: the gradient of the recurrent pre-activations, `[3H][N]`. */
  da: Float32Array;
  /** Dropout mask of this layer's output (`[H][N]`) and the dropped output (LM with dropout). */
  dropMask: Float32Array;
  dropped: Float32Array;
  /** The layer's input `[in][N]` in the current pass (after any input dropout). */
  in: Float32Array;
  /** Variational input dropout: its mask and the dropped input, `[in][N]`. */
  inMask: Float32Array;
  inDropped: Float32Array;
  /** Variational hidden dropout of an RHN, `[H][B]`. */
  hiddenMask: Float32Array;
  /** Gradient at the layer's input, `[in][N]`. */
  dx: Float32Array;
}

/** Which dropout masks a training pass applies (each may combine plain and variational). */
interface DropPlan {
  embed: boolean;
  input: boolean;
  hidden: boolean;
  output: boolean;
}

/** A weight gradient's operands, kept for dense gradients after a step (RigL). */
interface GradientSite {
  param: EngineParam;
  dy: Strided;
  x: Strided;
  N: number;
}

/** Every activation and gradient buffer of a step of `N` columns and `B` sequences. */
function allocateBuffers(k: Kernels, model: ModelConfig, N: number, B: number) {
  const { embedSize: E, hiddenSize: H, layers } = model;
  const rhn = model.cell === "rhn";
  const D = recurrenceDepth(model);
  const V = outputSize(model);
  const lm = model.kind === "lm";
  // Dropout buffers only where a step can drop: memory is what limits large models.
  const v = variationalRates(model);
  const embedDrop = model.dropout > 0 || (v?.embedding ?? 0) > 0;
  const outDrop = lm && (model.dropout > 0 || (v?.output ?? 0) > 0);
  const inDrop = (v?.input ?? 0) > 0;
  const hiddenDrop = rhn && (v?.hidden ?? 0) > 0;
  const none = k.f32(0);
  return {
    tokens: k.i32(N),
    targets: k.i32(lm ? N : B),
    predicted: k.i32(lm ? N : B),
    stepMask: k.f32(N),
    embedded: k.f32(E * N),
    embedMask: embedDrop ? k.f32(E * N) : none,
    layers: Array.from({ length: layers }, (_, l): LayerBuffers => {
      const gru = model.cell === "gru";
      const dz = k.f32((rhn ? D * 2 : gateCount(model.cell)) * H * N);
      const h = rhn ? none : k.f32(H * N);
      return {
        h0: k.f32(H * B),
        c0: k.f32(H * B),
        zx: dz,
        h,
        cache: rhn
          ? { gates: none, c: none, tanhC: none }
          : gru
          ? { gates: k.f32(4 * H * N), c: none, tanhC: none }
          : { gates: k.f32(4 * H * N), c: k.f32(H * N), tanhC: k.f32(H * N) },
        rhn: rhn
          ? { s: k.f32(D * H * N), acts: k.f32(D * 2 * H * N), sIn: k.f32(D * H * N) }
          : { s: none, acts: none, sIn: none },
        out: h,
        hT: k.f32(H * B),
        cT: k.f32(H * B),
        dz,
        da: gru ? k.f32(3 * H * N) : none,
        dropMask: outDrop ? k.f32(H * N) : none,
        dropped: outDrop ? k.f32(H * N) : none,
        in: none,
        inMask: inDrop ? k.f32((l === 0 ? E : H) * N) : none,
        inDropped: inDrop ? k.f32((l === 0 ? E : H) * N) : none,
        hiddenMask: hiddenDrop ? k.f32(H * B) : none,
        dx: k.f32((l === 0 ? E : H) * N),
      };
    }),
    dh: k.f32(H * N),
    logits: k.f32(V * (lm ? N : B)),
    // Classifier: the dropped final state, and gradients at the final state.
    last: k.f32(H * B),
    lastMask: k.f32(H * B),
    dLast: k.f32(H * B),
    zerosHB: k.f32(H * B),
    scratchHB: [k.f32(H * B), k.f32(H * B), k.f32(H * B)],
  };
}

type Buffers = ReturnType<typeof allocateBuffers>;

/** The network of one model on one set of kernels. */
export class Network {
  readonly model: ModelConfig;
  readonly params: EngineParam[] = [];
  readonly #k: Kernels;
  readonly #byName = new Map<string, EngineParam>();
  #capacity = { N: 0, B: 0 };
  #buffers?: Buffers;
  #sites: GradientSite[] = [];
  #lastTokens?: { tokens: Int32Array; dOut: Strided; N: number };
  #rhn = new Map<number, { R: EngineParam[]; b: EngineParam[]; kernel: RhnWeights }>();

  constructor(kernels: Kernels, model: ModelConfig, init: NetworkInit | SharedParam[]) {
    this.#k = kernels;
    this.model = model;
    if (Array.isArray(init)) {
      this.#share(kernels as WasmKernels, init);
      return;
    }
    for (const spec of paramSpecs(model)) {
      const host = init.params[spec.name];
      let param: EngineParam;
      if (spec.shape.length === 2) {
        const orientation: Orientation = spec.role === "embedding" ? "as-is" : "transposed";
        const mask = init.masks.get(spec.name);
        const csr = csrPattern(
          kernels,
          spec.shape,
          orientation,
          init.storeNonzerosOnly ? mask : undefined,
        );
        const index = specIndices(csr, spec.shape, orientation);
        gather(host.data, index, csr.values);
        let keep: Float32Array | undefined;
        if (mask && !init.storeNonzerosOnly) {
          keep = kernels.f32(index.length);
          for (let k = 0; k < index.length; k++) keep[k] = mask[index[k]];
          // Masked entries start at zero, as the mask says.
          kernels.multiply(csr.values, keep, index.length);
        }
        param = {
          name: spec.name,
          shape: spec.shape,
          csr,
          orientation,
          index,
          values: csr.values,
          grad: kernels.f32(index.length),
          keep,
        };
      } else {
        const values = kernels.f32(sizeOf(spec.shape));
        values.set(host.data);
        param = { name: spec.name, shape: spec.shape, values, grad: kernels.f32(values.length) };
      }
      this.params.push(param);
      this.#byName.set(spec.name, param);
    }
  }

  /** The parameters' storage as addresses, for {@link Network} replicas in Workers. */
  shared(): SharedParam[] {
    const at = (v: Float32Array | Int32Array) => v.byteOffset;
    return this.params.map((p) => ({
      name: p.name,
      shape: p.shape,
      orientation: p.orientation,
      csr: p.csr && {
        rows: p.csr.rows,
        cols: p.csr.cols,
        rowPtr: at(p.csr.rowPtr),
        colIdx: at(p.csr.colIdx),
        nnz: p.csr.colIdx.length,
      },
      values: at(p.values),
      length: p.values.length,
      keep: p.keep && at(p.keep),
    }));
  }

  /**
   * A replica on the same memory (another thread): the same weights, read
   * in place, with gradients and activations of its own.
   */
  #share(k: WasmKernels, shared: SharedParam[]): void {
    for (const s of shared) {
      const values = k.view(Float32Array, s.values, s.length);
      const csr = s.csr && {
        rows: s.csr.rows,
        cols: s.csr.cols,
        rowPtr: k.view(Int32Array, s.csr.rowPtr, s.csr.rows + 1),
        colIdx: k.view(Int32Array, s.csr.colIdx, s.csr.nnz),
        values,
      };
      const param: EngineParam = {
        name: s.name,
        shape: s.shape,
        csr,
        orientation: s.orientation,
        values,
        grad: k.f32(s.length),
        keep: s.keep === undefined ? undefined : k.view(Float32Array, s.keep, s.length),
      };
      this.params.push(param);
      this.#byName.set(s.name, param);
    }
  }

  param(name: string): EngineParam {
    return this.#byName.get(name)!;
  }

  /**
   * The decoder matrix: `decoder.W`, or with tied weights the embedding,
   * whose CSR over vocabulary rows is the decoder's CSR over output rows.
   */
  #decoder(): EngineParam {
    return tiedDecoder(this.model) ? this.param("embedding") : this.param("decoder.W");
  }

  /** A parameter's values in the spec layout (zeros where nothing is stored). */
  hostValues(param: EngineParam, values = param.values): Float32Array {
    return param.index
      ? scatter(values, param.index, sizeOf(param.shape))
      : Float32Array.from(values);
  }

  /** Zero state for `B` sequences. */
  zeroState(B: number): RecurrentStates {
    const H = this.model.hiddenSize;
    const layers = Array.from({ length: this.model.layers });
    return {
      h: layers.map(() => this.#k.f32(H * B)),
      c: layers.map(() => this.#k.f32(H * B)),
    };
  }

  /** The sizes a pass over `batch` works with. */
  #sizes(batch: EngineBatch) {
    const m = this.model;
    const { T, B } = batch;
    return {
      T,
      B,
      N: T * B,
      E: m.embedSize,
      H: m.hiddenSize,
      V: outputSize(m),
      lm: m.kind === "lm",
    };
  }

  #ensure(N: number, B: number) {
    if (!this.#buffers || N > this.#capacity.N || B > this.#capacity.B) {
      // Old buffers stay allocated until the kernels are reset; this happens
      // a few times per run at most (train and evaluation batch sizes).
      this.#capacity = { N: Math.max(N, this.#capacity.N), B: Math.max(B, this.#capacity.B) };
      this.#buffers = allocateBuffers(this.#k, this.model, this.#capacity.N, this.#capacity.B);
    }
    return this.#buffers;
  }

  /**
   * The forward pass of `batch` from `state` (updated to the final state):
   * leaves logits in the buffers and returns the summed loss in nats. With
   * `backward`, also the gradients of the whole batch's mean loss (`slice`
   * says where this batch sits in it; by default it is the whole batch).
   */
  run(
    batch: EngineBatch,
    state: RecurrentStates,
    drop: EngineDropout | undefined,
    backward: boolean,
    slice: BatchSlice = { offset: 0, size: batch.B, batch: batch.B },
  ): { nats: number; count: number; correct: number; confusion?: Confusion } {
    const k = this.#k;
    const m = this.model;
    const { T, B, N, E, H, V, lm } = this.#sizes(batch);
    const buf = this.#ensure(N, B);
    const dropping = drop !== undefined && drop.rate > 0;
    // Variational dropout (training only) adds per-sequence masks on top of plain dropout.
    const v = drop !== undefined ? variationalRates(m) : undefined;
    const plan: DropPlan = {
      embed: dropping || (v?.embedding ?? 0) > 0,
      input: (v?.input ?? 0) > 0,
      hidden: m.cell === "rhn" && (v?.hidden ?? 0) > 0,
      output: lm && (dropping || (v?.output ?? 0) > 0),
    };
    const sequenceOf = (b: number) => slice.offset + b;
    // Column t·B + b of this slice is column t·batch + offset + b of the whole batch.
    const columnOf = (n: number) => Math.floor(n / B) * slice.batch + slice.offset + (n % B);
    const tokens = buf.tokens.subarray(0, N);
    tokens.set(batch.tokens);
    const stepMask = lm ? null : buf.stepMask.subarray(0, N);
    if (stepMask) {
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) stepMask[t * B + b] = t < batch.lengths![b] ? 1 : 0;
      }
    }

    // Embedding and its dropout (salt 0, as in ../model/language_model.ts).
    const embedding = this.param("embedding");
    k.embedForward(embedding.csr!, tokens, { data: buf.embedded, ld: N }, N);
    if (plan.embed) {
      const mask = buf.embedMask.subarray(0, E * N);
      if (dropping) dropoutMaskFeatureMajor(drop.seed, drop.rate, N, E, mask, columnOf);
      else mask.fill(1);
      if (v && v.embedding > 0) {
        const seed = variationalSeed(drop!.seed, "embedding");
        applyWordMask(seed, v.embedding, tokens, B, E, m.vocabSize, mask, sequenceOf);
      }
      k.multiply(buf.embedded, mask, E * N);
    }

    // Recurrent layers; each layer's output is dropped out before the next one.
    let input = buf.embedded;
    for (let l = 0; l < m.layers; l++) {
      const L = buf.layers[l];
      const h0 = L.h0.subarray(0, H * B), c0 = L.c0.subarray(0, H * B);
      h0.set(state.h[l]);
      c0.set(state.c[l]);
      if (plan.input) {
        const F = l === 0 ? E : H;
        const mask = L.inMask.subarray(0, F * N);
        mask.fill(1);
        applySequenceMask(
          variationalSeed(drop!.seed, "input", l),
          v!.input,
          T,
          B,
          F,
          mask,
          sequenceOf,
        );
        L.inDropped.set(input.subarray(0, F * N));
        k.multiply(L.inDropped, mask, F * N);
        input = L.inDropped;
      }
      L.in = input;
      let hiddenMask: Float32Array | null = null;
      if (plan.hidden) {
        hiddenMask = L.hiddenMask.subarray(0, H * B);
        hiddenMask.fill(1);
        const seed = variationalSeed(drop!.seed, "hidden", l);
        applySequenceMask(seed, v!.hidden, 1, B, H, hiddenMask, sequenceOf);
      }
      switch (m.cell) {
        case "lstm":
        case "gru": {
          const p = `${m.cell}.${l}`;
          const W = this.param(`${p}.W`), R = this.param(`${p}.R`);
          k.csrForward(W.csr!, { data: input, ld: N }, { data: L.zx, ld: N }, N, false);
          k.addBias({ data: L.zx, ld: N }, gateCount(m.cell) * H, N, this.param(`${p}.b`).values);
          if (m.cell === "lstm") {
            k.lstmForward(R.csr!, L.zx, h0, c0, T, B, stepMask, L.h, L.cache, L.hT, L.cT);
          } else {
            const bR = this.param(`${p}.bR`).values;
            k.gruForward(R.csr!, bR, L.zx, h0, T, B, stepMask, L.h, L.cache, L.hT);
          }
          L.out = L.h;
          break;
        }
        case "rhn":
          this.#rhnForward(l, L, input, { T, B, H, D: recurrenceDepth(m) }, stepMask, hiddenMask);
          break;
      }
      input = L.out;
      // The LM drops every layer's output; the classifier only its final state.
      if (plan.output) {
        const mask = L.dropMask.subarray(0, H * N);
        if (dropping) dropoutMaskFeatureMajor(drop.seed + l + 1, drop.rate, N, H, mask, columnOf);
        else mask.fill(1);
        if (v && v.output > 0) {
          const seed = variationalSeed(drop!.seed, "output", l);
          applySequenceMask(seed, v.output, T, B, H, mask, sequenceOf);
        }
        L.dropped.set(L.out.subarray(0, H * N));
        k.multiply(L.dropped, mask, H * N);
        input = L.dropped;
      }
    }
    const top = buf.layers[m.layers - 1];

    // Decoder input: every step's output (LM) or the final state (classifier).
    let decoderIn = input, columns = N;
    if (!lm) {
      buf.last.set(top.hT.subarray(0, H * B));
      if (dropping) {
        dropoutMaskFeatureMajor(drop.seed + 1, drop.rate, B, H, buf.lastMask, columnOf);
        k.multiply(buf.last, buf.lastMask, H * B);
      }
      decoderIn = buf.last, columns = B;
    }
    const decoder = this.#decoder();
    const logits: Strided = { data: buf.logits, ld: columns };
    k.csrForward(decoder.csr!, { data: decoderIn, ld: columns }, logits, columns, false);
    k.addBias(logits, V, columns, this.param("decoder.b").values);
    const targets = buf.targets.subarray(0, columns);
    targets.set(batch.targets.subarray(0, columns));

    let nats: number, correct = 0, confusion: Confusion | undefined;
    if (!backward) {
      const predicted = buf.predicted.subarray(0, columns);
      nats = k.softmaxLoss(logits, V, columns, targets, predicted);
      for (let n = 0; n < columns; n++) if (predicted[n] === targets[n]) correct++;
      // A classifier's evaluation reports per-class scores, which need every pair.
      if (!lm) confusion = countConfusion(targets, predicted, V);
    } else {
      // The gradient of the whole batch's mean loss.
      const wholeColumns = (columns / B) * slice.batch;
      nats = k.softmaxCrossEntropy(logits, V, columns, targets, 1 / wholeColumns);
      this.#backward(batch, buf, stepMask, dropping, plan, decoderIn, columns);
    }
    // Carry the final state (the LM's next window starts from it).
    for (let l = 0; l < m.layers; l++) {
      state.h[l].set(buf.layers[l].hT.subarray(0, H * B));
      state.c[l].set(buf.layers[l].cT.subarray(0, H * B));
    }
    return { nats, count: columns, correct, ...(confusion ? { confusion } : {}) };
  }

  #backward(
    batch: EngineBatch,
    buf: Buffers,
    stepMask: Float32Array | null,
    dropping: boolean,
    plan: DropPlan,
    decoderIn: Float32Array,
    columns: number,
  ): void {
    const k = this.#k;
    const m = this.model;
    const { T, B, N, E, H, V, lm } = this.#sizes(batch);
    for (const p of this.params) p.grad.fill(0);
    this.#sites = [];

    // Decoder: logits now hold d(mean loss)/d(logits).
    const decoder = this.#decoder();
    const dLogits: Strided = { data: buf.logits, ld: columns };
    k.biasGrad(dLogits, V, columns, this.param("decoder.b").grad);
    k.csrWeightGrad(decoder.csr!, dLogits, { data: decoderIn, ld: columns }, columns, decoder.grad);
    this.#sites.push({
      param: decoder,
      dy: dLogits,
      x: { data: decoderIn, ld: columns },
      N: columns,
    });

    // Gradient at the top layer's outputs (LM) or final state (classifier).
    const top = buf.layers[m.layers - 1];
    const dTop = buf.dh.subarray(0, H * N);
    dTop.fill(0);
    const dhT = buf.dLast.subarray(0, H * B);
    dhT.fill(0);
    if (lm) {
      k.csrBackwardInput(decoder.csr!, dLogits, { data: dTop, ld: N }, N);
      if (plan.output) k.multiply(dTop, top.dropMask, H * N);
    } else {
      k.csrBackwardInput(decoder.csr!, dLogits, { data: dhT, ld: B }, B);
      if (dropping) k.multiply(dhT, buf.lastMask, H * B);
    }

    let dOut = dTop;
    for (let l = m.layers - 1; l >= 0; l--) {
      const L = buf.layers[l];
      const input = L.in;
      const inputSize = l === 0 ? E : H;
      const dsT = l === m.layers - 1 ? dhT : buf.zerosHB.subarray(0, H * B);
      const p = `${m.cell}.${l}`;
      const W = this.param(`${p}.W`);
      const bias = this.param(m.cell === "rhn" ? `${p}.b.0` : `${p}.b`);
      const gateRows = (m.cell === "rhn" ? 2 : gateCount(m.cell)) * H;
      switch (m.cell) {
        case "lstm":
        case "gru":
          this.#cellBackward(l, L, T, B, N, H, stepMask, dOut, dsT, buf);
          break;
        case "rhn": {
          const shape = { T, B, H, D: recurrenceDepth(m) };
          const hiddenMask = plan.hidden ? L.hiddenMask.subarray(0, H * B) : null;
          this.#rhnBackward(l, L, shape, stepMask, hiddenMask, dOut, dsT, buf);
          break;
        }
      }

      // dz's first [gateRows][N] block is the gradient of the input projection.
      const dz: Strided = { data: L.dz, ld: N };
      k.biasGrad(dz, gateRows, N, bias.grad);
      k.csrWeightGrad(W.csr!, dz, { data: input, ld: N }, N, W.grad);
      this.#sites.push({ param: W, dy: dz, x: { data: input, ld: N }, N });
      const dx = L.dx.subarray(0, inputSize * N);
      dx.fill(0);
      k.csrBackwardInput(W.csr!, dz, { data: dx, ld: N }, N);
      if (plan.input) k.multiply(dx, L.inMask, inputSize * N);
      if (l > 0 && plan.output) k.multiply(dx, buf.layers[l - 1].dropMask, H * N);
      dOut = dx;
    }

    // dOut is now the gradient at the (dropped) embedding output.
    if (plan.embed) k.multiply(dOut, buf.embedMask, E * N);
    const embedding = this.param("embedding");
    const tokens = buf.tokens.subarray(0, N);
    k.embedBackward(embedding.csr!, tokens, { data: dOut, ld: N }, N, embedding.grad);
    this.#lastTokens = { tokens, dOut: { data: dOut, ld: N }, N };
  }

  /**
   * An LSTM or GRU layer's backward through time, leaving `dz` and the
   * gradients of R (and a GRU's `bR`).
   */
  #cellBackward(
    l: number,
    L: LayerBuffers,
    T: number,
    B: number,
    N: number,
    H: number,
    stepMask: Float32Array | null,
    dOut: Float32Array,
    dhT: Float32Array,
    buf: Buffers,
  ): void {
    const k = this.#k;
    const p = `${this.model.cell}.${l}`;
    const R = this.param(`${p}.R`);
    const zeros = buf.zerosHB.subarray(0, H * B);
    const h0 = L.h0.subarray(0, H * B), c0 = L.c0.subarray(0, H * B);
    // The gradient of R's outputs: dz for an LSTM; a GRU's differs in the candidate rows.
    let dRec = L.dz;
    if (this.model.cell === "gru") {
      k.gruBackward(
        R.csr!,
        h0,
        T,
        B,
        stepMask,
        L.h,
        L.cache,
        dOut,
        dhT,
        L.dz,
        L.da,
        buf.scratchHB[0],
        R.grad,
      );
      dRec = L.da;
      k.biasGrad({ data: L.da.subarray(2 * H * N), ld: N }, H, N, this.param(`${p}.bR`).grad);
    } else {
      k.lstmBackward(
        R.csr!,
        h0,
        c0,
        T,
        B,
        stepMask,
        L.h,
        L.cache,
        dOut,
        dhT,
        zeros,
        L.dz,
        buf.scratchHB[0],
        buf.scratchHB[1],
        R.grad,
      );
    }
    // R's sites for dense gradients: steps 1.. use h_{t-1}; step 0 uses h0.
    if (T > 1) {
      this.#sites.push({
        param: R,
        dy: { data: dRec.subarray(B), ld: N },
        x: { data: L.h, ld: N },
        N: N - B,
      });
    }
    this.#sites.push({
      param: R,
      dy: { data: dRec, ld: N },
      x: { data: h0, ld: B },
      N: B,
    });
  }

  /** The recurrent weights of RHN layer `l`, one kernel object per layer for the network's life. */
  #rhnWeights(l: number, D: number): { R: EngineParam[]; b: EngineParam[]; kernel: RhnWeights } {
    let weights = this.#rhn.get(l);
    if (!weights) {
      const micro = Array.from({ length: D }, (_, i) => i);
      const R = micro.map((i) => this.param(`rhn.${l}.R.${i}`));
      const b = micro.map((i) => this.param(`rhn.${l}.b.${i}`));
      weights = { R, b, kernel: { R: R.map((p) => p.csr!), b: b.map((p) => p.values) } };
      this.#rhn.set(l, weights);
    }
    return weights;
  }

  /** RHN layer `l`'s forward pass from its input `[in][N]`; sets `L.out`, `L.hT`. */
  #rhnForward(
    l: number,
    L: LayerBuffers,
    input: Float32Array,
    shape: RhnShape,
    stepMask: Float32Array | null,
    hiddenMask: Float32Array | null,
  ): void {
    const k = this.#k;
    const { T, B, H, D } = shape;
    const N = T * B;
    const W = this.param(`rhn.${l}.W`);
    const { kernel } = this.#rhnWeights(l, D);
    k.csrForward(W.csr!, { data: input, ld: N }, { data: L.zx, ld: N }, N, false);
    k.addBias({ data: L.zx, ld: N }, 2 * H, N, kernel.b[0]);
    const s0 = L.h0.subarray(0, H * B);
    k.rhnForward(kernel, L.zx, s0, shape, stepMask, hiddenMask, L.rhn, L.hT);
    L.out = L.rhn.s.subarray((D - 1) * H * N, D * H * N);
    // The RHN has no cell state; c stays zero so state buffers look the same for every cell.
    L.cT.fill(0, 0, H * B);
  }

  /** RHN layer `l`'s backward through time, leaving `dz` and the R and b gradients. */
  #rhnBackward(
    l: number,
    L: LayerBuffers,
    shape: RhnShape,
    stepMask: Float32Array | null,
    hiddenMask: Float32Array | null,
    dOut: Float32Array,
    dsT: Float32Array,
    buf: Buffers,
  ): void {
    const k = this.#k;
    const { T, B, H, D } = shape;
    const N = T * B;
    const { R, b, kernel } = this.#rhnWeights(l, D);
    const s0 = L.h0.subarray(0, H * B);
    k.rhnBackward(
      kernel,
      s0,
      shape,
      stepMask,
      hiddenMask,
      L.rhn,
      dOut,
      dsT,
      L.dz,
      buf.scratchHB[0],
      buf.scratchHB[1],
      buf.scratchHB[2],
    );
    for (const site of rhnGradientSites(L.rhn, L.dz, shape)) {
      const param = R[site.micro];
      k.csrWeightGrad(param.csr!, site.dy, site.x, site.N, param.grad);
      this.#sites.push({ param, dy: site.dy, x: site.x, N: site.N });
    }
    // Micro-layer 0's bias is the input projection's (the caller's); the others' here.
    for (let i = 1; i < D; i++) {
      k.biasGrad({ data: L.dz.subarray(i * 2 * H * N), ld: N }, 2 * H, N, b[i].grad);
    }
  }

  /**
   * Dense gradients (spec layout) of the matrices in `names` for the last
   * step: what gradient growth (RigL) ranks the missing connections by. They
   * cost a dense product each, so the trainer asks only before an update.
   */
  denseGradients(names: Iterable<string>): Record<string, Float32Array> {
    const k = this.#k;
    const out: Record<string, Float32Array> = {};
    for (const name of names) {
      const param = this.param(name);
      const full = csrPattern(k, param.shape, param.orientation!, undefined);
      if (name === "embedding") {
        const last = this.#lastTokens!;
        k.embedBackward(full, last.tokens, last.dOut, last.N, full.values);
      }
      // The embedding has a site too when it is the tied decoder.
      for (const site of this.#sites) {
        if (site.param === param) k.csrWeightGrad(full, site.dy, site.x, site.N, full.values);
      }
      out[name] = scatter(
        full.values,
        specIndices(full, param.shape, param.orientation!),
        sizeOf(param.shape),
      );
    }
    return out;
  }
}
