// What the editor says about each name. The names, arguments, ranges and defaults come from the
// checker (`LANGUAGE`, src/check.ts) and the math of each part from its own module through the
// registry (`math`), so completion and hover follow the language as it grows. Only what neither
// holds is written here: one sentence per field, and the math of the two memory layouts and of
// `until`, which are not registry parts (the reference interpreter implements them directly).
import { type ArgSpec, LANGUAGE, type PartSpec } from "../check.ts";
import { DEFAULTS, describe } from "../ir.ts";
import { entropies, masks, posts, readouts, separations, similarities } from "../parts/registry.ts";

/** What each field means (LANGUAGE.md section 1; the math is MATH.md's). */
export const FIELD_DOCS: Record<string, string> = {
  memory: "How the memories are held: the M rows of X (`discrete`), or fitted into a signal " +
    "over t in [0, 1] with a few basis functions (`continuous`, MATH.md §4).",
  similarity: "The score s_i = s(x_i, q) of memory x_i against the query q. `uhop` and " +
    "`kernelized` are learned: a feature map φ(x) = W x + b is fitted to the memories once per " +
    "load (float64, on the host; `--fit F.npz` reuses a saved one), then s_i = ⟨φ(x_i), φ(q)⟩. " +
    "`ahop` (A-Hop) is adaptive: footprint weights w and mixing scalars a, b are fitted on " +
    "corrupted copies of the memories, then s = a wᵀF^dist + b wᵀF^prod over the sorted " +
    "per-dimension distances and products.",
  entropy: "The entropy regularizer Ω; it picks the normalizer that turns the scores β s " +
    "into weights p (softmax, α-entmax, sparsemax, normmax, k-subsets, softmax₁).",
  separation: "The separation function (UHN; the classic dense associative memories): " +
    "`fenchel_young` (default) uses the entropy's normalizer; `linear` (the classic network), `poly(n)`, `exp(scale)` and " +
    "`max` replace it and read the scores without β (β then only feeds `post tanh`), optionally sum-normalized.",
  mask: "Which memories each query's normalizer sees; the others get weight exactly 0.",
  post: "The post-transform of each update, q ← post(Xᵀp). With `l2` and `layernorm` the " +
    "memories and queries are transformed first too.",
  readout: "Where each next state is read from: `keys` (default), the memories themselves; " +
    "`project(a, h, c)` (CDAM, MATH.md §7.7), the rows a X + h HᵀX − c·mean(X) over the memory " +
    "graph H = D^-1/2 A D^-1/2 of `--graph A.npy` (needed when h ≠ 0); the scores still come from X.",
  relax: "The relaxed dynamics' Euler step x ← x + η(r − x), r the plain update, 0 < η ≤ 1; " +
    "the default 1 is the plain update.",
  beta: "The inverse temperature β > 0: the normalizer sees β s(X, q). A number or a param.",
  steps: "How many updates: a positive whole number, or `until(tol, max)`: stop a query once " +
    "its state moves less than `tol` (L2), or after `max` steps.",
};

/** Parts that live outside the registry: memory layouts and the `until` step policy. */
const OTHER_PART_MATH: Record<string, Record<string, string>> = {
  memory: {
    discrete: "s_i = s(x_i, q) for the M rows of X;  q ← post(Σ_i p_i x_i)",
    continuous: "B = (F Fᵀ + ridge I)⁻¹ F X, F[n, l] = ψ_n(t_l);  s(t) = β qᵀBᵀψ(t);  " +
      "p = normalizer density of s over t ∈ [0, 1];  q ← post(Bᵀ E_p[ψ(t)])",
  },
  steps: {
    until: "repeat q ← post(Xᵀp(q)) until ‖q_new − q‖₂ < tol, at most max times",
  },
};

/** Notes on arguments whose default is not a constant. */
const ARG_NOTES: Record<string, string> = {
  "continuous.width": "default 1/functions; only with `basis = gaussian`",
};

const REGISTRY: Record<string, Record<string, { math: string }>> = {
  entropy: entropies,
  similarity: similarities,
  post: posts,
  mask: masks,
  readout: readouts,
  separation: { ...separations, fenchel_young: { math: "p = the entropy's normalizer of β s" } },
};

export const FIELD_NAMES: readonly string[] = Object.keys(LANGUAGE);

