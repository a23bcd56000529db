// The syntax tree of a `.hop` file: what was written, where, and nothing resolved yet. Names are
// kept as written (unknown ones included) so that the checker, not the parser, judges them and
// can suggest the nearest valid name. Every node keeps a source span for diagnostics.
import { z } from "zod";
import { Span } from "./ir.ts";

export { Span };

/** A number as written; `text` keeps the spelling for messages (`1e-5`, not `0.00001`). */
export const NumberLit = z.object({
  kind: z.literal("number"),
  value: z.number(),
  text: z.string(),
});
export type NumberLit = z.infer<typeof NumberLit>;

/** A bare name: a part (`box`), an enum value (`gaussian`), or a param used as a number. */
export const NameRef = z.object({ kind: z.literal("name"), name: z.string() });
export type NameRef = z.infer<typeof NameRef>;

/** `name = value` inside the parentheses of a part. */
export const ArgAst = z.object({
  name: z.string(),
  nameSpan: Span,
  value: z.discriminatedUnion("kind", [NumberLit, NameRef]),
  valueSpan: Span,
});
export type ArgAst = z.infer<typeof ArgAst>;

/** A part such as `tsallis(alpha = 1.5)`; `args` is absent when no parentheses were written. */
export const PartValue = z.object({
  kind: z.literal("name"),
  name: z.string(),
  args: z.array(ArgAst).optional(),
  /** From the name to the closing parenthesis (or to the name when there are no arguments). */
  span: Span,
});
export type PartValue = z.infer<typeof PartValue>;

export const NumberValue = NumberLit.extend({ span: Span });
export type NumberValue = z.infer<typeof NumberValue>;

/** The value after a field name: a number, or a name with optional arguments. */
export const ValueAst = z.discriminatedUnion("kind", [NumberValue, PartValue]);
export type ValueAst = z.infer<typeof ValueAst>;

export const FieldAst = z.object({
  name: z.string(),
  nameSpan: Span,
  value: ValueAst,
  /**
   * The parser repaired this field after a syntax error (a dropped or missing argument). The
   * syntax error is already reported; the checker does not judge what is left, to avoid
   * cascading messages about the same mistake.
   */
  recovered: z.boolean(),
});
export type FieldAst = z.infer<typeof FieldAst>;

/** `param NAME = VALUE`, at the top level of a file or inside a model (which shadows). */
export const ParamAst = z.object({
  name: z.string(),
  nameSpan: Span,
  /**
   * Null when the value was missing or not a number (a syntax error already reported); the
   * checker then accepts uses of the param without judging them, to avoid cascading messages.
   */
  value: z.number().nullable(),
  text: z.string(),
  valueSpan: Span,
});
export type ParamAst = z.infer<typeof ParamAst>;

export const ModelAst = z.object({
  /** Empty when the name is missing (a syntax error already reported). */
  name: z.string(),
  nameSpan: Span,
  /** The whole block, from `model` to `}`. */
  span: Span,
  params: z.array(ParamAst),
  fields: z.array(FieldAst),
  /** The parser repaired something inside this block (see FieldAst.recovered). */
  recovered: z.boolean(),
});
export type ModelAst = z.infer<typeof ModelAst>;

export const FileAst = z.object({
  /** Params declared at the top level, visible in every model of the file. */
  params: z.array(ParamAst),
  models: z.array(ModelAst),
});
export type FileAst = z.infer<typeof FileAst>;
