// The fuzz loop: case `i` of a run with seed `s` is a pure function of (s, i), so any failure is
// replayed by `deno task fuzz --seed s --case i`. A quarter of the cases are generated valid
// files checked against the predicted verdict and IR; the rest are mutations of one, held to the
// invariants of ./targets.ts. Every case also runs the LSP handlers on its text, and every
// fourth the .npy reader on a generated or mutated file.
import { caseRng } from "./language.ts";
import { generate, irMismatch, learnedCount, minimalRejected } from "./generate.ts";
import { mutate } from "./mutate.ts";
import { npyCase } from "./npy_cases.ts";
import { frontEnd, lsp, lspServer, npy } from "./targets.ts";

export interface Failure {
  target: "hop" | "lsp" | "npy";
  seed: number;
  index: number;
  message: string;
  text?: string;
  overrides?: Record<string, number>;
  bytes?: Uint8Array;
  minimized?: string;
}

export interface Summary {
  seed: number;
  files: number;
  accepted: number;
  rejected: number;
  npyFiles: number;
  npyAccepted: number;
  crashes: number;
  learned: number;
  learnedRejected: string[];
  failures: Failure[];
  seconds: number;
}

/** A case slower than this counts as a hang. */
const SLOW_MS = 5000;

export function runCase(seed: number, index: number, s: Summary): Failure | undefined {
  const rng = caseRng(seed, index);
  const g = generate(rng);
  const valid = index % 4 === 0;
  const { text, overrides } = valid ? g : mutate(g.text, g.overrides, rng);
  const fail = (target: Failure["target"], message: string): Failure => ({
    target,
    seed,
    index,
    message,
    text,
    overrides,
  });
  const t0 = performance.now();
  const r = frontEnd(text, overrides);
  s.files++;
  if (r.failure) return fail("hop", r.failure);
  if (r.accepted) s.accepted++;
  else s.rejected++;
  if (valid) {
    const bad = oracle(g, r.models);
    if (bad) return fail("hop", bad);
  }
  const lspFailure = lsp(text, rng);
  if (lspFailure) return fail("lsp", lspFailure);
  // FUZZ_SLOW=1 lists the cases over 300 ms (to keep the default run near 5 minutes).
  if (Deno.env.get("FUZZ_SLOW") && performance.now() - t0 > 300) {
    console.log(`slow case ${index}: ${(performance.now() - t0).toFixed(0)} ms`);
  }
  if (performance.now() - t0 > SLOW_MS) {
    return fail("hop", `slow: ${(performance.now() - t0).toFixed(0)} ms (a hang?)`);
  }
  if (index % 4 === 1) {
    const bytes = npyCase(caseRng(seed, index, 1));
    const t1 = performance.now();
    const n = npy(bytes);
    s.npyFiles++;
    if (n.accepted) s.npyAccepted++;
    const message = n.failure ??
      (performance.now() - t1 > SLOW_MS ? "slow .npy read (a hang?)" : undefined);
    if (message) return { target: "npy", seed, index, message, bytes };
  }
  return undefined;
}

/** Every 50th case also goes through the LSP server's message handling. */
async function serverCase(seed: number, index: number): Promise<Failure | undefined> {
  const rng = caseRng(seed, index);
  const g = generate(rng);
  const { text, overrides } = mutate(g.text, g.overrides, rng);
  const message = await lspServer(text, caseRng(seed, index, 2));
  return message ? { target: "lsp", seed, index, message, text, overrides } : undefined;
}

/** A generated valid file: every model accepted iff predicted, with the values written. */
function oracle(g: ReturnType<typeof generate>, models: { name: string }[]): string | undefined {
  for (const m of g.models) {
    const bad = minimalRejected(m.atoms);
    if (bad.length) return `a valid field alone is rejected: ${bad.map((a) => a.key).join(", ")}`;
    const got = models.find((x) => x.name === m.name);
    if (!!got !== m.accepted) {
      return `model ${m.name} was ${got ? "accepted" : "rejected"}, but its fields alone and in ` +
        `pairs were ${m.accepted ? "all accepted" : "not"} (atoms: ${
          m.atoms.map((a) => a.key).join(" ")
        })`;
    }
    const mismatch = got && irMismatch(got as Parameters<typeof irMismatch>[0], m.atoms);
    if (mismatch) return `model ${m.name}: ${mismatch}`;
  }
  if (g.mustAccept && !g.models.every((m) => models.some((x) => x.name === m.name))) {
    return "a model of one valid field was rejected";
  }
  return undefined;
}

