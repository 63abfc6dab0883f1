// nix-exec's README example, ported: compile a Node-API module from C with
// lib.runCommand, then call its `print` export with the script's arguments.
//
//     tsexec examples/print-args.ts a "b c"      prints the script name, a, b c: one per line
//
// The first run compiles (needs `cc`); later runs find the library in the store.
import { defineScript } from "tsexec";

const source = `
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>

/* print(list): writes each element of a JS array of strings on its own line. */
static napi_value print(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value list;
  uint32_t length;
  if (napi_get_cb_info(env, info, &argc, &list, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_array_length(env, list, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "print expects one array of strings");
    return NULL;
  }
  for (uint32_t i = 0; i < length; i++) {
    napi_value item;
    size_t size;
    napi_get_element(env, list, i, &item);
    if (napi_get_value_string_utf8(env, item, NULL, 0, &size) != napi_ok) {
      napi_throw_type_error(env, NULL, "print expects strings");
      return NULL;
    }
    char *text = malloc(size + 1);
    napi_get_value_string_utf8(env, item, text, size + 1, &size);
    puts(text);
    free(text);
  }
  fflush(stdout);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "print", NAPI_AUTO_LENGTH, print, NULL, &fn);
  napi_set_named_property(env, exports, "print", fn);
  return exports;
}
`;

export default defineScript(({ args, lib }) => {
  const so = lib.runCommand(
    "print-args.so",
    { source: lib.toFile("print-args.c", source) },
    'cc -shared -fPIC -I"$NODE_API_INCLUDE" -o "$out" "$source"',
  );
  return lib.dlopen(so, "print", [args]);
});
