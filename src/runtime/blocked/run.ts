// Running the query-blocked kernels on a GPUDevice: memories uploaded once (split across storage
// buffers past one binding) and prepared on the GPU; each retrieve call encodes every pass of
// every step into one submission with one readback. Self-contained (see ./types.ts).
import type { BlockedParts, BlockedPlan } from "./types.ts";
import { assemble, entryPoints } from "./wgsl.ts";
import { BLOCKED_BINDINGS, QINFO, SHAPE_FIELDS, type ShapeField, SLOT } from "./wgsl_common.ts";
import { type BlockedLimits, passIterations, PlanError, sliceQueries, splitsFor } from "./plan.ts";
import { valueRows } from "./wgsl_projected.ts";
import { ValuesReadout } from "./values.ts";

interface Compiled {
  layout: GPUBindGroupLayout;
  pipelines: Map<string, GPUComputePipeline>;
}

/** A shader module, or an error naming the model and each WGSL line the compiler rejects. */
export async function checkedModule(
  device: GPUDevice,
  name: string,
  wgsl: string,
): Promise<GPUShaderModule> {
  const module = device.createShaderModule({ label: `hopc ${name}`, code: wgsl });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === "error");
  if (errors.length > 0) {
    const lines = wgsl.split("\n");
    throw new Error(
      `the WGSL of model \`${name}\` does not compile (a hopc bug):\n` +
        errors.map((m) =>
          `  ${m.lineNum}:${m.linePos}: ${m.message}\n    ${lines[m.lineNum - 1] ?? ""}`
        ).join("\n"),
    );
  }
  return module;
}

const cache = new WeakMap<GPUDevice, Map<string, Promise<Compiled>>>();
export const blockedStats = { builds: 0, hits: 0 };

function compile(
  device: GPUDevice,
  name: string,
  wgsl: string,
  entries: string[],
): Promise<Compiled> {
  let perDevice = cache.get(device);
  if (!perDevice) cache.set(device, perDevice = new Map());
  const hit = perDevice.get(wgsl);
  if (hit) {
    blockedStats.hits++;
    return hit;
  }
  blockedStats.builds++;
  const build = (async (): Promise<Compiled> => {
    const module = await checkedModule(device, name, wgsl);
    const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: type === "uniform" ? { type, hasDynamicOffset: true } : { type },
    });
    const b = BLOCKED_BINDINGS;
    const layout = device.createBindGroupLayout({
      label: "hopc blocked",
      entries: [
        entry(b.shape, "uniform"),
        entry(b.memories, "read-only-storage"),
        entry(b.memoryAux, "read-only-storage"),
        entry(b.queries, "read-only-storage"),
        entry(b.states, "storage"),
        entry(b.scratch, "storage"),
        entry(b.partials, "storage"),
        entry(b.qinfo, "storage"),
        entry(b.weights, "storage"),
      ],
    });
    const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
    device.pushErrorScope("validation");
    const made = await Promise.all(entries.map((entryPoint) =>
      device.createComputePipelineAsync({
        label: `hopc ${name} ${entryPoint}`,
        layout: pipelineLayout,
        compute: { module, entryPoint },
      })
    ));
    const error = await device.popErrorScope();
    if (error) {
      throw new Error(`the pipelines of model \`${name}\` were rejected: ${error.message}`);
    }
    return { layout, pipelines: new Map(entries.map((e, i) => [e, made[i]])) };
  })();
  perDevice.set(wgsl, build);
  build.catch(() => perDevice.delete(wgsl));
  return build;
}

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

/** D-column rows as zero-padded rows of 4 * d4 columns, in float32. */
export function padRows(data: ArrayLike<number>, rows: number, D: number, d4: number, from = 0) {
  const out = new Float32Array(rows * d4 * 4);
  for (let i = 0; i < rows; i++) {
    for (let d = 0; d < D; d++) out[i * d4 * 4 + d] = data[(from + i) * D + d];
  }
  return out;
}

interface Chunk {
  row0: number;
  rows: number;
  memories: GPUBuffer;
  aux: GPUBuffer;
}

/**
 * Per call: `values` (V, M x cols, row-major) reads the final weights out of V instead of X, the
 * states then being B x cols; `clamp` (B x D or D numbers of 0/1) keeps the dims marked 1 at the
 * queries' given values after every post-transform (see src/extras.ts).
 */
