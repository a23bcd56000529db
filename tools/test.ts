// The test command (`deno task test`, also what `.ci/run` calls). It runs `deno test` over tests/
// and ends with one line `N passed, N failed` for CI.
//
// Deno's WebGPU (wgpu on Mesa llvmpipe) sometimes aborts the process at exit with "double free or
// corruption" after every test has passed and Deno has printed its summary (ENVIRONMENT.md). That
// one failure is recognised exactly: the summary line says "0 failed", the process died of SIGABRT
// after printing it, and glibc's message is present. Then the run is re-executed once, so a real
// crash cannot hide behind it; if the same exact exit abort happens again the summary stands.
// Anything else (a failed test, a crash before the summary, another signal) fails the run.

const decoder = new TextDecoder();

interface Outcome {
  code: number;
  signal: Deno.Signal | null;
  text: string;
  passed: number;
  failed: number;
  summarized: boolean;
}

async function runOnce(args: string[]): Promise<Outcome> {
  const env = { ...Deno.env.toObject() };
  env.XDG_RUNTIME_DIR ??= Deno.makeTempDirSync({ prefix: "hopc-xdg-" });
  // Tests plan with the rules (and their own tuned entries), never a developer's plan cache.
  env.HOPC_PLAN_CACHE ??= `${Deno.makeTempDirSync({ prefix: "hopc-plans-" })}/plans.json`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-check=remote", ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Stream through while keeping a copy to read the summary from.
  const chunks: string[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>, sink: typeof Deno.stdout) => {
    for await (const c of stream) {
      chunks.push(decoder.decode(c));
      await sink.write(c);
    }
  };
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, Deno.stdout),
    pump(child.stderr, Deno.stderr),
  ]);
  // deno-lint-ignore no-control-regex -- strip the terminal colour codes of Deno's reporter
  const text = chunks.join("").replace(/\x1b\[[0-9;]*m/g, "");
  // Deno's summary: "ok | 12 passed (3 steps) | 0 failed (2s)" or "FAILED | 11 passed | 1 failed".
  const m = /^(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/m.exec(text);
  return {
    code: status.code,
    signal: status.signal,
    text,
    passed: m ? Number(m[2]) : 0,
    failed: m ? Number(m[3]) : 0,
    summarized: m !== null,
  };
}

function isExitAbortAfterSuccess(o: Outcome): boolean {
  return o.code !== 0 && o.summarized && o.failed === 0 &&
    (o.signal === "SIGABRT" || o.code === 134) &&
    /double free or corruption|free\(\): |corrupted/.test(o.text);
}

const args = Deno.args.length > 0 ? Deno.args : ["tests/"];
let outcome = await runOnce(args);
if (isExitAbortAfterSuccess(outcome)) {
  console.error(
    "\ntools/test.ts: the known WebGPU abort at process exit (after all tests passed); running again once",
  );
  outcome = await runOnce(args);
  if (isExitAbortAfterSuccess(outcome)) {
    console.error(
      "tools/test.ts: the same exit abort again, after all tests passed: the summary stands",
    );
    outcome = { ...outcome, code: 0 };
  }
}
const failed = outcome.summarized ? outcome.failed : Math.max(1, outcome.failed);
console.log(`${outcome.passed} passed, ${failed} failed`);
Deno.exit(outcome.code === 0 && outcome.summarized && failed === 0 ? 0 : 1);
