// Copied by hopc from src/runtime/blocked/plan.ts. Do not edit.
// Planning the query-blocked kernels: every choice from the model's family, the shapes, the
// adapter's limits and its per-invocation loop budget (or a tuned choice). Each pass's loop
// iterations per invocation are estimated from the same formulas the splits are sized by, so a
// plan says what it promises (tests hold every plan to its budget). Self-contained (./types.ts).
import type { BlockedParts, BlockedPlan } from "./types.ts";

export interface BlockedLimits {
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupsPerDimension: number;
}

/** Choices a caller (the tuner, a test) may pin; the rest follow the rules below. */
export interface BlockedChoices {
  schedule?: BlockedPlan["schedule"];
  rowBlock?: number;
  queriesPerThread?: 4 | 8;
  workgroupSize?: number;
  /** Threads of the per-query passes (a power of two). */
  rowWorkgroupSize?: number;
  /** Stage X through workgroup memory in the score pass (three-pass schedule only). */
  tile?: BlockedPlan["tile"];
  /** Invocations a dispatch should have at least (M is split further to reach it). */
  parallelism?: number;
}

/** The data does not fit this adapter (a message for people, naming the limit). */
export class PlanError extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
    this.name = "PlanError";
  }
}

/** Mesa's llvmpipe ends every loop of an invocation after 65535 iterations in all. */
export const LLVMPIPE_LOOP_LIMIT = 65535;

/**
 * The loop budget a plan keeps to on an adapter: llvmpipe's hard limit with a margin for the few
 * iterations the estimates round away; on other adapters a bound that keeps a dispatch short
 * (GPU watchdogs stop long ones).
 */
export function loopBudgetFor(adapterDescription: string): number {
  return /llvmpipe|lavapipe/i.test(adapterDescription) ? 60000 : 1 << 20;
}

/**
 * Rules that depend on the kind of adapter: CPU rasterizers (llvmpipe, lavapipe) run a workgroup's
 * invocations as SIMD lanes of one core, so small workgroups balance better there (measured: the
 * blocked passes at 16 threads took 287 ms against 375 ms at 64 for softmax (4096, 256, 64) x 8);
 * GPUs want at least a warp or wavefront of 64.
 */
export function adapterChoices(adapterDescription: string): BlockedChoices {
  return /llvmpipe|lavapipe|swiftshader/i.test(adapterDescription)
    ? { workgroupSize: 16, rowWorkgroupSize: 32 }
    : { workgroupSize: 64, rowWorkgroupSize: 64 };
}

/**
 * Largest d4 of the fused schedule. It keeps D-long arrays per thread in private memory, indexed
 * by a loop variable, and Mesa's first compile of those grows fast with their length (on lavapipe,
 * shader cache off: 5.6 s at D = 64, 45 s at D = 128, minutes at D = 256), so past D = 64 the
 * plan takes three passes: every kernel compiles in under 10 s.
 */
export const PRIVATE_D4 = 16;
const F32 = 4, VEC4 = 16;

// A-Hop's footprint pass (wgsl_footprint.ts): its shape and loop iterations.
interface FootprintLimits {
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
}

/** Bytes of workgroup memory the footprint pass declares: two sorted rows, two reductions. */
export function footprintBytes(P: number, workgroupSize: number): number {
  return 8 * P + 8 * workgroupSize;
}

/**
 * The footprint pass's shape for D: P and its workgroup size (the blocked passes' size, at most
 * P / 2 pairs per stage), refused where the two sorted rows pass the adapter's workgroup memory.
 */
