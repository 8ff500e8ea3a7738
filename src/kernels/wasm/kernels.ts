/**
 * The WebAssembly versions of the library's elementwise kernels, each written as the same
 * arithmetic, in the same order, as its JavaScript twin so both give identical results.
 */
import type { ElementType, KernelSpec } from "./elementwise.js";
import { add, addFirstNonFinite, addKernel, div, mul, pmax, round, sqrt } from "./elementwise.js";
import { ModuleBuilder } from "./encoder.js";

/** `p ← a·p + b·u`. */
const axpby: KernelSpec = {
  name: "axpby",
  arrays: ["p", "u"],
  scalars: ["a", "b"],
  body(k) {
    k.store("p", add(mul(k.scalar("a"), k.load("p")), mul(k.scalar("b"), k.load("u"))));
  },
};

const ADAM_SCALARS = ["beta1", "c1", "beta2", "c2", "inv1", "invSqrt2", "eps"];
const ADAM_GENERAL_SCALARS = ["beta1", "c1", "beta2", "c2", "inv1", "bc2", "epsRoot", "eps"];

/** The moments of Adam; returns m and v (unrounded, as the JavaScript loop keeps them). */
function moments(k: Parameters<KernelSpec["body"]>[0]) {
  const g = k.let(k.load("u"));
  const m = k.let(add(mul(k.scalar("beta1"), k.load("m")), mul(k.scalar("c1"), g)));
  const v = k.let(add(mul(k.scalar("beta2"), k.load("v")), mul(mul(k.scalar("c2"), g), g)));
  k.store("m", m);
  k.store("v", v);
  return { m, v };
}

/** Adam's direction without AMSGrad and epsRoot: `(m·inv1) / (√v·invSqrt2 + ε)`. */
function adamFast(k: Parameters<KernelSpec["body"]>[0]) {
  const { m, v } = moments(k);
  return div(mul(m, k.scalar("inv1")), add(mul(sqrt(v), k.scalar("invSqrt2")), k.scalar("eps")));
}

/** Adam's general direction: `(m·inv1) / (√(v̂/bc2 + epsRoot) + ε)`. */
function adamGeneral(k: Parameters<KernelSpec["body"]>[0], amsgrad: boolean) {
  const { m, v } = moments(k);
  let vHat = v;
  if (amsgrad) {
    vHat = k.let(pmax(v, k.load("vMax")));
    k.store("vMax", vHat);
  }
  return div(
    mul(m, k.scalar("inv1")),
    add(sqrt(add(div(vHat, k.scalar("bc2")), k.scalar("epsRoot"))), k.scalar("eps")),
  );
}

/** Adam's direction into `u`. */
const adam: KernelSpec = {
  name: "adam",
  arrays: ["u", "m", "v"],
  scalars: ADAM_SCALARS,
  body(k) {
    k.store("u", adamFast(k));
  },
};

/** Adam's direction into `u` with epsRoot (no AMSGrad). */
const adamRoot: KernelSpec = {
  name: "adamRoot",
  arrays: ["u", "m", "v"],
  scalars: ADAM_GENERAL_SCALARS,
  body(k) {
    k.store("u", adamGeneral(k, false));
  },
};

/** AMSGrad's direction into `u`. */
const adamMax: KernelSpec = {
  name: "adamMax",
  arrays: ["u", "m", "v", "vMax"],
  scalars: ADAM_GENERAL_SCALARS,
  body(k) {
    k.store("u", adamGeneral(k, true));
  },
};

/**
 * Fused step: `p ← a·p + b·d` with `d` Adam's direction rounded to the element type, as if it
 * had been stored in `u` and read back by {@link axpby}. `u` (the gradient) is left unchanged.
 */
function fusedStep(name: string, arrays: string[], scalars: string[], direction: typeof adamFast) {
  return {
    name,
    arrays: ["p", ...arrays],
    scalars: [...scalars, "b", "a"],
    perRun: "a",
    body(k) {
      const d = k.let(round(direction(k)));
      k.store("p", add(mul(k.scalar("a"), k.load("p")), mul(k.scalar("b"), d)));
    },
  } satisfies KernelSpec;
}

const adamStep = fusedStep("adamStep", ["u", "m", "v"], ADAM_SCALARS, adamFast);
const adamRootStep = fusedStep("adamRootStep", ["u", "m", "v"], ADAM_GENERAL_SCALARS, (k) =>
  adamGeneral(k, false),
);
const adamMaxStep = fusedStep("adamMaxStep", ["u", "m", "v", "vMax"], ADAM_GENERAL_SCALARS, (k) =>
  adamGeneral(k, true),
);

/** Heavy-ball momentum: `buf ← μ·buf + c·g`, `u ← buf`. */
function heavyBall(k: Parameters<KernelSpec["body"]>[0]) {
  const g = k.let(k.load("u"));
  const b = k.let(add(mul(k.scalar("mu"), k.load("buf")), mul(k.scalar("c"), g)));
  k.store("buf", b);
  return { g, b };
}

const momentum: KernelSpec = {
  name: "momentum",
  arrays: ["u", "buf"],
  scalars: ["mu", "c"],
  body(k) {
    k.store("u", heavyBall(k).b);
  },
};

const nesterov: KernelSpec = {
  name: "nesterov",
  arrays: ["u", "buf"],
  scalars: ["mu", "c", "momentum"],
  body(k) {
    const { g, b } = heavyBall(k);
    k.store("u", add(g, mul(k.scalar("momentum"), b)));
  },
};

const momentumStep = fusedStep("momentumStep", ["u", "buf"], ["mu", "c"], (k) => heavyBall(k).b);
const nesterovStep = fusedStep("nesterovStep", ["u", "buf"], ["mu", "c", "momentum"], (k) => {
  const { g, b } = heavyBall(k);
  return add(g, mul(k.scalar("momentum"), b));
});

/** Every kernel in the module. */
export const KERNELS: readonly KernelSpec[] = [
  axpby,
  adam,
  adamRoot,
  adamMax,
  adamStep,
  adamRootStep,
  adamMaxStep,
  momentum,
  nesterov,
  momentumStep,
  nesterovStep,
];

const ELEMENT_TYPES: readonly ElementType[] = ["f32", "f64"];

/** Names of the module's exports, e.g. `adam_f32`. */
export function kernelExportNames(): string[] {
  return ELEMENT_TYPES.flatMap((type) => [
    ...KERNELS.map((k) => `${k.name}_${type}`),
    `firstNonFinite_${type}`,
  ]);
}

/** The module's bytes, importing a shared or an ordinary memory. */
export function kernelModuleBytes(shared: boolean): Uint8Array {
  const module = new ModuleBuilder();
  for (const type of ELEMENT_TYPES) {
    for (const spec of KERNELS) addKernel(module, spec, type);
    addFirstNonFinite(module, type);
  }
  return module.encode(
    shared
      ? { shared: true, minimumPages: 0, maximumPages: 65536 }
      : { shared: false, minimumPages: 0 },
  );
}
