/**
 * Errors tsexec raises about the user's input: the CLI prints their message
 * alone (no stack) and exits with `exitCode`.
 */
export class TsexecError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "TsexecError";
  }
}

export function isTsexecError(error: unknown): error is TsexecError {
  return error instanceof Error && typeof (error as TsexecError).exitCode === "number" && error.name === "TsexecError";
}