/** Delete chunks of the text while the same kind of failure persists (a few thousand tries). */
export function minimize(f: Failure): string | undefined {
  if (f.text === undefined || f.target === "npy") return undefined;
  const kind = failureKind(f.message);
  const fails = (text: string) => {
    const m = f.target === "hop"
      ? frontEnd(text, f.overrides ?? {}).failure
      : lsp(text, caseRng(f.seed, f.index));
    return m !== undefined && failureKind(m) === kind;
  };
  let text = f.text;
  if (!fails(text)) return undefined; // an oracle failure: the full input is the case
  let budget = 3000;
  for (let chunk = Math.max(1, text.length >> 1); chunk >= 1 && budget > 0; chunk >>= 1) {
    for (let at = 0; at < text.length && budget > 0; budget--) {
      const cut = text.slice(0, at) + text.slice(at + chunk);
      if (fails(cut)) text = cut;
      else at += chunk;
    }
  }
  return text;
}

function failureKind(message: string): string {
  return message.split("\n")[0].replace(/\{.*$/, "").replace(/\d+/g, "N").slice(0, 60);
}

export function newSummary(seed: number): Summary {
  return {
    seed,
    files: 0,
    accepted: 0,
    rejected: 0,
    npyFiles: 0,
    npyAccepted: 0,
    crashes: 0,
    learned: 0,
    learnedRejected: [],
    failures: [],
    seconds: 0,
  };
}

/** Run cases `from` .. `from + count - 1`; stops at the first `maxFailures` failures. */
export async function fuzz(
  seed: number,
  count: number,
  opts: { from?: number; maxFailures?: number; progress?: (done: number) => void } = {},
): Promise<Summary> {
  const s = newSummary(seed);
  const t0 = performance.now();
  const from = opts.from ?? 0;
  for (let i = from; i < from + count; i++) {
    const f = runCase(seed, i, s) ?? (i % 50 === 2 ? await serverCase(seed, i) : undefined);
    if (f) {
      if (/uncaught exception/.test(f.message)) s.crashes++;
      f.minimized = minimize(f);
      s.failures.push(f);
      if (s.failures.length >= (opts.maxFailures ?? 1)) break;
    }
    if (opts.progress && (i - from + 1) % 10000 === 0) opts.progress(i - from + 1);
  }
  const l = learnedCount();
  s.learned = l.total;
  s.learnedRejected = l.rejected;
  s.seconds = (performance.now() - t0) / 1000;
  return s;
}

/** A failure as the user needs it to reproduce: seed, case, input (minimized and full). */
export function describeFailure(f: Failure): string {
  const lines = [
    `FAILURE (${f.target}) seed ${f.seed}, case ${f.index}: ${f.message}`,
    `reproduce: deno task fuzz --seed ${f.seed} --case ${f.index}`,
  ];
  if (f.overrides && Object.keys(f.overrides).length) {
    lines.push(
      `--set: ${Object.entries(f.overrides).map(([k, v]) => `${k}=${v}`).join(" ")}`,
    );
  }
  if (f.minimized !== undefined) lines.push("minimized input:", JSON.stringify(f.minimized));
  if (f.text !== undefined) {
    const shown = f.text.length > 4000 ? `${f.text.slice(0, 4000)}... (${f.text.length})` : f.text;
    lines.push("full input:", JSON.stringify(shown));
  }
  if (f.bytes) {
    lines.push(
      `bytes (${f.bytes.length}):`,
      [...f.bytes].map((b) => b.toString(16).padStart(2, "0")).join(" "),
    );
  }
  return lines.join("\n");
}
