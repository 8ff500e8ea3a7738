/**
 * The playground page: pick a 2-D test function and optimizers from descend's catalog, watch
 * them race on a contour plot, then train the digits network with the same optimizers. Every
 * number shown in the result tables is also written to `data-*` attributes of its row, so
 * scripts (and the end-to-end test) can read them.
 */
import "./style.css";
import type { MlpObjective, OptimizerEntry } from "descend";
import { catalog } from "descend";
import { ContourPlot } from "./contourPlot.js";
import { colorOf, INITIAL_SELECTION, mlpLearningRate, raceLearningRate } from "./defaults.js";
import { digitsNetwork, HIDDEN_UNITS } from "./digits.js";
import type { TestFunction2d } from "./functions.js";
import { testFunctions2d } from "./functions.js";
import type { LoopState } from "./loop.js";
import { FrameLoop } from "./loop.js";
import { drawLossPlot, formatLoss } from "./lossPlot.js";
import { MlpRun, TrackRun } from "./runs.js";

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page lacks #${id}`);
  return element as T;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

const ui = {
  functionSelect: byId<HTMLSelectElement>("function-select"),
  functionDescription: byId<HTMLParagraphElement>("function-description"),
  optimizerRows: byId<HTMLTableSectionElement>("optimizer-rows"),
  race: byId<HTMLElement>("race"),
  raceTitle: byId<HTMLElement>("race-title"),
  raceStart: byId<HTMLButtonElement>("race-start"),
  racePause: byId<HTMLButtonElement>("race-pause"),
  raceReset: byId<HTMLButtonElement>("race-reset"),
  raceSteps: byId<HTMLInputElement>("race-steps"),
  raceSpeed: byId<HTMLSelectElement>("race-speed"),
  raceStatus: byId<HTMLElement>("race-status"),
  contour: byId<HTMLCanvasElement>("contour"),
  raceLoss: byId<HTMLCanvasElement>("race-loss"),
  raceResults: byId<HTMLTableSectionElement>("race-results"),
  mlp: byId<HTMLElement>("mlp"),
  mlpStart: byId<HTMLButtonElement>("mlp-start"),
  mlpPause: byId<HTMLButtonElement>("mlp-pause"),
  mlpReset: byId<HTMLButtonElement>("mlp-reset"),
  mlpSteps: byId<HTMLInputElement>("mlp-steps"),
  mlpStatus: byId<HTMLElement>("mlp-status"),
  mlpLoss: byId<HTMLCanvasElement>("mlp-loss"),
  mlpResults: byId<HTMLTableSectionElement>("mlp-results"),
  hidden: byId<HTMLElement>("hidden-units"),
};

// ---------------------------------------------------------------------------------------------
// Choices: the function, the optimizers and their learning rates

let fn: TestFunction2d = testFunctions2d[0];
const selected = new Set(
  INITIAL_SELECTION.filter((name) => catalog.some((entry) => entry.name === name)),
);
/** Learning rates on each 2-D function, kept per function so switching back keeps edits. */
const raceRates = new Map<string, Map<string, number>>();
const mlpRates = new Map<string, number>();

function raceRate(entry: OptimizerEntry): number {
  return raceRates.get(fn.name)?.get(entry.name) ?? raceLearningRate(fn, entry);
}

function mlpRate(entry: OptimizerEntry): number {
  return mlpRates.get(entry.name) ?? mlpLearningRate(entry);
}

function chosen(): OptimizerEntry[] {
  return catalog.filter((entry) => selected.has(entry.name));
}

/** A learning rate typed by the user, or undefined when it is not a positive finite number. */
function parseRate(text: string): number | undefined {
  const value = Number(text.trim());
  return text.trim() !== "" && Number.isFinite(value) && value > 0 ? value : undefined;
}

function steps(input: HTMLInputElement, fallback: number): number {
  const value = Number(input.value);
  return Number.isInteger(value) && value >= 1 ? value : fallback;
}

const raceRateInputs = new Map<string, HTMLInputElement>();

