// `deno task bench`: hopc's retrieval kernels against an unfused WebGPU pipeline (GEMM,
// normalizer, GEMM per step; bench/lib/unfused.ts) and onnxruntime-web's WebGPU execution provider
// (softmax only; bench/lib/ort.ts), all on the same adapter in the same process, every hopc cell
// checked against the float64 reference.
//
//   deno run -A bench/main.ts [--quick] [--full] [--only softmax,sparsemax] [--out PATH]
//                             [--min-time SECONDS] [--budget SECONDS] [--gemm auto|shared|register]
//                             [--beta B] [--shapes MxDxB,...] [--steps 1,8] [--load-mib N]
//                             [--no-ort] [--no-reference]
//
// Maps: softmax, 1.5-entmax, sparsemax, 2-normmax and top-k softmax (mask topk(k = 32)); shapes
// (M, D, B) = (1024, 64, 64), (4096, 256, 64), (16384, 256, 256) and (65536, 256, 1); 1 and 8
// steps. Each cell (map, M, D, B, steps) loads every path, calls each once (warm-up), then times
// them ALTERNATELY: rounds that call every path once, round-robin, until at least 3 rounds were
// timed and about --min-time seconds (default 2) went by; each path's median is reported.
// GFLOP/s counts the two GEMMs only: 4·M·D·B·steps (top-k too). Before the cells, the adapter's
// load rate (f32 loads/s) is measured by summing a 64 MiB storage buffer (bench/lib/loadrate.ts):
// for B = 1, M·D / rate is the time one read of X takes, the floor of one step.
//
// Ratios: hopc vs unfused and vs ORT (the other path's ms / hopc's ms: > 1, hopc is faster); a
// map's hopc time / softmax's at the same shape and steps; n-step time / 1-step time; for B = 1,
// hopc's time / (steps · one read of X). Each hopc cell is checked on its first 2 queries against
// the float64 reference (relative to the largest entry); above 1e-3 the cell is FAILED.
//
// Results go to a markdown table on stdout and to bench/results/<adapter-slug>-<date>.json (or
// --out). On a CPU adapter the run keeps to a budget (default 1440 s): cells predicted to overrun
// it drop the unfused and ORT paths, then are skipped, with a note (hopc's 1-step cell at
// (16384, 256, 256) always runs); the unfused and ORT paths of the (16384, 256, 256) multi-step
// cells are skipped when predicted to take over a minute each, unless --full.
import { acquireDevice } from "../src/runtime/device.ts";
import { stderrProgress } from "../src/cli/progress.ts";
import { load, type Retriever, type RunChoices } from "../src/runtime/retriever.ts";
import { nothingToTune, tune } from "../src/runtime/tune.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import { loopBudgetFor } from "../src/runtime/blocked/plan.ts";
import type { Mat } from "../src/parts/types.ts";
import {
  BENCH_NORMALIZERS,
  benchModel,
  type BenchNormalizer,
  gemmLoopIterations,
  type GemmVariant,
  loadUnfused,
  type UnfusedRetriever,
  unfusedUnsupported,
} from "./lib/unfused.ts";
import { createOrtRetrieval, loadOrt, type OrtRetrieval, OrtUnavailable } from "./lib/ort.ts";
import { type LoadRate, measureLoadRate } from "./lib/loadrate.ts";
import {
  dateStamp,
  gaussianRng,
  type InterleavedPath,
  isCpuAdapter,
  relativeError,
  slug,
  timeInterleaved,
  type Timing as CallTiming,
} from "./lib/common.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  quick: boolean;
  full: boolean;
  only: BenchNormalizer[];
  out?: string;
  minTime: number;
  gemm: GemmVariant | "auto";
  beta: number;
  ort: boolean;
  reference: boolean;
  /** Seconds the run may take; cells predicted to overrun it are cut down or skipped. */
  budget: number;
  /** Shapes to run (default: all four; --quick: two small ones). */
  shapes?: Shape[];
  steps: number[];
  /** MiB the load-rate kernel sums. */
  loadMib: number;
  /**
   * Seconds of `hopc tune` per candidate before each cell (0: none, hopc runs the rules' plan or a
   * cached tuned one): the cell then times the tuner's winner.
   */
  tune: number;
}

const USAGE = `usage: deno run -A bench/main.ts [options]
  --quick              two small shapes, (1024, 64, 64) and (8192, 64, 1), for smoke tests
  --full               on a CPU adapter, also run the unfused and ORT paths of the
                       (16384, 256, 256) multi-step cells, and no budget
  --only LIST          maps, comma-separated: ${Object.keys(BENCH_NORMALIZERS).join(",")}
  --out PATH           where to write the JSON (default bench/results/<adapter>-<date>.json)
  --min-time S         seconds of timed rounds per cell (each round calls every path once), after
                       >= 3 rounds (default 2)
  --gemm V             unfused GEMM kernel: auto (time both per shape), shared, register
  --beta B             inverse temperature of every model (default 8)
  --shapes LIST        shapes to run instead, as MxDxB, comma-separated (e.g. 16384x256x256)
  --steps LIST         step counts to run (default 1,8)
  --budget S           cut down or skip cells predicted to end the run after S seconds (default
                       1440 on a CPU adapter, none on a GPU or with --full)
  --load-mib N         MiB the load-rate kernel sums (default 64)
  --tune S             tune each cell's model first (S seconds per candidate, as hopc tune
                       --min-time) and time the winner; the table's plan column says which
  --no-ort             skip onnxruntime-web
  --no-reference       skip the float64 checks`;

