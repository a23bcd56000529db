// The checker: AST -> checked model IR (src/ir.ts). It resolves names, substitutes params (after
// `--set` overrides), fills in defaults, and enforces every rule of LANGUAGE.md section 1. It
// reports all the errors of a file, each on the token that caused it, and returns only models
// that are free of errors (each one validated by the IR schema).
import type {
  ArgAst,
  FieldAst,
  FileAst,
  ModelAst,
  NameRef,
  NumberLit,
  ParamAst,
  PartValue,
} from "./ast.ts";
import { type Diagnostic, editDistance, suggest } from "./diagnostics.ts";
import { ARG_DEFAULTS, DEFAULTS, Model, RELAX_RULE, type Span } from "./ir.ts";
import { SIGNATURES } from "./parts/registry.ts";
import { levelProblem } from "./parts/similarity/ahop.ts";
import {
  type ArgDecl,
  defaultsOf,
  nonNegative,
  number,
  type NumberRule,
  oneOf as nameArg,
  positive,
  type Signature,
  whole,
} from "./parts/signature.ts";
import { parse } from "../grammar/index.ts";

export interface CheckResult {
  /** The models without errors, in file order; each passes `Model.parse`. */
  models: Model[];
  diagnostics: Diagnostic[];
}

// ---------------------------------------------------------------------------------------------
// What the language accepts: fields, their parts, and the arguments of each part.

export type { NumberRule };

/** An argument as the checker, the editor tooling and the fuzzers see it (src/parts/signature.ts). */
export type ArgSpec = ArgDecl;

const num = (rule: NumberRule): ArgSpec => number(rule);
const oneOf = <const V extends readonly [string, ...string[]]>(...values: V): ArgSpec =>
  nameArg(values);

export interface PartSpec {
  args: Record<string, ArgSpec>;
  /** Values of the arguments that may be left out (`width` of continuous is computed). */
  defaults: Record<string, number | string>;
  /** Arguments without a default, and how to write the part with them, for the message. */
  required?: { names: string[]; example: string };
}

const bare: PartSpec = { args: {}, defaults: {} };

/** What the checker needs of a part, from its signature (arguments, defaults, required ones). */
function partSpec(sig: Signature): PartSpec {
  const defaults = defaultsOf(sig);
  const names = Object.keys(sig.args).filter((a) => !Object.hasOwn(defaults, a));
  return {
    args: sig.args,
    defaults,
    ...(names.length ? { required: { names, example: sig.example ?? sig.kind } } : {}),
  };
}

/** The parts of a registry field, by name, in registry order. */
function partsOf(sigs: readonly Signature[]): Record<string, PartSpec> {
  return Object.fromEntries(sigs.map((sig) => [sig.kind, partSpec(sig)]));
}

/** A field whose value is a part name, possibly with arguments. */
export interface PartField {
  kind: "part";
  parts: Record<string, PartSpec>;
}
/** `beta`: a number. */
export interface NumberField {
  kind: "number";
  rule: NumberRule;
}
/** `steps`: a count, or the part `until(...)`. */
export interface StepsField {
  kind: "steps";
  rule: NumberRule;
  parts: Record<string, PartSpec>;
}
export type FieldSpec = PartField | NumberField | StepsField;

const FIELDS: Record<string, FieldSpec> = {
  memory: {
    kind: "part",
    parts: {
      discrete: bare,
      continuous: {
        args: {
          basis: oneOf("box", "gaussian"),
          functions: num(whole(1)),
          width: num(positive),
          ridge: num(nonNegative),
          points: num(whole(2)),
          quadrature: oneOf("exact", "trapezoid"),
        },
        defaults: ARG_DEFAULTS.continuous,
      },
    },
  },
  similarity: { kind: "part", parts: partsOf(SIGNATURES.similarity) },
  entropy: { kind: "part", parts: partsOf(SIGNATURES.entropy) },
  separation: { kind: "part", parts: partsOf(SIGNATURES.separation) },
  mask: { kind: "part", parts: partsOf(SIGNATURES.mask) },
  post: { kind: "part", parts: partsOf(SIGNATURES.post) },
  readout: { kind: "part", parts: partsOf(SIGNATURES.readout) },
  beta: { kind: "number", rule: positive },
  relax: { kind: "number", rule: RELAX_RULE },
  steps: {
    kind: "steps",
    rule: { ...whole(1), need: "must be a positive whole number" },
    parts: {
      until: { args: { tol: num(positive), max: num(whole(1)) }, defaults: ARG_DEFAULTS.until },
    },
  },
};