export function footprintShape(
  D: number,
  limits: FootprintLimits,
  workgroupSize: number,
): { P: number; workgroupSize: number } {
  const P = 2 ** Math.ceil(Math.log2(Math.max(2, D)));
  const wg = Math.max(
    1,
    Math.min(
      workgroupSize,
      limits.maxComputeWorkgroupSizeX,
      limits.maxComputeInvocationsPerWorkgroup,
      P / 2,
    ),
  );
  const bytes = footprintBytes(P, wg);
  if (bytes > limits.maxComputeWorkgroupStorageSize) {
    let most = 2;
    while (footprintBytes(most * 2, Math.min(wg, most)) <= limits.maxComputeWorkgroupStorageSize) {
      most *= 2;
    }
    throw new PlanError(
      `A-Hop's footprint pass sorts the D = ${D} values of each (query, memory) pair in workgroup memory: ${P} entries (D padded to a power of two) x 2 rows x 4 bytes + ${
        8 * wg
      } bytes of reductions = ${bytes} bytes, over this adapter's ${limits.maxComputeWorkgroupStorageSize}`,
      `use D <= ${most}, or --device cpu (the float64 reference)`,
    );
  }
  return { P, workgroupSize: wg };
}

/** Loop iterations one invocation of the footprint pass runs (an upper bound). */
export function footprintIterations(D: number, fp: { P: number; workgroupSize: number }): number {
  const { P, workgroupSize: W } = fp;
  const L = Math.log2(P);
  const stages = L * (L + 1) / 2;
  const perThread = Math.ceil(P / W);
  const perStage = Math.ceil(P / 2 / W);
  // load; the stage loops (k, j) and each stage's pairs; the weighted sums; the tree.
  return perThread + (L + stages) + stages * perStage + Math.ceil(D / W) +
    Math.ceil(Math.log2(Math.max(2, W))) + 8;
}

const log2 = (n: number) => Math.ceil(Math.log2(Math.max(2, n)));
const cdiv = (a: number, b: number) => Math.ceil(a / b);

/** Per-invocation loop iterations of each pass (upper bounds of what the WGSL runs). */
export function passIterations(
  parts:
    & Pick<BlockedParts, "mask" | "ent" | "bisection">
    & Partial<Pick<BlockedParts, "projected">>,
  p:
    & Pick<
      BlockedPlan,
      "schedule" | "d4" | "rowBlock" | "rowWorkgroupSize" | "readoutSlice" | "halvingsPerDispatch"
    >
    & Partial<Pick<BlockedPlan, "tile" | "tileChunks" | "workgroupSize" | "footprint">>,
  rowsPerSplit: number,
  M: number,
  splits: number,
): Record<string, number> {
  const { d4, rowBlock: rb, rowWorkgroupSize: wgr } = p;
  const blocks = cdiv(rowsPerSplit, rb);
  const L = log2(wgr);
  const perD = cdiv(d4, wgr);
  const perM = cdiv(M, wgr);
  const out: Record<string, number> = {
    prepare_queries: 8 * perD + 8 * L,
    finish: (p.schedule === "fused" ? 2 * splits : 0) + perD * (splits + 8) + 8 * L,
  };
  if (parts.mask.kind === "random") out.choose_fallback = 2 * perM + 3 * L;
  if (p.schedule === "fused") {
    out.fused_step = 12 + d4 + blocks * (2 * d4 + 1 + 4 * rb) + 4 * (d4 + 1);
    out.fused_weights = perM;
    return out;
  }
  if (p.footprint) {
    // A-Hop: the footprint pass replaces score_rows (one workgroup per pair, any M).
    out.footprint_rows = footprintIterations(4 * d4, p.footprint);
  } else if (p.tile === "workgroup" && p.tileChunks && p.workgroupSize) {
    // Per row block: for each tile of chunks, the shared load, then the tile's chunks.
    const tc = p.tileChunks;
    out.score_rows = 24 +
      blocks * (cdiv(d4, tc) * (cdiv(rb * tc, p.workgroupSize) + tc + 1) + 8 * rb);
  } else out.score_rows = 24 + blocks * (d4 + 1 + 8 * rb);
  out.readout_rows = 8 + blocks + 8; // the slice of readoutSlice chunks is written out, not looped
  const projected = parts.projected;
  if (projected?.kind === "features") {
    out.row_features = 3 * perM + 3 * L;
    return out;
  }
  if (projected?.kind === "quadrature") {
    const perP = cdiv(projected.P, wgr);
    const density = projected.density.kind === "exp"
      ? 2 * perP + 2 * L
      : 2 * perP + projected.density.iterations * (perP + L + 1) + 2 * L;
    out.row_density = perP * (projected.basisPerPoint + 1) + density +
      cdiv(projected.N, wgr) * (projected.pointsPerBasis + 1) + 2 * L;
    return out;
  }
  if (parts.mask.kind === "topk") {
    out.row_select = 4 * (cdiv(256, wgr) + perM + 256) + 2 * perM + 2 * L;
  }
  if (parts.ent.kind === "threshold") {
    out.row_init = 4 * perM + 6 * L;
    out.row_bisect = p.halvingsPerDispatch * (perM + L + 1);
    out.row_weights = 2 * perM + L;
  } else if (parts.ent.kind === "separation") {
    // statistic (two loops for argmax), weights, rescaled row; up to five reductions
    out.row_weights = 4 * perM + 5 * L;
  } else {
    out.row_weights = 3 * perM + 3 * L; // max, exp and sum, normalize
  }
  return out;
}