function parseArgs(args: string[]): Options {
  const o: Options = {
    quick: false,
    full: false,
    only: Object.keys(BENCH_NORMALIZERS) as BenchNormalizer[],
    minTime: 2,
    gemm: "auto",
    beta: 8,
    ort: true,
    reference: true,
    budget: NaN, // decided in main: 1440 s on a CPU adapter, unlimited otherwise or with --full
    steps: [1, 8],
    loadMib: 64,
    tune: 0,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--quick":
        o.quick = true;
        break;
      case "--full":
        o.full = true;
        break;
      case "--only": {
        const names = value().split(",").map((s) => s.trim()).filter((s) => s);
        for (const n of names) {
          if (!(n in BENCH_NORMALIZERS)) fail(`unknown map ${n}`);
        }
        o.only = names as BenchNormalizer[];
        break;
      }
      case "--out":
        o.out = value();
        break;
      case "--min-time":
        o.minTime = Number(value());
        if (!(o.minTime >= 0)) fail("--min-time wants a number of seconds");
        break;
      case "--gemm": {
        const v = value();
        if (v !== "auto" && v !== "shared" && v !== "register") fail(`unknown --gemm ${v}`);
        o.gemm = v as Options["gemm"];
        break;
      }
      case "--beta":
        o.beta = Number(value());
        if (!(o.beta > 0)) fail("--beta wants a positive number");
        break;
      case "--shapes":
        o.shapes = value().split(",").map((t) => {
          const m = /^(\d+)x(\d+)x(\d+)$/.exec(t.trim());
          if (!m) fail(`--shapes wants MxDxB items, e.g. 16384x256x256; got ${t}`);
          return { M: Number(m[1]), D: Number(m[2]), B: Number(m[3]) };
        });
        break;
      case "--steps":
        o.steps = value().split(",").map(Number);
        if (!o.steps.every((n) => Number.isInteger(n) && n >= 1)) fail("--steps wants counts");
        break;
      case "--budget":
        o.budget = Number(value());
        if (!(o.budget > 0)) fail("--budget wants a number of seconds");
        break;
      case "--load-mib":
        o.loadMib = Number(value());
        if (!(o.loadMib > 0)) fail("--load-mib wants a positive number");
        break;
      case "--tune":
        o.tune = Number(value());
        if (!(o.tune > 0)) fail("--tune wants seconds per candidate, e.g. 0.5");
        break;
      case "--no-ort":
        o.ort = false;
        break;
      case "--no-reference":
        o.reference = false;
        break;
      case "-h":
      case "--help":
        console.log(USAGE);
        Deno.exit(0);
        break;
      default:
        fail(`unknown argument ${a}`);
    }
  }
  return o;
}

