// C functions from system libraries, called through prototypes:
//
//     tsexec examples/libm.ts 0.5 "hello, world"
//
// A prototype says how to convert: `double` takes and returns JS numbers,
// `const char *` takes a JS string (a number there would be refused).
import { defineScript } from "tsexec";

export default defineScript(({ args, lib }) => {
  const x = Number(args[1] ?? "1");
  const text = args[2] ?? "tsexec";
  return lib.bind(lib.dlopen<number>("libm.so.6", "double cos(double x)", [x]), (cosine) =>
    lib.bind(lib.dlopen<number>("libc.so.6", "size_t strlen(const char *s)", [text]), (length) =>
      lib.bind(lib.dlopen<number>("libm.so.6", { name: "pow", result: "double", parameters: ["double", "double"] }, [2, 10]), (power) =>
        lib.io(() => {
          console.log(`cos(${x}) = ${cosine}`);
          console.log(`strlen(${JSON.stringify(text)}) = ${length}`);
          console.log(`pow(2, 10) = ${power}`);
        }),
      ),
    ),
  );
});