export function planBlocked(
  parts:
    & Pick<BlockedParts, "family" | "mask" | "ent" | "bisection">
    & Partial<Pick<BlockedParts, "projected" | "readout" | "footprint">>,
  M: number,
  D: number,
  limits: BlockedLimits,
  loopBudget: number,
  choices: BlockedChoices & { source?: BlockedPlan["source"] } = {},
): BlockedPlan {
  const notes: string[] = [];
  const d4 = Math.ceil(D / 4);
  const maxThreads = Math.min(
    limits.maxComputeInvocationsPerWorkgroup,
    limits.maxComputeWorkgroupSizeX,
  );
  const pow2Below = (n: number) => 2 ** Math.floor(Math.log2(Math.max(1, n)));
  const workgroupSize = pow2Below(Math.min(choices.workgroupSize ?? 64, maxThreads));
  // Per-query passes: few threads, so their many barriers stay cheap (on llvmpipe a workgroup of
  // 256 made them dominate: 1.5-entmax at (16384, 256, 256) took 893 ms against 422 ms with 32).
  let rowWorkgroupSize = pow2Below(Math.min(choices.rowWorkgroupSize ?? 32, maxThreads));
  // Each thread of a per-query pass walks M / threads entries: more threads where M is large, so
  // every pass over the row stays within the budget.
  const rowPasses = (wgr: number) => {
    const its = passIterations(
      parts,
      {
        schedule: parts.family === "online" ? "fused" : "threePass",
        d4,
        rowBlock: 1,
        rowWorkgroupSize: wgr,
        readoutSlice: 1,
        halvingsPerDispatch: 1,
      },
      1,
      M,
      1,
    );
    return Math.max(
      ...[
        "row_select",
        "row_init",
        "row_weights",
        "row_bisect",
        "choose_fallback",
        "fused_weights",
        "row_features",
        "row_density",
      ].map((k) => its[k] ?? 0),
    );
  };
  while (rowPasses(rowWorkgroupSize) > loopBudget && rowWorkgroupSize * 2 <= maxThreads) {
    rowWorkgroupSize *= 2;
  }
  const privateFits = d4 <= PRIVATE_D4;
  // The fused schedule keeps D-long arrays per thread in private memory (see PRIVATE_D4): a
  // tuner's choice, not the rule.
  let schedule = choices.schedule ?? "threePass";
  const readoutRows = parts.readout === "rows";
  if (schedule === "fused" && parts.footprint) {
    schedule = "threePass";
    notes.push(
      "the fused schedule scores a row with one thread's dot products; A-Hop's footprint sorts each (query, memory) pair in a workgroup of its own: three passes",
    );
  } else if (
    schedule === "fused" && !(parts.family === "online" && privateFits && !readoutRows)
  ) {
    schedule = "threePass";
    notes.push(
      readoutRows
        ? "the fused schedule reads one row for scores and readout; readout rows apart from the scored rows (readout project, a learned similarity) take three passes"
        : `the fused schedule needs an online map and D <= ${4 * PRIVATE_D4}; three passes instead`,
    );
  }
  // Random masks skip rows no query of the thread keeps: short row blocks skip more.
  const rowBlock = choices.rowBlock ?? (parts.mask.kind === "random" ? 1 : 8);
  // The readout accumulates a few chunks of D in registers (unrolled): 4 chunks x 4 queries.
  const readoutSlice = Math.min(d4, 4);
  // Workgroup memory of the per-query passes: reductions, scan, the state and its readout, top-K.
  const wgBytes = 2 * rowWorkgroupSize * F32 + F32 + 2 * d4 * VEC4 +
    (parts.mask.kind === "topk" ? 256 * F32 + 8 : 0);
  if (wgBytes > limits.maxComputeWorkgroupStorageSize) {
    throw new PlanError(
      `dimension D = ${D} needs ${wgBytes} bytes of workgroup memory, over this adapter's ${limits.maxComputeWorkgroupStorageSize}`,
      "use --device cpu (the float64 reference) for vectors this long",
    );
  }
  // Workgroup tiles of X in the score pass: rowBlock rows x tileChunks chunks (16 chunks of 16
  // bytes per row: 2 KiB at 8 rows).
  const tile = schedule === "threePass" && choices.tile === "workgroup" && !parts.footprint
    ? "workgroup"
    : "none";
  if (parts.footprint && choices.tile === "workgroup") {
    notes.push("A-Hop's footprint pass replaces the score pass: no workgroup tiles of X");
  }
  // A-Hop's footprint pass: its sorted length and threads (refused past workgroup memory).
  const footprint = parts.footprint ? footprintShape(D, limits, workgroupSize) : undefined;
  const tileChunks = tile === "workgroup" ? Math.min(d4, 16) : 0;
  const base = {
    schedule,
    d4,
    rowBlock,
    rowWorkgroupSize,
    readoutSlice,
    halvingsPerDispatch: 1,
    tile,
    tileChunks,
    workgroupSize,
    footprint,
  } as const;
  // Rows per split: the most whose passes stay within the budget (estimates are linear in rows).
  const at = (rows: number) => passIterations(parts, base, rows, M, 1);
  const blockedPasses = schedule === "fused"
    ? ["fused_step"]
    : footprint
    ? ["footprint_rows", "readout_rows"]
    : ["score_rows", "readout_rows"];
  let rowsPerSplit = rowBlock;
  const fits = (rows: number) => blockedPasses.every((k) => at(rows)[k] <= loopBudget);
  if (!fits(rowsPerSplit)) {
    throw new PlanError(
      `one block of ${rowBlock} rows at D = ${D} exceeds the adapter's loop budget of ${loopBudget} iterations per invocation`,
      "use --device cpu (the float64 reference) for vectors this long",
    );
  }
  for (let step = 1 << 24; step >= rowBlock; step = Math.floor(step / 2)) {
    if (fits(rowsPerSplit + step)) rowsPerSplit += step;
  }
  rowsPerSplit = Math.max(rowBlock, Math.floor(rowsPerSplit / rowBlock) * rowBlock);
  const perM = cdiv(M, rowWorkgroupSize);
  const halvingsPerDispatch = parts.bisection === 0 ? 0 : Math.max(
    1,
    Math.min(
      parts.bisection,
      Math.floor((loopBudget - 16) / (perM + log2(rowWorkgroupSize) + 1)),
    ),
  );
  // A projected readout stores each chunk's readout rows after its key rows: half the rows fit.
  const rowsPerChunk = Math.max(
    1,
    Math.floor(limits.maxStorageBufferBindingSize / (d4 * VEC4) / (readoutRows ? 2 : 1)),
  );
  if (parts.projected?.kind === "features" && 2 * M > rowsPerChunk) {
    // The readout reads the KV rows beside the W rows: both in one binding.
    throw new PlanError(
      `the features' W and KV rows (2 x ${M} rows of D = ${D}) exceed one storage binding of ${limits.maxStorageBufferBindingSize} bytes`,
      "use fewer features (count) or --device cpu",
    );
  }
  const plan: BlockedPlan = {
    schedule,
    d4,
    rowBlock,
    queriesPerThread: schedule === "fused" ? 4 : choices.queriesPerThread ?? 8,
    workgroupSize,
    rowWorkgroupSize,
    queriesPrivate: schedule === "fused",
    tile,
    tileChunks,
    readoutSlice,
    rowsPerSplit,
    halvingsPerDispatch,
    rowsPerChunk,
    rowExtra: parts.projected?.kind === "quadrature" ? parts.projected.P : 0,
    ...(footprint ? { footprint } : {}),
    loopBudget,
    iterations: {},
    source: choices.source ?? "rule",
    notes,
  };
  const splits = splitsFor(plan, M, 1, choices.parallelism);
  plan.iterations = passIterations(parts, plan, plan.rowsPerSplit, M, splits.total);
  for (const [pass, n] of Object.entries(plan.iterations)) {
    if (n > loopBudget) {
      throw new PlanError(
        `M = ${M} needs ${n} loop iterations per invocation in pass ${pass}, over the adapter's budget of ${loopBudget}`,
        "split the memories into several models, or use --device cpu",
      );
    }
  }
  if (M > rowsPerChunk) {
    notes.push(
      `the memories span ${
        cdiv(M, rowsPerChunk)
      } storage buffers of ${rowsPerChunk} rows (one binding holds ${limits.maxStorageBufferBindingSize} bytes)`,
    );
  }
  return plan;
}

