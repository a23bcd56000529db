// `deno task fuzz [--count N] [--seed S] [--case I]`: generate `.hop` files from the checker's
// LANGUAGE table, mutate them, and hold the parser, checker, LSP handlers and .npy reader to their
// invariants (tools/fuzz/). Prints the seed first and a summary last; on a failure, the seed, the
// case and its (minimized) input, and exits 1. `--case I` replays one case.
import { describeFailure, fuzz } from "./fuzz/run.ts";

function option(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  const inline = Deno.args.find((a) => a.startsWith(`${name}=`));
  return inline ? inline.slice(name.length + 1) : i >= 0 ? Deno.args[i + 1] : undefined;
}

function integer(name: string, fallback: number): number {
  const text = option(name);
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isSafeInteger(v) || v < 0) {
    console.error(`${name} wants a whole number, got \`${text}\``);
    Deno.exit(2);
  }
  return v;
}

const seed = integer("--seed", crypto.getRandomValues(new Uint32Array(1))[0]) >>> 0;
const single = option("--case") !== undefined;
const from = integer("--case", 0);
const count = single ? 1 : integer("--count", 100_000);
console.log(`fuzz seed ${seed}${single ? `, case ${from}` : `, ${count} files`}`);
const s = await fuzz(seed, count, {
  from,
  progress: (done) => console.log(`  ${done} files, ${(performance.now() / 1000).toFixed(0)} s`),
});
for (const f of s.failures) console.log(describeFailure(f));
console.log(
  `summary: seed ${seed}: ${s.files} files, ${s.accepted} accepted, ${s.rejected} rejected, ` +
    `${s.crashes} crashes, ${s.failures.length} failures; ${s.npyFiles} .npy files ` +
    `(${s.npyAccepted} read); ${s.learned} field combinations learned ` +
    `(${s.learnedRejected.length} rejected); ${s.seconds.toFixed(1)} s`,
);
Deno.exit(s.failures.length ? 1 : 0);
