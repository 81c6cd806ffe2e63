// The dashboard: sign-in, the runs table (paged and filtered by the server, rows virtualised) and the
// charts workspace (one uPlot panel per metric, downsampled by the server, re-bucketed on zoom, live:
// running runs fetch only their new steps); the sweep page is sweep.ts, routed by the location hash.
// User data only ever reaches the DOM through textContent (el()), never as HTML.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { api, setCsrf, ApiError } from "./api";
import { el, clear } from "./dom";
import { smooth } from "./smooth";
import { route, hashOf, runHash, compareHash, pageParams } from "./url";
import { cellText, duration } from "./values";
import { runPage } from "./runpage";
import { comparePage } from "./compare";
import { sweepHref, sweepPage, sweepRoute } from "./sweep";

type Run = {
  entity: string; project: string; id: string; name: string; group: string | null; job_type: string | null;
  tags: string[]; state: string; created_at: string; runtime: number | null; last_step: number | null;
  columns: Record<string, unknown>;
};
type Facets = { projects: string[]; groups: string[]; job_types: string[]; tags: string[]; config: string[]; summary: string[] };
type Page = { total: number; offset: number; runs: Run[]; facets: Facets };
type Value = number | string | null;
type Series = {
  run: string; name: string; state: string; count: number; x: number[]; min: Value[]; max: Value[]; last: Value[];
  group_value?: string; step: number | null; // the last step the server has: the next request's since
};

const ROW = 28;
const PAGE = 200;
const BUCKETS = 1000;
const POLL_MS = 1500;
const STATES = ["running", "finished", "failed", "crashed", "preempted"];

// the view, mirrored in the URL so that pasting it opens the same view
const view = {
  project: "", q: "", group: "", tag: "", state: "", job_type: "", sort: "created_at", order: "desc",
  cols: [] as string[], sel: [] as string[], metrics: "", smoothing: 0, x: "step", log: false, groupBy: "", band: "",
};
const defaults = JSON.stringify(view);
// what tests and benchmarks read: the series each panel drew; first paints in ms since navigation started
type TestHook = {
  // per panel: series drawn, their points and last x, the band kind, each band's mean width, polygons filled
  // and the x range on screen
  panels: Record<string, {
    series: string[]; points: number[]; lastX: (number | null)[]; band: string; widths: (number | null)[];
    bands: number; xRange: [number, number] | null;
  }>;
  table: { total: number; firstPaint: number };
  firstChart: number;
};
const hook: TestHook = { panels: {}, table: { total: -1, firstPaint: -1 }, firstChart: -1 };
(window as unknown as { __tracker: TestHook }).__tracker = hook;

function readUrl(): void {
  Object.assign(view, JSON.parse(defaults));
  const params = route().params;
  for (const key of ["project", "q", "group", "tag", "state", "job_type", "sort", "order", "metrics", "x", "groupBy", "band"] as const) {
    const value = params.get(key);
    if (value !== null) view[key] = value;
  }
  view.cols = params.getAll("col");
  view.sel = params.getAll("sel");
  view.smoothing = Math.min(0.999, Math.max(0, Number(params.get("smoothing") || 0)));
  view.log = params.get("log") === "1";
}

function writeUrl(): void {
  const params = new URLSearchParams();
  for (const key of ["project", "q", "group", "tag", "state", "job_type", "sort", "order", "metrics", "x", "groupBy", "band"] as const) {
    if (view[key]) params.set(key, view[key]);
  }
  view.cols.forEach((col) => params.append("col", col));
  view.sel.forEach((sel) => params.append("sel", sel));
  if (view.smoothing) params.set("smoothing", String(view.smoothing));
  if (view.log) params.set("log", "1");
  history.replaceState(null, "", hashOf(params));
}

const root = document.getElementById("app") as HTMLElement;
let me: { user: string; local: boolean; csrf: string } | null = null;
let leave = (): void => {}; // stops the shown page's polling
let generation = 0;