/** Rows of each chunk's splits, for B queries: the budget's splits, more for parallelism. */
export function splitsFor(
  plan: BlockedPlan,
  M: number,
  nq: number,
  parallelism = 1024,
): { rowsPerSplit: number; perChunk: number[]; total: number } {
  const qgroups = cdiv(nq, plan.queriesPerThread);
  const dslices = plan.schedule === "fused" ? 1 : cdiv(plan.d4, plan.readoutSlice);
  const wanted = cdiv(parallelism, qgroups * dslices);
  const byParallelism = Math.max(
    plan.rowBlock,
    cdiv(cdiv(M, wanted), plan.rowBlock) * plan.rowBlock,
  );
  const rowsPerSplit = Math.min(plan.rowsPerSplit, byParallelism);
  const perChunk: number[] = [];
  for (let row0 = 0; row0 < M; row0 += plan.rowsPerChunk) {
    perChunk.push(cdiv(Math.min(plan.rowsPerChunk, M - row0), rowsPerSplit));
  }
  return { rowsPerSplit, perChunk, total: perChunk.reduce((a, b) => a + b, 0) };
}

/**
 * Queries per slice (the score rows and the split partials of a slice fit one binding each) and
 * the parallelism the splits are sized for (lowered when the partials would not fit).
 */
export function sliceQueries(
  plan: BlockedPlan,
  M: number,
  B: number,
  limits: BlockedLimits,
  parallelism = 1024,
): { nq: number; parallelism: number } {
  const binding = limits.maxStorageBufferBindingSize;
  const rowCap = plan.schedule === "threePass"
    ? Math.floor(binding / ((3 * M + plan.rowExtra) * F32))
    : B;
  for (const p of [parallelism, 1]) {
    let nq = Math.min(B, rowCap);
    while (nq >= 1) {
      const { total } = splitsFor(plan, M, nq, p);
      if (total * nq * (plan.d4 + 1) * VEC4 <= binding) return { nq, parallelism: p };
      nq = Math.floor(nq / 2);
    }
  }
  throw new PlanError(
    `one query's score row and partials at M = ${M} exceed the storage binding limit of ${binding} bytes`,
    "split the memories into several models, or use --device cpu",
  );
}
