// `hopc retrieve --values V.npy --clamp C.npy` (src/extras.ts): the output is [B, Dv] and agrees
// with the float64 reference on the cpu and on the GPU; every wrong V or C exits 1 naming the file
// and the offending shape or value, and writes no output at all.
import assert from "node:assert/strict";
import { main } from "../src/cli/main.ts";
import { checkText } from "../src/check.ts";
import { encodeNpy, parseNpy } from "../src/io/npy.ts";
import type { Mat } from "../src/parts/types.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import { gpuTest } from "./helpers/gpu.ts";

async function hopc(...argv: string[]) {
  const out: string[] = [], err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

function data(rows: number, cols: number, seed: number): Mat {
  const d = new Float64Array(rows * cols);
  let s = seed >>> 0;
  for (let i = 0; i < d.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = Math.fround((s / 4294967296) * 2 - 1);
  }
  return { rows, cols, data: d };
}

const SOURCE = `model m { entropy tsallis(alpha = 1.5)  beta 3  steps until(tol = 1e-5, max = 20) }
model f { similarity features(count = 16) }`;
const M = 12, D = 6, B = 4, Dv = 3;

async function withFiles(
  fn: (dir: string, files: Record<string, string>) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "hopc-values-" });
  try {
    const files: Record<string, string> = {
      hop: `${dir}/m.hop`,
      X: `${dir}/X.npy`,
      Q: `${dir}/Q.npy`,
      V: `${dir}/V.npy`,
      C: `${dir}/C.npy`,
      out: `${dir}/out.npy`,
    };
    await Deno.writeTextFile(files.hop, SOURCE);
    await Deno.writeFile(files.X, encodeNpy(data(M, D, 1)));
    await Deno.writeFile(files.Q, encodeNpy(data(B, D, 2)));
    await Deno.writeFile(files.V, encodeNpy(data(M, Dv, 3)));
    const C = { rows: 1, cols: D, data: Float64Array.from({ length: D }, (_, d) => d < 2 ? 1 : 0) };
    await Deno.writeFile(files.C, encodeNpy(C));
    await fn(dir, files);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function expected(withClamp: boolean) {
  const model = checkText(SOURCE, "m.hop").models[0];
  const C = { rows: 1, cols: D, data: Float64Array.from({ length: D }, (_, d) => d < 2 ? 1 : 0) };
  return retrieveReference(model, data(M, D, 1), data(B, D, 2), undefined, {
    values: data(M, Dv, 3),
    clamp: withClamp ? C : undefined,
  }).states;
}

function assertClose(got: Mat, want: Mat, tol: number) {
  assert.deepEqual([got.rows, got.cols], [want.rows, want.cols]);
  const err = Math.max(...want.data.map((v, i) => Math.abs(v - got.data[i])));
  assert.ok(err < tol, `max error ${err}`);
}

for (const device of ["cpu", "gpu"] as const) {
  const register = device === "cpu" ? Deno.test : gpuTest;
  register(`retrieve --values --clamp on the ${device}: [B, Dv] as the reference`, async () => {
    await withFiles(async (_, f) => {
      for (const withClamp of [false, true]) {
        const clamp = withClamp ? ["--clamp", f.C] : [];
        const args = ["--memories", f.X, "--queries", f.Q, "--values", f.V, ...clamp];
        const r = await hopc(
          "retrieve",
          f.hop,
          "--model",
          "m",
          ...args,
          "--device",
          device,
          "-o",
          f.out,
        );
        assert.equal(r.code, 0, r.err);
        const out = parseNpy(await Deno.readFile(f.out), f.out);
        assertClose(out, expected(withClamp), device === "cpu" ? 1e-6 : 1e-4);
      }
    });
  });
}

Deno.test("retrieve: wrong values or clamp exit 1, name the file and the value, write nothing", async () => {
  await withFiles(async (dir, f) => {
    const write = async (name: string, a: Mat) => {
      const path = `${dir}/${name}`;
      await Deno.writeFile(path, encodeNpy(a));
      return path;
    };
    const nanV = data(M, Dv, 3);
    nanV.data[5] = NaN;
    const halfC = { rows: 1, cols: D, data: new Float64Array(D) };
    halfC.data[4] = 0.5;
    const cases: [string[], RegExp][] = [
      [
        ["--values", await write("v_rows.npy", data(M - 1, Dv, 3))],
        /v_rows\.npy.*values have shape \[11, 3\] but there are M = 12 memories/,
      ],
      [["--values", await write("v_nan.npy", nanV)], /v_nan\.npy.*NaN at row 1, column 2/],
      [
        ["--clamp", await write("c_half.npy", halfC)],
        /c_half\.npy.*clamp holds 0\.5 at row 0, column 4/,
      ],
      [
        ["--clamp", await write("c_cols.npy", data(1, D + 1, 4))],
        /c_cols\.npy.*clamp has shape \[1, 7\] but the queries are \[4, 6\]/,
      ],
      [
        ["--clamp", await write("c_rows.npy", { rows: 2, cols: D, data: new Float64Array(2 * D) })],
        /clamp has shape \[2, 6\]/,
      ],
      [["--values", `${dir}/missing.npy`], /missing\.npy.*cannot read the file/],
      [["--model", "f", "--values", f.V], /per-memory weights/],
    ];
    for (const [extra, message] of cases) {
      const model = extra.includes("--model") ? [] : ["--model", "m"];
      const r = await hopc(
        "retrieve",
        f.hop,
        ...model,
        "--memories",
        f.X,
        "--queries",
        f.Q,
        ...extra,
        "--device",
        "cpu",
        "-o",
        f.out,
      );
      assert.equal(r.code, 1, `${extra.join(" ")}: ${r.err}`);
      assert.match(r.err, message);
      assert.equal(await Deno.stat(f.out).then(() => true, () => false), false, "no output file");
    }
    const usage = await hopc(
      "retrieve",
      f.hop,
      "--memories",
      f.X,
      "--queries",
      f.Q,
      "-o",
      f.out,
      "--values",
    );
    assert.equal(usage.code, 2);
  });
});