async function start(): Promise<void> {
  try {
    me = await api<{ user: string; local: boolean; csrf: string }>("GET", "/api/ui/me");
    setCsrf(me.csrf);
    show();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signIn();
    else throw error;
  }
}

function signIn(message = ""): void {
  leave();
  leave = () => {};
  me = null;
  clear(root);
  const key = el("input", { type: "password", id: "key", autocomplete: "off", required: "" }) as HTMLInputElement;
  const problem = el("p", { class: "problem", role: "alert" }, message);
  const form = el("form", { class: "signin", "aria-label": "sign in" },
    el("h1", {}, "tracker"),
    el("label", { for: "key" }, "API key"), key,
    el("button", { type: "submit" }, "Sign in"), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", "/api/ui/session", { key: key.value });
      await start();
    } catch (error) {
      problem.textContent = error instanceof ApiError ? error.message : String(error);
    }
  });
  root.append(form);
  key.focus();
}

// the page the URL names: a run (#/run/ENTITY/PROJECT/ID), a comparison (#/compare?sel=...), a sweep
// (#/sweep/ENTITY/PROJECT/GROUP), or the workspace
function show(): void {
  if (!me) return;
  leave();
  leave = () => {};
  clear(root);
  pageParams.clear();
  hook.panels = {};
  const top = header(me.user, me.local);
  const sweep = sweepRoute(location.hash);
  if (sweep) {
    leave = sweepPage(root, top, sweep);
    return;
  }
  readUrl();
  const { path, params } = route();
  root.append(top);
  // the workspace's chart panels for the runs a page shows
  const shown = ++generation;
  let timer = 0;
  leave = () => clearInterval(timer);
  const charts = (refs: string[]) => (): HTMLElement => {
    if (shown !== generation) return el("div"); // a page the user has already left
    view.sel = refs;
    const panels = new Charts();
    panels.refresh(true);
    timer = window.setInterval(() => panels.poll(), POLL_MS);
    return panels.element;
  };
  if (path[0] === "run" && path.length === 4) runPage(root, path.slice(1).join("/"), params, charts([path.slice(1).join("/")]), writeUrl);
  else if (path[0] === "compare") comparePage(root, view.sel, params, charts(view.sel), writeUrl);
  else leave = workspace(top);
}
window.addEventListener("hashchange", show);

function header(user: string, local: boolean): HTMLElement {
  const top = el("header", {}, el("h1", {}, el("a", { href: "#" }, "tracker")), el("span", { class: "who" }, local ? "local store" : user));
  if (!local) {
    const out = el("button", { type: "button" }, "Sign out");
    out.addEventListener("click", async () => { await api("DELETE", "/api/ui/session"); signIn(); });
    top.append(out);
  }
  return top;
}

function workspace(top: HTMLElement): () => void {
  const table = new RunsTable();
  const charts = new Charts();
  const compare = el("button", { type: "button", id: "compare" }, "Compare selected") as HTMLButtonElement;
  compare.addEventListener("click", () => { location.hash = compareHash(view.sel); });
  const selected = (): void => { compare.disabled = view.sel.length < 2; };
  table.onSelect = () => { selected(); charts.refresh(true); };
  table.onFacets = (facets) => charts.setGroupKeys(facets.config);
  top.insertBefore(compare, top.querySelector(".who"));
  selected();
  root.append(table.element, charts.element);
  table.reload();
  charts.refresh(true);
  const timer = setInterval(() => { table.poll(); charts.poll(); }, POLL_MS);
  return () => clearInterval(timer);
}

function select(label: string, name: string, options: string[], value: string, change: (v: string) => void): HTMLElement {
  const control = el("select", { id: `f-${name}`, name }) as HTMLSelectElement;
  control.append(el("option", { value: "" }, "any"));
  for (const option of options) control.append(el("option", { value: option }, option));
  control.value = value;
  control.addEventListener("change", () => change(control.value));
  return el("label", { class: "field" }, label, control);
}

