// Valid `.hop` files from the LANGUAGE table, with what the checker must make of them. Each field
// value is an "atom" (a field with a number, or a part with some of its arguments), every number
// within its rule, written as a literal or through a param (possibly overridden by `--set`).
//
// Whether a model is accepted is predicted without a second list of the checker's combination
// rules (LANGUAGE.md section 1: "features works only with shannon", ...): the minimal atoms (a
// part with only its required arguments, a field's number) must be accepted alone, always; any
// other atom, and any pair of atoms, is learned once by checking it in a model of its own, and a
// model is predicted accepted iff all its atoms and pairs were. So the fuzzer asserts that the
// checker's verdict is compositional (pairs decide), independent of which valid numbers are
// written, and that an accepted model's IR holds exactly the values written.
import { checkText } from "../../src/check.ts";
import type { Model } from "../../src/ir.ts";
import { FIELDS, numberRuleOf, partsOf, probes, type Rng, spell } from "./language.ts";

/** One field's value as written, and what the IR must hold for it. */
export interface Atom {
  field: string;
  /** Key of what decides acceptance: field, part, argument names and name-valued arguments. */
  key: string;
  /** The part, or undefined for a number. */
  part?: string;
  /** The values the IR must hold: the number, or the arguments by name. */
  values: Record<string, number | string>;
  /** Only required arguments (or a field's number): must be accepted alone. */
  minimal: boolean;
  /** The value's text, with `$N` where the N-th number of `numbers` goes. */
  numbers: number[];
  template: string;
}

export function randomAtom(field: string, rng: Rng): Atom {
  const rule = numberRuleOf(field);
  const parts = Object.entries(partsOf(field));
  if (rule && (!parts.length || rng.chance(0.5))) {
    const v = rng.pick(probes(rule).valid);
    return {
      field,
      key: `${field}:#`,
      values: { "": v },
      minimal: true,
      numbers: [v],
      template: "$0",
    };
  }
  const [part, spec] = rng.pick(parts);
  const required = spec.required?.names ?? [];
  const names = Object.keys(spec.args).filter((a) => required.includes(a) || rng.chance(0.4));
  const values: Record<string, number | string> = {};
  const numbers: number[] = [];
  const args: string[] = [];
  const keyParts: string[] = [];
  for (const a of rng.chance(0.3) ? shuffle(names, rng) : names) {
    const arg = spec.args[a];
    if (arg.kind === "name") {
      const v = rng.pick(arg.values);
      values[a] = v;
      args.push(`${a} = ${v}`);
      keyParts.push(`${a}=${v}`);
    } else {
      const v = rng.pick(probes(arg.rule).valid);
      values[a] = v;
      args.push(`${a} = $${numbers.length}`);
      numbers.push(v);
      keyParts.push(a);
    }
  }
  const parens = args.length ? `(${args.join(", ")})` : rng.chance(0.2) ? "()" : "";
  return {
    field,
    part,
    key: `${field}:${part}:${keyParts.sort().join(",")}`,
    values,
    minimal: names.length === required.length,
    numbers,
    template: `${part}${parens}`,
  };
}

function shuffle<T>(xs: T[], rng: Rng): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The atom written with literal numbers. */
function literal(a: Atom, rng: Rng): string {
  return a.template.replace(/\$(\d+)/g, (_, i) => spell(a.numbers[Number(i)], rng));
}

/** Whether the checker accepts a model of just these atoms (learned once per set of keys). */
const learned = new Map<string, boolean>();
export function learnedCount(): { total: number; rejected: string[] } {
  return {
    total: learned.size,
    rejected: [...learned].filter(([, ok]) => !ok).map(([k]) => k),
  };
}

function accepts(atoms: Atom[], rng: Rng): boolean {
  const key = atoms.map((a) => a.key).sort().join(" ");
  let ok = learned.get(key);
  if (ok === undefined) {
    const body = atoms.map((a) => `${a.field} ${literal(a, rng)}`).join("\n  ");
    ok = checkText(`model m {\n  ${body}\n}\n`, "learn.hop").diagnostics.length === 0;
    learned.set(key, ok);
  }
  return ok;
}

