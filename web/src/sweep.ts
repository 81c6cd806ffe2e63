// The sweep page (#/sweep/ENTITY/PROJECT/GROUP?metric=...&goal=...&seed=...): jobs per state, the swept
// parameters against a metric with the best run marked, mean and spread over seeds, and parallel coordinates.
// The server decides what was swept and how it scores (server/sweep.py over sweeps/report.py); this draws it.
// User data reaches the DOM only as text: el() for HTML, svg() below for the chart.
import { api } from "./api";
import { el, clear } from "./dom";
import { cellText } from "./values";

// seed: the config key whose runs are repeats; null leaves it to the server ("seed"), "" means none
export type SweepRoute = { entity: string; project: string; group: string; metric: string; goal: string; seed: string | null };
type Param = string | number | boolean | null;
type SweepRun = { id: string; name: string; state: string; params: Record<string, Param>; value: number | null };
type Result = {
  label: string; config: Record<string, Param>; runs: string[]; seeds: Param[]; n: number; mean: number | null;
  std: number | null; best: boolean; excluded: number;
};
type Sweep = {
  entity: string; project: string; group: string; states: Record<string, number>; params: string[]; seed_key: string;
  metrics: string[]; metric: string | null; goal: "min" | "max" | null; goal_declared: boolean; runs: SweepRun[];
  best_run: string | null; results: Result[];
};
// what tests read: the best run, the rows and the lines drawn
export type SweepHook = { best: string | null; metric: string | null; goal: string | null; params: string[]; rows: number; lines: number };

const STATES = ["running", "finished", "failed", "crashed", "preempted"];
const POLL_MS = 3000;
const SVG = "http://www.w3.org/2000/svg";

export function sweepHref(entity: string, project: string, group: string): string {
  return "#/sweep/" + [entity, project, group].map(encodeURIComponent).join("/");
}

// the sweep a location hash names, or null for any other view
export function sweepRoute(hash: string): SweepRoute | null {
  const match = /^#\/sweep\/([^/?]+)\/([^/?]+)\/([^/?]+)(?:\?(.*))?$/.exec(hash);
  if (!match) return null;
  try {
    const [entity, project, group] = match.slice(1, 4).map(decodeURIComponent);
    const params = new URLSearchParams(match[4] ?? "");
    return { entity, project, group, metric: params.get("metric") ?? "", goal: params.get("goal") ?? "", seed: params.get("seed") };
  } catch {
    return null; // a malformed escape: not a sweep
  }
}

function writeRoute(route: SweepRoute): void {
  const params = new URLSearchParams();
  if (route.metric) params.set("metric", route.metric);
  if (route.goal) params.set("goal", route.goal);
  if (route.seed !== null) params.set("seed", route.seed);
  const query = params.toString();
  history.replaceState(null, "", sweepHref(route.entity, route.project, route.group) + (query ? "?" + query : ""));
}

// a swept value as it was set (0.01, not 0.01000): parameters are read, not compared by eye
function paramText(value: Param): string {
  return typeof value === "number" ? String(value) : cellText(value);
}

function svg(tag: string, attributes: Record<string, string | number> = {}, ...children: (Node | string)[]): SVGElement {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(typeof child === "string" ? document.createTextNode(child) : child);
  return element;
}

// Show the sweep in root; the answer stops its polling (when the view changes).
export function sweepPage(root: HTMLElement, header: HTMLElement, route: SweepRoute): () => void {
  clear(root);
  const body = el("section", { class: "sweep", "aria-label": "sweep" });
  root.append(header, body);
  const hook: SweepHook = { best: null, metric: null, goal: null, params: [], rows: 0, lines: 0 };
  (window as unknown as { __tracker: { sweep?: SweepHook } }).__tracker.sweep = hook;
  let timer = 0;
  let stopped = false;
  const load = async (): Promise<void> => {
    window.clearTimeout(timer);
    const params = new URLSearchParams({ entity: route.entity, project: route.project, group: route.group });
    if (route.metric) params.set("metric", route.metric);
    if (route.goal) params.set("goal", route.goal);
    if (route.seed !== null) params.set("seed_key", route.seed);
    let sweep: Sweep;
    try {
      sweep = await api<Sweep>("GET", "/api/ui/sweep?" + params);
    } catch (error) {
      if (stopped) return;
      clear(body);
      body.append(back(route), el("p", { class: "problem", role: "alert" }, error instanceof Error ? error.message : String(error)));
      return;
    }
    if (stopped) return;
    draw(body, sweep, route, hook, load);
    if (sweep.states.running) timer = window.setTimeout(load, POLL_MS);
  };
  load();
  return () => { stopped = true; window.clearTimeout(timer); };
}

function back(route: SweepRoute): HTMLElement {
  const params = new URLSearchParams({ project: route.project, group: route.group });
  return el("a", { href: "#" + params.toString(), class: "back" }, "← runs of this group");
}