class RunsTable {
  element = el("section", { class: "runs", "aria-label": "runs" });
  onSelect = (): void => {};
  onFacets = (_facets: Facets): void => {};
  private filters = el("div", { class: "filters" });
  private head = el("div", { class: "thead", role: "row" });
  private scroller = el("div", { class: "scroller", role: "table", tabindex: "0" });
  private spacer = el("div", { class: "spacer" });
  private count = el("span", { class: "count", role: "status" });
  private sweepLink = el("a", { class: "sweep-link", hidden: "" }, "sweep page of this group"); // with the group filter
  private pages = new Map<number, Run[]>();
  private loading = new Set<number>();
  private total = 0;
  private facets: Facets | null = null;
  private generation = 0;

  constructor() {
    this.scroller.append(this.spacer);
    this.element.append(this.filters, this.count, " ", this.sweepLink, this.head, this.scroller);
    this.scroller.addEventListener("scroll", () => this.render());
  }

  private columns(): string[] {
    return ["", "state", "name", "group", "tags", "created_at", "runtime", "last_step", ...view.cols];
  }

  private query(offset: number): string {
    const params = new URLSearchParams({ sort: view.sort, order: view.order, offset: String(offset), limit: String(PAGE) });
    for (const key of ["project", "q", "group", "tag", "state", "job_type"] as const) if (view[key]) params.set(key, view[key]);
    view.cols.forEach((col) => params.append("col", col));
    return "/api/ui/runs?" + params.toString();
  }

  reload(): void {
    this.generation++;
    this.pages.clear();
    this.loading.clear();
    writeUrl();
    this.fetchPage(0);
  }

  poll(): void {
    const first = Math.floor(this.scroller.scrollTop / ROW / PAGE);
    const last = Math.floor((this.scroller.scrollTop + this.scroller.clientHeight) / ROW / PAGE);
    for (let page = first; page <= last; page++) this.fetchPage(page * PAGE, true);
  }

  private async fetchPage(offset: number, refresh = false): Promise<void> {
    const index = offset / PAGE;
    if (this.loading.has(index) || (!refresh && this.pages.has(index))) return;
    this.loading.add(index);
    const generation = this.generation;
    try {
      const page = await api<Page>("GET", this.query(offset));
      if (generation !== this.generation) return;
      this.pages.set(index, page.runs);
      this.total = page.total;
      if (!this.facets || JSON.stringify(this.facets) !== JSON.stringify(page.facets)) {
        this.facets = page.facets;
        this.drawFilters();
        this.onFacets(page.facets);
      }
      this.render();
      if (hook.table.firstPaint < 0) hook.table.firstPaint = performance.now();
      hook.table.total = this.total;
    } finally {
      this.loading.delete(index);
    }
  }

