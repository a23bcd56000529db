// The TextMate grammar of the VS Code extension (editors/vscode/syntaxes/hop.tmLanguage.json),
// run by the engine VS Code itself uses: vscode-textmate over the oniguruma regex library
// (vscode-oniguruma, compiled to wasm). Two kinds of checks:
//   - every example file is tokenized and each token is held to what hopc's own lexer and parser
//     say it is (a field name, an entropy name, an argument name, a number, ...);
//   - the grammar's name lists agree exactly with the checker's catalog and the part registry, so
//     a part added to the language and not to the grammar fails here.
import assert from "node:assert/strict";
// Both packages are CommonJS bundles whose exports Deno cannot see statically: take the default
// export (module.exports) and the types by name.
import textmate from "vscode-textmate";
import type { IGrammar, IToken } from "vscode-textmate";
import oniguruma from "vscode-oniguruma";
import { HopLexer } from "../grammar/tokens.ts";
import { parse } from "../grammar/index.ts";
import { LANGUAGE } from "../src/check.ts";
import { entropies, masks, posts, similarities } from "../src/parts/registry.ts";

const { INITIAL, Registry } = textmate;
const { loadWASM, OnigScanner, OnigString } = oniguruma;

const GRAMMAR_PATH = new URL("../editors/vscode/syntaxes/hop.tmLanguage.json", import.meta.url);
const grammarJson = JSON.parse(await Deno.readTextFile(GRAMMAR_PATH));

/**
 * The oniguruma wasm ships inside the npm package. With `nodeModulesDir: "none"` it lives in
 * Deno's npm cache, which the static import above has filled; `import.meta.resolve` maps the
 * package subpath through deno.json's import map to that file, so a clean clone needs nothing
 * but `deno` itself to find it.
 */
async function loadGrammar(): Promise<IGrammar> {
  const wasm = await Deno.readFile(
    new URL(import.meta.resolve("vscode-oniguruma/release/onig.wasm")),
  );
  await loadWASM(wasm.buffer);
  const registry = new Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new OnigScanner(patterns),
      createOnigString: (s: string) => new OnigString(s),
    }),
    loadGrammar: (scope: string) => Promise.resolve(scope === "source.hop" ? grammarJson : null),
  });
  const grammar = await registry.loadGrammar("source.hop");
  if (!grammar) throw new Error("vscode-textmate did not load source.hop");
  return grammar;
}

const grammar = await loadGrammar();

/** A token of the whole text: its offsets and scopes (lines are tokenized in order). */
interface TmToken {
  start: number;
  end: number;
  line: number;
  text: string;
  scopes: string[];
}

/** Tokenize every line, checking that the tokens of each line cover it exactly, in order. */
function tokenize(text: string): TmToken[] {
  const out: TmToken[] = [];
  let stack = INITIAL;
  let offset = 0;
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    const result = grammar.tokenizeLine(line, stack);
    stack = result.ruleStack;
    let at = 0;
    for (const t of result.tokens as IToken[]) {
      assert.deepEqual(t.startIndex, at, `line ${i + 1}: tokens leave a gap or overlap at ${at}`);
      const end = Math.min(t.endIndex, line.length);
      out.push({
        start: offset + t.startIndex,
        end: offset + end,
        line: i + 1,
        text: line.slice(t.startIndex, end),
        scopes: t.scopes,
      });
      at = end;
    }
    assert.deepEqual(at, line.length, `line ${i + 1}: tokens stop at ${at} of ${line.length}`);
    offset += raw.length + 1;
  });
  return out;
}

/** The TextMate tokens that cover [start, end) of the text. */
function covering(tokens: TmToken[], start: number, end: number): TmToken[] {
  return tokens.filter((t) => t.end > start && t.start < end);
}

function hasScope(t: TmToken, prefix: string): boolean {
  return t.scopes.some((s) => s === prefix || s.startsWith(`${prefix}.`));
}

/**
 * What hopc's parser says each identifier is, keyed by start offset: the scope the grammar must
 * give it. Tokens not in the map are judged by their lexer type alone.
 */
