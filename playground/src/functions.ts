/** The 2-D test functions the race runs on. */
export type { TestFunction2d } from "../../src/oracles/problems/testFunctions2d.js";
export { testFunctions2d } from "../../src/oracles/problems/testFunctions2d.js";
