// Mutations of a `.hop` text: token deletion, insertion, duplication and swap, numbers at and
// past the rule bounds and non-numbers (NaN, Inf, huge exponents), random code units, unicode,
// truncation, deep nesting, very long lines, params and `--set` overrides.
import { HopLexer } from "../../grammar/tokens.ts";
import { allNames, allRules, probes, type Rng } from "./language.ts";

const SPECIAL_NUMBERS = [
  "NaN",
  "Infinity",
  "-Infinity",
  "inf",
  "1e999",
  "-1e999",
  "1e-999",
  "1e+99999999999999999999",
  "0x10",
  "1_000",
  "1.",
  ".5",
  "-.5e-3",
  "00012",
  "9".repeat(400),
  `0.${"0".repeat(400)}1`,
  "1e",
  "1e+",
  "--1",
  "+-1",
  "-0",
  "+0",
  "٣",
  "１",
  "1e308",
  "2e308",
  "4.9e-324",
  "2.5e-324",
  "9007199254740993",
  "4294967296",
  "4294967295.5",
];
const UNICODE = [
  "\u00e9",
  "e\u0301",
  "\u{1F600}",
  "\uFEFF",
  "\u2028",
  "\u2029",
  "\u200B",
  "\u00A0",
  "\u202E",
  "\uD800",
  "\uDC00",
  "\u0000",
  "\r",
  "\f",
  "\v",
  "\t",
  "ß",
  "İ",
  "ﬁ",
  "ｍｏｄｅｌ",
  "β",
  "α",
];
const PUNCT = ["{", "}", "(", ")", "=", ",", "#", "\n", " ", "\r\n", "\r", "model", "param"];
const TRICKY_NAMES = [
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "_",
  "x",
];

let pool: { names: string[]; numbers: string[] } | undefined;
function tokens(): { names: string[]; numbers: string[] } {
  if (!pool) {
    const numbers = new Set<string>(SPECIAL_NUMBERS);
    for (const r of allRules()) {
      const p = probes(r);
      for (const v of [...p.valid, ...p.invalid]) numbers.add(String(v));
    }
    pool = { names: [...allNames(), ...TRICKY_NAMES], numbers: [...numbers] };
  }
  return pool;
}

function randomToken(rng: Rng): string {
  const { names, numbers } = tokens();
  switch (rng.int(5)) {
    case 0:
      return rng.pick(names);
    case 1:
      return rng.pick(numbers);
    case 2:
      return rng.pick(PUNCT);
    case 3:
      return rng.pick(UNICODE);
    default: {
      const n = rng.pick(names);
      return rng.chance(0.5) ? n.slice(0, -1) : n + rng.pick(["s", "_", "1", n.at(-1) ?? "x"]);
    }
  }
}

function randomCodeUnits(rng: Rng, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) {
    s += String.fromCharCode(rng.chance(0.7) ? 32 + rng.int(95) : rng.int(0x10000));
  }
  return s;
}

/** The lexer's tokens as [start, end) offsets; gaps (whitespace, comments, junk) stay as is. */
function spans(text: string): [number, number][] {
  return HopLexer.tokenize(text).tokens.map((t) => [t.startOffset, t.startOffset + t.image.length]);
}

export interface Mutated {
  text: string;
  overrides: Record<string, number>;
  ops: string[];
}

/** One to four mutations of `text` (and maybe of the overrides). */
export function mutate(text: string, overrides: Record<string, number>, rng: Rng): Mutated {
  const out = { text, overrides: { ...overrides }, ops: [] as string[] };
  const n = 1 + rng.int(4);
  for (let i = 0; i < n; i++) out.ops.push(mutateOnce(out, rng));
  return out;
}

