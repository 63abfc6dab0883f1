// `node --import bench/lib/module-log.mjs ...`: log every ES module loaded (see module-log-hooks.mjs).
import { register } from "node:module";

register("./module-log-hooks.mjs", import.meta.url);
