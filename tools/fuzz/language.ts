// What the fuzzer knows about the language: everything is read at run time from the checker's
// exported LANGUAGE table (src/check.ts), so fields, parts, arguments, name-valued arguments and
// number rules that other modules add are fuzzed without a second list. Number bounds are found
// by probing each rule's `test` around the numbers its `need` sentence names ("at least 2",
// "from 0 to 4294967295") and around a few generic values.
import { type ArgSpec, LANGUAGE, type NumberRule, type PartSpec } from "../../src/check.ts";

/** A small seeded generator (mulberry32): each case gets its own from (seed, case index). */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The generator of case `index` of a run with `seed`. */
export function caseRng(seed: number, index: number, salt = 0): Rng {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return new Rng((h ^ (h >>> 16)) >>> 0);
}

const f64 = new Float64Array(1);
const u64 = new BigInt64Array(f64.buffer);
/** The next float64 above (dir 1) or below (dir -1) `x`. */
export function nextFloat(x: number, dir: 1 | -1): number {
  if (!Number.isFinite(x)) return x;
  if (x === 0) return dir * Number.MIN_VALUE;
  f64[0] = x;
  u64[0] += (x > 0) === (dir > 0) ? 1n : -1n;
  return f64[0];
}

const GENERIC = [
  0,
  1,
  2,
  3,
  4,
  8,
  10,
  64,
  100,
  0.1,
  0.25,
  0.5,
  1.5,
  1e-5,
  1e-300,
  Number.MIN_VALUE,
  1e300,
  Number.MAX_VALUE,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -1,
  -0.5,
];

/** Numbers on both sides of a rule's bounds: the valid ones and the rejected ones. */
export interface Probes {
  valid: number[];
  invalid: number[];
}

const probeCache = new Map<NumberRule, Probes>();
export function probes(rule: NumberRule): Probes {
  const cached = probeCache.get(rule);
  if (cached) return cached;
  const anchors = [0, 1, ...(rule.need.match(/-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/gi) ?? []).map(Number)];
  const all = new Set<number>(GENERIC);
  for (const a of anchors) {
    for (const v of [a, a - 1, a + 1, a - 0.5, a + 0.5, a / 2, a * 2, -a]) all.add(v);
    all.add(nextFloat(a, 1)).add(nextFloat(a, -1));
  }
  const out: Probes = { valid: [], invalid: [] };
  for (const v of all) {
    const valid = Number.isFinite(v) && rule.test(v);
    // A value whose validity depends on another argument is neither (see NumberRule.always).
    if (valid && rule.always && !rule.always(v)) continue;
    (valid ? out.valid : out.invalid).push(v);
  }
  probeCache.set(rule, out);
  return out;
}

export const FIELDS: readonly string[] = Object.keys(LANGUAGE);

export function partsOf(field: string): Record<string, PartSpec> {
  const spec = LANGUAGE[field];
  return spec.kind === "number" ? {} : spec.parts;
}

/** The number rule of a field that takes a number (beta, steps), if any. */
export function numberRuleOf(field: string): NumberRule | undefined {
  const spec = LANGUAGE[field];
  return spec.kind === "part" ? undefined : spec.rule;
}

/** Every name the language knows: fields, parts, arguments, argument values. */
export function allNames(): string[] {
  const names = new Set<string>(["model", "param", ...FIELDS]);
  for (const f of FIELDS) {
    for (const [p, spec] of Object.entries(partsOf(f))) {
      names.add(p);
      for (const [a, arg] of Object.entries(spec.args)) {
        names.add(a);
        if (arg.kind === "name") arg.values.forEach((v) => names.add(v));
      }
    }
  }
  return [...names];
}

/** Every number rule in the language (fields and arguments). */
export function allRules(): NumberRule[] {
  const rules: NumberRule[] = [];
  for (const f of FIELDS) {
    const r = numberRuleOf(f);
    if (r) rules.push(r);
    for (const spec of Object.values(partsOf(f))) {
      for (const a of Object.values(spec.args)) if (a.kind === "number") rules.push(a.rule);
    }
  }
  return rules;
}

/** Spell a number so that it reads back as exactly `v`: plain, exponent form, or with a sign. */
export function spell(v: number, rng: Rng): string {
  const plain = String(v);
  const forms = [plain, v.toExponential()];
  if (v >= 0) forms.push(`+${plain}`);
  if (Number.isInteger(v) && Math.abs(v) < 1e21) forms.push(`${v}.0`, `${v}.`);
  return rng.pick(forms.filter((s) => Number(s) === v && !/[a-zI]/.test(s.replace(/e/, ""))));
}

export type { ArgSpec, PartSpec };