function fail(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  Deno.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Data: deterministic, a retrieval-like regime. Memories have entries N(0, 1/D) (norm about 1);
// query b is memory (7b mod M) plus noise of norm about 0.3, so a step moves it toward a memory.

function makeData(M: number, D: number, B: number): { X: Mat; Q: Mat } {
  const g = gaussianRng(M * 31 + D * 7 + B);
  const sd = 1 / Math.sqrt(D);
  const X = { rows: M, cols: D, data: Float64Array.from({ length: M * D }, () => g() * sd) };
  const Q = { rows: B, cols: D, data: new Float64Array(B * D) };
  for (let b = 0; b < B; b++) {
    const j = (7 * b) % M;
    for (let d = 0; d < D; d++) Q.data[b * D + d] = X.data[j * D + d] + 0.3 * sd * g();
  }
  return { X, Q };
}

// ---------------------------------------------------------------------------------------------
// Cells

export interface Shape {
  M: number;
  D: number;
  B: number;
}

const SHAPES: Shape[] = [
  { M: 1024, D: 64, B: 64 },
  { M: 4096, D: 256, B: 64 },
  { M: 16384, D: 256, B: 256 },
  { M: 65536, D: 256, B: 1 },
];
const QUICK_SHAPES: Shape[] = [{ M: 1024, D: 64, B: 64 }, { M: 8192, D: 64, B: 1 }];
/** The shape whose multi-step unfused and ORT cells are skipped on a CPU adapter (--full runs). */
const LARGE: Shape = { M: 16384, D: 256, B: 256 };
/** hopc's 1-step cells at this shape run whatever the budget says. */
const MUST_RUN: Shape = LARGE;
/** Predicted seconds above which a peer path of a LARGE multi-step cell is skipped (CPU). */
const PEER_LIMIT_S = 60;
/** Default budget of a run on a CPU adapter, seconds. */
const CPU_BUDGET_S = 1440;
/** Queries of each cell checked against the float64 reference. */
const CHECK_QUERIES = 2;
/** Relative state error (vs the largest entry) above which a cell FAILED. */
export const CHECK_TOL = 1e-3;

export type PathName = "hopc" | "unfused" | "ort";
const PATHS: PathName[] = ["hopc", "unfused", "ort"];

export interface Timing extends CallTiming {
  gflops: number;
}

export interface Check {
  against: string;
  queries: number;
  /** max |a - b| / max |b| over the checked queries' final states. */
  relErr: number;
  tol: number;
  ok: boolean;
}

export interface PathResult {
  timing?: Timing;
  check?: Check;
  error?: string;
  /** Why the path did not run here ("not applicable", a budget or size note). */
  skipped?: string;
  note?: string;
}

export interface PlanInfo {
  kernel: string;
  source: string;
  schedule?: string;
  queriesPerThread?: number;
  rowBlock?: number;
  workgroupSize?: number;
  rowsPerSplit?: number;
}

export interface Cell extends Shape {
  normalizer: BenchNormalizer;
  /** The model's map, as hopc source. */
  map: string;
  steps: number;
  flop: number;
  /** ok: hopc agrees with the reference; FAILED: it does not; error / skipped: hopc did not run. */
  status: "ok" | "FAILED" | "error" | "unchecked" | "skipped";
  /** `tuned`: the tuner's winner, under --tune. */
  hopc: PathResult & { plan?: PlanInfo; tuned?: string };
  unfused: PathResult & { gemm?: GemmVariant };
  ort: PathResult;
  /** The float64 reference on the checked queries (ms of one call). */
  reference?: { ms?: number; queries: number; error?: string };
  /** Timed rounds (each path called once per round). */
  rounds?: number;
  /** Mean number of non-zero weights per query in the last step (hopc, weights read back). */
  support?: number;
  ratios: {
    /** unfused ms / hopc ms: above 1, hopc is faster. */
    hopcVsUnfused?: number;
    /** ORT ms / hopc ms: above 1, hopc is faster. */
    hopcVsOrt?: number;
    /** This map's ms / softmax's ms at the same shape and steps, per path. */
    overSoftmax?: Partial<Record<PathName, number>>;
    /** This cell's ms / the same map's 1-step ms at the same shape, per path. */
    overOneStep?: Partial<Record<PathName, number>>;
    /** (B = 1) ms / the time of one read of X at the measured load rate, per path. */
    overXRead?: Partial<Record<PathName, number>>;
    /** (B = 1) ms / (steps x that time), per path: 1 is reading X once per step. */
    overXReads?: Partial<Record<PathName, number>>;
  };
}

// A status line on a terminal (which cell is running), plain lines in a log (src/cli/progress.ts).
const progress = stderrProgress();
const log = (s: string) => progress.line(s);

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

const sameShape = (a: Shape, b: Shape) => a.M === b.M && a.D === b.D && a.B === b.B;

function planInfo(r: Retriever): PlanInfo {
  const b = r.blockedPlan;
  return b
    ? {
      kernel: r.plan.kernel,
      source: b.source,
      schedule: b.schedule,
      queriesPerThread: b.queriesPerThread,
      rowBlock: b.rowBlock,
      workgroupSize: b.workgroupSize,
      rowsPerSplit: b.rowsPerSplit,
    }
    : { kernel: r.plan.kernel, source: r.plan.source };
}

// ---------------------------------------------------------------------------------------------
// The run

async function main(): Promise<void> {
  const opts = parseArgs(Deno.args);
  const started = new Date();
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)}s`;
  const loadStart = Deno.loadavg();

  const ctx = await acquireDevice();
  const cpuAdapter = isCpuAdapter(ctx);
  log(
    `bench: adapter ${ctx.info}${cpuAdapter ? " (a CPU adapter)" : ""}, Deno ${Deno.version.deno}`,
  );
  if (loadStart[0] > 0.5 * navigator.hardwareConcurrency) {
    log(
      `bench: note: load average ${
        loadStart[0].toFixed(2)
      } on ${navigator.hardwareConcurrency} cores; other processes will slow the timings`,
    );
  }

  const shapes = opts.shapes ?? (opts.quick ? QUICK_SHAPES : SHAPES);
  if (Number.isNaN(opts.budget)) opts.budget = cpuAdapter && !opts.full ? CPU_BUDGET_S : Infinity;
  const notes: string[] = [];
  const note = (s: string) => {
    notes.push(s);
    log(`bench: note: ${s}`);
  };
  const skipped: {
    shape: Shape;
    steps: number;
    normalizer: string;
    paths: PathName[];
    reason: string;
    predictedSeconds?: number;
  }[] = [];

  // The adapter's load rate, for the B = 1 floor.
  let loadRate: LoadRate | undefined;
  try {
    loadRate = await measureLoadRate(ctx, { bytes: opts.loadMib * 2 ** 20 });
    log(
      `bench: [${elapsed()}] load rate ${loadRate.loadsPerSecond.toExponential(3)} f32 loads/s (${
        (loadRate.bytesPerSecond / 1e9).toFixed(2)
      } GB/s, ${(loadRate.bytes / 2 ** 20).toFixed(0)} MiB, ${loadRate.block} vec4 per invocation${
        loadRate.checked ? "" : "; SUMS WRONG"
      })`,
    );
    if (!loadRate.checked) note("the load-rate kernel's sums did not match the host's");
  } catch (e) {
    note(`load rate not measured: ${errorText(e)}`);
  }
  const xReadMs = (s: Shape) => loadRate ? (s.M * s.D) / loadRate.loadsPerSecond * 1000 : undefined;

  // onnxruntime-web: load once; its failure is reported, not fatal.
  let ortStatus: { available: boolean; version?: string; sharedDevice?: boolean; error?: string } =
    { available: false, error: "not run (--no-ort or softmax not selected)" };
  if (opts.ort && opts.only.includes("softmax")) {
    try {
      const ort = await loadOrt();
      ortStatus = { available: true, version: ort.env.versions.web };
    } catch (e) {
      ortStatus = { available: false, error: errorText(e) };
      log(`bench: onnxruntime-web unavailable: ${ortStatus.error}`);
    }
  }

  const cells: Cell[] = [];
  const gemmChoice = new Map<
    string,
    {
      chosen: GemmVariant;
      ms?: Partial<Record<GemmVariant, number>>;
      refused?: Partial<Record<GemmVariant, string>>;
      reusedFrom?: string;
    }
  >();
  let lastGemm: GemmVariant | undefined;
  // Measured GFLOP/s of each path, map and batch class (B = 1 or not; the latest cell), to predict
  // the next cells' cost.
  const rates = new Map<string, number>();
  const klass = (B: number) => (B === 1 ? "single" : "batch");
  const slowest = (keep: (key: string) => boolean) => {
    const vs = [...rates].filter(([k]) => keep(k)).map(([, v]) => v);
    return vs.length > 0 ? Math.min(...vs) : undefined;
  };
  const predictMs = (path: PathName, normalizer: string, B: number, flop: number) => {
    // This map and class, else the slowest map of the class, else the path's slowest cell.
    const rate = rates.get(`${path}:${normalizer}:${klass(B)}`) ??
      slowest((k) => k.startsWith(`${path}:`) && k.endsWith(`:${klass(B)}`)) ??
      slowest((k) => k.startsWith(`${path}:`));
    return rate === undefined ? undefined : flop / (rate * 1e6);
  };
  /** Seconds a cell takes with these paths' predicted call times (ms), warm-ups and timed rounds. */
  const cellCost = (callMs: number[], hopcMs: number) => {
    const sum = callMs.reduce((a, b) => a + b, 0);
    return (2 * sum + Math.max(3 * sum, opts.minTime * 1000) + hopcMs) / 1000;
  };

  // Per shape: the data and the unfused GEMM choice, made when the shape's first cell runs and
  // dropped after its last.
  interface ShapeState {
    X: Mat;
    Q: Mat;
    X32: Float32Array;
    Q32: Float32Array;
    nCheck: number;
    Qcheck: Mat;
    gemm?: GemmVariant;
    /** Cells of this shape still to run. */
    left: number;
  }
  const shapeStates = new Map<string, ShapeState>();
  const keyOf = (s: Shape) => `${s.M}x${s.D}x${s.B}`;
  // The cells in table order, run in that order except the multi-step cells at LARGE, which run
  // last: a budget that runs short then cuts the costliest cells, not the B = 1 ones.
  const specs = shapes.flatMap((shape) =>
    opts.steps.flatMap((steps) => opts.only.map((normalizer) => ({ shape, steps, normalizer })))
  );
  const heavy = (x: (typeof specs)[number]) => sameShape(x.shape, LARGE) && x.steps > 1;
  const order = [...specs.filter((x) => !heavy(x)), ...specs.filter(heavy)];
  const tableIndex = new Map<Cell, number>();

  for (const item of order) {
    const { shape, steps, normalizer } = item;
    const { M, D, B } = shape;
    const shapeKey = keyOf(shape);
    let st = shapeStates.get(shapeKey);
    if (!st) {
      const { X, Q } = makeData(M, D, B);
      const nCheck = Math.min(CHECK_QUERIES, B);
      st = {
        X,
        Q,
        X32: Float32Array.from(X.data),
        Q32: Float32Array.from(Q.data),
        nCheck,
        Qcheck: { rows: nCheck, cols: D, data: Q.data.slice(0, nCheck * D) },
        gemm: opts.gemm === "auto" ? undefined : opts.gemm,
        left: order.filter((x) => keyOf(x.shape) === shapeKey).length,
      };
      shapeStates.set(shapeKey, st);
    }
    if (--st.left === 0) shapeStates.delete(shapeKey);
    const { X, Q, X32, Q32, nCheck, Qcheck } = st;

    // The unfused GEMM kernel for this shape: the faster of the two on one 1-step softmax call
    // (after a warm-up), tuned when the shape's first unfused cell runs. Where that call would
    // take seconds, the previous shape's choice is kept.
    const tuneGemm = async (): Promise<GemmVariant> => {
      const guess = predictMs("unfused", "softmax", B, 4 * M * D * B);
      const fits = (v: GemmVariant) =>
        gemmLoopIterations(v, M, D % 4 === 0 && M % 4 === 0) <= loopBudgetFor(ctx.info);
      if (lastGemm && fits(lastGemm) && guess !== undefined && guess > 3000) {
        gemmChoice.set(shapeKey, { chosen: lastGemm, reusedFrom: "previous shape" });
        return lastGemm;
      }
      // A variant the adapter cannot run at this shape (loadUnfused refuses it) is left out.
      const ms: Partial<Record<GemmVariant, number>> = {};
      const refused: Partial<Record<GemmVariant, string>> = {};
      for (const v of ["shared", "register"] as const) {
        let u: UnfusedRetriever;
        try {
          u = await loadUnfused(benchModel("softmax", opts.beta, 1), X, ctx, { gemm: v });
        } catch (e) {
          refused[v] = errorText(e);
          continue;
        }
        try {
          await u.retrieve(Q); // warm-up (pipeline compilation, buffers)
          const t = performance.now();
          await u.retrieve(Q);
          ms[v] = performance.now() - t;
        } finally {
          u.destroy();
        }
      }
      const chosen = ms.shared === undefined
        ? "register"
        : ms.register === undefined || ms.shared <= ms.register
        ? "shared"
        : "register";
      gemmChoice.set(shapeKey, {
        chosen,
        ms,
        ...(Object.keys(refused).length ? { refused } : {}),
      });
      const show = (v: GemmVariant) =>
        ms[v] !== undefined ? `${ms[v]!.toFixed(1)} ms` : `refused (${refused[v]})`;
      log(
        `bench: [${elapsed()}] ${shapeKey}: unfused GEMM ${chosen} (1-step softmax: shared ${
          show("shared")
        }, register ${show("register")})`,
      );
      return chosen;
    };

    const model = benchModel(normalizer, opts.beta, steps);
    const flop = 4 * M * D * B * steps;
    const spec: { entropy: string; mask?: string } = BENCH_NORMALIZERS[normalizer];
    const cell: Cell = {
      normalizer,
      map: `entropy ${spec.entropy}${spec.mask ? `; mask ${spec.mask}` : ""}`,
      ...shape,
      steps,
      flop,
      status: "error",
      hopc: {},
      unfused: {},
      ort: {},
      ratios: {},
    };
    const cellName = `${normalizer} (${M}, ${D}, ${B}) x ${stepsText(steps)}`;

    // Which paths run: the peers where they apply, then the LARGE rule and the budget.
    const active = new Set<PathName>(["hopc"]);
    const why = unfusedUnsupported(model);
    if (why) cell.unfused.skipped = `not applicable: ${why}`;
    else active.add("unfused");
    if (normalizer !== "softmax") cell.ort.skipped = "not applicable (softmax only)";
    else if (!opts.ort) cell.ort.skipped = "--no-ort";
    else if (!ortStatus.available) cell.ort.error = ortStatus.error;
    else active.add("ort");
    const predicted = new Map<PathName, number | undefined>(
      PATHS.map((p) => [p, predictMs(p, normalizer, B, flop)]),
    );
    const skip = (paths: PathName[], reason: string, predictedSeconds?: number) => {
      for (const p of paths) {
        active.delete(p);
        cell[p].skipped = reason;
      }
      skipped.push({ shape, steps, normalizer, paths, reason, predictedSeconds });
      note(`${cellName}: ${paths.join(", ")} skipped: ${reason}`);
    };
    if (cpuAdapter && !opts.full && sameShape(shape, LARGE) && steps > 1) {
      for (const p of ["unfused", "ort"] as const) {
        if (!active.has(p)) continue;
        const c = predicted.get(p);
        const seconds = c === undefined ? undefined : (5 * c) / 1000;
        if (seconds === undefined || seconds > PEER_LIMIT_S) {
          skip(
            [p],
            `${
              seconds === undefined ? "no prediction" : `about ${seconds.toFixed(0)} s predicted`
            } on a CPU adapter (over ${PEER_LIMIT_S} s); pass --full to run it`,
            seconds,
          );
        }
      }
    }
    const known = [...active].every((p) => predicted.get(p) !== undefined);
    if (Number.isFinite(opts.budget) && known) {
      const ms = (ps: PathName[]) => ps.map((p) => predicted.get(p)!);
      const spent = (performance.now() - t0) / 1000;
      const left = Math.max(0, opts.budget - spent);
      const all = cellCost(ms([...active]), predicted.get("hopc")!);
      const alone = cellCost(ms(["hopc"]), predicted.get("hopc")!);
      const budgetNote = (cost: number) =>
        `about ${cost.toFixed(0)} s predicted, ${left.toFixed(0)} s of the ${opts.budget} s ` +
        `budget left (--budget S or --full to run it)`;
      if (all > left && active.size > 1) {
        const peers = [...active].filter((p) => p !== "hopc");
        skip(peers, budgetNote(all), all);
      }
      const mustRun = sameShape(shape, MUST_RUN) && steps === 1;
      if (alone > left && !mustRun) {
        skip(["hopc"], budgetNote(alone), alone);
        cell.status = "skipped";
        tableIndex.set(cell, specs.indexOf(item));
        cells.push(cell); // a row that says why
        continue;
      }
    }
    if (active.has("unfused") && st.gemm === undefined) lastGemm = st.gemm = await tuneGemm();
    if (active.has("unfused")) cell.unfused.gemm = st.gemm;
    log(`bench: [${elapsed()}] ${cellName}: ${[...active].join(", ")}`);
    progress.update(
      `bench: [${elapsed()}] cell ${cells.length + 1} of ${specs.length}: ${cellName}`,
    );

    // The float64 reference on the first queries: the yardstick of every path.
    let refStates: Float64Array | undefined;
    if (opts.reference) {
      try {
        const t = performance.now();
        refStates = retrieveReference(model, X, Qcheck).states.data;
        cell.reference = { ms: performance.now() - t, queries: nCheck };
      } catch (e) {
        cell.reference = { queries: nCheck, error: errorText(e) };
      }
    }
    const check = (states: Float32Array): Check | undefined => {
      if (!refStates) return undefined;
      const relErr = relativeError(states, refStates, nCheck * D);
      return {
        against: "float64 reference",
        queries: nCheck,
        relErr,
        tol: CHECK_TOL,
        ok: relErr <= CHECK_TOL,
      };
    };

    // Load every active path, then time them alternately.
    let r: Retriever | undefined;
    let u: UnfusedRetriever | undefined;
    let s: OrtRetrieval | undefined;
    try {
      const timed: InterleavedPath[] = [];
      if (active.has("hopc")) {
        try {
          let choices: RunChoices = {};
          if (opts.tune > 0 && !nothingToTune(model)) {
            const t = await tune(model, shape, ctx, { minTime: opts.tune });
            const w = t.winner.choices;
            choices = w.blocked ? { ...w, blocked: { ...w.blocked, source: "tuned" } } : w;
            cell.hopc.tuned = t.winner.label;
          }
          r = await load(model, X, ctx, choices);
          cell.hopc.plan = planInfo(r);
          const rr = r;
          timed.push({ name: "hopc", fn: async () => (await rr.retrieve(Q)).states });
        } catch (e) {
          cell.hopc.error = errorText(e);
        }
      }
      if (active.has("unfused")) {
        try {
          u = await loadUnfused(model, X, ctx, { gemm: st.gemm });
          const uu = u;
          timed.push({ name: "unfused", fn: async () => (await uu.retrieve(Q)).states });
        } catch (e) {
          cell.unfused.error = errorText(e);
        }
      }
      if (active.has("ort")) {
        try {
          s = await createOrtRetrieval({ X: X32, M, D, B, beta: opts.beta, steps }, ctx.device);
          ortStatus.sharedDevice = s.sharedDevice;
          cell.ort.note = "steps chained in one ONNX graph, one session.run";
          const ss = s;
          timed.push({ name: "ort", fn: () => ss.run(Q32) });
        } catch (e) {
          cell.ort.error = errorText(e);
          if (e instanceof OrtUnavailable) {
            ortStatus = { available: false, error: errorText(e) };
          }
        }
      }
      const { results, rounds } = await timeInterleaved(timed, opts.minTime);
      cell.rounds = rounds;
      for (const [name, res] of results) {
        const p = cell[name as PathName];
        if (res.error !== undefined) p.error = errorText(res.error);
        if (res.timing) p.timing = { ...res.timing, gflops: flop / (res.timing.ms * 1e6) };
        if (res.first instanceof Float32Array) p.check = check(res.first);
      }
      // Support of hopc's final weights (one more call, not timed).
      if (r && cell.hopc.timing) {
        try {
          const w = (await r.retrieve(Q, { weights: true })).weights;
          if (w) {
            let nz = 0;
            for (let i = 0; i < w.length; i++) if (w[i] !== 0) nz++;
            cell.support = nz / B;
          }
        } catch (e) {
          log(`bench:   hopc weights call failed: ${errorText(e)}`);
        }
      }
    } finally {
      r?.destroy();
      u?.destroy();
      if (s) await s.release();
    }

    cell.status = cell.hopc.timing
      ? !cell.hopc.check ? "unchecked" : cell.hopc.check.ok ? "ok" : "FAILED"
      : "error";
    for (const p of PATHS) {
      const t = cell[p].timing;
      if (t) rates.set(`${p}:${normalizer}:${klass(B)}`, t.gflops);
      if (cell[p].error) log(`bench:   ${p} failed: ${cell[p].error}`);
      const c = cell[p].check;
      if (c && !c.ok) {
        log(
          `bench:   ${p === "hopc" ? "FAILED" : "WARNING"} ${p} differs from the ` +
            `reference: relative ${c.relErr.toExponential(2)}`,
        );
        if (p !== "hopc") {
          note(`${cellName}: ${p} differs from the reference (${c.relErr.toExponential(2)})`);
        }
      }
    }
    log(`bench:   ${cellLine(cell)}`);
    tableIndex.set(cell, specs.indexOf(item));
    cells.push(cell);
  }
  cells.sort((a, b) => tableIndex.get(a)! - tableIndex.get(b)!);

  // Ratios across cells.
  for (const c of cells) {
    const ms = (x: Cell, p: PathName) => x[p].timing?.ms;
    const per = (other: Cell | undefined, scale = 1) => {
      if (!other) return undefined;
      const out: Partial<Record<PathName, number>> = {};
      for (const p of PATHS) {
        const a = ms(c, p), b = ms(other, p);
        if (a !== undefined && b !== undefined) out[p] = a / (b * scale);
      }
      return Object.keys(out).length ? out : undefined;
    };
    const h = ms(c, "hopc"), un = ms(c, "unfused"), o = ms(c, "ort");
    if (h && un) c.ratios.hopcVsUnfused = un / h;
    if (h && o) c.ratios.hopcVsOrt = o / h;
    if (c.normalizer !== "softmax") {
      c.ratios.overSoftmax = per(
        cells.find((x) => x.normalizer === "softmax" && sameShape(x, c) && x.steps === c.steps),
      );
    }
    if (c.steps !== 1) {
      c.ratios.overOneStep = per(
        cells.find((x) => x.normalizer === c.normalizer && sameShape(x, c) && x.steps === 1),
      );
    }
    const read = xReadMs(c);
    if (c.B === 1 && read !== undefined) {
      const over = (scale: number) => {
        const out: Partial<Record<PathName, number>> = {};
        for (const p of PATHS) {
          const a = ms(c, p);
          if (a !== undefined) out[p] = a / (read * scale);
        }
        return out;
      };
      c.ratios.overXRead = over(1);
      c.ratios.overXReads = over(c.steps);
    }
  }

  const seconds = (performance.now() - t0) / 1000;
  console.log(table(cells));
  console.log();
  if (loadRate) {
    const singles = shapes.filter((s) => s.B === 1);
    console.log(
      `Load rate: ${loadRate.loadsPerSecond.toExponential(3)} f32 loads/s (${
        (loadRate.bytesPerSecond / 1e9).toFixed(2)
      } GB/s), measured in this run by summing ${
        (loadRate.bytes / 2 ** 20).toFixed(0)
      } MiB of f32 (each invocation a contiguous block of ${loadRate.block} vec4).` +
        singles.map((s) =>
          ` Reading X once at M = ${s.M}, D = ${s.D} (M·D = ${s.M * s.D} f32) takes ${
            xReadMs(s)!.toFixed(2)
          } ms.`
        ).join(""),
    );
    for (const c of cells.filter((c) => c.ratios.overXRead?.hopc !== undefined)) {
      console.log(
        `  B = 1, ${c.normalizer} (${c.M}, ${c.D}) x ${stepsText(c.steps)}: hopc ${
          fmtMs(c.hopc.timing)
        } ms = ${c.ratios.overXRead!.hopc!.toFixed(1)}x one read of X (${
          c.ratios.overXReads!.hopc!.toFixed(1)
        }x one read per step)`,
      );
    }
  }
  for (const n of notes) console.log(`note: ${n}`);
  if (ortStatus.error && opts.ort && opts.only.includes("softmax")) {
    console.log(`note: onnxruntime-web: ${ortStatus.error}`);
  }
  const failed = cells.filter((c) => c.status === "FAILED").length;
  console.log(
    `GFLOP/s counts 4·M·D·B·steps (the two GEMMs). vs unfused / vs ORT = that path's ms / hopc's ` +
      `ms (> 1: hopc is faster); ÷ softmax = hopc ms / hopc softmax ms at the same shape and ` +
      `steps; ÷ 1 step = hopc ms / the 1-step cell's; ÷ X reads (B = 1) = hopc ms / (steps · ` +
      `M·D / load rate). Paths timed alternately (round-robin), median of >= 3 calls after one ` +
      `warm-up. check: hopc's first ${CHECK_QUERIES} queries against the float64 reference ` +
      `(relative to the largest entry; FAILED above ${CHECK_TOL}). plan: hopc's kernel (schedule, ` +
      `queries per thread q, row block r, source). ${failed} FAILED. Total ${
        seconds.toFixed(0)
      } s.`,
  );

  const report = {
    tool: "hopc bench",
    date: started.toISOString(),
    command: `deno run -A bench/main.ts${Deno.args.length ? " " + Deno.args.join(" ") : ""}`,
    adapter: {
      description: ctx.info,
      info: {
        vendor: ctx.adapter.info.vendor,
        architecture: ctx.adapter.info.architecture,
        device: ctx.adapter.info.device,
        description: ctx.adapter.info.description,
      },
      cpuAdapter,
      features: [...ctx.features],
      limits: ctx.limits,
      backend: Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default",
    },
    deno: Deno.version,
    host: {
      os: Deno.build.os,
      arch: Deno.build.arch,
      cpus: navigator.hardwareConcurrency,
      loadavgStart: loadStart,
      loadavgEnd: Deno.loadavg(),
    },
    options: opts,
    data: "X entries N(0, 1/D); query b = memory (7b mod M) + N(0, 0.09/D) noise; seeded",
    flopCount: "4*M*D*B*steps (the two GEMMs per step)",
    timing: "per cell, paths loaded together, one warm-up each, then round-robin rounds (each " +
      "path once, order rotated per round) until >= 3 rounds and min-time; medians",
    check: { queries: CHECK_QUERIES, tol: CHECK_TOL, against: "retrieveReference (float64)" },
    loadRate: loadRate ?? null,
    xRead: shapes.filter((s) => s.B === 1).map((s) => ({ ...s, ms: xReadMs(s) ?? null })),
    unfusedGemm: Object.fromEntries(gemmChoice),
    onnxruntimeWeb: ortStatus,
    skipped,
    notes,
    failed,
    totalSeconds: seconds,
    cells,
  };
  const out = opts.out ?? `bench/results/${slug(ctx.info)}-${dateStamp(started, true)}.json`;
  const dir = out.includes("/") ? out.slice(0, out.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
  console.log(`wrote ${out}`);
}

