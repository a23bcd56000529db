// Command-line parsing for `hopc`. Wrong usage throws UsageError (exit code 2).

export class UsageError extends Error {}

export const COMMANDS = [
  "check",
  "compile",
  "explain",
  "retrieve",
  "tune",
  "bench",
  "recall",
  "lsp",
  "help",
] as const;
export const EMITS = ["ast", "ir", "plan", "wgsl"] as const;

export interface ParsedArgs {
  command: (typeof COMMANDS)[number];
  file: string;
  model?: string;
  sets: Record<string, number>;
  json: boolean;
  emit?: (typeof EMITS)[number];
  memories?: string;
  queries?: string;
  output?: string;
  weights?: string;
  trace?: string;
  values?: string;
  clamp?: string;
  /** The memory graph [M, M] of `readout project` (CDAM). */
  graph?: string;
  /** A saved fit of a learned similarity to use instead of fitting (`--fit F.npz`). */
  fit?: string;
  /** Where to write the learned similarity's fit (`--save-fit F.npz`). */
  saveFit?: string;
  device?: "gpu" | "cpu";
  /** `compile -o DIR`. */
  outDir?: string;
  /** `explain --shape M,D`: the memory shape a plan is made for (`tune --shape M,D,B`: and B). */
  shape?: { M: number; D: number; B?: number };
  /** `tune --min-time S`: seconds of timed calls per candidate (`bench`: of the model). */
  minTime?: number;
  /** `bench --steps N`: fixed steps instead of the model's. */
  steps?: number;
  /** `bench --seed N`: seed of the random memories and queries. */
  seed?: number;
  /** `recall`: the protocol (src/recall/protocol.ts) and its numbers. */
  recall?: {
    mode?: string;
    start?: string;
    startIndex?: number;
    gamma?: number;
    rate?: number;
    omega?: number;
    edgeScore?: number;
    settle?: number;
    settleBeta?: number;
    recalls?: number;
  };
}

/** Options each command accepts, with whether they take a value. */
const OPTIONS: Record<string, { value: boolean; commands: readonly string[] }> = {
  "--model": { value: true, commands: ["explain", "retrieve", "tune", "bench", "recall"] },
  "--set": {
    value: true,
    commands: ["check", "compile", "explain", "retrieve", "tune", "bench", "recall"],
  },
  "--shape": { value: true, commands: ["explain", "tune", "bench"] },
  "--min-time": { value: true, commands: ["tune", "bench"] },
  "--steps": { value: true, commands: ["bench"] },
  "--seed": { value: true, commands: ["bench"] },
  "--json": {
    value: false,
    commands: ["check", "explain", "retrieve", "tune", "bench", "recall"],
  },
  "--emit": { value: true, commands: ["explain"] },
  "--memories": { value: true, commands: ["retrieve", "recall"] },
  "--queries": { value: true, commands: ["retrieve"] },
  "-o": { value: true, commands: ["retrieve", "compile", "recall"] },
  "--weights": { value: true, commands: ["retrieve"] },
  "--trace": { value: true, commands: ["retrieve"] },
  "--values": { value: true, commands: ["retrieve"] },
  "--clamp": { value: true, commands: ["retrieve"] },
  "--graph": { value: true, commands: ["retrieve"] },
  "--fit": { value: true, commands: ["retrieve"] },
  "--save-fit": { value: true, commands: ["retrieve"] },
  "--device": { value: true, commands: ["retrieve", "recall"] },
  "--mode": { value: true, commands: ["recall"] },
  "--start": { value: true, commands: ["recall"] },
  "--start-index": { value: true, commands: ["recall"] },
  "--gamma": { value: true, commands: ["recall"] },
  "--rate": { value: true, commands: ["recall"] },
  "--omega": { value: true, commands: ["recall"] },
  "--edge-score": { value: true, commands: ["recall"] },
  "--settle": { value: true, commands: ["recall"] },
  "--settle-beta": { value: true, commands: ["recall"] },
  "--recalls": { value: true, commands: ["recall"] },
};

/** `recall` options that take a number: their field and what they accept. */
const RECALL_NUMBERS: Record<
  string,
  { field: keyof NonNullable<ParsedArgs["recall"]>; integer: boolean; min: number; strict: boolean }
> = {
  "--start-index": { field: "startIndex", integer: true, min: 0, strict: false },
  "--gamma": { field: "gamma", integer: false, min: 0, strict: true },
  "--rate": { field: "rate", integer: false, min: 0, strict: true },
  "--omega": { field: "omega", integer: false, min: -Infinity, strict: false },
  "--edge-score": { field: "edgeScore", integer: false, min: 0, strict: true },
  "--settle": { field: "settle", integer: true, min: 0, strict: false },
  "--settle-beta": { field: "settleBeta", integer: false, min: 0, strict: true },
  "--recalls": { field: "recalls", integer: true, min: 1, strict: false },
};

