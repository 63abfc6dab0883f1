/**
 * What a resolved dlopen call site calls: a C function through koffi (with
 * its argument checks) or a Node-API module's export. One method per small
 * arity, so a call passes its arguments on without building an array
 * (`fn(a, b)` is ~25 ns faster than `fn(...args)`); wider calls take the array.
 */
import { argumentError, callError, checkArguments, type CFunction, type LibraryRef, type Parameter } from "./ffi.js";

export interface CallTarget {
  call0(): unknown;
  call1(a: unknown): unknown;
  call2(a: unknown, b: unknown): unknown;
  call3(a: unknown, b: unknown, c: unknown): unknown;
  /** Any number of arguments (variadic functions, four or more). */
  call(args: readonly unknown[]): unknown;
}

/** A C function: arity and per-parameter checks (precomputed in `declared`), then koffi's call. */
export class CTarget implements CallTarget {
  private readonly fn: (...args: unknown[]) => unknown;
  /** The fixed arity, or -1 for a variadic function (checked by the general path). */
  private readonly arity: number;
  private readonly p0: Parameter | undefined;
  private readonly p1: Parameter | undefined;
  private readonly p2: Parameter | undefined;

  constructor(
    private readonly library: LibraryRef,
    private readonly declared: CFunction,
  ) {
    this.fn = declared.fn as (...args: unknown[]) => unknown;
    this.arity = declared.variadic ? -1 : declared.parameters.length;
    [this.p0, this.p1, this.p2] = declared.parameters;
  }

  call0(): unknown {
    if (this.arity !== 0) return this.call([]);
    return this.invoke0();
  }

  call1(a: unknown): unknown {
    if (this.arity !== 1) return this.call([a]);
    this.verify(this.p0!, a);
    try {
      return this.fn(a);
    } catch (error) {
      throw callError(this.library, this.declared, error);
    }
  }

  call2(a: unknown, b: unknown): unknown {
    if (this.arity !== 2) return this.call([a, b]);
    this.verify(this.p0!, a);
    this.verify(this.p1!, b);
    try {
      return this.fn(a, b);
    } catch (error) {
      throw callError(this.library, this.declared, error);
    }
  }

  call3(a: unknown, b: unknown, c: unknown): unknown {
    if (this.arity !== 3) return this.call([a, b, c]);
    this.verify(this.p0!, a);
    this.verify(this.p1!, b);
    this.verify(this.p2!, c);
    try {
      return this.fn(a, b, c);
    } catch (error) {
      throw callError(this.library, this.declared, error);
    }
  }

  call(args: readonly unknown[]): unknown {
    checkArguments(this.library, this.declared, args);
    try {
      return this.fn(...args);
    } catch (error) {
      throw callError(this.library, this.declared, error);
    }
  }

  private invoke0(): unknown {
    try {
      return this.fn();
    } catch (error) {
      throw callError(this.library, this.declared, error);
    }
  }

  private verify(parameter: Parameter, value: unknown): void {
    const check = parameter.check;
    if (check === undefined) return;
    const problem = check(value);
    if (problem !== undefined) throw argumentError(this.library, this.declared, parameter, value, problem);
  }
}

/** A Node-API export: called with the JS values as they are. */
export class NodeApiTarget implements CallTarget {
  constructor(private readonly fn: (...args: unknown[]) => unknown) {}

  call0(): unknown {
    return this.fn();
  }

  call1(a: unknown): unknown {
    return this.fn(a);
  }

  call2(a: unknown, b: unknown): unknown {
    return this.fn(a, b);
  }

  call3(a: unknown, b: unknown, c: unknown): unknown {
    return this.fn(a, b, c);
  }

  call(args: readonly unknown[]): unknown {
    return this.fn(...args);
  }
}