/** The parts a field takes (empty for `beta`, which takes a number). */
export function partsOf(field: string): Record<string, PartSpec> {
  const spec = Object.hasOwn(LANGUAGE, field) ? LANGUAGE[field] : undefined;
  return !spec || spec.kind === "number" ? {} : spec.parts;
}

export function partSpec(field: string, part: string): PartSpec | undefined {
  const parts = partsOf(field);
  return Object.hasOwn(parts, part) ? parts[part] : undefined;
}

export function argSpec(field: string, part: string, arg: string): ArgSpec | undefined {
  const args = partSpec(field, part)?.args;
  return args && Object.hasOwn(args, arg) ? args[arg] : undefined;
}

/** Whether `field` accepts a number (or a param standing for one) as its value. */
export function takesNumber(field: string): boolean {
  const kind = Object.hasOwn(LANGUAGE, field) ? LANGUAGE[field].kind : undefined;
  return kind === "number" || kind === "steps";
}

/** The one line of math of a part: from its module through the registry, or from above. */
export function partMath(field: string, part: string): string | undefined {
  const registry = Object.hasOwn(REGISTRY, field) ? REGISTRY[field] : undefined;
  if (registry) return Object.hasOwn(registry, part) ? registry[part].math : undefined;
  return OTHER_PART_MATH[field]?.[part];
}

/** How the default of a field reads in the language: `shannon`, `1`, `l2(radius = 1)`. */
export function fieldDefault(field: string): string | undefined {
  if (!Object.hasOwn(DEFAULTS, field)) return undefined;
  const value = DEFAULTS[field as keyof typeof DEFAULTS];
  if (typeof value === "number") return String(value);
  if (value.kind === "fixed" && "count" in value) return String(value.count);
  return describe(value);
}

/** `tsallis(alpha)`, `continuous(basis, functions, ...)`, or `dot`. */
export function partSignature(part: string, spec: PartSpec): string {
  const args = Object.keys(spec.args);
  return args.length ? `${part}(${args.join(", ")})` : part;
}

/** What an argument accepts and its default: "must be greater than 1; required". */
export function argSummary(part: string, arg: string, spec: PartSpec): string {
  const a = spec.args[arg];
  const accepts = a.kind === "number"
    ? a.rule.need
    : `one of ${a.values.map((v) => `\`${v}\``).join(", ")}`;
  const note = ARG_NOTES[`${part}.${arg}`];
  const dflt = note ??
    (Object.hasOwn(spec.defaults, arg)
      ? `default \`${spec.defaults[arg]}\``
      : spec.required?.names.includes(arg)
      ? "required"
      : "optional");
  return `${accepts}; ${dflt}`;
}

/** Hover text of a field name. */
export function fieldHover(field: string): string | undefined {
  if (!Object.hasOwn(LANGUAGE, field)) return undefined;
  const lines = [`**${field}** (field)`, "", FIELD_DOCS[field] ?? ""];
  const dflt = fieldDefault(field);
  if (dflt !== undefined) lines.push("", `Default: \`${dflt}\``);
  const parts = Object.keys(partsOf(field));
  if (parts.length) lines.push("", `Values: ${parts.map((p) => `\`${p}\``).join(", ")}`);
  return lines.join("\n");
}

/** Hover text of a part: its signature, its math, and what each argument accepts. */
export function partHover(field: string, part: string): string | undefined {
  const spec = partSpec(field, part);
  if (!spec) return undefined;
  const lines = [`**${field}** \`${partSignature(part, spec)}\``];
  const math = partMath(field, part);
  if (math) lines.push("", "```text", math, "```");
  for (const arg of Object.keys(spec.args)) {
    lines.push(`- \`${arg}\`: ${argSummary(part, arg, spec)}`);
  }
  return lines.join("\n");
}

/** Hover text of an argument name. */
export function argHover(field: string, part: string, arg: string): string | undefined {
  const spec = partSpec(field, part);
  if (!spec || !Object.hasOwn(spec.args, arg)) return undefined;
  return `**${arg}** (argument of \`${part}\`): ${argSummary(part, arg, spec)}`;
}

export const KEYWORD_DOCS: Record<string, string> = {
  model: "`model NAME { ... }`: a model block; each field at most once, absent fields take " +
    "their defaults.",
  param: "`param NAME = VALUE`: a number that fields may use by name; `--set NAME=VALUE` " +
    "overrides it. Inside a model block it shadows a top-level param of the same name.",
};