export interface RetrieveOptions {
  weights?: boolean;
  transformed?: boolean;
  values?: { data: ArrayLike<number>; cols: number };
  clamp?: ArrayLike<number>;
}

export interface BlockedResult {
  /** B x D states, or B x Dv value readouts when values were given. */
  states: Float32Array;
  weights?: Float32Array;
  stepsRun: Uint32Array;
}

/** One model bound to its memories on one device, run by the blocked kernels. */
export class BlockedRetrieval {
  #bufs = new Map<string, GPUBuffer>();
  /** Uniform slots and bind groups per call signature (see #retrieve). */
  #bound = new Map<string, { uniform: GPUBuffer; buffers: GPUBuffer[]; groups: GPUBindGroup[] }>();
  #last: Promise<unknown> = Promise.resolve();
  private constructor(
    readonly device: GPUDevice,
    readonly parts: BlockedParts,
    readonly plan: BlockedPlan,
    readonly M: number,
    readonly D: number,
    readonly limits: BlockedLimits,
    readonly wgsl: string,
    readonly compiled: Compiled,
    readonly chunks: Chunk[],
    readonly parallelism: number | undefined,
  ) {}

  static async load(
    device: GPUDevice,
    parts: BlockedParts,
    plan: BlockedPlan,
    X: ArrayLike<number>,
    M: number,
    D: number,
    opts: {
      limits: BlockedLimits;
      memoriesTransformed?: boolean;
      parallelism?: number;
      /** Per-row numbers prepared on the host (the projected families: ksum and c_k, or the
       * signal's numbers at the points); X then holds M key rows and any value rows after them. */
      hostAux?: ArrayLike<number>;
      /**
       * The readout rows (M x D, row-major) of a model whose readout is `rows` (parts.readout):
       * stored after each chunk's key rows, as given (never post-transformed here).
       */
      readoutRows?: ArrayLike<number>;
    },
  ): Promise<BlockedRetrieval> {
    const wgsl = assemble(parts, plan);
    const compiled = await compile(device, parts.name, wgsl, entryPoints(parts, plan));
    const transform = parts.post.transformsInputs && !opts.memoriesTransformed;
    // A host aux (the learned similarities' biases) is given, never computed: no prepare pass
    // runs for it, and none may transform the rows it belongs to.
    const hostGiven = parts.sim.memoryAux === "host";
    if (hostGiven && (transform || !opts.hostAux || opts.hostAux.length !== M)) {
      throw new RangeError(
        `model \`${parts.name}\` scores with per-memory numbers from the host: give M = ${M} of them (hostAux) with rows already transformed`,
      );
    }
    // A-Hop's footprint pass reads Omega (D numbers) and a, b from every chunk's aux.
    if (parts.footprint && (!opts.hostAux || opts.hostAux.length !== D + 2)) {
      throw new RangeError(
        `model \`${parts.name}\` scores with A-Hop's footprint: give its D + 2 = ${
          D + 2
        } host numbers (the suffix sums Omega of w, then a and b) as hostAux`,
      );
    }
    const needsPrepare = transform || (parts.sim.memoryAux !== "none" && !hostGiven);
    const values = valueRows(parts, M);
    const R = parts.readout === "rows" ? opts.readoutRows : undefined;
    if (parts.readout === "rows" && (!R || R.length !== M * D)) {
      throw new RangeError(
        `model \`${parts.name}\` reads its next states from readout rows: give them (M x D = ${M} x ${D} numbers) at load`,
      );
    }
    if (parts.projected && (M + values > plan.rowsPerChunk || !opts.hostAux)) {
      throw new PlanError(
        `model \`${parts.name}\` needs its ${
          M + values
        } prepared rows in one storage binding and its per-row numbers`,
        "use fewer basis functions or features, or --device cpu",
      );
    }
    const chunks: Chunk[] = [];
    const self = new BlockedRetrieval(
      device,
      parts,
      plan,
      M,
      D,
      opts.limits,
      wgsl,
      compiled,
      chunks,
      opts.parallelism,
    );
    const encoder = device.createCommandEncoder({ label: "hopc prepare memories" });
    const pass = encoder.beginComputePass();
    const temporary: GPUBuffer[] = [];
    const copies: [GPUBuffer, GPUBuffer, number, number][] = [];
    for (let row0 = 0; row0 < M; row0 += plan.rowsPerChunk) {
      const rows = Math.min(plan.rowsPerChunk, M - row0);
      // The value rows ride in the (single) chunk of the keys; readout rows follow each chunk's.
      const stored = rows + values + (R ? rows : 0);
      const bytes = stored * plan.d4 * 16;
      const raw = device.createBuffer({ label: "hopc memories", size: bytes, usage: STORAGE });
      const keyBytes = rows * plan.d4 * 16;
      if (R) {
        device.queue.writeBuffer(raw, 0, padRows(X, rows, D, plan.d4, row0));
        device.queue.writeBuffer(raw, keyBytes, padRows(R, rows, D, plan.d4, row0));
      } else device.queue.writeBuffer(raw, 0, padRows(X, stored, D, plan.d4, row0));
      const auxLength = hostGiven ? rows : Math.max(rows, opts.hostAux?.length ?? 0);
      const aux = device.createBuffer({
        label: "hopc memory aux",
        size: Math.max(16, Math.ceil(auxLength / 4) * 16),
        usage: STORAGE,
      });
      // A per-memory host aux is sliced by chunk (row r of this chunk is memory row0 + r); the
      // projected families' numbers belong to their single chunk whole.
      if (hostGiven) {
        device.queue.writeBuffer(
          aux,
          0,
          Float32Array.from(Array.prototype.slice.call(opts.hostAux, row0, row0 + rows)),
        );
      } else if (opts.hostAux) device.queue.writeBuffer(aux, 0, Float32Array.from(opts.hostAux));
      if (!needsPrepare) {
        chunks.push({ row0, rows, memories: raw, aux });
        continue;
      }
      const prepared = device.createBuffer({ label: "hopc memories", size: bytes, usage: STORAGE });
      if (R) copies.push([raw, prepared, keyBytes, keyBytes]); // the readout rows, as given
      const uniform = self.#uniform([{ nq: rows, q0: 0, flags: transform ? 2 : 0 }]);
      temporary.push(raw, uniform);
      // The prepare pass writes each row's norm; the footprint's host aux must survive it.
      const norms = parts.footprint
        ? device.createBuffer({ label: "hopc norms", size: rows * 4 + 16, usage: STORAGE })
        : aux;
      if (parts.footprint) temporary.push(norms);
      const group = self.#group(uniform, {
        queries: raw,
        states: prepared,
        weights: norms,
      });
      pass.setBindGroup(0, group, [0]);
      pass.setPipeline(compiled.pipelines.get("prepare_memories")!);
      self.#dispatchRows(pass, rows);
      chunks.push({ row0, rows, memories: prepared, aux });
    }
    pass.end();
    for (const [from, to, offset, size] of copies) {
      encoder.copyBufferToBuffer(from, offset, to, offset, size);
    }
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    for (const b of temporary) b.destroy();
    return self;
  }

  /**
   * L rows post-transformed on the GPU by the model's own prepare pass, read back in float64: the
   * projected families fit their rows on the host from the transformed memories, with the same
   * code that transforms the queries.
   */
  static async transformRows(
    device: GPUDevice,
    parts: BlockedParts,
    plan: BlockedPlan,
    X: ArrayLike<number>,
    L: number,
    D: number,
    limits: BlockedLimits,
  ): Promise<Float64Array> {
    const wgsl = assemble(parts, plan);
    const compiled = await compile(device, parts.name, wgsl, entryPoints(parts, plan));
    const self = new BlockedRetrieval(device, parts, plan, L, D, limits, wgsl, compiled, [], 1);
    const out = new Float64Array(L * D);
    for (let row0 = 0; row0 < L; row0 += plan.rowsPerChunk) {
      const rows = Math.min(plan.rowsPerChunk, L - row0);
      const bytes = rows * plan.d4 * 16;
      const raw = device.createBuffer({ label: "hopc raw memories", size: bytes, usage: STORAGE });
      device.queue.writeBuffer(raw, 0, padRows(X, rows, D, plan.d4, row0));
      const prepared = device.createBuffer({
        label: "hopc transformed",
        size: bytes,
        usage: STORAGE,
      });
      const aux = device.createBuffer({ label: "hopc norms", size: rows * 4 + 16, usage: STORAGE });
      const readback = device.createBuffer({
        label: "hopc transformed readback",
        size: bytes,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      const uniform = self.#uniform([{ nq: rows, q0: 0, flags: 2 }]);
      const encoder = device.createCommandEncoder({ label: "hopc transform memories" });
      const pass = encoder.beginComputePass();
      pass.setBindGroup(0, self.#group(uniform, { queries: raw, states: prepared, weights: aux }), [
        0,
      ]);
      pass.setPipeline(compiled.pipelines.get("prepare_memories")!);
      self.#dispatchRows(pass, rows);
      pass.end();
      encoder.copyBufferToBuffer(prepared, 0, readback, 0, bytes);
      device.queue.submit([encoder.finish()]);
      await readback.mapAsync(GPUMapMode.READ);
      const padded = new Float32Array(readback.getMappedRange());
      for (let i = 0; i < rows; i++) {
        for (let d = 0; d < D; d++) out[(row0 + i) * D + d] = padded[i * plan.d4 * 4 + d];
      }
      readback.unmap();
      for (const b of [raw, prepared, aux, readback, uniform]) b.destroy();
    }
    self.destroy();
    return out;
  }

  /** Bytes the memory holds on the device. */
  get memoryBytes(): number {
    return this.chunks.reduce(
      (n, c) =>
        n + c.memories.size +
        (this.parts.sim.memoryAux === "none" && !this.parts.projected ? 0 : c.aux.size),
      0,
    );
  }

  #dummies = new Map<string, GPUBuffer>();
  #dummy(name: string): GPUBuffer {
    let b = this.#dummies.get(name);
    if (!b) {
      b = this.device.createBuffer({ label: `hopc unused ${name}`, size: 16, usage: STORAGE });
      this.#dummies.set(name, b);
    }
    return b;
  }

  /** A uniform buffer of 256-byte slots, one per field set (bound with dynamic offsets). */
  #uniform(slots: Partial<Record<ShapeField, number>>[]): GPUBuffer {
    const stride = 256;
    const data = new Uint32Array(slots.length * stride / 4);
    slots.forEach((s, i) => {
      const full: Record<ShapeField, number> = {
        M: this.M,
        D: this.D,
        d4: this.plan.d4,
        B: 0,
        q0: 0,
        nq: 0,
        row0: 0,
        rows: 0,
        split0: 0,
        splits: 0,
        rows_per_split: 0,
        qgroups: 0,
        flags: 0,
        dslices: 1,
        halvings: 0,
        chunk_splits: 0,
        ...s,
      };
      SHAPE_FIELDS.forEach((f, k) => data[i * stride / 4 + k] = full[f]);
    });
    const buffer = this.device.createBuffer({
      label: "hopc shape",
      size: data.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  }

  #group(
    uniform: GPUBuffer,
    b: Partial<Record<Exclude<keyof typeof BLOCKED_BINDINGS, "shape">, GPUBuffer>>,
  ): GPUBindGroup {
    const names = [
      "memories",
      "memoryAux",
      "queries",
      "states",
      "scratch",
      "partials",
      "qinfo",
      "weights",
    ] as const;
    return this.device.createBindGroup({
      layout: this.compiled.layout,
      entries: [
        { binding: BLOCKED_BINDINGS.shape, resource: { buffer: uniform, size: 256 } },
        ...names.map((n) => ({
          binding: BLOCKED_BINDINGS[n],
          resource: { buffer: b[n] ?? this.#dummy(n) },
        })),
      ],
    });
  }

  #grid(workgroups: number): [number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    return [Math.min(workgroups, max), Math.ceil(workgroups / max)];
  }
  #dispatchRows(pass: GPUComputePassEncoder, rows: number) {
    pass.dispatchWorkgroups(...this.#grid(rows));
  }
  #dispatchThreads(pass: GPUComputePassEncoder, invocations: number) {
    pass.dispatchWorkgroups(...this.#grid(Math.ceil(invocations / this.plan.workgroupSize)));
  }

  #buffer(name: string, bytes: number, usage: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    let b = this.#bufs.get(name);
    if (!b || b.size < size) {
      b?.destroy();
      b = this.device.createBuffer({ label: `hopc ${name}`, size, usage });
      this.#bufs.set(name, b);
    }
    return b;
  }

  retrieve(
    Q: ArrayLike<number>,
    B: number,
    opts: RetrieveOptions = {},
  ): Promise<BlockedResult> {
    const run = this.#last.then(() => this.#retrieve(Q, B, opts));
    this.#last = run.catch(() => {});
    return run;
  }

  async #retrieve(
    Q: ArrayLike<number>,
    B: number,
    opts: RetrieveOptions,
  ): Promise<BlockedResult> {
    const { device, plan, parts, M, D, limits } = this;
    if (!(B >= 1 && Q.length === B * D)) {
      throw new RangeError(`queries must be B x D = ${B} x ${D} values, got ${Q.length}`);
    }
    const clamp = opts.clamp;
    if (clamp && clamp.length !== B * D && clamp.length !== D) {
      throw new RangeError(`clamp must be B x D = ${B} x ${D} or D values, got ${clamp.length}`);
    }
    const V = opts.values;
    if (V && parts.projected) {
      throw new PlanError(
        `values apart from the keys need one weight per memory; model \`${parts.name}\` reads projected rows`,
        "use a discrete memory with a similarity other than features, or --device cpu",
      );
    }
    const wantWeights = opts.weights === true || V !== undefined;
    if (wantWeights && parts.projected?.kind === "features") {
      throw new PlanError(
        "features retrieval never forms one weight per memory on the GPU (it reads KV, not X)",
        "ask for weights with --device cpu, which computes them from the memories' features",
      );
    }
    const binding = limits.maxStorageBufferBindingSize;
    const stateBytes = B * plan.d4 * 16;
    // With a clamp the queries buffer holds the 0/1 masks after the B queries (rows B..2B-1).
    const queryBytes = clamp ? 2 * stateBytes : stateBytes;
    for (
      const [what, bytes] of [["queries", queryBytes], [
        "weights",
        wantWeights ? B * M * 4 : 0,
      ]] as const
    ) {
      if (bytes > binding) {
        throw new PlanError(
          `the ${what} of ${B} queries need ${bytes} bytes, over the storage binding limit of ${binding}`,
          "retrieve fewer queries per call",
        );
      }
    }
    const { nq, parallelism } = sliceQueries(plan, M, B, limits, this.parallelism);
    const slices: { q0: number; nq: number }[] = [];
    for (let q0 = 0; q0 < B; q0 += nq) slices.push({ q0, nq: Math.min(nq, B - q0) });
    const threePass = plan.schedule === "threePass";
    const queries = this.#buffer("queries", queryBytes, STORAGE);
    const states = this.#buffer("states", stateBytes, STORAGE);
    const qinfo = this.#buffer("qinfo", B * QINFO * 4, STORAGE);
    const weights = this.#buffer("weights", wantWeights ? B * M * 4 : 16, STORAGE);
    const scratch = this.#buffer(
      "scratch",
      threePass ? (3 * M + plan.rowExtra) * nq * 4 : 16,
      STORAGE,
    );
    // The finish pass loops over every split: fewer, longer splits when it would pass the budget.
    // A layout whose passes still exceed it is refused, never run (its loops would stop early).
    const layouts = slices.map((s) => {
      let split = splitsFor(plan, M, s.nq, parallelism);
      let iterations = passIterations(parts, plan, split.rowsPerSplit, M, split.total);
      if (iterations.finish > plan.loopBudget) {
        split = splitsFor(plan, M, s.nq, 1);
        iterations = passIterations(parts, plan, split.rowsPerSplit, M, split.total);
      }
      for (const [pass, n] of Object.entries(iterations)) {
        if (n > plan.loopBudget) {
          throw new PlanError(
            `pass ${pass} would run ${n} loop iterations per invocation at M = ${M}, over the adapter's budget of ${plan.loopBudget}`,
            "split the memories into several models, or use --device cpu",
          );
        }
      }
      return split;
    });
    const partialBytes = Math.max(
      ...slices.map((s, i) => layouts[i].total * s.nq * (plan.d4 + 1) * 16),
    );
    const partials = this.#buffer("partials", partialBytes, STORAGE);
    const readback = this.#buffer(
      "readback",
      stateBytes + B * QINFO * 4 + (wantWeights ? B * M * 4 : 0),
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    );
    device.queue.writeBuffer(queries, 0, padRows(Q, B, D, plan.d4));
    if (clamp) {
      const masks = clamp.length === D
        ? Array.from({ length: B }, () => Array.from(clamp)).flat()
        : clamp;
      device.queue.writeBuffer(queries, stateBytes, padRows(masks, B, D, plan.d4));
    }
    const Dv = V?.cols ?? 0;
    this.#values ??= V ? new ValuesReadout(device, binding, plan.loopBudget) : undefined;
    const valueBuffer = V ? this.#values!.values(V.data, M, Dv) : undefined;
    const valueOut = V ? this.#buffer("value readouts", B * Dv * 4, STORAGE) : undefined;

    // One uniform slot per (slice, chunk), plus one per slice for a shorter last bisection.
    const halvings = plan.halvingsPerDispatch;
    const bisections = halvings > 0 ? Math.ceil(parts.bisection / halvings) : 0;
    const lastHalvings = bisections > 0 ? parts.bisection - halvings * (bisections - 1) : 0;
    const flags = (wantWeights ? 1 : 0) | (opts.transformed ? 0 : 2) | (clamp ? 4 : 0);
    const fields: Partial<Record<ShapeField, number>>[] = [];
    const slotOf: number[][] = [];
    const lastSlot: number[] = [];
    slices.forEach((s, si) => {
      const { rowsPerSplit, perChunk, total } = layouts[si];
      const common = {
        B,
        q0: s.q0,
        nq: s.nq,
        splits: total,
        rows_per_split: rowsPerSplit,
        qgroups: Math.ceil(s.nq / plan.queriesPerThread),
        flags,
        dslices: threePass ? Math.ceil(plan.d4 / plan.readoutSlice) : 1,
        halvings,
      };
      let split0 = 0;
      slotOf.push(this.chunks.map((c, ci) => {
        fields.push({ ...common, row0: c.row0, rows: c.rows, split0, chunk_splits: perChunk[ci] });
        split0 += perChunk[ci];
        return fields.length - 1;
      }));
      fields.push({ ...common, halvings: lastHalvings });
      lastSlot.push(fields.length - 1);
    });
    // The uniforms and bind groups of a call depend on its fields and buffers only: calls with
    // the same B and flags reuse them (buffers are recreated only when a call needs more room).
    const callBuffers = [queries, states, scratch, partials, qinfo, weights];
    const key = JSON.stringify(fields);
    let bound = this.#bound.get(key);
    if (!bound || bound.buffers.some((b, i) => b !== callBuffers[i])) {
      bound?.uniform.destroy();
      const uniform = this.#uniform(fields);
      bound = {
        uniform,
        buffers: callBuffers,
        groups: this.chunks.map((c) =>
          this.#group(uniform, {
            memories: c.memories,
            memoryAux: c.aux,
            queries,
            states,
            scratch,
            partials,
            qinfo,
            weights,
          })
        ),
      };
      if (this.#bound.size >= 16) { // many distinct batch sizes: start over
        for (const b of this.#bound.values()) b.uniform.destroy();
        this.#bound.clear();
      }
      this.#bound.set(key, bound);
    }
    const groups = bound.groups;
    const pipe = (name: string) => this.compiled.pipelines.get(name)!;
    const encoder = device.createCommandEncoder({ label: `hopc ${parts.name}` });
    const pass = encoder.beginComputePass();
    const use = (name: string, slot: number, chunk = 0) => {
      pass.setPipeline(pipe(name));
      pass.setBindGroup(0, groups[chunk], [slot * 256]);
    };
    slices.forEach((s, si) => {
      const slot0 = slotOf[si][0];
      const { perChunk } = layouts[si];
      const qgroups = Math.ceil(s.nq / plan.queriesPerThread);
      const perQuery = (name: string, slot = slot0) => {
        use(name, slot);
        this.#dispatchRows(pass, s.nq);
      };
      const overChunks = (name: string, width: number) => {
        this.chunks.forEach((_, ci) => {
          use(name, slotOf[si][ci], ci);
          if (name === "footprint_rows") {
            // One workgroup per (query of the slice, row of the chunk): wgsl_footprint.ts.
            pass.dispatchWorkgroups(...this.#grid(s.nq * this.chunks[ci].rows));
          } else if (name === "score_rows" && plan.tile === "workgroup") {
            // One workgroup per (split, block of WG query groups): see wgsl_tiled.ts.
            const qblocks = Math.ceil(qgroups / plan.workgroupSize);
            pass.dispatchWorkgroups(...this.#grid(qblocks * perChunk[ci]));
          } else this.#dispatchThreads(pass, qgroups * width * perChunk[ci]);
        });
      };
      perQuery("prepare_queries");
      if (parts.mask.kind === "random") perQuery("choose_fallback");
      for (let t = 0; t < parts.maxSteps; t++) {
        if (!threePass) {
          overChunks("fused_step", 1);
        } else if (parts.projected) {
          overChunks("score_rows", 1);
          perQuery(parts.projected.kind === "features" ? "row_features" : "row_density");
          overChunks("readout_rows", Math.ceil(plan.d4 / plan.readoutSlice));
        } else {
          overChunks(plan.footprint ? "footprint_rows" : "score_rows", 1);
          if (parts.mask.kind === "topk") perQuery("row_select");
          if (parts.ent.kind === "threshold") perQuery("row_init");
          for (let k = 0; k < bisections; k++) {
            perQuery("row_bisect", k === bisections - 1 ? lastSlot[si] : slot0);
          }
          perQuery("row_weights");
          overChunks("readout_rows", Math.ceil(plan.d4 / plan.readoutSlice));
        }
        perQuery("finish");
      }
      if (!threePass && wantWeights) perQuery("fused_weights");
    });
    pass.end();
    const valuesUniform = V
      ? await this.#values!.encode(
        encoder,
        weights,
        valueBuffer!,
        valueOut!,
        B,
        M,
        Dv,
        limits.maxComputeWorkgroupsPerDimension,
      )
      : undefined;
    encoder.copyBufferToBuffer(states, 0, readback, 0, stateBytes);
    encoder.copyBufferToBuffer(qinfo, 0, readback, stateBytes, B * QINFO * 4);
    if (wantWeights) {
      encoder.copyBufferToBuffer(weights, 0, readback, stateBytes + B * QINFO * 4, B * M * 4);
    }
    const valueReadback = V
      ? this.#buffer(
        "value readback",
        B * Dv * 4,
        GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      )
      : undefined;
    if (V) encoder.copyBufferToBuffer(valueOut!, 0, valueReadback!, 0, B * Dv * 4);
    device.queue.submit([encoder.finish()]);
    let valueStates: Float32Array | undefined;
    if (V) {
      await valueReadback!.mapAsync(GPUMapMode.READ);
      valueStates = new Float32Array(valueReadback!.getMappedRange(0, B * Dv * 4).slice(0));
      valueReadback!.unmap();
      valuesUniform!.destroy();
    }
    await readback.mapAsync(GPUMapMode.READ);
    try {
      const bytes = readback.getMappedRange();
      const padded = new Float32Array(bytes, 0, B * plan.d4 * 4);
      const out = new Float32Array(B * D);
      for (let b = 0; b < B; b++) {
        out.set(padded.subarray(b * plan.d4 * 4, b * plan.d4 * 4 + D), b * D);
      }
      const info = new Float32Array(bytes, stateBytes, B * QINFO);
      const stepsRun = new Uint32Array(B);
      for (let b = 0; b < B; b++) {
        stepsRun[b] = info[b * QINFO + SLOT.steps];
        if (info[b * QINFO + SLOT.overflow] !== 0) {
          throw new RangeError(
            `model \`${this.parts.name}\`: the scores of query ${b} overflowed float32 (|x . q| past 3.4e38, the state having grown past it): ` +
              "run it with --device cpu (the float64 reference), or bound the state (post tanh or l2, normalize = sum)",
          );
        }
      }
      const result: BlockedResult = { states: valueStates ?? out, stepsRun };
      if (opts.weights) {
        result.weights = new Float32Array(
          bytes.slice(stateBytes + B * QINFO * 4, stateBytes + B * QINFO * 4 + B * M * 4),
        );
      }
      return result;
    } finally {
      readback.unmap();
    }
  }

  #values?: ValuesReadout;

  destroy(): void {
    this.#values?.destroy();
    for (const b of this.#bufs.values()) b.destroy();
    for (const b of this.#bound.values()) b.uniform.destroy();
    this.#bound.clear();
    for (const b of this.#dummies.values()) b.destroy();
    for (const c of this.chunks) {
      c.memories.destroy();
      c.aux.destroy();
    }
  }
}