  private drawFilters(): void {
    const facets = this.facets as Facets;
    clear(this.filters);
    const search = el("input", { type: "search", id: "f-q", placeholder: "name, id, group, tag", value: view.q }) as HTMLInputElement;
    let timer = 0;
let generation = 0;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = window.setTimeout(() => { view.q = search.value; this.reload(); }, 200);
    });
    const refilter = (key: "project" | "group" | "tag" | "state" | "job_type") => (value: string) => { view[key] = value; this.reload(); };
    this.filters.append(
      el("label", { class: "field" }, "search", search),
      select("project", "project", facets.projects, view.project, refilter("project")),
      select("group", "group", facets.groups, view.group, refilter("group")),
      select("tag", "tag", facets.tags, view.tag, refilter("tag")),
      select("state", "state", STATES, view.state, refilter("state")),
      select("job type", "job_type", facets.job_types, view.job_type, refilter("job_type")),
    );
    const picker = el("details", { class: "columns" }, el("summary", {}, "columns"));
    for (const key of [...facets.config.map((k) => "config." + k), ...facets.summary.map((k) => "summary." + k)]) {
      const box = el("input", { type: "checkbox", value: key }) as HTMLInputElement;
      box.checked = view.cols.includes(key);
      box.addEventListener("change", () => {
        view.cols = box.checked ? [...view.cols, key] : view.cols.filter((c) => c !== key);
        this.reload();
      });
      picker.append(el("label", { class: "column-choice" }, box, key));
    }
    this.filters.append(picker);
  }

  private drawHead(): void {
    clear(this.head);
    const columns = this.columns();
    this.head.style.gridTemplateColumns = this.grid(columns);
    for (const column of columns) {
      if (!column) { this.head.append(el("span", {})); continue; }
      const arrow = view.sort === column ? (view.order === "asc" ? " ▲" : " ▼") : "";
      const button = el("button", { type: "button", class: "sort", "data-column": column }, column.replace(/^(config|summary)\./, "") + arrow);
      button.title = column;
      button.addEventListener("click", () => {
        view.order = view.sort === column && view.order === "desc" ? "asc" : "desc";
        view.sort = column;
        this.reload();
      });
      this.head.append(el("span", { role: "columnheader" }, button));
    }
  }

  private grid(columns: string[]): string {
    return columns.map((c) => (c === "" ? "2em" : c === "name" ? "minmax(12em, 2fr)" : "minmax(6em, 1fr)")).join(" ");
  }

  render(): void {
    this.drawHead();
    this.count.textContent = `${this.total} run${this.total === 1 ? "" : "s"}`;
    const top = this.pages.get(0)?.[0];
    this.sweepLink.hidden = !(view.group && top);
    if (view.group && top) this.sweepLink.setAttribute("href", sweepHref(top.entity, top.project, view.group));
    this.spacer.style.height = `${this.total * ROW}px`;
    clear(this.spacer);
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / ROW) - 10);
    const last = Math.min(this.total, Math.ceil((this.scroller.scrollTop + this.scroller.clientHeight) / ROW) + 10);
    const columns = this.columns();
    const template = this.grid(columns);
    for (let index = first; index < last; index++) {
      const page = this.pages.get(Math.floor(index / PAGE));
      if (!page) { this.fetchPage(Math.floor(index / PAGE) * PAGE); continue; }
      const run = page[index % PAGE];
      if (!run) continue;
      const ref = `${run.entity}/${run.project}/${run.id}`;
      const row = el("div", { class: "row", role: "row", "data-run": ref });
      row.style.top = `${index * ROW}px`;
      row.style.gridTemplateColumns = template;
      const box = el("input", { type: "checkbox", "aria-label": `select ${run.name}` }) as HTMLInputElement;
      box.checked = view.sel.includes(ref);
      box.addEventListener("change", () => {
        view.sel = box.checked ? [...view.sel, ref] : view.sel.filter((s) => s !== ref);
        writeUrl();
        this.onSelect();
      });
      row.append(
        el("span", {}, box),
        el("span", { class: `state state-${run.state}` }, run.state),
        el("span", { class: "name", title: run.id }, el("a", { href: runHash(ref) }, run.name)),
        el("span", {}, run.group ? el("a", { href: sweepHref(run.entity, run.project, run.group), title: "sweep page" }, run.group) : ""),
        el("span", { class: "tags" }, ...run.tags.map((tag) => el("span", { class: "tag" }, tag))),
        el("span", {}, run.created_at.replace("T", " ").replace(/\.\d+/, "").replace("Z", "")),
        el("span", {}, duration(run.runtime)),
        el("span", {}, cellText(run.last_step)),
        ...view.cols.map((col) => el("span", {}, cellText(run.columns[col]))),
      );
      this.spacer.append(row);
    }
  }
}

type Panel = {
  key: string; element: HTMLElement; plot: uPlot | null; zoom: [number, number] | null; names: string[];
  raw: Series[]; // each run's series as the server sent it, grown by live updates
  series: Series[]; // what is drawn: the runs, or their groups
  asked: number; // whole fetches asked for: an answer to an older one is stale (the selection or zoom moved on)
};

