/**
 * `builtins.unsafePerformIO io`: runs an IO from pure code and returns its
 * value, with the context of the program tsexec is running. Like Haskell's
 * unsafePerformIO and Effect's runSync, it is synchronous: an IO that reaches
 * asynchronous work is refused, naming the step, before that step starts.
 */
import { isIO, type IO } from "../../monad/io.js";
import { describeValue } from "../../monad/describe.js";
import { runSync } from "../../runtime/interpreter.js";
import { ambientContext } from "../../base/context.js";

export function unsafePerformIO<A>(io: IO<A>): A {
  if (!isIO(io)) throw new TypeError(`unsafePerformIO expects an IO value, got ${describeValue(io)}`);
  return runSync(io, ambientContext());
}
