// The hop grammar as a chevrotain CST parser. Error recovery is on so that one run reports every
// syntax error of a file; index.ts turns chevrotain's exceptions into messages for people.
//
//   file   := (model | param)*
//   model  := "model" Identifier "{" (param | field)* "}"
//   param  := "param" Identifier "=" Number
//   field  := Identifier value
//   value  := Number | Identifier ( "(" args? ")" )?
//   args   := arg ("," arg)*
//   arg    := Identifier "=" (Number | Identifier)
import { CstParser, type IParserErrorMessageProvider } from "chevrotain";
import {
  allTokens,
  Comma,
  Equals,
  Identifier,
  LBrace,
  LParen,
  Model,
  NumberLiteral,
  Param,
  RBrace,
  RParen,
} from "./tokens.ts";

/**
 * chevrotain's own messages dump token vocabularies. index.ts writes the real messages, so the
 * provider only records what the exception itself does not carry: the token type a CONSUME
 * expected (as its name), or the rule an alternative failed in.
 */
const errorMessageProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected }) => expected.name,
  buildNotAllInputParsedMessage: ({ ruleName }) => ruleName,
  buildNoViableAltMessage: ({ ruleName }) => ruleName,
  buildEarlyExitMessage: ({ ruleName }) => ruleName,
};

export class HopParser extends CstParser {
  constructor() {
    super(allTokens, { recoveryEnabled: true, nodeLocationTracking: "full", errorMessageProvider });
    this.performSelfAnalysis();
  }

  file = this.RULE("file", () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.model) },
        { ALT: () => this.SUBRULE(this.param) },
      ]);
    });
  });

  model = this.RULE("model", () => {
    this.CONSUME(Model);
    this.CONSUME(Identifier);
    this.CONSUME(LBrace);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.param) },
        { ALT: () => this.SUBRULE(this.field) },
      ]);
    });
    this.CONSUME(RBrace);
  });

  param = this.RULE("param", () => {
    this.CONSUME(Param);
    this.CONSUME(Identifier);
    this.CONSUME(Equals);
    this.CONSUME(NumberLiteral);
  });

  field = this.RULE("field", () => {
    this.CONSUME(Identifier);
    this.SUBRULE(this.value);
  });

  value = this.RULE("value", () => {
    this.OR([
      { ALT: () => this.CONSUME(NumberLiteral) },
      {
        ALT: () => {
          this.CONSUME(Identifier);
          this.OPTION(() => {
            this.CONSUME(LParen);
            this.OPTION2(() => this.SUBRULE(this.args));
            this.CONSUME(RParen);
          });
        },
      },
    ]);
  });

  args = this.RULE("args", () => {
    this.SUBRULE(this.arg);
    this.MANY(() => {
      this.CONSUME(Comma);
      this.SUBRULE2(this.arg);
    });
  });

  arg = this.RULE("arg", () => {
    this.CONSUME(Identifier);
    this.CONSUME(Equals);
    this.OR([
      { ALT: () => this.CONSUME(NumberLiteral) },
      { ALT: () => this.CONSUME2(Identifier) },
    ]);
  });
}

/** One shared instance: building a chevrotain parser runs a grammar analysis, so reuse it. */
export const parser = new HopParser();