const X_AXES: [string, string][] = [["step", "step"], ["timestamp", "wall time"], ["relative", "relative time"]];

class Charts {
  element = el("section", { class: "charts", "aria-label": "charts" });
  private controls = el("div", { class: "filters" });
  private grid = el("div", { class: "panels" });
  private panels = new Map<string, Panel>();
  private live = false;
  private polling = false; // one live update at a time, so that no step is appended twice
  private groupKeys: HTMLElement;
  private xAxis: HTMLSelectElement;
  private stepMetrics: string[] = [];

  setGroupKeys(config: string[]): void {
    clear(this.groupKeys);
    for (const key of ["group", ...config.map((k) => "config." + k)]) this.groupKeys.append(el("option", { value: key }));
  }

  constructor() {
    const metrics = el("input", { type: "search", id: "f-metrics", placeholder: "regex", value: view.metrics }) as HTMLInputElement;
    metrics.addEventListener("change", () => { view.metrics = metrics.value; writeUrl(); this.refresh(true); });
    const smoothing = el("input", { type: "range", id: "f-smoothing", min: "0", max: "0.99", step: "0.01", value: String(view.smoothing) }) as HTMLInputElement;
    smoothing.addEventListener("change", () => { view.smoothing = Number(smoothing.value); writeUrl(); this.redraw(); });
    this.xAxis = el("select", { id: "f-x" }) as HTMLSelectElement;
    this.setStepMetrics([]);
    this.xAxis.addEventListener("change", () => { view.x = this.xAxis.value; writeUrl(); this.rebuild(); });
    const log = el("input", { type: "checkbox", id: "f-log" }) as HTMLInputElement;
    log.checked = view.log;
    log.addEventListener("change", () => { view.log = log.checked; writeUrl(); this.rebuild(); });
    const groupBy = el("input", { type: "text", id: "f-group-by", list: "group-by-keys", placeholder: "group or config.KEY", value: view.groupBy }) as HTMLInputElement;
    groupBy.addEventListener("change", () => { view.groupBy = groupBy.value.trim(); writeUrl(); this.rebuild(); });
    this.groupKeys = el("datalist", { id: "group-by-keys" });
    const band = el("select", { id: "f-band" }, el("option", { value: "" }, "min-max"), el("option", { value: "std" }, "± std")) as HTMLSelectElement;
    band.value = view.band;
    band.addEventListener("change", () => { view.band = band.value; writeUrl(); this.redraw(); });
    this.controls.append(
      el("label", { class: "field" }, "metrics", metrics),
      el("label", { class: "field" }, "group by", groupBy, this.groupKeys),
      el("label", { class: "field" }, "group band", band),
      el("label", { class: "field" }, "smoothing", smoothing),
      el("label", { class: "field" }, "x axis", this.xAxis),
      el("label", { class: "field" }, log, "log scale"),
    );
    this.element.append(this.controls, this.grid);
  }

  // x axis choices: step, times, and the step metrics the selected runs declared (define_metric(step_metric=))
  private setStepMetrics(names: string[]): void {
    const wanted = view.x.startsWith("metric:") && !names.includes(view.x.slice(7)) ? [...names, view.x.slice(7)] : names;
    if (this.xAxis.options.length && wanted.join("\0") === this.stepMetrics.join("\0")) return;
    this.stepMetrics = wanted;
    clear(this.xAxis);
    for (const [value, label] of [...X_AXES, ...wanted.map((name) => ["metric:" + name, name])]) {
      this.xAxis.append(el("option", { value }, label));
    }
    this.xAxis.value = view.x;
  }

  private rebuild(): void {
    for (const panel of this.panels.values()) { panel.plot?.destroy(); panel.plot = null; panel.zoom = null; }
    this.refresh(false);
  }