export function parseArgs(argv: string[]): ParsedArgs {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    return { command: "help", file: "", sets: {}, json: false };
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command \`${command}\` (commands: ${COMMANDS.join(", ")})`);
  }
  // `hopc lsp` serves an editor over stdio and takes no file. LSP clients (vscode-languageclient
  // among them) may append `--stdio`, the only transport there is.
  if (command === "lsp") {
    const extra = rest.find((a) => a !== "--stdio");
    if (extra !== undefined) {
      throw new UsageError(`\`hopc lsp\` takes no arguments, got \`${extra}\``);
    }
    return { command: "lsp", file: "", sets: {}, json: false };
  }
  const out: ParsedArgs = {
    command: command as ParsedArgs["command"],
    file: "",
    sets: {},
    json: false,
  };
  const files: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    let arg = rest[i];
    let inline: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (!arg.startsWith("-")) {
      files.push(arg);
      continue;
    }
    const spec = OPTIONS[arg];
    if (!spec) throw new UsageError(`unknown option \`${arg}\``);
    if (!spec.commands.includes(command)) {
      throw new UsageError(`option \`${arg}\` does not apply to \`hopc ${command}\``);
    }
    let value: string | undefined;
    if (spec.value) {
      value = inline ?? rest[++i];
      if (value === undefined) throw new UsageError(`option \`${arg}\` needs a value`);
    }
    switch (arg) {
      case "--model":
        out.model = value;
        break;
      case "--set": {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(value!);
        const num = m ? Number(m[2]) : NaN;
        if (!m || !Number.isFinite(num)) {
          throw new UsageError(`--set wants NAME=NUMBER, got \`${value}\``);
        }
        out.sets[m[1]] = num;
        break;
      }
      case "--json":
        out.json = true;
        break;
      case "--emit":
        if (!(EMITS as readonly string[]).includes(value!)) {
          throw new UsageError(`--emit wants one of ${EMITS.join(", ")}, got \`${value}\``);
        }
        out.emit = value as ParsedArgs["emit"];
        break;
      case "--memories":
        out.memories = value;
        break;
      case "--queries":
        out.queries = value;
        break;
      case "-o":
        if (command === "compile") out.outDir = value;
        else out.output = value;
        break;
      case "--shape": {
        if (command === "tune" || command === "bench") {
          const t = /^(\d+),(\d+),(\d+)$/.exec(value!);
          if (!t || [t[1], t[2], t[3]].some((n) => Number(n) < 1)) {
            throw new UsageError(
              `--shape wants M,D,B (memories, dimension, queries), got \`${value}\``,
            );
          }
          out.shape = { M: Number(t[1]), D: Number(t[2]), B: Number(t[3]) };
          break;
        }
        const m = /^(\d+)[,x](\d+)$/.exec(value!);
        if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
          throw new UsageError(`--shape wants M,D (memories, dimension), got \`${value}\``);
        }
        out.shape = { M: Number(m[1]), D: Number(m[2]) };
        break;
      }
      case "--min-time": {
        const t = Number(value);
        if (!(t > 0) || !Number.isFinite(t)) {
          throw new UsageError(`--min-time wants a positive number of seconds, got \`${value}\``);
        }
        out.minTime = t;
        break;
      }
      case "--steps": {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1) {
          throw new UsageError(`--steps wants a positive integer, got \`${value}\``);
        }
        out.steps = n;
        break;
      }
      case "--seed": {
        const n = Number(value);
        if (!/^\d+$/.test(value!) || n > 0xffffffff) {
          throw new UsageError(`--seed wants an integer from 0 to 4294967295, got \`${value}\``);
        }
        out.seed = n;
        break;
      }
      case "--weights":
        out.weights = value;
        break;
      case "--trace":
        out.trace = value;
        break;
      case "--values":
        out.values = value;
        break;
      case "--clamp":
        out.clamp = value;
        break;
      case "--graph":
        out.graph = value;
        break;
      case "--mode":
        if (!["free", "csparsemax", "sequential"].includes(value!)) {
          throw new UsageError(`--mode wants free, csparsemax or sequential, got \`${value}\``);
        }
        (out.recall ??= {}).mode = value;
        break;
      case "--start":
        (out.recall ??= {}).start = value;
        break;
      case "--start-index":
      case "--gamma":
      case "--rate":
      case "--omega":
      case "--edge-score":
      case "--settle":
      case "--settle-beta":
      case "--recalls": {
        const spec = RECALL_NUMBERS[arg];
        const n = Number(value);
        const ok = value!.trim() !== "" && Number.isFinite(n) &&
          (!spec.integer || Number.isInteger(n)) && (spec.strict ? n > spec.min : n >= spec.min);
        if (!ok) {
          const what = spec.integer
            ? `an integer >= ${spec.min}`
            : spec.min === -Infinity
            ? "a finite number"
            : `a number > ${spec.min}`;
          throw new UsageError(`${arg} wants ${what}, got \`${value}\``);
        }
        (out.recall ??= {})[spec.field] = n as never;
        break;
      }
      case "--fit":
        out.fit = value;
        break;
      case "--save-fit":
        out.saveFit = value;
        break;
      case "--device":
        if (value !== "gpu" && value !== "cpu") {
          throw new UsageError(`--device wants gpu or cpu, got \`${value}\``);
        }
        out.device = value;
        break;
    }
  }
  if (files.length !== 1) {
    throw new UsageError(
      files.length === 0
        ? `\`hopc ${command}\` needs a .hop file`
        : `\`hopc ${command}\` takes one .hop file, got ${files.length}`,
    );
  }
  out.file = files[0];
  if ((command === "tune" || command === "bench") && out.shape?.B === undefined) {
    throw new UsageError(`\`hopc ${command}\` needs --shape M,D,B`);
  }
  if (command === "recall") {
    if (out.memories === undefined) throw new UsageError("`hopc recall` needs --memories");
    if (out.recall?.mode === undefined) {
      throw new UsageError("`hopc recall` needs --mode free|csparsemax|sequential");
    }
    if (out.recall.start !== undefined && out.recall.startIndex !== undefined) {
      throw new UsageError("`hopc recall` takes --start or --start-index, not both");
    }
  }
  if (command === "retrieve") {
    for (
      const [flag, v] of [["--memories", out.memories], ["--queries", out.queries], [
        "-o",
        out.output,
      ]] as const
    ) {
      if (v === undefined) throw new UsageError(`\`hopc retrieve\` needs ${flag}`);
    }
  }
  return out;
}