function rolesOf(text: string): Map<number, string> {
  const { ast, diagnostics } = parse(text, "x.hop");
  assert.deepEqual(diagnostics, [], "the example must parse");
  const roles = new Map<number, string>();
  const params = [...ast.params, ...ast.models.flatMap((m) => m.params)];
  for (const p of params) roles.set(p.nameSpan.start, "variable.other.constant.param.hop");
  for (const m of ast.models) {
    roles.set(m.nameSpan.start, "entity.name.type.model.hop");
    for (const f of m.fields) {
      roles.set(f.nameSpan.start, "support.type.property-name.field.hop");
      const v = f.value;
      if (v.kind !== "name") continue;
      const spec = LANGUAGE[f.name];
      const part = spec.kind === "number" ? undefined : spec.parts[v.name];
      roles.set(v.span.start, part ? `support.function.${f.name}.hop` : "variable.other.hop");
      for (const a of v.args ?? []) {
        roles.set(a.nameSpan.start, "variable.parameter.argument.hop");
        if (a.value.kind === "name") {
          const argSpec = part?.args[a.name];
          const isValue = argSpec?.kind === "name" && argSpec.values.includes(a.value.name);
          roles.set(
            a.valueSpan.start,
            isValue ? "support.constant.argument-value.hop" : "variable.other.hop",
          );
        }
      }
    }
  }
  return roles;
}

/** The scope each lexer token type must get where the parser assigns no role. */
const BY_TYPE: Record<string, string> = {
  Comment: "comment.line.number-sign.hop",
  Model: "keyword.other.model.hop",
  Param: "keyword.other.param.hop",
  NumberLiteral: "constant.numeric.decimal.hop",
  LBrace: "punctuation.section.block.begin.hop",
  RBrace: "punctuation.section.block.end.hop",
  LParen: "punctuation.section.parens.begin.hop",
  RParen: "punctuation.section.parens.end.hop",
  Equals: "keyword.operator.assignment.hop",
  Comma: "punctuation.separator.comma.hop",
};

/** Every token hopc's lexer finds (comments included), with the scope it must have. */
function expectedTokens(text: string) {
  const roles = rolesOf(text);
  const lexed = HopLexer.tokenize(text);
  const comments = [...text.matchAll(/#[^\r\n]*/g)].map((m) => ({
    start: m.index,
    end: m.index + m[0].length,
    type: "Comment",
    image: m[0],
  }));
  // A `#` inside no comment cannot occur (the lexer has no strings), so regex matches are exact.
  const tokens = lexed.tokens.map((t) => ({
    start: t.startOffset,
    end: t.startOffset + t.image.length,
    type: t.tokenType.name,
    image: t.image,
  }));
  return [...tokens, ...comments].map((t) => ({
    ...t,
    scope: roles.get(t.start) ?? BY_TYPE[t.type] ?? "variable.other.hop",
  }));
}

const examples: string[] = [];
for (const e of Deno.readDirSync(new URL("../examples/", import.meta.url))) {
  if (e.isFile && e.name.endsWith(".hop")) examples.push(e.name);
}
examples.sort();

Deno.test("textmate: there are examples to tokenize", () => {
  assert(examples.length >= 10, `found only ${examples.length} examples`);
});

for (const name of examples) {
  Deno.test(`textmate: examples/${name}: every token has the scope hopc's parser gives it`, () => {
    const text = Deno.readTextFileSync(new URL(`../examples/${name}`, import.meta.url));
    const tm = tokenize(text);
    const expected = expectedTokens(text);
    assert(expected.some((t) => t.type === "Comment"), "each example has a comment");
    for (const want of expected) {
      const got = covering(tm, want.start, want.end);
      const where = `${name} offset ${want.start} \`${want.image}\``;
      assert(got.length > 0, `${where}: no TextMate token`);
      for (const t of got) {
        assert(
          hasScope(t, want.scope),
          `${where}: expected ${want.scope}, got ${t.scopes.join(" ")}`,
        );
      }
    }
    for (const t of tm) {
      if (t.text.trim() === "") continue;
      assert(t.scopes.length > 1, `${name}:${t.line}: \`${t.text}\` has only the root scope`);
      assert(
        !t.scopes.some((s) => s.startsWith("invalid")),
        `${name}:${t.line}: \`${t.text}\` is invalid`,
      );
    }
  });
}