  // panels for the selected runs' keys that match the regex; the answer lists the panels that are new
  private async syncPanels(): Promise<Panel[]> {
    const params = new URLSearchParams();
    view.sel.forEach((ref) => params.append("run", ref));
    const empty = { keys: [] as string[], step_metrics: [] as string[] };
    const found = view.sel.length ? await api<typeof empty>("GET", "/api/ui/keys?" + params) : empty;
    this.setStepMetrics(found.step_metrics);
    let pattern: RegExp;
    try { pattern = new RegExp(view.metrics || ""); } catch { pattern = /(?:)/; }
    const wanted = found.keys.filter((key) => pattern.test(key));
    for (const [key, panel] of this.panels) {
      if (!wanted.includes(key)) { panel.plot?.destroy(); panel.element.remove(); this.panels.delete(key); delete hook.panels[key]; }
    }
    const added: Panel[] = [];
    for (const key of wanted) {
      if (!this.panels.has(key)) {
        const element = el("figure", { class: "panel", "data-metric": key }, el("figcaption", {}, key));
        this.grid.append(element);
        const panel: Panel = { key, element, plot: null, zoom: null, names: [], raw: [], series: [], asked: 0 };
        this.panels.set(key, panel);
        added.push(panel);
      }
    }
    return added;
  }

  // keysChanged: the selection or the regex changed (panels may come and go); either way series are fetched whole
  async refresh(keysChanged: boolean): Promise<void> {
    if (keysChanged) await this.syncPanels();
    await Promise.all([...this.panels.values()].map((panel) => this.draw(panel)));
  }

  // the same series drawn anew (smoothing, band kind): nothing to fetch
  private redraw(): void {
    for (const panel of this.panels.values()) this.show(panel);
  }

  // live: new panels are drawn whole; the others ask only for the steps after the last one they have
  async poll(): Promise<void> {
    if (this.polling || (!this.live && (this.panels.size || !view.sel.length))) return;
    this.polling = true;
    try {
      const added = await this.syncPanels();
      await Promise.all([...this.panels.values()].map((panel) => (added.includes(panel) ? this.draw(panel) : this.grow(panel))));
      this.live = [...this.panels.values()].some((panel) => panel.raw.some((s) => s.state === "running"));
    } finally {
      this.polling = false;
    }
  }

  private params(panel: Panel): URLSearchParams {
    const params = new URLSearchParams({ key: panel.key, x: view.x, buckets: String(BUCKETS) });
    if (/^(group|config\..+)$/.test(view.groupBy)) params.set("group_by", view.groupBy);
    return params;
  }

  private async draw(panel: Panel): Promise<void> {
    const params = this.params(panel);
    view.sel.forEach((ref) => params.append("run", ref));
    if (panel.zoom) { params.set("start", String(panel.zoom[0])); params.set("stop", String(panel.zoom[1])); }
    const asked = ++panel.asked;
    const fetched = (await api<{ series: Series[] }>("GET", "/api/ui/series?" + params)).series;
    if (asked !== panel.asked) return;
    panel.raw = fetched;
    this.live = this.live || panel.raw.some((s) => s.state === "running");
    this.show(panel);
  }

  // append what running runs logged since their last step; the zoom stays, since only data changes
  private async grow(panel: Panel): Promise<void> {
    const running = panel.raw.filter((s) => s.state === "running");
    if (!running.length) return;
    const params = this.params(panel);
    for (const s of running) { params.append("run", s.run); params.append("since", String(s.step ?? -1)); }
    const asked = panel.asked;
    const fetched = (await api<{ series: Series[] }>("GET", "/api/ui/series?" + params)).series;
    if (asked !== panel.asked) return; // a whole fetch since (a zoom, a selection) has these steps or will have
    for (const update of fetched) {
      const old = panel.raw.find((s) => s.run === update.run);
      if (!old) continue;
      if (update.x.length && old.x.length && update.x[0] < old.x[old.x.length - 1]) return this.draw(panel); // x went back
      old.state = update.state;
      old.step = update.step;
      old.count += update.count;
      old.x = old.x.concat(update.x);
      old.min = old.min.concat(update.min);
      old.max = old.max.concat(update.max);
      old.last = old.last.concat(update.last);
    }
    if (panel.raw.some((s) => s.x.length > 4 * BUCKETS)) return this.draw(panel); // re-bucket what has grown
    this.show(panel);
  }