/** A generated valid-looking file and what the checker must do with it. */
export interface Generated {
  text: string;
  overrides: Record<string, number>;
  /** Per model: its name, atoms and whether it is predicted accepted. */
  models: { name: string; atoms: Atom[]; accepted: boolean }[];
  /** Minimal atoms written alone, which must be accepted whatever was learned. */
  mustAccept: boolean;
}

export function generate(rng: Rng): Generated {
  const overrides: Record<string, number> = {};
  const topParams: string[] = [];
  let nextParam = 0;
  const models: Generated["models"] = [];
  const blocks: string[] = [];
  const count = rng.chance(0.8) ? 1 : 1 + rng.int(4);
  for (let m = 0; m < count; m++) {
    const fields = FIELDS.filter(() => rng.chance(0.5));
    const atoms = (rng.chance(0.3) ? shuffle(fields, rng) : fields).map((f) => randomAtom(f, rng));
    const ownParams: string[] = [];
    const body = atoms.map((a) => {
      const text = a.template.replace(/\$(\d+)/g, (_, i) => {
        const v = a.numbers[Number(i)];
        if (!rng.chance(0.25)) return spell(v, rng);
        // Through a param: declared at the top or in the model, maybe written as another
        // number and set to this one by `--set`.
        const name = `p${nextParam++}`;
        const overridden = rng.chance(0.3);
        const declared = overridden ? rng.pick([1, 0, -1, 7.5, 1e308]) : v;
        const decl = `param ${name} = ${spell(declared, rng)}`;
        if (overridden) overrides[name] = v;
        (rng.chance(0.5) ? topParams : ownParams).push(decl);
        return name;
      });
      return `${a.field} ${text}`;
    });
    const lines = [...ownParams, ...body];
    const sep = rng.chance(0.2) ? " " : "\n  ";
    const comment = sep !== " " && rng.chance(0.1) ? `  # model ${m}` : "";
    blocks.push(`model m${m} {${comment}${sep}${lines.join(sep)}${sep === " " ? " " : "\n"}}`);
    let accepted = atoms.every((a) => accepts([a], rng));
    for (let i = 0; i < atoms.length && accepted; i++) {
      for (let j = i + 1; j < atoms.length && accepted; j++) {
        accepted = accepts([atoms[i], atoms[j]], rng);
      }
    }
    models.push({ name: `m${m}`, atoms, accepted });
  }
  const text = [...topParams, ...blocks].join(rng.chance(0.2) ? "\r\n" : "\n") + "\n";
  const mustAccept = models.length === 1 && models[0].atoms.length <= 1 &&
    models[0].atoms.every((a) => a.minimal);
  return { text, overrides, models, mustAccept };
}

/** Why an accepted model's IR does not hold what was written, or undefined. */
export function irMismatch(model: Model, atoms: Atom[]): string | undefined {
  const ir = model as unknown as Record<string, unknown>;
  for (const a of atoms) {
    const value = ir[a.field];
    if (a.part === undefined) {
      const v = a.values[""];
      const holds = value === v ||
        (typeof value === "object" && value !== null && Object.values(value).includes(v));
      if (!holds) return `${a.field}: wrote ${v}, IR has ${JSON.stringify(value)}`;
      continue;
    }
    const obj = value as Record<string, unknown> | undefined;
    if (obj?.kind !== a.part) return `${a.field}: wrote ${a.part}, IR has ${JSON.stringify(obj)}`;
    for (const [arg, v] of Object.entries(a.values)) {
      if (obj[arg] !== v) {
        return `${a.field}.${arg}: wrote ${v}, IR has ${JSON.stringify(obj[arg])}`;
      }
    }
  }
  return undefined;
}

/** Minimal atoms of these that the checker rejected alone (each must be accepted). */
export function minimalRejected(atoms: Atom[]): Atom[] {
  return atoms.filter((a) => a.minimal && learned.get(a.key) === false);
}