function rateInput(
  entry: OptimizerEntry,
  problem: string,
  value: number,
  commit: (rate: number) => void,
): HTMLInputElement {
  const input = element("input", {
    type: "text",
    inputMode: "decimal",
    value: String(value),
    className: "rate",
    title: `learning rate of ${entry.title} on ${problem}; a change restarts its run`,
  });
  input.dataset.optimizer = entry.name;
  input.addEventListener("change", () => {
    const rate = parseRate(input.value);
    input.setAttribute("aria-invalid", String(rate === undefined));
    if (rate !== undefined) commit(rate);
  });
  return input;
}

function buildOptimizerTable(): void {
  for (const entry of catalog) {
    const checkbox = element("input", { type: "checkbox", checked: selected.has(entry.name) });
    checkbox.dataset.optimizer = entry.name;
    checkbox.setAttribute("aria-label", `race ${entry.title}`);
    checkbox.addEventListener("change", () => {
      if (checkbox.checked) selected.add(entry.name);
      else selected.delete(entry.name);
      onSelectionChange(entry, checkbox.checked);
    });
    const raceInput = rateInput(entry, "the 2-D function", raceRate(entry), (rate) => {
      let rates = raceRates.get(fn.name);
      if (!rates) raceRates.set(fn.name, (rates = new Map()));
      rates.set(entry.name, rate);
      void restartRace(entry);
    });
    raceInput.name = `race-rate-${entry.name}`;
    raceRateInputs.set(entry.name, raceInput);
    const mlpInput = rateInput(entry, "the digits network", mlpRate(entry), (rate) => {
      mlpRates.set(entry.name, rate);
      restartMlp(entry);
    });
    mlpInput.name = `mlp-rate-${entry.name}`;
    const swatch = element("span", { className: "swatch" });
    swatch.style.background = colorOf(entry);
    const label = element("label", { title: `${entry.paper}\nReference: ${entry.reference}` }, [
      checkbox,
      swatch,
      entry.title,
    ]);
    ui.optimizerRows.append(
      element("tr", {}, [
        element("td", {}, [label]),
        element("td", {}, [raceInput]),
        element("td", {}, [mlpInput]),
      ]),
    );
  }
}

function onSelectionChange(entry: OptimizerEntry, on: boolean): void {
  if (on) {
    void restartRace(entry);
    restartMlp(entry);
  } else {
    raceRuns.delete(entry.name);
    mlpRuns.delete(entry.name);
    renderRace();
    renderMlp();
  }
}

// ---------------------------------------------------------------------------------------------
// The 2-D race

const contourPlot = new ContourPlot(ui.contour);
const raceRuns = new Map<string, TrackRun>();

async function newTrackRun(entry: OptimizerEntry): Promise<TrackRun> {
  const run = new TrackRun(entry, colorOf(entry), raceRate(entry), fn);
  await run.init();
  return run;
}

/** The runs in catalog order, so tables and legends keep a stable order. */
function ordered<R>(runs: Map<string, R>): R[] {
  return catalog.filter((e) => runs.has(e.name)).map((e) => runs.get(e.name)!);
}

async function resetRace(): Promise<void> {
  raceLoop.reset();
  raceRuns.clear();
  const runs = await Promise.all(chosen().map(newTrackRun));
  for (const run of runs) raceRuns.set(run.entry.name, run);
  renderRace();
}

async function restartRace(entry: OptimizerEntry): Promise<void> {
  if (!selected.has(entry.name)) return;
  const run = await newTrackRun(entry);
  raceRuns.set(entry.name, run);
  renderRace();
  // A finished race picks up again so the new run is seen; a paused one waits for Start.
  if (raceLoop.state === "done") raceLoop.start();
}

async function raceTick(): Promise<boolean> {
  const limit = steps(ui.raceSteps, 500);
  const perFrame = Number(ui.raceSpeed.value) || 1;
  const runs = ordered(raceRuns);
  for (let k = 0; k < perFrame; k++) {
    for (const run of runs) await run.step(limit);
  }
  renderRace();
  return runs.some((run) => run.active);
}

const raceLoop = new FrameLoop(
  raceTick,
  (state) => showState(ui.race, state, ui.raceStart, ui.racePause),
  (error) => showError(ui.race, ui.raceStatus, error),
);