  // draw the panel's series (grouped if asked), keeping the zoom: a new uPlot only when the lines change
  private show(panel: Panel): void {
    const grouped = /^(group|config\..+)$/.test(view.groupBy) && panel.raw.every((s) => s.group_value !== undefined);
    const series = grouped ? groups(panel.raw, view.groupBy, view.band === "std") : panel.raw;
    const tables = series.map((s) => [Float64Array.from(s.x), smooth(s.last.map(toNumber), view.smoothing, view.log)]);
    const data = (tables.length ? uPlot.join(tables as uPlot.AlignedData[]) : [[]]) as uPlot.AlignedData;
    const names = series.map((s) => s.name);
    panel.series = series;
    hook.panels[panel.key] = {
      series: names,
      points: series.map((s) => s.x.length),
      lastX: series.map((s) => (s.x.length ? s.x[s.x.length - 1] : null)),
      band: grouped ? view.band || "minmax" : "buckets",
      widths: series.map(meanWidth),
      bands: hook.panels[panel.key]?.bands ?? 0,
      xRange: hook.panels[panel.key]?.xRange ?? null,
    };
    panel.element.dataset.series = String(names.length);
    if (panel.plot && names.join("\0") === panel.names.join("\0")) {
      panel.plot.setData(data, panel.zoom === null);
    } else {
      panel.plot?.destroy();
      panel.names = names;
      panel.plot = this.plot(panel, names, data);
      if (hook.firstChart < 0 && names.length) hook.firstChart = performance.now();
    }
  }

  private plot(panel: Panel, names: string[], data: uPlot.AlignedData): uPlot {
    const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
    const width = Math.max(300, Math.floor((this.grid.clientWidth || 900) / 2) - 24);
    const options: uPlot.Options = {
      width,
      height: 240,
      scales: {
        x: { time: view.x === "timestamp" },
        // linear y covers the bands too, so a spike that only a bucket's max holds is on screen
        y: view.log ? { distr: 3 } : { range: (_u: uPlot, low: number, high: number) => bandRange(panel.series, low, high) },
      },
      series: [{ label: view.x.replace(/^metric:/, "") }, ...names.map((name, i) => ({ label: name, stroke: palette[i % palette.length], width: 1.5, spanGaps: true }))],
      axes: [{ stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.2)" } }, { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.2)" } }],
      legend: { live: true },
      hooks: {
        draw: [(u: uPlot) => {
          const drawn = drawBands(u, panel.series, palette);
          const shown = hook.panels[panel.key];
          if (shown) {
            shown.bands = drawn;
            shown.xRange = u.scales.x.min === undefined || u.scales.x.max === undefined ? null : [u.scales.x.min, u.scales.x.max];
          }
        }],
        setSelect: [(u: uPlot) => {
          if (u.select.width > 2) {
            panel.zoom = [u.posToVal(u.select.left, "x"), u.posToVal(u.select.left + u.select.width, "x")];
            this.draw(panel);
          }
        }],
      },
    };
    const plot = new uPlot(options, data, panel.element);
    plot.over.addEventListener("dblclick", () => { panel.zoom = null; this.draw(panel); });
    return plot;
  }
}

// the mean height of a series' band (NaN-free buckets only): what tests compare between band kinds
function meanWidth(s: Series): number | null {
  let total = 0, count = 0;
  s.x.forEach((_, i) => {
    const low = toNumber(s.min[i]), high = toNumber(s.max[i]);
    if (low !== null && high !== null) { total += high - low; count++; }
  });
  return count ? total / count : null;
}

