/** Names a value's kind for error messages: "a number (3)", "a Promise", "undefined". */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  switch (typeof value) {
    case "number":
    case "bigint":
    case "boolean":
      return `a ${typeof value} (${String(value)})`;
    case "string":
      return `a string (${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)})`;
    case "function":
      return value.name ? `a function (${value.name})` : "a function";
    case "symbol":
      return "a symbol";
  }
  if (typeof (value as PromiseLike<unknown>).then === "function") return "a Promise";
  if (Array.isArray(value)) return "an array";
  const ctor = Object.getPrototypeOf(value)?.constructor?.name;
  return ctor && ctor !== "Object" ? `an object (${ctor})` : "an object";
}

/**
 * Names a function for a message: its name, else its source (shortened), so an
 * anonymous arrow is recognisable (`() => readFile(p)`).
 */
export function describeFunction(f: unknown): string {
  if (typeof f !== "function") return describeValue(f);
  if (f.name) return f.name;
  const source = Function.prototype.toString.call(f).replace(/\s+/g, " ").trim();
  return source.length > 60 ? `${source.slice(0, 57)}...` : source;
}
