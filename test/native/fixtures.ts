/** C fixtures for the native tests, compiled with the machine's `cc` into a temporary directory. */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { getConfiguration } from "../../src/base/package.js";
import { root, tempDir } from "../helpers.js";

export const cSources = {
  /** Plain C functions called through prototypes. */
  "libfixture.c": `
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
int add(int a, int b) { return a + b; }
int text_length(const char *s) { return (int)strlen(s); }
static int calls;
int tick(void) { return ++calls; }
int *make_counter(int start) { int *p = malloc(sizeof(int)); *p = start; return p; }
int read_counter(const int *p) { return *p; }
int8_t id_i8(int8_t v) { return v; }
uint8_t id_u8(uint8_t v) { return v; }
int32_t id_i32(int32_t v) { return v; }
uint32_t id_u32(uint32_t v) { return v; }
int64_t id_i64(int64_t v) { return v; }
uint64_t id_u64(uint64_t v) { return v; }
int add3(int a, int b, int c) { return a + b + c; }
int add5(int a, int b, int c, int d, int e) { return a + b + c + d + e; }
`,
  /** A Node-API module: its exports take and return JS values. */
  "napi-fixture.c": `
#include <node_api.h>
static napi_value sum(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2]; double a, b; napi_value result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_double(env, argv[0], &a);
  napi_get_value_double(env, argv[1], &b);
  napi_create_double(env, a + b, &result);
  return result;
}
static napi_value length(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value list; uint32_t n; napi_value result;
  napi_get_cb_info(env, info, &argc, &list, NULL, NULL);
  napi_get_array_length(env, list, &n);
  napi_create_uint32(env, n, &result);
  return result;
}
NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "sum", NAPI_AUTO_LENGTH, sum, NULL, &fn);
  napi_set_named_property(env, exports, "sum", fn);
  napi_create_function(env, "length", NAPI_AUTO_LENGTH, length, NULL, &fn);
  napi_set_named_property(env, exports, "length", fn);
  return exports;
}
`,
  /** Reads tsexec's argv globals. */
  "argv-fixture.c": `
#include <stddef.h>
#include "tsexec.h"
int argv_count(void) { return tsexec_argc; }
int argv_is_null(void) { return tsexec_argv == NULL; }
const char *argv_at(int i) { return i < tsexec_argc ? tsexec_argv[i] : "(none)"; }
`,
} as const;

export interface Fixtures {
  readonly dir: string;
  readonly library: string;
  readonly napi: string;
  readonly argv: string;
  /** A file that is not a shared object. */
  readonly text: string;
}

/** Compiles the fixtures once per test file. */
export function compileFixtures(): Fixtures {
  const dir = tempDir("tsexec-native-");
  const include = ["-I", getConfiguration().nodeApiInclude, "-I", join(root, "include")];
  const compile = (source: keyof typeof cSources, output: string) => {
    writeFileSync(join(dir, source), cSources[source]);
    execFileSync("cc", ["-shared", "-fPIC", ...include, "-o", join(dir, output), join(dir, source)]);
    return join(dir, output);
  };
  const text = join(dir, "notes.so");
  writeFileSync(text, "this is not a shared object\n");
  return {
    dir,
    library: compile("libfixture.c", "libfixture.so"),
    napi: compile("napi-fixture.c", "napi-fixture.so"),
    argv: compile("argv-fixture.c", "argv-fixture.so"),
    text,
  };
}