// each series' band (a bucket's min-max, or a group's spread) drawn faint behind its line, so a spike inside a
// bucket stays visible; the answer counts the polygons filled
function drawBands(u: uPlot, series: Series[], palette: string[]): number {
  const ctx = u.ctx;
  let drawn = 0;
  ctx.save();
  ctx.beginPath();
  ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
  ctx.clip();
  series.forEach((s, index) => {
    ctx.fillStyle = palette[index % palette.length] + "33";
    ctx.strokeStyle = palette[index % palette.length] + "88";
    ctx.lineWidth = 1;
    let segment: [number, number, number][] = [];
    const flush = (): void => {
      if (segment.length > 1) {
        ctx.beginPath();
        segment.forEach(([x, top], i) => (i ? ctx.lineTo(x, top) : ctx.moveTo(x, top)));
        for (let i = segment.length - 1; i >= 0; i--) ctx.lineTo(segment[i][0], segment[i][2]);
        ctx.closePath();
        ctx.fill();
        ctx.stroke();
        drawn++;
      }
      segment = [];
    };
    s.x.forEach((x, i) => {
      const low = toNumber(s.min[i]);
      const high = toNumber(s.max[i]);
      if (low === null || high === null || (view.log && low <= 0)) { flush(); return; }
      segment.push([u.valToPos(x, "x", true), u.valToPos(high, "y", true), u.valToPos(low, "y", true)]);
    });
    flush();
  });
  ctx.restore();
  return drawn;
}

// runs of one group as one line, their mean, with the members' min-max (or mean ± standard deviation) as its
// band; each member is carried forward onto the union of the members' x (within its own range) so that means
// compare like with like
function groups(series: Series[], groupBy: string, std: boolean): Series[] {
  const members = new Map<string, Series[]>();
  for (const s of series) {
    const value = s.group_value ?? "none";
    members.set(value, [...(members.get(value) ?? []), s]);
  }
  return [...members].map(([value, group]) => {
    const xs = [...new Set(group.flatMap((s) => s.x))].sort((a, b) => a - b);
    const mean: Value[] = [], low: Value[] = [], high: Value[] = [];
    const cursors = group.map(() => -1);
    for (const x of xs) {
      const values: number[] = [];
      group.forEach((s, index) => {
        while (cursors[index] + 1 < s.x.length && s.x[cursors[index] + 1] <= x) cursors[index]++;
        const at = cursors[index];
        const v = at >= 0 && x <= s.x[s.x.length - 1] ? toNumber(s.last[at]) : null;
        if (v !== null) values.push(v);
      });
      if (!values.length) { mean.push(null); low.push(null); high.push(null); continue; }
      const average = values.reduce((a, b) => a + b, 0) / values.length;
      // the sample standard deviation (none from one member)
      const spread = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - average) ** 2, 0) / (values.length - 1)) : 0;
      mean.push(average);
      low.push(std ? average - spread : Math.min(...values));
      high.push(std ? average + spread : Math.max(...values));
    }
    return {
      run: `${groupBy}=${value}`, name: `${groupBy}=${value} (${group.length})`, state: group[0].state,
      count: xs.length, x: xs, min: low, max: high, last: mean, step: null,
    };
  });
}

function bandRange(series: Series[], low: number | null, high: number | null): uPlot.Range.MinMax {
  let lowest = low ?? Infinity;
  let highest = high ?? -Infinity;
  for (const s of series) {
    for (const value of s.min) { const v = toNumber(value); if (v !== null && v < lowest) lowest = v; }
    for (const value of s.max) { const v = toNumber(value); if (v !== null && v > highest) highest = v; }
  }
  if (!Number.isFinite(lowest) || !Number.isFinite(highest)) return [0, 1];
  return uPlot.rangeNum(lowest, highest, 0.1, true);
}

function toNumber(value: number | string | null): number | null {
  if (typeof value === "number") return value;
  return null; // NaN and infinities (sent as strings) are gaps in the line
}

start();