// ---------------------------------------------------------------------------------------------
// Printing

function fmtMs(t?: Timing): string {
  if (!t) return "-";
  return t.ms >= 100 ? t.ms.toFixed(0) : t.ms >= 10 ? t.ms.toFixed(1) : t.ms.toFixed(2);
}

function fmtG(t?: Timing): string {
  return t ? t.gflops.toFixed(t.gflops >= 10 ? 1 : 2) : "";
}

function fmtX(x?: number): string {
  if (x === undefined) return "";
  return `${x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2)}x`;
}

function stepsText(steps: number): string {
  return `${steps} step${steps === 1 ? "" : "s"}`;
}

function pathCell(p: PathResult): [string, string] {
  if (p.timing) return [fmtMs(p.timing), fmtG(p.timing)];
  if (p.error) return ["error", ""];
  if (p.skipped?.startsWith("not applicable")) return ["–", ""];
  if (p.skipped) return ["skipped", ""];
  return ["-", ""];
}

function planText(p?: PlanInfo): string {
  if (!p) return "";
  return p.schedule
    ? `${p.schedule} q${p.queriesPerThread} r${p.rowBlock} wg${p.workgroupSize} ${p.source}`
    : `${p.kernel} ${p.source}`;
}

function checkText(c: Cell): string {
  const k = c.hopc.check;
  if (!k) return c.hopc.timing ? "unchecked" : "";
  return k.ok ? k.relErr.toExponential(1) : `FAILED ${k.relErr.toExponential(1)}`;
}

