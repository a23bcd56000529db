// One markdown table from the JSON of bench/gpu/bench.ts (hopc) and bench/gpu/torch_bench.py
// (PyTorch), written to --out and printed.
//
//   deno run -A bench/gpu/report.ts --hopc hopc.json [--torch torch.json] [--out table.md]
//                                   [--peak-gbps G --peak-gflops F]
//
// Rows: map, shape, steps. Columns: hopc ms, GB/s, GFLOP/s, its error against the float64
// reference interpreter, its share of the roofline; PyTorch eager ms, GB/s, GFLOP/s, error, share;
// scaled_dot_product_attention (softmax); the speed ratio; and "x-check", hopc's states against the
// independent float64 computation of torch_bench.py on the same data (a second, separate check).
//
// Roofline: the benchmark's intensity is 4 M D B steps flop over 4 M D steps bytes = B flop per
// byte of X. Below the ridge (peak flop/s over peak bytes/s, about 14 for an H200 in fp32 without
// tensor cores) a cell is bound by memory and its share is GB/s over the HBM bandwidth ("HBM");
// above it, GFLOP/s over the fp32 peak ("fp32"). Peaks: H200 4.8 TB/s and 67 TFLOP/s, H100 SXM
// 3.35 TB/s and 67 TFLOP/s (vendors' datasheets), else none unless given.

interface Timing {
  ms: number;
}

interface HopcCell {
  map: string;
  M: number;
  D: number;
  B: number;
  steps: number;
  status: string;
  timing?: Timing;
  rejectedTiming?: Timing;
  gflops?: number;
  gbps?: number;
  check?: { relErr?: number; queries: number; error?: string };
  support?: number;
  states?: number[][];
  error?: string;
  note?: string;
}

interface TorchMethod {
  status: string;
  timing?: Timing & { wallMs?: number };
  rejectedTiming?: Timing;
  gflops?: number;
  gbps?: number;
  check?: { relErr?: number };
  states?: number[][];
  error?: string;
  note?: string;
}

interface TorchCell {
  map: string;
  M: number;
  D: number;
  B: number;
  steps: number;
  status: string;
  refStates?: number[][];
  methods: Record<string, TorchMethod>;
  note?: string;
}

export interface HopcReport {
  adapter: { description: string };
  tiny: boolean;
  cells: HopcCell[];
  notes?: string[];
  finished?: boolean;
  totalSeconds?: number;
  bytesFormula?: string;
  flopFormula?: string;
  tolerance?: number;
}

export interface TorchReport {
  device: string;
  torch: string | null;
  cuda?: string | null;
  tf32: boolean | null;
  cells: TorchCell[];
  notes?: string[];
  finished?: boolean;
  totalSeconds?: number;
}

export interface Peaks {
  gbps: number;
  gflops: number;
  name: string;
}

/** The datasheet peaks of a device named `name` (H200, H100), or undefined. */
export function peaksFor(name: string): Peaks | undefined {
  if (/H200/i.test(name)) return { gbps: 4800, gflops: 67000, name: "H200" };
  if (/H100/i.test(name)) return { gbps: 3350, gflops: 67000, name: "H100 SXM" };
  return undefined;
}

function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "–";
  if (x >= 1000) return x.toFixed(0);
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  if (x >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}

function fmtErr(x: number | undefined): string {
  return x === undefined ? "–" : x.toExponential(1);
}

function pow2(n: number): string {
  const k = Math.log2(n);
  return Number.isInteger(k) && k >= 17 ? `2^${k}` : String(n);
}

/** Share of the roofline bound: "12% HBM" below the ridge, "3.1% fp32" above it. */
export function roofShare(
  B: number,
  gbps: number | undefined,
  gflops: number | undefined,
  peaks: Peaks | undefined,
): string {
  if (!peaks || gbps === undefined || gflops === undefined) return "–";
  const ridge = peaks.gflops / peaks.gbps; // flop per byte
  const share = B < ridge ? gbps / peaks.gbps : gflops / peaks.gflops;
  const pct = 100 * share;
  return `${pct >= 10 ? pct.toFixed(0) : pct.toPrecision(2)}% ${B < ridge ? "HBM" : "fp32"}`;
}

function relErr(a: number[][], b: number[][]): number | undefined {
  const n = Math.min(a.length, b.length);
  if (n === 0) return undefined;
  let err = 0, scale = 0;
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < b[r].length; i++) {
      err = Math.max(err, Math.abs(a[r][i] - b[r][i]));
      scale = Math.max(scale, Math.abs(b[r][i]));
    }
  }
  return scale > 0 ? err / scale : err;
}