function draw(body: HTMLElement, sweep: Sweep, route: SweepRoute, hook: SweepHook, reload: () => void): void {
  clear(body);
  const total = sweep.runs.length;
  const states = el("div", { class: "states", role: "status" }, `${total} job${total === 1 ? "" : "s"}:`);
  for (const state of [...STATES, ...Object.keys(sweep.states).filter((s) => !STATES.includes(s))]) {
    const count = sweep.states[state];
    if (count) states.append(el("span", { class: `state state-${state}`, "data-state": state }, `${count} ${state}`));
  }
  body.append(back(route), el("h2", {}, sweep.group), el("p", { class: "count" }, `${sweep.entity}/${sweep.project}`), states);

  const metric = el("select", { id: "sweep-metric" }, ...sweep.metrics.map((m) => el("option", { value: m }, m))) as HTMLSelectElement;
  metric.value = sweep.metric ?? "";
  metric.addEventListener("change", () => { route.metric = metric.value; route.goal = ""; writeRoute(route); reload(); });
  const goal = el("select", { id: "sweep-goal" }, el("option", { value: "min" }, "min is best"), el("option", { value: "max" }, "max is best")) as HTMLSelectElement;
  goal.value = sweep.goal ?? "min";
  goal.addEventListener("change", () => { route.goal = goal.value; writeRoute(route); reload(); });
  const seed = el("select", { id: "sweep-seed" }, el("option", { value: "" }, "(none)"), ...sweep.params.map((p) => el("option", { value: p }, p))) as HTMLSelectElement;
  seed.value = sweep.params.includes(sweep.seed_key) ? sweep.seed_key : "";
  seed.addEventListener("change", () => { route.seed = seed.value; writeRoute(route); reload(); });
  body.append(el("div", { class: "filters" },
    el("label", { class: "field" }, "metric", metric),
    el("label", { class: "field" }, sweep.goal_declared ? "goal (declared by define_metric)" : "goal", goal),
    el("label", { class: "field" }, "repeats over (seed)", seed),
  ));
  if (!sweep.metric) body.append(el("p", { class: "count" }, "no numeric summary metric in this sweep yet"));

  body.append(runsTable(sweep), resultsTable(sweep), parallel(sweep, hook));
  hook.best = sweep.best_run;
  hook.metric = sweep.metric;
  hook.goal = sweep.goal;
  hook.params = sweep.params;
  hook.rows = sweep.runs.length;
}

// best first, runs without a value last
function ranked(sweep: Sweep): SweepRun[] {
  const sign = sweep.goal === "max" ? -1 : 1;
  return [...sweep.runs].sort((a, b) => (a.value === null ? 1 : b.value === null ? -1 : sign * (a.value - b.value)));
}

function runsTable(sweep: Sweep): HTMLElement {
  const metric = sweep.metric ?? "metric";
  const table = el("table", { class: "sweep-runs", "aria-label": "runs by swept parameters" },
    el("caption", {}, `swept parameters against ${metric}`),
    el("thead", {}, el("tr", {}, ...["", "run", "state", ...sweep.params, metric].map((h) => el("th", { scope: "col" }, h)))));
  const rows = el("tbody");
  for (const run of ranked(sweep)) {
    const best = run.id === sweep.best_run;
    const row = el("tr", { "data-run": run.id, class: best ? "best" : "" },
      el("td", {}, best ? el("span", { class: "best-mark", title: "best run", "aria-label": "best run" }, "★") : ""),
      el("td", { class: "name", title: run.id }, run.name),
      el("td", {}, el("span", { class: `state state-${run.state}` }, run.state)),
      ...sweep.params.map((key) => el("td", {}, paramText(run.params[key]))),
      el("td", { class: "value" }, cellText(run.value)));
    rows.append(row);
  }
  table.append(rows);
  return table;
}

function resultsTable(sweep: Sweep): HTMLElement {
  const seed = sweep.params.includes(sweep.seed_key) ? sweep.seed_key : "seed";
  const table = el("table", { class: "sweep-results", "aria-label": "results over seeds" },
    el("caption", {}, `${sweep.metric ?? "metric"} per configuration over ${seed} (${sweep.goal ?? "min"} is best; finished runs)`),
    el("thead", {}, el("tr", {}, ...["", "configuration", "n", "mean", "std", seed, "not finished"].map((h) => el("th", { scope: "col" }, h)))));
  const rows = el("tbody");
  for (const result of sweep.results) {
    rows.append(el("tr", { class: result.best ? "best" : "" },
      el("td", {}, result.best ? el("span", { class: "best-mark", title: "best configuration", "aria-label": "best configuration" }, "★") : ""),
      el("td", {}, result.label),
      el("td", {}, String(result.n)),
      el("td", {}, cellText(result.mean)),
      el("td", {}, result.std === null ? "" : "± " + cellText(result.std)),
      el("td", {}, result.seeds.map(paramText).join(", ")),
      el("td", {}, result.excluded ? String(result.excluded) : "")));
  }
  table.append(rows);
  return table;
}

type Axis = { key: string; label: string; position: (value: Param) => number | null; ticks: [number, string][] };