/** Scopes of the token at `text`'s first occurrence of `word` (after `from`). */
function scopesAt(text: string, word: string, from = 0): string[] {
  const at = text.indexOf(word, from);
  assert(at >= 0, `\`${word}\` not in \`${text}\``);
  const t = covering(tokenize(text), at, at + word.length);
  assert.deepEqual(t.length, 1, `\`${word}\` in \`${text}\` is split into ${t.length} tokens`);
  return t[0].scopes;
}

Deno.test("textmate: every field, part, argument and argument value of the checker gets its scope", () => {
  let checked = 0;
  for (const [field, spec] of Object.entries(LANGUAGE)) {
    const line = `model m { ${field} 1 }`;
    assert(scopesAt(line, field, 10).includes("support.type.property-name.field.hop"), field);
    if (spec.kind === "number") continue;
    for (const [part, partSpec] of Object.entries(spec.parts)) {
      const bare = `model m { ${field} ${part} }`;
      const scopes = scopesAt(bare, part, 10 + field.length);
      assert(scopes.includes(`support.function.${field}.hop`), `${field} ${part}: ${scopes}`);
      for (const [arg, argSpec] of Object.entries(partSpec.args)) {
        const values = argSpec.kind === "name" ? argSpec.values : ["1"];
        for (const value of values) {
          const text = `model m { ${field} ${part}(${arg} = ${value}) }`;
          const start = text.indexOf("(");
          assert(scopesAt(text, arg, start).includes("variable.parameter.argument.hop"), text);
          const want = argSpec.kind === "name"
            ? "support.constant.argument-value.hop"
            : "constant.numeric.decimal.hop";
          assert(scopesAt(text, value, text.indexOf("=")).includes(want), `${text}: ${value}`);
          checked++;
        }
      }
    }
  }
  assert(checked > 20, `only ${checked} arguments checked`);
});

/** The words of a `\b(?:a|b|c)\b` match of the grammar's repository. */
function listOf(key: string): string[] {
  const match: string = grammarJson.repository[key]?.match ?? "";
  const m = /^\\b\(\?:([A-Za-z0-9_|]+)\)\\b$/.exec(match);
  assert(m, `repository.${key} is not a \\b(?:a|b)\\b list: ${match}`);
  return m[1].split("|").sort();
}

const sorted = (xs: Iterable<string>) => [...xs].sort();

Deno.test("textmate: the grammar's name lists are exactly the checker's and the registry's", () => {
  assert.deepEqual(listOf("field-names"), sorted(Object.keys(LANGUAGE)));
  const partFields = Object.entries(LANGUAGE).filter(([, s]) => s.kind !== "number");
  for (const [field, spec] of partFields) {
    if (spec.kind === "number") continue;
    assert.deepEqual(listOf(`${field}-names`), sorted(Object.keys(spec.parts)), field);
  }
  // No list names a field the checker does not have.
  const lists = Object.keys(grammarJson.repository).filter((k) => k.endsWith("-names"));
  assert.deepEqual(
    sorted(lists),
    sorted(["field-names", ...partFields.map(([f]) => `${f}-names`)]),
  );
  // The registry's parts are the checker's parts (the grammar follows both).
  const registry = { entropy: entropies, similarity: similarities, post: posts, mask: masks };
  for (const [field, parts] of Object.entries(registry)) {
    assert.deepEqual(listOf(`${field}-names`), sorted(Object.keys(parts)), `registry ${field}`);
  }
  const values = new Set<string>();
  for (const [, spec] of partFields) {
    if (spec.kind === "number") continue;
    for (const p of Object.values(spec.parts)) {
      for (const a of Object.values(p.args)) {
        if (a.kind === "name") a.values.forEach((v) => values.add(v));
      }
    }
  }
  assert.deepEqual(listOf("argument-values"), sorted(values));
});