function cellLine(c: Cell): string {
  const part = (name: string, p: PathResult) =>
    p.timing
      ? `${name} ${fmtMs(p.timing)} ms (${fmtG(p.timing)} GFLOP/s, ${p.timing.n} calls${
        p.check ? `, err ${p.check.relErr.toExponential(1)}` : ""
      })`
      : p.error
      ? `${name} error`
      : "";
  return [
    part("hopc", c.hopc),
    part("unfused", c.unfused),
    part("ort", c.ort),
    c.hopc.plan ? `plan ${planText(c.hopc.plan)}` : "",
    c.status === "FAILED" ? "FAILED" : "",
  ].filter((s) => s).join(", ");
}

export function table(cells: Cell[]): string {
  const head = [
    "map",
    "M",
    "D",
    "B",
    "steps",
    "hopc ms",
    "GF/s",
    "unfused ms",
    "GF/s",
    "ORT ms",
    "GF/s",
    "vs unfused",
    "vs ORT",
    "÷ softmax",
    "÷ 1 step",
    "÷ X reads",
    "support",
    "plan",
    "check",
  ];
  const rows = cells.map((c) => [
    c.normalizer,
    String(c.M),
    String(c.D),
    String(c.B),
    String(c.steps),
    ...pathCell(c.hopc),
    ...pathCell(c.unfused),
    ...pathCell(c.ort),
    fmtX(c.ratios.hopcVsUnfused),
    fmtX(c.ratios.hopcVsOrt),
    fmtX(c.ratios.overSoftmax?.hopc),
    fmtX(c.ratios.overOneStep?.hopc),
    fmtX(c.ratios.overXReads?.hopc),
    c.support === undefined ? "" : c.support.toFixed(1),
    planText(c.hopc.plan),
    checkText(c),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const left = new Set([0, head.length - 2, head.length - 1]);
  const line = (r: string[]) =>
    "| " + r.map((s, i) => (left.has(i) ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join(
      " | ",
    ) + " |";
  return [
    line(head),
    "|" + widths.map((w, i) => "-".repeat(w + 1) + (left.has(i) ? "-" : ":")).join("|") + "|",
    ...rows.map(line),
  ].join("\n");
}

if (import.meta.main) await main();