// a numeric axis (log when positive over two decades or more) or a categorical one, mapping onto [0, 1]
function axis(key: string, label: string, values: Param[], format: (v: Param) => string = paramText): Axis {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length && present.every((v) => typeof v === "number")) {
    const numbers = present as number[];
    let low = Math.min(...numbers), high = Math.max(...numbers);
    const log = low > 0 && high / low >= 100;
    const f = log ? Math.log10 : (v: number) => v;
    if (low === high) { low -= 1; high += 1; }
    const span = f(high) - f(low);
    const position = (v: Param): number | null => (typeof v === "number" ? (f(v) - f(low)) / span : null);
    const ticks = [...new Set(numbers)].sort((a, b) => a - b);
    const shown = ticks.length <= 6 ? ticks : [ticks[0], ticks[ticks.length - 1]];
    return { key, label: log ? `${label} (log)` : label, position, ticks: shown.map((v) => [position(v) as number, format(v)]) };
  }
  const categories = [...new Set(present.map((v) => paramText(v)))].sort();
  const position = (v: Param): number | null => {
    if (v === null || v === undefined) return null;
    const at = categories.indexOf(paramText(v));
    return categories.length === 1 ? 0.5 : at / (categories.length - 1);
  };
  return { key, label, position, ticks: categories.map((c, i) => [categories.length === 1 ? 0.5 : i / (categories.length - 1), c]) };
}

// from the worst (0) to the best (1) value: a colour-blind friendly ramp (viridis' ends and middle)
function colour(t: number): string {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const at = Math.min(stops.length - 1.0001, Math.max(0, t) * (stops.length - 1));
  const i = Math.floor(at), f = at - i;
  const mixed = stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
  return `rgb(${mixed.join(",")})`;
}

function parallel(sweep: Sweep, hook: SweepHook): HTMLElement {
  const figure = el("figure", { class: "panel parallel", "aria-label": "parallel coordinates" },
    el("figcaption", {}, `parallel coordinates: swept parameters and ${sweep.metric ?? "metric"} (brighter is better)`));
  const metric = sweep.metric ?? "metric";
  const axes = [
    ...sweep.params.map((key) => axis(key, key, sweep.runs.map((run) => run.params[key]))),
    axis("\u0000value", metric, sweep.runs.map((run) => run.value), cellText),
  ];
  const width = Math.max(640, Math.min(1400, 160 * axes.length)), height = 340;
  const left = 70, right = 70, top = 30, bottom = 40;
  const xOf = (i: number): number => (axes.length === 1 ? width / 2 : left + (i * (width - left - right)) / (axes.length - 1));
  const yOf = (p: number): number => top + (1 - p) * (height - top - bottom);
  const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `parallel coordinates of ${sweep.runs.length} runs` });
  const values = sweep.runs.map((run) => run.value).filter((v): v is number => v !== null);
  const low = Math.min(...values), high = Math.max(...values);
  const score = (v: number | null): number | null => {
    if (v === null || !values.length) return null;
    const t = high === low ? 1 : (v - low) / (high - low);
    return sweep.goal === "max" ? t : 1 - t;
  };
  let lines = 0;
  const ordered = [...sweep.runs].sort((a, b) => (a.id === sweep.best_run ? 1 : b.id === sweep.best_run ? -1 : 0)); // best on top
  for (const run of ordered) {
    let path = "";
    let pen = false;
    axes.forEach((a, i) => {
      const p = a.position(a.key === "\u0000value" ? run.value : run.params[a.key]);
      if (p === null) { pen = false; return; }
      path += `${pen ? "L" : "M"}${xOf(i).toFixed(1)},${yOf(p).toFixed(1)}`;
      pen = true;
    });
    if (!path) continue;
    const t = score(run.value);
    const best = run.id === sweep.best_run;
    chart.append(svg("path", {
      d: path, fill: "none", "data-run": run.id, class: best ? "line best" : "line",
      stroke: t === null ? "#888" : colour(t), "stroke-width": best ? 3.5 : 1.5, "stroke-opacity": t === null ? 0.5 : 0.85,
      "stroke-dasharray": t === null ? "4 3" : "none",
    }, svg("title", {}, `${run.name}: ${metric} = ${run.value === null ? "none" : cellText(run.value)}${best ? " (best)" : ""}`)));
    lines++;
  }
  axes.forEach((a, i) => {
    const x = xOf(i);
    chart.append(svg("line", { x1: x, x2: x, y1: yOf(0), y2: yOf(1), stroke: "currentColor", "stroke-width": 1 }));
    chart.append(svg("text", { x, y: top - 12, "text-anchor": "middle", "font-weight": 600, fill: "currentColor" }, a.label));
    for (const [p, text] of a.ticks) {
      chart.append(svg("text", { x: x + 5, y: yOf(p) + 4, "font-size": 11, fill: "currentColor", class: "tick" }, text));
    }
  });
  hook.lines = lines;
  figure.append(chart);
  return figure;
}
