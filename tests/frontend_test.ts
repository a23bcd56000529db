// Front end: lexer, parser, AST and checker. Every example checks clean; every class of error
// gives its message at its line and column; broken input of any kind yields diagnostics, never
// an exception.
import assert from "node:assert/strict";
import fc from "fast-check";
import { parse } from "../grammar/index.ts";
import { FileAst } from "../src/ast.ts";
import { check, checkText } from "../src/check.ts";
import { Diagnostic, formatDiagnostics } from "../src/diagnostics.ts";
import { Model } from "../src/ir.ts";

const root = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, root));

const exampleFiles = [...Deno.readDirSync(new URL("examples/", root))]
  .filter((e) => e.isFile && e.name.endsWith(".hop"))
  .map((e) => e.name)
  .sort();
const examples = exampleFiles.map((name) => ({ name, text: read(`examples/${name}`) }));

/** The one diagnostic of a snippet (fails, listing them, when there is not exactly one). */
function only(text: string, overrides?: Record<string, number>): Diagnostic {
  const { diagnostics } = checkText(text, "t.hop", overrides);
  assert.equal(diagnostics.length, 1, JSON.stringify(diagnostics, null, 2));
  return diagnostics[0];
}

function model(text: string, overrides?: Record<string, number>): Model {
  const { models, diagnostics } = checkText(text, "t.hop", overrides);
  assert.deepEqual(diagnostics, []);
  assert.equal(models.length, 1);
  return models[0];
}

// ---------------------------------------------------------------------------------------------
// Examples