const FIELD_NAMES = Object.keys(FIELDS);

/**
 * What the checker accepts, read-only, for editor tooling (src/lsp/ completes and explains from
 * it, tests/textmate_test.ts holds the TextMate grammar to it), so no second list can drift.
 */
export const LANGUAGE: Readonly<Record<string, Readonly<FieldSpec>>> = FIELDS;

// ---------------------------------------------------------------------------------------------
// Reporting.

class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  constructor(readonly file: string) {}

  error(span: Span, message: string, hint?: string): void {
    this.diagnostics.push({
      file: this.file,
      line: span.line,
      col: span.col,
      length: Math.max(1, span.end - span.start),
      severity: "error",
      message,
      ...(hint ? { hint } : {}),
    });
  }
}

/**
 * The nearest valid name, if it is a plausible typo. `suggest` alone would offer `b` for `n`:
 * a name that shares no letter with the suggestion is not a typo of it.
 */
function nearest(name: string, valid: readonly string[]): string | undefined {
  const near = suggest(name, valid);
  return near !== undefined && editDistance(name, near) < name.length ? near : undefined;
}

/** "did you mean `x`?" when a valid name is close, else the list of valid names. */
function didYouMean(name: string, valid: readonly string[], listLabel: string): string {
  const near = nearest(name, valid);
  return near ? `did you mean \`${near}\`?` : `${listLabel}: ${valid.join(", ")}`;
}

function where(span: Span): string {
  return `line ${span.line}`;
}

// ---------------------------------------------------------------------------------------------
// Params.

interface ParamInfo {
  decl: ParamAst;
  /** Final value after overrides; null when the declaration itself was broken. */
  value: number | null;
  overridden: boolean;
}

/** The params visible at one place: a model's own, then the file's. */
class Scope {
  constructor(readonly own: Map<string, ParamInfo>, readonly parent?: Scope) {}

  lookup(name: string): ParamInfo | undefined {
    return this.own.get(name) ?? this.parent?.lookup(name);
  }

  names(): string[] {
    return [...new Set([...this.own.keys(), ...(this.parent?.names() ?? [])])];
  }

  /** Final values of every visible param, inner scopes shadowing outer ones. */
  values(): Record<string, number> {
    const out: Record<string, number> = { ...this.parent?.values() };
    for (const [name, p] of this.own) if (p.value !== null) out[name] = p.value;
    return out;
  }
}

/** Declare the params of one scope, reporting names declared twice and bad values. */
function declareParams(
  decls: ParamAst[],
  overrides: Record<string, number>,
  report: Reporter,
  scopeLabel: string,
): Map<string, ParamInfo> {
  const own = new Map<string, ParamInfo>();
  for (const decl of decls) {
    const first = own.get(decl.name);
    if (first) {
      report.error(
        decl.nameSpan,
        `param \`${decl.name}\` is declared twice ${scopeLabel} (first on line ${first.decl.nameSpan.line})`,
        "rename one of them, or remove the second",
      );
      continue;
    }
    let value = decl.value;
    if (value !== null && !Number.isFinite(value)) {
      report.error(decl.valueSpan, `the number \`${decl.text}\` is too large`);
      value = null;
    }
    const overridden = Object.hasOwn(overrides, decl.name) && Number.isFinite(overrides[decl.name]);
    own.set(decl.name, { decl, value: overridden ? overrides[decl.name] : value, overridden });
  }
  return own;
}