function renderRace(): void {
  const runs = ordered(raceRuns);
  contourPlot.draw(
    runs.map((run) => ({
      color: run.color,
      label: run.entry.title,
      path: run.path,
      failed: run.status === "diverged" || run.status === "failed",
    })),
  );
  drawLossPlot(
    ui.raceLoss,
    runs.map((run) => ({ color: run.color, label: run.entry.title, losses: run.losses })),
    {
      steps: steps(ui.raceSteps, 500),
      yLabel: fn.logScale ? "f(x, y), log scale" : "f(x, y)",
      placeholder: runs.length ? "press Start" : "tick an optimizer",
    },
  );
  const limit = steps(ui.raceSteps, 500);
  ui.raceResults.replaceChildren(
    ...runs.map((run) =>
      resultRow(
        run,
        [
          String(run.steps),
          formatLoss(run.losses[run.losses.length - 1] ?? NaN),
          formatLoss(run.distanceToMinimum),
        ],
        { x: String(run.path[run.path.length - 2]), y: String(run.path[run.path.length - 1]) },
      ),
    ),
  );
  const most = Math.max(0, ...runs.map((run) => run.steps));
  if (raceLoop.state !== "idle" || most > 0) {
    ui.raceStatus.textContent = `step ${most} of ${limit}`;
  } else {
    ui.raceStatus.textContent = runs.length ? "ready" : "tick at least one optimizer";
  }
}

function resultRow(
  run: TrackRun | MlpRun,
  cells: string[],
  data: Record<string, string> = {},
): HTMLTableRowElement {
  const swatch = element("span", { className: "swatch" });
  swatch.style.background = run.color;
  const status = element("td", { className: `status-${run.status}` }, [run.status]);
  if (run.message) status.title = run.message;
  const row = element("tr", {}, [
    element("td", {}, [swatch, run.entry.title]),
    element("td", { className: "number" }, [String(run.learningRate)]),
    ...cells.map((text) => element("td", { className: "number" }, [text])),
    status,
  ]);
  const last = run.losses[run.losses.length - 1];
  Object.assign(row.dataset, {
    optimizer: run.entry.name,
    learningRate: String(run.learningRate),
    steps: String(run.steps),
    initialLoss: String(run.losses[0] ?? NaN),
    loss: String(last ?? NaN),
    status: run.status,
    ...data,
  });
  if (run.message) row.dataset.message = run.message;
  return row;
}

function showState(
  section: HTMLElement,
  state: LoopState,
  start: HTMLButtonElement,
  pause: HTMLButtonElement,
): void {
  section.dataset.state = state;
  start.textContent = state === "paused" ? "Resume" : state === "done" ? "Run again" : "Start";
  start.disabled = state === "running";
  pause.disabled = state !== "running";
}

function clearError(section: HTMLElement, status: HTMLElement): void {
  delete section.dataset.error;
  status.classList.remove("error");
}

function showError(section: HTMLElement, status: HTMLElement, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  section.dataset.error = message;
  status.textContent = `error: ${message}`;
  status.classList.add("error");
  console.error(error);
}

function selectFunction(name: string): void {
  fn = testFunctions2d.find((f) => f.name === name) ?? testFunctions2d[0];
  ui.functionSelect.value = fn.name;
  ui.functionDescription.textContent = fn.description;
  ui.raceTitle.textContent = fn.title;
  for (const entry of catalog) {
    const input = raceRateInputs.get(entry.name)!;
    input.value = String(raceRate(entry));
    input.setAttribute("aria-invalid", "false");
  }
  contourPlot.setFunction(fn);
  void resetRace();
}

// ---------------------------------------------------------------------------------------------
// The digits network

let network: MlpObjective | undefined;
const mlpRuns = new Map<string, MlpRun>();

function newMlpRun(entry: OptimizerEntry, objective: MlpObjective): MlpRun {
  return new MlpRun(entry, colorOf(entry), mlpRate(entry), objective);
}

function resetMlp(): void {
  mlpLoop.reset();
  mlpRuns.clear();
  if (network) for (const entry of chosen()) mlpRuns.set(entry.name, newMlpRun(entry, network));
  renderMlp();
}