Deno.test("every example parses and checks with no diagnostics", () => {
  assert.ok(exampleFiles.length >= 8, `only ${exampleFiles.length} example files`);
  let total = 0;
  for (const { name, text } of examples) {
    const { models, diagnostics } = checkText(text, `examples/${name}`);
    assert.deepEqual(diagnostics, [], name);
    const blocks = text.match(/^model /gm)?.length ?? 0;
    assert.equal(models.length, blocks, `${name}: ${models.length} of ${blocks} models`);
    for (const m of models) Model.parse(m);
    assert.ok(/^#/.test(text), `${name} starts with a comment saying what it shows`);
    total += models.length;
  }
  assert.ok(total >= 15, `${total} models`);
});

Deno.test("examples cover every family named in LANGUAGE.md", () => {
  const models = examples.flatMap(({ name, text }) => checkText(text, name).models);
  const seen = new Set<string>();
  for (const m of models) {
    seen.add(`memory ${m.memory.kind}`);
    if (m.memory.kind === "continuous") {
      seen.add(`basis ${m.memory.basis} ${m.memory.quadrature}`);
    }
    seen.add(`similarity ${m.similarity.kind}`);
    if (m.similarity.kind === "features") seen.add(`map ${m.similarity.map}`);
    seen.add(`entropy ${m.entropy.kind}`);
    if (m.entropy.kind === "normmax") seen.add(`gamma ${m.entropy.gamma}`);
    if (m.entropy.kind === "tsallis") seen.add(`alpha ${m.entropy.alpha}`);
    seen.add(`mask ${m.mask.kind}`);
    seen.add(`post ${m.post.kind}`);
    seen.add(`steps ${m.steps.kind}`);
    if (Object.keys(m.params).length) seen.add("param");
  }
  const wanted = [
    "memory discrete",
    "memory continuous",
    "basis box exact",
    "basis gaussian trapezoid",
    "similarity dot",
    "similarity cosine",
    "similarity euclidean",
    "similarity manhattan",
    "similarity features",
    "similarity uhop",
    "similarity kernelized",
    "similarity ahop",
    "map positive",
    "map elu",
    "map relu",
    "entropy shannon",
    "alpha 1.5",
    "entropy sparsemax",
    "gamma 2",
    "gamma 5",
    "entropy ksubsets",
    "entropy softmax1",
    "mask none",
    "mask topk",
    "mask random",
    "post identity",
    "post l2",
    "post layernorm",
    "post tanh",
    "steps fixed",
    "steps until",
    "param",
  ];
  for (const w of wanted) assert.ok(seen.has(w), `no example shows ${w}`);
});

Deno.test("sparse_l2.hop is the first example of LANGUAGE.md, checked to the IR", () => {
  const { models } = checkText(read("examples/sparse_l2.hop"), "examples/sparse_l2.hop");
  const [sparse, video] = models;
  assert.equal(sparse.name, "sparse_l2");
  assert.deepEqual(sparse.entropy, { kind: "tsallis", alpha: 1.5 });
  assert.deepEqual(sparse.post, { kind: "l2", radius: 1 });
  assert.deepEqual(sparse.steps, { kind: "fixed", count: 5 });
  assert.equal(sparse.beta, 4);
  assert.deepEqual(sparse.mask, { kind: "none" });
  assert.equal(sparse.source.spans["entropy.alpha"].line, 4);
  assert.equal(sparse.source.span.line, 2);
  assert.deepEqual(video.memory, {
    kind: "continuous",
    basis: "box",
    functions: 128,
    width: 1 / 128,
    ridge: 0.5,
    points: 500,
    quadrature: "exact",
  });
  assert.equal(video.beta, 10);
});

// ---------------------------------------------------------------------------------------------
// AST and IR details

Deno.test("the AST matches its schema and keeps spans", () => {
  const text = "param b = 2\nmodel m {\n  entropy tsallis(alpha = b)\n  beta -1.5e2\n}\n";
  const { ast, diagnostics } = parse(text, "t.hop");
  assert.deepEqual(diagnostics, []);
  FileAst.parse(ast);
  assert.equal(ast.params[0].name, "b");
  const [entropy, beta] = ast.models[0].fields;
  assert.equal(entropy.value.kind, "name");
  assert.deepEqual(entropy.nameSpan, { line: 3, col: 3, start: 24, end: 31 });
  if (entropy.value.kind !== "name") throw new Error("unreachable");
  const [alpha] = entropy.value.args ?? [];
  assert.deepEqual(alpha.value, { kind: "name", name: "b" });
  assert.equal(text.slice(alpha.valueSpan.start, alpha.valueSpan.end), "b");
  assert.equal(text.slice(entropy.value.span.start, entropy.value.span.end), "tsallis(alpha = b)");
  assert.equal(beta.value.kind, "number");
  if (beta.value.kind !== "number") throw new Error("unreachable");
  assert.equal(beta.value.value, -150);
  assert.equal(text.slice(ast.models[0].span.start, ast.models[0].span.end), text.slice(12, -1));
});

Deno.test("defaults fill every absent field and argument", () => {
  const m = model("model d { }");
  assert.deepEqual(
    { ...m, source: undefined },
    {
      name: "d",
      memory: { kind: "discrete" },
      similarity: { kind: "dot" },
      entropy: { kind: "shannon" },
      separation: { kind: "fenchel_young" },
      mask: { kind: "none" },
      post: { kind: "identity" },
      beta: 1,
      steps: { kind: "fixed", count: 1 },
      readout: { kind: "keys" },
      relax: 1,
      params: {},
      source: undefined,
    },
  );
  assert.deepEqual(m.source.spans, {});
  assert.deepEqual(model("model u { steps until }").steps, { kind: "until", tol: 1e-6, max: 100 });
  assert.deepEqual(model("model g { memory continuous(basis = gaussian, functions = 4) }").memory, {
    kind: "continuous",
    basis: "gaussian",
    functions: 4,
    width: 0.25,
    ridge: 0.5,
    points: 500,
    quadrature: "trapezoid",
  });
  assert.deepEqual(model("model f { similarity features }").similarity, {
    kind: "features",
    map: "positive",
    count: 256,
    seed: 0,
  });
  assert.deepEqual(model("model r { mask random(keep = 0.25) }").mask, {
    kind: "random",
    keep: 0.25,
    seed: 0,
  });
  assert.deepEqual(model("model n { post layernorm }").post, { kind: "layernorm", eps: 1e-5 });
});

Deno.test("source spans point at where each value was written", () => {
  const text = "model s {\n  entropy ksubsets(k = 3)\n  mask topk(k = 2)\n  steps 4\n  beta 2\n}";
  const { spans } = model(text).source;
  const at = (path: string) => text.slice(spans[path].start, spans[path].end);
  assert.equal(at("entropy"), "ksubsets(k = 3)");
  assert.equal(at("entropy.k"), "3");
  assert.equal(spans["entropy.k"].line, 2);
  assert.equal(at("mask.k"), "2");
  assert.equal(spans["mask.k"].line, 3);
  assert.equal(at("steps"), "4");
  assert.equal(at("beta"), "2");
});

// ---------------------------------------------------------------------------------------------
// Params and --set

Deno.test("params substitute where numbers are expected; a model's own param shadows", () => {
  const text = read("examples/params.hop");
  const [entmax, topk] = checkText(text, "params.hop").models;
  assert.deepEqual(entmax.entropy, { kind: "tsallis", alpha: 1.5 });
  assert.equal(entmax.beta, 4);
  assert.deepEqual(entmax.params, { a: 1.5, b: 4 });
  assert.equal(topk.beta, 8);
  assert.deepEqual(topk.mask, { kind: "topk", k: 3 });
  assert.deepEqual(topk.steps, { kind: "until", tol: 1e-6, max: 3 });
  assert.deepEqual(topk.params, { a: 1.5, b: 8, k: 3 });
  // The span of a substituted value is the use, not the declaration.
  assert.equal(topk.source.spans["mask.k"].line, 16);
});

Deno.test("--set overrides a param everywhere it is declared", () => {
  const text = read("examples/params.hop");
  const [entmax, topk] = checkText(text, "params.hop", { b: 16, a: 2 }).models;
  assert.equal(entmax.beta, 16);
  assert.deepEqual(entmax.entropy, { kind: "tsallis", alpha: 2 });
  assert.equal(topk.beta, 16);
  assert.deepEqual(topk.params, { a: 2, b: 16, k: 3 });
});

Deno.test("--set values are range-checked at the use, naming the override", () => {
  const d = only("param b = 2\nmodel m {\n  beta b\n}", { b: -1 });
  assert.equal(d.line, 3);
  assert.equal(d.col, 8);
  assert.match(d.message, /beta must be positive/);
  assert.match(d.message, /--set b=-1/);
  const k = only("param k = 2\nmodel m { mask topk(k = k) }", { k: 2.5 });
  assert.match(k.message, /k must be a whole number of at least 1, got 2\.5/);
});

Deno.test("--set naming no param is reported on line 1 with the params listed", () => {
  const d = only("param beta0 = 2\nparam a = 1.5\nmodel m { beta beta0 }", { beta1: 3 });
  assert.deepEqual([d.line, d.col], [1, 1]);
  assert.match(d.message, /`--set beta1=3` names no param/);
  assert.match(d.message, /`beta0`, `a`/);
  assert.equal(d.hint, "did you mean `beta0`?");
  assert.match(only("model m { }", { x: 1 }).message, /this file declares no params/);
});

// ---------------------------------------------------------------------------------------------
// One snippet per class of error: line, column, message and (for typos) the hint.

interface Case {
  what: string;
  text: string;
  line: number;
  col: number;
  message: string;
  hint?: string;
}

const errorCases: Case[] = [
  // Lexer and parser.
  {
    what: "character outside the language",
    text: "model m {\n  beta $4\n}",
    line: 2,
    col: 8,
    message: "unexpected character `$`",
  },
  {
    what: "missing field value",
    text: "model m {\n  beta\n}",
    line: 2,
    col: 7,
    message: "expected a number or a name after `beta`",
  },
  {
    what: "model without a name",
    text: "model {\n  beta 1\n}",
    line: 1,
    col: 7,
    message: "unexpected `{`: a model block needs a name: `model NAME { ... }`",
  },
  {
    what: "unterminated model block",
    text: "model m {\n  beta 1\n",
    line: 2,
    col: 9,
    message: "unterminated model block: expected `}`",
    hint: "the block of model `m` opens on line 1",
  },
  {
    what: "unterminated block before the next model",
    text: "model a {\n  beta 1\nmodel b { }",
    line: 3,
    col: 1,
    message: "expected `}` before the next `model`",
  },
  {
    what: "`=` between field and value",
    text: "model m {\n  beta = 4\n}",
    line: 2,
    col: 8,
    message: "unexpected `=` after `beta`",
    hint: "write `beta VALUE`, without `=`",
  },
  {
    what: "argument without `=`",
    text: "model m { entropy tsallis(alpha 1.5) }",
    line: 1,
    col: 33,
    message: "expected `=` after the argument name `alpha`",
  },
  {
    what: "trailing comma",
    text: "model m { post l2(radius = 2, ) }",
    line: 1,
    col: 31,
    message: "expected an argument name after `,`",
    hint: "remove the trailing `,`",
  },
  {
    what: "unclosed parenthesis",
    text: "model m {\n  entropy tsallis(alpha = 1.5\n  beta 2\n}",
    line: 2,
    col: 30,
    message: "expected `,` or `)` in the arguments of `tsallis`",
  },
  {
    what: "field outside a model",
    text: "beta 4\nmodel m { }",
    line: 1,
    col: 1,
    message: "unexpected `beta` outside a model block",
  },
  {
    what: "stray closing brace",
    text: "model m { }\n}",
    line: 2,
    col: 1,
    message: "unexpected `}`: no model block is open here",
  },
  {
    what: "param without a number",
    text: "param b = x\nmodel m { }",
    line: 1,
    col: 11,
    message: "a param's value must be a number",
  },
  // Names.
  {
    what: "unknown field",
    text: "model m {\n  simlarity cosine\n}",
    line: 2,
    col: 3,
    message: "unknown field `simlarity`",
    hint: "did you mean `similarity`?",
  },
  {
    what: "unknown entropy",
    text: "model m {\n  entropy tsalis(alpha = 1.5)\n}",
    line: 2,
    col: 11,
    message: "unknown entropy `tsalis`",
    hint: "did you mean `tsallis`?",
  },
  {
    what: "unknown similarity",
    text: "model m { similarity cosin }",
    line: 1,
    col: 22,
    message: "unknown similarity `cosin`",
    hint: "did you mean `cosine`?",
  },
  {
    what: "unknown post",
    text: "model m { post layrnorm }",
    line: 1,
    col: 16,
    message: "unknown post `layrnorm`",
    hint: "did you mean `layernorm`?",
  },
  {
    what: "unknown mask",
    text: "model m { mask topK(k = 2) }",
    line: 1,
    col: 16,
    message: "unknown mask `topK`",
    hint: "did you mean `topk`?",
  },
  {
    what: "unknown memory",
    text: "model m { memory continous }",
    line: 1,
    col: 18,
    message: "unknown memory `continous`",
    hint: "did you mean `continuous`?",
  },
  {
    what: "unknown steps form",
    text: "model m { steps untill }",
    line: 1,
    col: 17,
    message: "unknown steps value `untill`",
    hint: "did you mean `until`?",
  },
  {
    what: "unknown argument",
    text: "model m {\n  memory continuous(functoins = 8)\n}",
    line: 2,
    col: 21,
    message: "unknown argument `functoins` of `continuous`",
    hint: "did you mean `functions`?",
  },
  {
    what: "argument of a part that takes none",
    text: "model m { similarity cosine(eps = 1) }",
    line: 1,
    col: 29,
    message: "`cosine` takes no arguments",
  },
  {
    what: "unknown enum value of an argument",
    text: "model m { memory continuous(basis = gausian) }",
    line: 1,
    col: 37,
    message: "unknown basis `gausian`",
    hint: "did you mean `gaussian`?",
  },
  // Repetition.
  {
    what: "field given twice",
    text: "model m {\n  beta 2\n  steps 3\n  beta 4\n}",
    line: 4,
    col: 3,
    message: "field `beta` is given twice (first on line 2)",
  },
  {
    what: "argument given twice",
    text: "model m { post l2(radius = 1, radius = 2) }",
    line: 1,
    col: 31,
    message: "argument `radius` is given twice",
  },
  {
    what: "param declared twice in one scope",
    text: "model m {\n  param b = 1\n  param b = 2\n  beta b\n}",
    line: 3,
    col: 9,
    message: "param `b` is declared twice in model `m` (first on line 2)",
  },
  {
    what: "model defined twice",
    text: "model m { }\nmodel m { beta 2 }",
    line: 2,
    col: 7,
    message: "model `m` is defined twice (first on line 1)",
  },
  // Kinds of values.
  {
    what: "number where a part name is expected",
    text: "model m { entropy 1.5 }",
    line: 1,
    col: 19,
    message: "`entropy` expects a name such as `shannon`, not the number `1.5`",
  },
  {
    what: "part where a number is expected",
    text: "model m { beta tsallis(alpha = 2) }",
    line: 1,
    col: 16,
    message: "`beta` expects a number, not `tsallis(...)`",
  },
  {
    what: "number where an argument takes a name",
    text: "model m { memory continuous(quadrature = 1) }",
    line: 1,
    col: 42,
    message: "`quadrature` expects a name (exact or trapezoid), not the number `1`",
  },
  {
    what: "required argument missing",
    text: "model m { entropy tsallis }",
    line: 1,
    col: 19,
    message: "`tsallis` needs the argument `alpha`",
    hint: "write `tsallis(alpha = 1.5)`",
  },
  {
    what: "required argument missing in empty parentheses",
    text: "model m { mask topk() }",
    line: 1,
    col: 16,
    message: "`topk` needs the argument `k`",
  },
  {
    what: "undefined param, with a near one",
    text: "param beta0 = 2\nmodel m { beta beta1 }",
    line: 2,
    col: 16,
    message: "undefined param `beta1`",
    hint: "did you mean `beta0`?",
  },
  {
    what: "undefined param, nothing near",
    text: "model m { mask topk(k = kk) }",
    line: 1,
    col: 25,
    message: "undefined param `kk`",
    hint: "`k` expects a number; to use a name, declare it with `param kk = VALUE`",
  },
  {
    what: "number too large for a float64",
    text: "model m { beta 1e999 }",
    line: 1,
    col: 16,
    message: "the number `1e999` is too large",
  },
  // Ranges.
  {
    what: "alpha = 1",
    text: "model m { entropy tsallis(alpha = 1) }",
    line: 1,
    col: 35,
    message: "alpha must be greater than 1, got 1",
    hint: "alpha = 1 is softmax: use `entropy shannon`",
  },
  {
    what: "gamma <= 1",
    text: "model m { entropy normmax(gamma = 0.5) }",
    line: 1,
    col: 35,
    message: "gamma must be greater than 1, got 0.5",
  },
  {
    what: "ksubsets k not whole",
    text: "model m { entropy ksubsets(k = 2.5) }",
    line: 1,
    col: 32,
    message: "k must be a whole number of at least 1, got 2.5",
  },
  {
    what: "topk K = 0",
    text: "model m { mask topk(k = 0) }",
    line: 1,
    col: 25,
    message: "k must be a whole number of at least 1, got 0",
  },
  {
    what: "keep above 1",
    text: "model m { mask random(keep = 1.5) }",
    line: 1,
    col: 30,
    message: "keep must be greater than 0 and at most 1, got 1.5",
  },
  {
    what: "keep = 0",
    text: "model m { mask random(keep = 0) }",
    line: 1,
    col: 30,
    message: "keep must be greater than 0 and at most 1, got 0",
  },
  {
    what: "seed out of range",
    text: "model m { mask random(keep = 0.5, seed = 4294967296) }",
    line: 1,
    col: 42,
    message: "seed must be a whole number from 0 to 4294967295",
  },
  {
    what: "functions = 0",
    text: "model m { memory continuous(functions = 0) }",
    line: 1,
    col: 41,
    message: "functions must be a whole number of at least 1, got 0",
  },
  {
    what: "points = 1",
    text: "model m { memory continuous(points = 1) }",
    line: 1,
    col: 38,
    message: "points must be a whole number of at least 2, got 1",
  },
  {
    what: "negative width",
    text: "model m { memory continuous(basis = gaussian, width = -0.1) }",
    line: 1,
    col: 55,
    message: "width must be positive, got -0.1",
  },
  {
    what: "negative ridge",
    text: "model m { memory continuous(ridge = -1) }",
    line: 1,
    col: 37,
    message: "ridge must be zero or positive, got -1",
  },
  {
    what: "features count = 0",
    text: "model m { similarity features(count = 0) }",
    line: 1,
    col: 39,
    message: "count must be a whole number of at least 1, got 0",
  },
  {
    what: "l2 radius = 0",
    text: "model m { post l2(radius = 0) }",
    line: 1,
    col: 28,
    message: "radius must be positive, got 0",
  },
  {
    what: "layernorm eps < 0",
    text: "model m { post layernorm(eps = -1e-5) }",
    line: 1,
    col: 32,
    message: "eps must be positive, got -0.00001",
  },
  {
    what: "beta = 0",
    text: "model m {\n  beta 0\n}",
    line: 2,
    col: 8,
    message: "beta must be positive, got 0",
  },
  {
    what: "steps not whole",
    text: "model m { steps 2.5 }",
    line: 1,
    col: 17,
    message: "steps must be a positive whole number, got 2.5",
  },
  {
    what: "tol = 0",
    text: "model m { steps until(tol = 0) }",
    line: 1,
    col: 29,
    message: "tol must be positive, got 0",
  },
  {
    what: "max = 0",
    text: "model m { steps until(max = 0) }",
    line: 1,
    col: 29,
    message: "max must be a whole number of at least 1, got 0",
  },
  {
    what: "width with the box basis",
    text: "model m { memory continuous(basis = box, width = 0.1) }",
    line: 1,
    col: 42,
    message: "width applies only to basis = gaussian",
  },
  {
    what: "width with the default (box) basis",
    text: "model m { memory continuous(width = 0.1) }",
    line: 1,
    col: 29,
    message: "width applies only to basis = gaussian",
    hint: "the basis is box by default; add `basis = gaussian` to set a width",
  },
  {
    what: "exact quadrature with the gaussian basis",
    text: "model m { memory continuous(basis = gaussian, quadrature = exact) }",
    line: 1,
    col: 60,
    message: "quadrature = exact exists only for basis = box",
  },
  // Combinations.
  {
    what: "features similarity with a non-Shannon entropy",
    text: "model m {\n  similarity features\n  entropy sparsemax\n}",
    line: 3,
    col: 11,
    message: "features similarity works only with `entropy shannon`, not `sparsemax`",
  },
  {
    what: "features similarity with a mask",
    text: "model m {\n  similarity features(map = relu)\n  mask topk(k = 2)\n}",
    line: 3,
    col: 8,
    message: "a mask cannot be combined with features similarity",
  },
  {
    what: "continuous memory with a mask",
    text: "model m {\n  memory continuous\n  mask random(keep = 0.5)\n}",
    line: 3,
    col: 8,
    message: "a mask cannot be combined with continuous memory",
  },
  {
    what: "continuous memory with features similarity",
    text: "model m {\n  memory continuous\n  similarity features\n}",
    line: 3,
    col: 14,
    message: "features similarity cannot be combined with continuous memory",
  },
  {
    what: "continuous memory with normmax",
    text: "model m {\n  memory continuous\n  entropy normmax(gamma = 2)\n}",
    line: 3,
    col: 11,
    message: "continuous memory works only with entropy shannon, tsallis or sparsemax",
  },
];

Deno.test("each class of error: message at the line and column", async (t) => {
  for (const c of errorCases) {
    await t.step(c.what, () => {
      const d = only(c.text);
      assert.equal(d.file, "t.hop");
      assert.equal(d.severity, "error");
      assert.ok(d.message.includes(c.message), `message: ${d.message}`);
      assert.deepEqual([d.line, d.col], [c.line, c.col], `${d.message} at ${d.line}:${d.col}`);
      if (c.hint !== undefined) assert.equal(d.hint, c.hint);
      assert.ok(!/Token|->|<-|EOF|\[/.test(d.message), `chevrotain leaked into: ${d.message}`);
    });
  }
});

Deno.test("a caret underlines the whole offending token", () => {
  assert.equal(only("model m { simlarity dot }").length, "simlarity".length);
  assert.equal(only("model m { entropy tsalis(alpha = 2) }").length, "tsalis".length);
  assert.equal(only("model m { mask topk(k = 0.5) }").length, "0.5".length);
});

// ---------------------------------------------------------------------------------------------
// Several errors at once, recovery, and the printed form

Deno.test("several errors in one file are all reported, in order", () => {
  const text = read("tests/fixtures/errors/many.hop");
  const { models, diagnostics } = checkText(text, "many.hop");
  assert.deepEqual(models, []);
  const got = diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`);
  const expected = [
    "3:3 unknown field `simlarity`",
    "4:13 unknown entropy `tsalis`",
    "6:3 field `beta` is given twice (first on line 5)",
    "10:27 alpha must be greater than 1, got 1",
    "11:20 k must be a whole number of at least 1, got 0",
    "12:23 tol must be positive, got 0",
    "16:7 expected a number or a name after `beta`, found `}`",
    "21:14 features similarity cannot be combined with continuous memory",
    "22:14 a mask cannot be combined with continuous memory",
  ];
  assert.deepEqual(got, expected);
});

Deno.test("several syntax errors in one file are all reported", () => {
  const text = [
    "model a {",
    "  beta",
    "}",
    "model {",
    "  steps 3",
    "}",
    "model c {",
    "  entropy tsallis(alpha 2)",
    "}",
    "param = 4",
  ].join("\n");
  const lines = checkText(text, "t.hop").diagnostics.map((d) => d.line);
  assert.deepEqual(lines, [2, 4, 8, 10]);
});

Deno.test("after a syntax error the rest of the file is still checked, without echoes", () => {
  const text = "model a {\n  beta\n}\nmodel b {\n  entropy tsalis\n}\n";
  const { diagnostics } = checkText(text, "t.hop");
  assert.deepEqual(diagnostics.map((d) => d.line), [2, 5]);
  assert.match(diagnostics[1].message, /unknown entropy `tsalis`/);
  // A broken argument list is reported once, not again as a missing argument.
  const broken = checkText("model m { entropy tsallis(alpha = ) }", "t.hop").diagnostics;
  assert.equal(broken.length, 1);
  // A broken param declaration does not make its uses "undefined".
  const param = checkText("param b = \nmodel m { beta b }", "t.hop").diagnostics;
  assert.equal(param.length, 1);
  assert.match(param[0].message, /expected a number after `param b =`/);
});

Deno.test("a value missing before the next field is called missing, not a param", () => {
  // Newlines are free, so `steps` reads as the value of `beta`; the message says what happened.
  const [first, second] = checkText("model m {\n  beta\n  steps 5\n}", "t.hop").diagnostics;
  assert.deepEqual([first.line, first.col], [3, 3]);
  assert.equal(first.message, "expected a value after `beta`, found the field name `steps`");
  assert.equal(first.hint, "is the value of `beta` missing?");
  assert.deepEqual([second.line, second.col], [3, 9]);
  const [part] = checkText("model m {\n  entropy\n  post l2\n}", "t.hop").diagnostics;
  assert.equal(part.message, "expected a value after `entropy`, found the field name `post`");
});

Deno.test("formatDiagnostics prints file:line:col, the line, a caret and the hint", () => {
  const text = "model m {\n  entropy tsalis(alpha = 1.5)\n}\n";
  const { diagnostics } = checkText(text, "examples/m.hop");
  const out = formatDiagnostics(diagnostics, new Map([["examples/m.hop", text]]));
  assert.equal(
    out,
    [
      "examples/m.hop:2:11: error: unknown entropy `tsalis`",
      "    entropy tsalis(alpha = 1.5)",
      "            ^^^^^^",
      "  hint: did you mean `tsallis`?",
    ].join("\n"),
  );
});

Deno.test("check() on a hand-built AST with no models reports only bad overrides", () => {
  assert.deepEqual(check({ params: [], models: [] }, "t.hop"), { models: [], diagnostics: [] });
  assert.equal(check({ params: [], models: [] }, "t.hop", { q: 1 }).diagnostics.length, 1);
});

// ---------------------------------------------------------------------------------------------
// Robustness: no input makes the front end throw.

/** Pieces of the language, for token-level mutations and token soups. */
const TOKENS = [
  "model",
  "param",
  "m",
  "beta",
  "steps",
  "entropy",
  "similarity",
  "memory",
  "mask",
  "post",
  "tsallis",
  "sparsemax",
  "normmax",
  "ksubsets",
  "softmax1",
  "shannon",
  "dot",
  "cosine",
  "features",
  "continuous",
  "topk",
  "random",
  "until",
  "l2",
  "layernorm",
  "tanh",
  "alpha",
  "gamma",
  "k",
  "keep",
  "seed",
  "basis",
  "gaussian",
  "box",
  "width",
  "functions",
  "points",
  "quadrature",
  "trapezoid",
  "map",
  "count",
  "tol",
  "max",
  "radius",
  "eps",
  "ridge",
  "b",
  "{",
  "}",
  "(",
  ")",
  "=",
  ",",
  "#",
  "\n",
  " ",
  "0",
  "1",
  "-1",
  "1.5",
  "2",
  "1e-5",
  "1e999",
  "4294967296",
  "0.5",
  ".5",
  "-",
  "+",
  "e",
  "$",
  "\u00e9",
  "\t",
];

const token = fc.constantFrom(...TOKENS);
const char = fc.oneof(
  fc.constantFrom(..."{}()=,#\n -+.e0123456789abz_$\"'\\\r\t"),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
);

type Mutation = { op: "insert" | "delete" | "replace"; at: number; len: number; text: string };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom("insert", "delete", "replace"),
  at: fc.nat(),
  len: fc.integer({ min: 1, max: 12 }),
  text: fc.oneof(token, char, fc.array(token, { maxLength: 4 }).map((t) => t.join(" "))),
});

function mutate(text: string, muts: Mutation[]): string {
  for (const m of muts) {
    const at = text.length ? m.at % (text.length + 1) : 0;
    if (m.op === "insert") text = text.slice(0, at) + m.text + text.slice(at);
    else if (m.op === "delete") text = text.slice(0, at) + text.slice(at + m.len);
    else text = text.slice(0, at) + m.text + text.slice(at + m.len);
  }
  return text;
}

/** The contract of checkText on any input. */
function wellBehaved(text: string, overrides?: Record<string, number>): void {
  const { models, diagnostics } = checkText(text, "fuzz.hop", overrides);
  for (const d of diagnostics) {
    Diagnostic.parse(d);
    assert.ok(!d.message.startsWith("internal error"), d.message);
    assert.ok(d.message.length > 0);
  }
  for (const m of models) Model.parse(m);
  // Rendering never throws either, whatever the positions.
  formatDiagnostics(diagnostics, new Map([["fuzz.hop", text]]));
}

Deno.test("fuzz: random text, token soups and mutated examples never make checkText throw", () => {
  const texts = examples.map((e) => e.text);
  // 3,000 + 3,000 + 6,000 = 12,000 runs.
  fc.assert(
    fc.property(fc.string({ unit: char, maxLength: 200 }), (s) => wellBehaved(s)),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.array(token, { maxLength: 60 }), (ts) => wellBehaved(ts.join(" "))),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...texts),
      fc.array(mutation, { minLength: 1, maxLength: 6 }),
      fc.option(fc.dictionary(fc.constantFrom("a", "b", "k", "x"), fc.double()), {
        nil: undefined,
      }),
      (text, muts, overrides) => wellBehaved(mutate(text, muts), overrides),
    ),
    { numRuns: 6000 },
  );
});

Deno.test("fuzz: an example with one token swapped for another never throws", () => {
  // Token-level edits keep most of a file well-formed, so they reach the checker's rules more
  // often than character noise does.
  const texts = examples.map((e) => e.text);
  fc.assert(
    fc.property(fc.constantFrom(...texts), fc.nat(), token, (text, n, replacement) => {
      const words = text.split(/(\s+)/);
      const i = n % words.length;
      words[i] = replacement;
      const mutated = words.join("");
      wellBehaved(mutated);
      // When nothing is wrong, the models are exactly those the file declares.
      const { models, diagnostics } = checkText(mutated, "fuzz.hop");
      if (diagnostics.length === 0) {
        assert.equal(models.length, parse(mutated, "fuzz.hop").ast.models.length);
      }
    }),
    { numRuns: 2000 },
  );
});