/** `--set` names that match no param anywhere in the file, and values that are not numbers. */
function checkOverrides(ast: FileAst, overrides: Record<string, number>, report: Reporter): void {
  const declared = [
    ...new Set([...ast.params, ...ast.models.flatMap((m) => m.params)].map((p) => p.name)),
  ];
  const top: Span = { line: 1, col: 1, start: 0, end: 1 };
  for (const [name, value] of Object.entries(overrides)) {
    if (!declared.includes(name)) {
      const list = declared.length
        ? `the params of this file are ${declared.map((n) => `\`${n}\``).join(", ")}`
        : "this file declares no params";
      const near = nearest(name, declared);
      report.error(
        top,
        `\`--set ${name}=${value}\` names no param of this file; ${list}`,
        near ? `did you mean \`${near}\`?` : undefined,
      );
    } else if (!Number.isFinite(value)) {
      report.error(top, `\`--set ${name}=${value}\` is not a finite number`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers and names in value positions.

/** A number after param substitution, with where it came from (for messages). */
interface Resolved {
  value: number;
  /** "" for a literal; " (from param `b`, ...)" otherwise. */
  origin: string;
}

/** Sentinel: the value is bad and the error was already reported (or is a syntax error's echo). */
const BAD = null;

class ModelChecker {
  readonly spans: Record<string, Span> = {};
  /** Set by any error in this model: a model with errors is not returned. */
  failed = false;

  constructor(readonly scope: Scope, readonly report: Reporter) {}

  error(span: Span, message: string, hint?: string): typeof BAD {
    this.failed = true;
    this.report.error(span, message, hint);
    return BAD;
  }

  /** A number literal, or a param used by name, checked against `rule`. */
  number(
    value: NumberLit | NameRef,
    span: Span,
    what: string,
    rule: NumberRule,
  ): number | typeof BAD {
    const r = value.kind === "number"
      ? this.literal(value, span)
      : this.param(value.name, span, what);
    if (r === BAD) return BAD;
    if (!rule.test(r.value)) {
      return this.error(
        span,
        `${what} ${rule.need}, got ${r.value}${r.origin}`,
        rule.hint?.(r.value),
      );
    }
    return r.value;
  }

  literal(lit: NumberLit, span: Span): Resolved | typeof BAD {
    if (!Number.isFinite(lit.value)) {
      return this.error(span, `the number \`${lit.text}\` is too large`);
    }
    return { value: lit.value, origin: "" };
  }

  /** A name where a number is expected: it must be a param. */
  param(name: string, span: Span, what: string): Resolved | typeof BAD {
    const p = this.scope.lookup(name);
    if (!p && Object.hasOwn(FIELDS, name)) return this.missingValue(what, name, span);
    if (!p) {
      const near = nearest(name, this.scope.names());
      return this.error(
        span,
        `undefined param \`${name}\``,
        near
          ? `did you mean \`${near}\`?`
          : `\`${what}\` expects a number; to use a name, declare it with \`param ${name} = VALUE\``,
      );
    }
    if (p.value === null) {
      // The declaration is broken and already reported; say nothing more about its uses.
      this.failed = true;
      return BAD;
    }
    const origin = p.overridden
      ? ` (from param \`${name}\`, set by \`--set ${name}=${p.value}\`)`
      : ` (from param \`${name}\` on ${where(p.decl.nameSpan)})`;
    return { value: p.value, origin };
  }

  // -- fields --

  /** Check one field and return its IR value (a part object or a number), or BAD. */
  field(f: FieldAst, spec: FieldSpec): unknown {
    const v = f.value;
    if (spec.kind === "number") {
      if (v.kind === "name" && v.args) return this.notANumber(f.name, v);
      this.spans[f.name] = v.span;
      return this.number(v, v.span, f.name, spec.rule);
    }
    if (spec.kind === "steps") return this.steps(f, spec);
    if (v.kind === "number") {
      const names = Object.keys(spec.parts);
      return this.error(
        v.span,
        `\`${f.name}\` expects a name such as \`${names[0]}\`, not the number \`${v.text}\``,
        `valid values of \`${f.name}\`: ${names.join(", ")}`,
      );
    }
    return this.part(f.name, v, spec.parts);
  }

  /**
   * `beta` alone on its line, then `steps 5`: newlines are free, so `steps` reads as the value
   * of `beta`. Say so, rather than "undefined param `steps`".
   */
  missingValue(field: string, next: string, span: Span): typeof BAD {
    return this.error(
      span,
      `expected a value after \`${field}\`, found the field name \`${next}\``,
      `is the value of \`${field}\` missing?`,
    );
  }

  notANumber(field: string, v: PartValue): typeof BAD {
    return this.error(v.span, `\`${field}\` expects a number, not \`${v.name}(...)\``);
  }

  /** `steps 5`, `steps n` (a param), `steps until` or `steps until(tol = ..., max = ...)`. */
  steps(f: FieldAst, spec: StepsField): unknown {
    const v = f.value;
    if (v.kind === "name" && Object.hasOwn(spec.parts, v.name)) {
      return this.part("steps", v, spec.parts);
    }
    if (
      v.kind === "name" && (v.args || (!this.scope.lookup(v.name) && nearest(v.name, ["until"])))
    ) {
      return this.error(
        v.span,
        `unknown steps value \`${v.name}\``,
        nearest(v.name, ["until"])
          ? "did you mean `until`?"
          : "steps is a positive whole number or `until(tol = 1e-6, max = 100)`",
      );
    }
    this.spans.steps = v.span;
    const count = this.number(v, v.span, "steps", spec.rule);
    return count === BAD ? BAD : { kind: "fixed", count };
  }

  /** A part name with its arguments: `tsallis(alpha = 1.5)` -> { kind: "tsallis", alpha: 1.5 }. */
  part(field: string, v: PartValue, parts: Record<string, PartSpec>): unknown {
    const spec = Object.hasOwn(parts, v.name) ? parts[v.name] : undefined;
    if (!spec && !v.args && Object.hasOwn(FIELDS, v.name)) {
      return this.missingValue(field, v.name, v.span);
    }
    if (!spec) {
      return this.error(
        { ...v.span, end: v.span.start + v.name.length },
        `unknown ${field} \`${v.name}\``,
        didYouMean(v.name, Object.keys(parts), `valid values of \`${field}\``),
      );
    }
    this.spans[field] = v.span;
    const given = this.args(field, v, spec);
    if (given === BAD) return BAD;
    const missing = spec.required?.names.find((a) => !Object.hasOwn(given, a));
    if (missing) {
      return this.error(
        v.span,
        `\`${v.name}\` needs the argument \`${missing}\``,
        `write \`${spec.required!.example}\``,
      );
    }
    const part: Record<string, unknown> = { kind: v.name, ...spec.defaults, ...given };
    return v.name === "continuous" ? this.continuous(part, given, v) : part;
  }

  /** Check the arguments of one part; returns the values given, by name. */
  args(field: string, v: PartValue, spec: PartSpec): Record<string, number | string> | typeof BAD {
    const given: Record<string, number | string> = {};
    const seen = new Map<string, ArgAst>();
    let ok = true;
    for (const arg of v.args ?? []) {
      const value = this.arg(field, v.name, arg, spec, seen);
      seen.set(arg.name, seen.get(arg.name) ?? arg);
      if (value === BAD) ok = false;
      else given[arg.name] = value;
    }
    return ok ? given : BAD;
  }

  arg(
    field: string,
    part: string,
    arg: ArgAst,
    spec: PartSpec,
    seen: Map<string, ArgAst>,
  ): number | string | typeof BAD {
    const names = Object.keys(spec.args);
    if (!names.length) return this.error(arg.nameSpan, `\`${part}\` takes no arguments`);
    if (!Object.hasOwn(spec.args, arg.name)) {
      return this.error(
        arg.nameSpan,
        `unknown argument \`${arg.name}\` of \`${part}\``,
        didYouMean(arg.name, names, `\`${part}\` takes`),
      );
    }
    const first = seen.get(arg.name);
    if (first) {
      const { line, col } = first.nameSpan;
      return this.error(
        arg.nameSpan,
        `argument \`${arg.name}\` is given twice (first at line ${line}, column ${col})`,
      );
    }
    this.spans[`${field}.${arg.name}`] = arg.valueSpan;
    const argSpec = spec.args[arg.name];
    if (argSpec.kind === "number") {
      return this.number(arg.value, arg.valueSpan, arg.name, argSpec.rule);
    }
    if (arg.value.kind === "number") {
      const choices = argSpec.values.join(" or ");
      return this.error(
        arg.valueSpan,
        `\`${arg.name}\` expects a name (${choices}), not the number \`${arg.value.text}\``,
      );
    }
    if (!argSpec.values.includes(arg.value.name)) {
      return this.error(
        arg.valueSpan,
        `unknown ${arg.name} \`${arg.value.name}\``,
        didYouMean(arg.value.name, argSpec.values, `valid values of \`${arg.name}\``),
      );
    }
    return arg.value.name;
  }

  /** Continuous memory: `width` belongs to the gaussian basis, and defaults to 1/functions. */
  continuous(part: Record<string, unknown>, given: Record<string, unknown>, v: PartValue): unknown {
    if (Object.hasOwn(given, "width") && part.basis !== "gaussian") {
      const widthArg = v.args?.find((a) => a.name === "width");
      return this.error(
        widthArg?.nameSpan ?? v.span,
        "width applies only to basis = gaussian",
        Object.hasOwn(given, "basis")
          ? "a box basis always has width 1/functions"
          : "the basis is box by default; add `basis = gaussian` to set a width",
      );
    }
    if (!Object.hasOwn(given, "width")) part.width = 1 / (part.functions as number);
    // Only box bases have an exact integral (MATH.md 4.2); gaussian ones always use quadrature.
    if (part.basis === "gaussian") {
      if (given.quadrature === "exact") {
        const arg = v.args?.find((a) => a.name === "quadrature");
        return this.error(
          arg?.valueSpan ?? v.span,
          "quadrature = exact exists only for basis = box",
          "a gaussian basis is integrated with the trapezoid rule on `points` samples: write `quadrature = trapezoid` or leave it out",
        );
      }
      part.quadrature = "trapezoid";
    }
    return part;
  }
}

// ---------------------------------------------------------------------------------------------
// Models.

type Parts = {
  memory: Model["memory"];
  similarity: Model["similarity"];
  entropy: Model["entropy"];
  separation: Model["separation"];
  mask: Model["mask"];
  post: Model["post"];
  beta: number;
  steps: Model["steps"];
  readout: Model["readout"];
  relax: number;
};

function checkModel(m: ModelAst, fileScope: Scope, ctx: FileContext): Model | undefined {
  const { report, overrides, file } = ctx;
  const scope = new Scope(
    declareParams(m.params, overrides, report, `in model \`${m.name}\``),
    fileScope,
  );
  const checker = new ModelChecker(scope, report);
  const values: Record<string, unknown> = {};
  const seen = new Map<string, FieldAst>();
  for (const f of m.fields) {
    const first = seen.get(f.name);
    if (!first) seen.set(f.name, f);
    // A field the parser had to repair carries an error already; judging its remains would only
    // repeat it in other words.
    if (f.recovered) {
      checker.failed = true;
      continue;
    }
    if (!Object.hasOwn(FIELDS, f.name)) {
      checker.error(
        f.nameSpan,
        `unknown field \`${f.name}\``,
        didYouMean(f.name, FIELD_NAMES, "the fields are"),
      );
      continue;
    }
    if (first) {
      checker.error(
        f.nameSpan,
        `field \`${f.name}\` is given twice (first on ${where(first.nameSpan)})`,
        "each field appears at most once; remove one of them",
      );
      continue;
    }
    const value = checker.field(f, FIELDS[f.name]);
    if (value !== BAD) values[f.name] = value;
  }
  // Fields with errors take their defaults here; defaults never conflict, so this reports only
  // combinations of values that were written and are fine on their own.
  const parts = { ...DEFAULTS, ...values } as Parts;
  checkCombinations(parts, checker, m.nameSpan);
  if (checker.failed || m.recovered || !m.name) return undefined;
  const result = Model.safeParse({
    name: m.name,
    ...parts,
    params: scope.values(),
    source: { file, span: m.span, spans: checker.spans },
  });
  if (result.success) return result.data;
  // Unreachable when the rules above are complete; reported rather than thrown so that a gap in
  // the checker shows up as a message, not a crash.
  report.error(
    m.nameSpan,
    `internal error: model \`${m.name}\` failed IR validation: ${result.error.message}`,
  );
  return undefined;
}

/**
 * Fields that are each fine but mean nothing together (LANGUAGE.md section 1). Each conflict is
 * reported once, on the field that has to change, even when two other fields rule it out.
 */
function checkCombinations(p: Parts, checker: ModelChecker, model: Span): void {
  // A non-default value was written, so its span exists; the model's name is only a fallback.
  const at = (field: string) => checker.spans[field] ?? model;
  const features = p.similarity.kind === "features";
  const continuous = p.memory.kind === "continuous";
  if (features && p.entropy.kind !== "shannon") {
    checker.error(
      at("entropy"),
      `features similarity works only with \`entropy shannon\`, not \`${p.entropy.kind}\``,
      "random features approximate the softmax kernel; other entropies have no feature form",
    );
  } else if (continuous && !["shannon", "tsallis", "sparsemax"].includes(p.entropy.kind)) {
    checker.error(
      at("entropy"),
      `continuous memory works only with entropy shannon, tsallis or sparsemax, not \`${p.entropy.kind}\``,
    );
  }
  const separation = p.separation.kind !== "fenchel_young";
  if (separation) {
    const sep = `\`separation ${p.separation.kind}\``;
    if (features || continuous) {
      checker.error(
        at("separation"),
        `${sep} cannot be combined with ${
          continuous ? "continuous memory" : "features similarity"
        }`,
        "a separation function maps one score per memory to its weight",
      );
    } else if (p.entropy.kind !== "shannon") {
      checker.error(
        at("entropy"),
        `\`entropy ${p.entropy.kind}\` has no effect with ${sep}: the separation replaces the normalizer`,
        "remove the `entropy` line, or use `separation fenchel_young` (the default) to keep the entropy",
      );
    }
  }
  if (p.mask.kind !== "none" && (features || continuous)) {
    checker.error(
      at("mask"),
      `a mask cannot be combined with ${continuous ? "continuous memory" : "features similarity"}`,
      continuous
        ? "continuous memory weighs a density over t, not one weight per memory"
        : "features similarity never forms the score of each memory, so there is nothing to mask",
    );
  }
  if (p.readout.kind !== "keys" && (features || continuous)) {
    checker.error(
      at("readout"),
      `\`readout ${p.readout.kind}\` cannot be combined with ${
        continuous ? "continuous memory" : "features similarity"
      }`,
      continuous
        ? "the projected rows are one per memory; continuous memory weighs basis functions instead"
        : "features similarity never forms one weight per memory, so it cannot read projected rows",
    );
  }
  const learned = p.similarity.kind === "uhop" || p.similarity.kind === "kernelized" ||
    p.similarity.kind === "ahop";
  if (continuous && learned) {
    checker.error(
      at("similarity"),
      `\`similarity ${p.similarity.kind}\` cannot be combined with continuous memory`,
      p.similarity.kind === "ahop"
        ? "A-Hop sorts per-dimension similarities of each memory row; continuous memory scores a fitted signal over t instead"
        : "a learned similarity fits its feature map to the memory rows; continuous memory scores a fitted signal over t instead",
    );
  }
  if (p.similarity.kind === "ahop") {
    const bad = levelProblem(p.similarity.corrupt, p.similarity.level);
    if (bad) {
      checker.error(
        checker.spans["similarity.level"] ?? at("similarity"),
        `\`level\` of \`similarity ahop\` ${bad.need}, got ${p.similarity.level}`,
        bad.hint,
      );
    }
  }
  if (continuous && features) {
    checker.error(
      at("similarity"),
      "features similarity cannot be combined with continuous memory",
      "continuous memory scores the fitted signal over t with a dot product",
    );
  }
}

interface FileContext {
  file: string;
  overrides: Record<string, number>;
  report: Reporter;
}

/** Check every model of a parsed file. Never throws on bad input; all errors are reported. */
export function check(
  ast: FileAst,
  file: string,
  overrides: Record<string, number> = {},
): CheckResult {
  const report = new Reporter(file);
  const ctx: FileContext = { file, overrides, report };
  checkOverrides(ast, overrides, report);
  const fileScope = new Scope(
    declareParams(ast.params, overrides, report, "at the top of the file"),
  );
  const models: Model[] = [];
  const byName = new Map<string, ModelAst>();
  for (const m of ast.models) {
    const first = m.name ? byName.get(m.name) : undefined;
    if (first) {
      report.error(
        m.nameSpan,
        `model \`${m.name}\` is defined twice (first on ${where(first.nameSpan)})`,
        "model names must be unique within a file",
      );
    } else if (m.name) byName.set(m.name, m);
    const model = checkModel(m, fileScope, ctx);
    if (model && !first) models.push(model);
  }
  return { models, diagnostics: sortByPlace(report.diagnostics) };
}

/** Parse and check a file: all diagnostics of both stages, in file order. */
export function checkText(
  text: string,
  file: string,
  overrides: Record<string, number> = {},
): CheckResult {
  const parsed = parse(text, file);
  const checked = check(parsed.ast, file, overrides);
  return {
    models: checked.models,
    diagnostics: sortByPlace([...parsed.diagnostics, ...checked.diagnostics]),
  };
}

function sortByPlace(diags: Diagnostic[]): Diagnostic[] {
  return diags.map((d, i) => ({ d, i }))
    .sort((a, b) => a.d.line - b.d.line || a.d.col - b.d.col || a.i - b.i)
    .map(({ d }) => d);
}