function mutateOnce(m: Mutated, rng: Rng): string {
  const t = m.text;
  const toks = spans(t);
  const tok = toks.length ? rng.pick(toks) : [0, 0] as [number, number];
  const at = rng.int(t.length + 1);
  const splice = (s: number, e: number, ins: string) => (m.text = t.slice(0, s) + ins + t.slice(e));
  let op = rng.int(14);
  // Deep nesting and long lines cost 10-100 times a plain case: keep them to a few percent.
  if ((op === 8 || op === 9) && !rng.chance(0.15)) op = rng.int(8);
  switch (op) {
    case 0:
      splice(tok[0], tok[1], "");
      return "delete token";
    case 1:
      splice(tok[0], tok[0], randomToken(rng) + rng.pick([" ", "", "\n"]));
      return "insert token";
    case 2:
      splice(tok[0], tok[0], t.slice(tok[0], tok[1]) + " ");
      return "duplicate token";
    case 3: {
      const b = rng.pick(toks.length ? toks : [tok]);
      const [x, y] = tok[0] <= b[0] ? [tok, b] : [b, tok];
      if (x[1] > y[0]) return "swap (none)";
      m.text = t.slice(0, x[0]) + t.slice(y[0], y[1]) + t.slice(x[1], y[0]) + t.slice(x[0], x[1]) +
        t.slice(y[1]);
      return "swap tokens";
    }
    case 4: {
      // A number at or past a rule's bound, or something that only looks like a number.
      const nums = toks.filter(([s]) => /^[+\-.\d]/.test(t[s]));
      const [s, e] = nums.length ? rng.pick(nums) : tok;
      splice(s, e, rng.pick(tokens().numbers));
      return "replace number";
    }
    case 5:
      splice(at, at, randomCodeUnits(rng, 1 + rng.int(8)));
      return "random code units";
    case 6:
      splice(at, Math.min(t.length, at + rng.int(3)), rng.pick(UNICODE));
      return "unicode";
    case 7:
      m.text = t.slice(0, at);
      return "truncate";
    case 8: {
      const depth = rng.pick([10, 100, 1000, 1000, 1000, 10000]);
      const open = rng.pick(["(", "{", "model m {", "tsallis(", "a = ("]);
      const close = rng.chance(0.5) ? rng.pick([")", "}"]).repeat(depth) : "";
      splice(at, at, open.repeat(depth) + close);
      return `nest ${depth}`;
    }
    case 9: {
      const len = rng.pick([1000, 1000, 10000, 10000, 100000]);
      const what = rng.pick([
        () => "x".repeat(len),
        () => "9".repeat(len),
        () => "beta 2 ".repeat(len / 7),
        () => `# ${"c".repeat(len)}`,
        () => `tsallis(${"alpha = 2, ".repeat(len / 11)})`,
      ]);
      splice(at, at, what());
      return `long line ${len}`;
    }
    case 10: {
      const name = rng.pick([...TRICKY_NAMES, "p0", "p1", "b", rng.pick(tokens().names)]);
      const decl = `param ${name} = ${rng.pick(tokens().numbers)}\n`;
      splice(rng.chance(0.5) ? 0 : tok[0], rng.chance(0.5) ? 0 : tok[0], decl);
      return "insert param";
    }
    case 11: {
      // `--set` with declared, misspelt or unknown names and any value, finite or not.
      const names = [...Object.keys(m.overrides), "p0", "p1", "b", ...TRICKY_NAMES];
      const name = rng.pick(names) + (rng.chance(0.2) ? "x" : "");
      const value = rng.pick([NaN, Infinity, -Infinity, -0, 0, 1, 2.5, 1e308, -1, 2 ** 53 + 2]);
      Object.defineProperty(m.overrides, name, { value, enumerable: true, writable: true });
      return `--set ${name}=${value}`;
    }
    case 12:
      splice(at, at, t.slice(rng.int(t.length + 1), rng.int(t.length + 1)));
      return "copy slice";
    default: {
      const name = rng.pick(toks.filter(([s]) => /[A-Za-z_]/.test(t[s])));
      if (!name) return "rename (none)";
      splice(name[0], name[1], randomToken(rng));
      return "replace name";
    }
  }
}