function restartMlp(entry: OptimizerEntry): void {
  if (!network || !selected.has(entry.name)) return;
  mlpRuns.set(entry.name, newMlpRun(entry, network));
  renderMlp();
  if (mlpLoop.state === "done") mlpLoop.start();
}

async function startMlp(): Promise<void> {
  clearError(ui.mlp, ui.mlpStatus);
  if (!network) {
    ui.mlpStart.disabled = true;
    ui.mlpStatus.textContent = "loading the digits and starting jax-js…";
    try {
      network = await digitsNetwork();
    } catch (error) {
      ui.mlpStart.disabled = false;
      showError(ui.mlp, ui.mlpStatus, error);
      return;
    }
    resetMlp();
  }
  if (mlpLoop.state === "done") resetMlp();
  mlpLoop.start();
}

async function mlpTick(): Promise<boolean> {
  const limit = steps(ui.mlpSteps, 200);
  const runs = ordered(mlpRuns);
  for (const run of runs) await run.step(limit);
  renderMlp();
  return runs.some((run) => run.active);
}

const mlpLoop = new FrameLoop(
  mlpTick,
  (state) => showState(ui.mlp, state, ui.mlpStart, ui.mlpPause),
  (error) => showError(ui.mlp, ui.mlpStatus, error),
);

function renderMlp(): void {
  const runs = ordered(mlpRuns);
  const limit = steps(ui.mlpSteps, 200);
  drawLossPlot(
    ui.mlpLoss,
    runs.map((run) => ({ color: run.color, label: run.entry.title, losses: run.losses })),
    {
      steps: limit,
      yLabel: "cross-entropy, log scale",
      placeholder: network ? "press Train" : "press Train to load the digits",
    },
  );
  ui.mlpResults.replaceChildren(
    ...runs.map((run) =>
      resultRow(run, [
        String(run.steps),
        formatLoss(run.losses[run.losses.length - 1] ?? NaN),
        Number.isNaN(run.accuracy) ? "–" : `${(100 * run.accuracy).toFixed(1)}%`,
        Number.isNaN(run.msPerStep) ? "–" : run.msPerStep.toFixed(1),
      ]),
    ),
  );
  if (!network) return;
  const most = Math.max(0, ...runs.map((run) => run.steps));
  ui.mlpStatus.textContent =
    mlpLoop.state === "idle" && most === 0 ? "ready" : `step ${most} of ${limit}`;
}

// ---------------------------------------------------------------------------------------------
// Wiring

for (const f of testFunctions2d) {
  ui.functionSelect.append(element("option", { value: f.name, textContent: f.title }));
}
ui.functionSelect.addEventListener("change", () => selectFunction(ui.functionSelect.value));
ui.hidden.textContent = String(HIDDEN_UNITS);
buildOptimizerTable();

ui.raceStart.addEventListener("click", () => {
  clearError(ui.race, ui.raceStatus);
  if (raceLoop.state === "done") {
    void resetRace().then(() => raceLoop.start());
  } else {
    raceLoop.start();
  }
});
ui.racePause.addEventListener("click", () => raceLoop.pause());
ui.raceReset.addEventListener("click", () => void resetRace());
ui.raceSteps.addEventListener("change", () => {
  // Raising the limit lets finished runs carry on.
  const limit = steps(ui.raceSteps, 500);
  for (const run of raceRuns.values()) {
    if (run.status === "finished" && run.steps < limit) run.status = "running";
  }
  renderRace();
});

ui.mlpStart.addEventListener("click", () => void startMlp());
ui.mlpPause.addEventListener("click", () => mlpLoop.pause());
ui.mlpReset.addEventListener("click", () => resetMlp());
ui.mlpSteps.addEventListener("change", () => renderMlp());

showState(ui.race, "idle", ui.raceStart, ui.racePause);
showState(ui.mlp, "idle", ui.mlpStart, ui.mlpPause);
selectFunction(testFunctions2d[0].name);
renderMlp();
window.addEventListener("resize", () => {
  renderRace();
  renderMlp();
});