Deno.test("textmate: names are unique across fields, parts and argument values", () => {
  // The grammar scopes a name by its list wherever it stands; that is sound only while no name
  // is in two lists that can match in the same place. A part that reuses a name needs a grammar
  // that follows the field. Argument values match only inside parentheses (#arguments) and
  // field and part names only outside, so an argument value may be a part's name too (`max`:
  // `separation max` and `uhop(loss = max)`); the names lists stay unique among themselves.
  const unique = (keys: string[]) => {
    const seen = new Map<string, string>();
    for (const { w, k } of keys.flatMap((k) => listOf(k).map((w) => ({ w, k })))) {
      assert(!seen.has(w), `\`${w}\` is in both ${seen.get(w)} and ${k}`);
      seen.set(w, k);
    }
  };
  unique(Object.keys(grammarJson.repository).filter((k) => k.endsWith("-names")));
  unique(["argument-values"]);
  const inArguments = grammarJson.repository.arguments.patterns
    .map((p: { include?: string }) => p.include).filter(Boolean);
  assert(!inArguments.some((i: string) => i.endsWith("-names")), `${inArguments}`);
  assert(
    !grammarJson.repository.body.patterns.some((p: { include?: string }) =>
      p.include === "#argument-values"
    ),
  );
  const text = "model m { separation max similarity uhop(loss = max) }";
  assert(scopesAt(text, "max").includes("support.function.separation.hop"));
  assert(
    scopesAt(text, "max", text.indexOf("=")).includes("support.constant.argument-value.hop"),
  );
});

Deno.test("textmate: numbers, comments, params and bad characters", () => {
  for (const n of ["8", "-2.5", ".5", "1e-5", "1E+3", "+0.25"]) {
    const text = `model m { beta ${n} }`;
    const t = covering(tokenize(text), text.indexOf(n), text.indexOf(n) + n.length);
    assert.deepEqual(t.length, 1, `${n} is one token`);
    assert(hasScope(t[0], "constant.numeric.decimal.hop"), n);
  }
  // Digits inside a name are not a number.
  assert(scopesAt("model m { post l2 }", "l2").includes("support.function.post.hop"));
  assert(
    scopesAt("model m { entropy softmax1 }", "softmax1").includes("support.function.entropy.hop"),
  );
  // Names that contain a keyword are plain names.
  assert(!scopesAt("model models { }", "models", 6).includes("keyword.other.model.hop"));
  // A `}` inside a comment does not close the block.
  const multi = tokenize("model m {\n  beta 2 # }\n  steps 3\n}\n");
  const steps = multi.find((t) => t.text === "steps");
  assert(steps && hasScope(steps, "meta.model.hop"), "steps is still inside the block");
  assert(scopesAt("param b = 4", "b").includes("variable.other.constant.param.hop"));
  assert(scopesAt("model m { beta @ }", "@").includes("invalid.illegal.character.hop"));
  // Arguments may run over several lines, as in examples/continuous.hop.
  const args = tokenize("model m {\n  memory continuous(basis = gaussian,\n    points = 200)\n}\n");
  const points = args.find((t) => t.text === "points");
  assert(points && hasScope(points, "variable.parameter.argument.hop"), "points on line 3");
});

Deno.test("textmate: the extension's package.json contributes this grammar and configuration", () => {
  const dir = new URL("../editors/vscode/", import.meta.url);
  const pkg = JSON.parse(Deno.readTextFileSync(new URL("package.json", dir)));
  const [language] = pkg.contributes.languages;
  assert.equal(language.id, "hop");
  assert.deepEqual(language.extensions, [".hop"]);
  const [contributed] = pkg.contributes.grammars;
  assert.equal(contributed.language, "hop");
  assert.equal(contributed.scopeName, grammarJson.scopeName);
  assert.deepEqual(JSON.parse(Deno.readTextFileSync(new URL(contributed.path, dir))), grammarJson);
  const config = JSON.parse(Deno.readTextFileSync(new URL(language.configuration, dir)));
  assert.equal(config.comments.lineComment, "#", "the lexer's comment character");
  assert.deepEqual(config.brackets, [["{", "}"], ["(", ")"]]);
  // Every file the packed extension lists exists.
  for (const f of pkg.files) Deno.statSync(new URL(f, dir));
});