function figure(
  status: string,
  t: Timing | undefined,
  rejected: Timing | undefined,
  gbps?: number,
  gflops?: number,
): [string, string, string] {
  if (status === "ok" || status === "unchecked") {
    const flag = status === "unchecked" ? " (unchecked)" : "";
    return [fmt(t?.ms) + flag, fmt(gbps), fmt(gflops)];
  }
  if (status === "FAILED") return [`FAILED (${fmt(rejected?.ms)})`, "–", "–"];
  return [status, "–", "–"];
}

export function makeTable(
  hopc: HopcReport,
  torch: TorchReport | undefined,
  peaksOverride?: Peaks,
): string {
  const peaks = peaksOverride ?? peaksFor(hopc.adapter.description) ??
    (torch ? peaksFor(torch.device) : undefined);
  const key = (c: { map: string; M: number; D: number; B: number; steps: number }) =>
    `${c.map}|${c.M}|${c.D}|${c.B}|${c.steps}`;
  const torchCells = new Map((torch?.cells ?? []).map((c) => [key(c), c]));
  const hasSdpa = (torch?.cells ?? []).some((c) => c.methods.sdpa !== undefined);

  const head = [
    "map",
    "(M, D, B)",
    "steps",
    "hopc ms",
    "GB/s",
    "GFLOP/s",
    "err",
    "roof",
    "support",
    ...(torch ? ["torch ms", "GB/s", "GFLOP/s", "err", "roof"] : []),
    ...(hasSdpa ? ["sdpa ms", "GB/s", "GFLOP/s"] : []),
    ...(torch ? ["torch/hopc", "x-check"] : []),
  ];
  const rows: string[][] = [];
  const seen = new Set<string>();
  const allKeys: { map: string; M: number; D: number; B: number; steps: number }[] = [
    ...hopc.cells,
    ...(torch?.cells ?? []),
  ];
  for (const k of allKeys) {
    const id = key(k);
    if (seen.has(id)) continue;
    seen.add(id);
    const h = hopc.cells.find((c) => key(c) === id);
    const t = torchCells.get(id);
    const row: string[] = [
      k.map,
      `${pow2(k.M)}, ${k.D}, ${k.B}`,
      String(k.steps),
    ];
    if (h) {
      row.push(...figure(h.status, h.timing, h.rejectedTiming, h.gbps, h.gflops));
      row.push(
        fmtErr(h.check?.relErr),
        h.status === "ok" ? roofShare(h.B, h.gbps, h.gflops, peaks) : "–",
        h.support === undefined ? "–" : fmt(h.support),
      );
    } else row.push("not run", "–", "–", "–", "–", "–");
    let bestTorch: number | undefined;
    if (torch) {
      const e = t?.methods.eager;
      if (e) {
        row.push(...figure(e.status, e.timing, e.rejectedTiming, e.gbps, e.gflops));
        row.push(
          fmtErr(e.check?.relErr),
          e.status === "ok" ? roofShare(k.B, e.gbps, e.gflops, peaks) : "–",
        );
        if (e.status === "ok") bestTorch = e.timing?.ms;
      } else row.push(t ? t.status : "not run", "–", "–", "–", "–");
    }
    if (hasSdpa) {
      const s = t?.methods.sdpa;
      if (s) {
        row.push(...figure(s.status, s.timing, s.rejectedTiming, s.gbps, s.gflops));
        if (s.status === "ok" && s.timing) {
          bestTorch = Math.min(bestTorch ?? Infinity, s.timing.ms);
        }
      } else row.push("", "", "");
    }
    if (torch) {
      const hm = h?.status === "ok" ? h.timing?.ms : undefined;
      row.push(
        hm !== undefined && bestTorch !== undefined ? `${(bestTorch / hm).toPrecision(2)}x` : "–",
        h?.states && t?.refStates ? fmtErr(relErr(h.states, t.refStates)) : "–",
      );
    }
    rows.push(row);
  }

  const line = (r: string[]) => `| ${r.join(" | ")} |`;
  const out: string[] = [];
  out.push(
    `# hopc vs PyTorch${hopc.tiny ? " (rehearsal, tiny shapes: not figures)" : ""}`,
    "",
    `- hopc: WebGPU adapter **${hopc.adapter.description}**` +
      (hopc.finished === false ? " (run did not finish)" : "") +
      (hopc.totalSeconds !== undefined ? `, ${hopc.totalSeconds.toFixed(0)} s` : ""),
  );
  if (torch) {
    out.push(
      `- PyTorch: **${torch.device}**${torch.torch ? `, torch ${torch.torch}` : ""}${
        torch.cuda ? `, CUDA ${torch.cuda}` : ""
      }, float32, TF32 ${torch.tf32 === false ? "disabled" : "n/a"}` +
        (torch.finished === false ? " (run did not finish)" : "") +
        (torch.totalSeconds !== undefined ? `, ${torch.totalSeconds.toFixed(0)} s` : ""),
    );
  } else out.push("- PyTorch: not run");
  out.push(
    "- ms: median of >= 3 calls after a warm-up. hopc: one `retrieve(Q)` (upload Q, all steps " +
      "in one submission, read the states back); PyTorch: CUDA events around the call, data on " +
      "the GPU (on the CPU rehearsal, wall time).",
    `- GFLOP/s = 4·M·D·B·steps / time; GB/s = 4·M·D·steps / time (X in float32 read once per ` +
      `step, the least any design reads).`,
    `- err: max |state - ref| / max |ref| over the first queries against float64 (hopc: its ` +
      `reference interpreter; PyTorch: bisection in float64); above ${
        hopc.tolerance ?? 1e-3
      } a cell is FAILED and shows no figures. x-check: hopc against PyTorch's float64 ` +
      `reference on the same data.`,
    peaks
      ? `- roof: share of the ${peaks.name} roofline: GB/s over ${
        peaks.gbps / 1000
      } TB/s HBM where B < ${(peaks.gflops / peaks.gbps).toFixed(0)} (memory-bound), ` +
        `else GFLOP/s over ${peaks.gflops / 1000} TFLOP/s fp32 (non-tensor).`
      : "- roof: no peaks for this device (the H200's and H100's are built in).",
    "- support: mean non-zero weights per query in the last step (hopc). torch/hopc: the " +
      "faster PyTorch method's ms over hopc's (> 1: hopc is faster).",
    "",
    line(head),
    line(head.map((_, i) => (i < 3 ? "---" : "---:"))),
    ...rows.map(line),
  );
  const notes = [
    ...(hopc.notes ?? []).map((n) => `hopc: ${n}`),
    ...(torch?.notes ?? []).map((n) => `torch: ${n}`),
  ];
  const label = (c: { map: string; M: number; D: number; B: number; steps: number }) =>
    `${c.map} (${pow2(c.M)}, ${c.D}, ${c.B}) x ${c.steps}`;
  const skipped: Record<string, string[]> = { hopc: [], torch: [] };
  for (const c of hopc.cells) {
    if (c.status === "skipped") skipped.hopc.push(label(c));
    else if (c.error) notes.push(`hopc ${label(c)}: ${c.error}`);
    else if (c.note) notes.push(`hopc ${label(c)}: ${c.note}`);
    if (c.check?.error) notes.push(`hopc ${label(c)} check: ${c.check.error}`);
  }
  for (const c of torch?.cells ?? []) {
    if (c.status === "skipped" && Object.keys(c.methods).length === 0) {
      skipped.torch.push(label(c));
    }
    for (const [m, r] of Object.entries(c.methods)) {
      if (r.status === "skipped") skipped.torch.push(`${m} ${label(c)}`);
      else if (r.error) notes.push(`torch ${m} ${label(c)}: ${r.error}`);
      else if (r.note) notes.push(`torch ${m} ${label(c)}: ${r.note}`);
    }
  }
  for (const [who, list] of Object.entries(skipped)) {
    if (list.length > 0) {
      notes.push(
        `${who}: ${list.length} skipped for the time budget: ${list.slice(0, 12).join("; ")}${
          list.length > 12 ? "; ..." : ""
        }`,
      );
    }
  }
  const uniq = [...new Set(notes)];
  if (uniq.length > 0) {
    out.push("", "Notes:", "");
    for (const n of uniq.slice(0, 60)) out.push(`- ${n.replaceAll("|", "/")}`);
    if (uniq.length > 60) out.push(`- ... ${uniq.length - 60} more in the JSON`);
  }
  return out.filter((s, i, a) => !(s === "" && a[i - 1] === "")).join("\n") + "\n";
}

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.main) {
  const args = Deno.args;
  const hopcPath = arg(args, "--hopc");
  if (!hopcPath) {
    console.error("usage: report.ts --hopc hopc.json [--torch torch.json] [--out table.md]");
    Deno.exit(2);
  }
  const hopc = JSON.parse(await Deno.readTextFile(hopcPath)) as HopcReport;
  const torchPath = arg(args, "--torch");
  let torch: TorchReport | undefined;
  if (torchPath) {
    try {
      torch = JSON.parse(await Deno.readTextFile(torchPath)) as TorchReport;
    } catch (e) {
      console.error(`report: no PyTorch results (${e instanceof Error ? e.message : e})`);
    }
  }
  const g = arg(args, "--peak-gbps"), f = arg(args, "--peak-gflops");
  const peaks = g && f ? { gbps: Number(g), gflops: Number(f), name: "given" } : undefined;
  const md = makeTable(hopc, torch, peaks);
  const out = arg(args, "--out");
  if (out) await Deno.writeTextFile(out, md);
  console.log(md);
}
