// The run page: identity, state history, the run's charts, media, config (searchable), summary, metadata,
// files and debug log of one run. Every value a run stored reaches the DOM as text (el()), media by URL.
import "./pages.css";
import { api } from "./api";
import { el, clear } from "./dom";
import { pageParams } from "./url";
import { bytes, cellText, duration, exactText, flatten } from "./values";

export type RunInfo = {
  entity: string; project: string; id: string; name: string; group: string | null; job_type: string | null;
  tags: string[]; notes: string | null; state: string; exit_code: number | null; created_at: string;
  updated_at: string; last_step: number | null; rows: number; summary: Record<string, unknown>;
  config: Record<string, unknown>; metadata: Record<string, unknown>;
};
type StateChange = { at: string | null; state: string; label: string; detail: string };
type DebugEvent = { timestamp: string; level: string; event: string; fields: string };
export type RunData = {
  run: RunInfo; states: StateChange[]; files: { name: string; size: number }[]; events: DebugEvent[]; events_total: number;
};
type Ref = { _type: string; path?: string; caption?: string; values?: number[]; bins?: number[]; format?: string };
type MediaSteps = Record<string, { step: number; value: Ref | Ref[] }[]>;

const LIVE_MS = 2000; // how often the page of a running run asks for its state, summary and events
const TABLE_ROWS = 500; // rows of a logged table shown on the page (the file has them all)

function runPath(ref: string): string {
  return ref.split("/").map(encodeURIComponent).join("/");
}

export function fetchRun(ref: string): Promise<RunData> {
  return api<RunData>("GET", `/api/ui/run/${runPath(ref)}`);
}

export function fileUrl(ref: string, name: string, download = false): string {
  return `/api/ui/run/${runPath(ref)}/file/${name.split("/").map(encodeURIComponent).join("/")}${download ? "?download=1" : ""}`;
}

export function stateBadge(state: string): HTMLElement {
  return el("span", { class: `state state-${state}` }, state);
}

export function time(iso: string | null): string {
  return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", "").replace(/\+00:00$/, "") : "";
}

// a two-column table of key and value, rows filterable by a text that matches either
function keyValues(label: string, values: Record<string, unknown>, id: string): HTMLElement {
  const body = el("tbody", {});
  for (const [key, value] of Object.entries(values).sort(([a], [b]) => a.localeCompare(b))) {
    body.append(el("tr", { "data-key": key }, el("th", { scope: "row" }, key), el("td", {}, exactText(value))));
  }
  return el("table", { class: "kv", id, "aria-label": label }, body);
}

function section(title: string, ...children: (Node | string)[]): HTMLElement {
  return el("section", { class: "run-section", "aria-label": title }, el("h2", {}, title), ...children);
}

// `charts` makes the workspace's chart panels for this run; `save` writes the view (with pageParams) to the URL
export async function runPage(
  root: HTMLElement, ref: string, params: URLSearchParams, charts: () => HTMLElement, save: () => void,
): Promise<void> {
  const page = el("main", { class: "run-page", "data-run": ref });
  root.append(page);
  let data: RunData;
  try {
    data = await fetchRun(ref);
  } catch (error) {
    page.append(el("p", { class: "problem", role: "alert" }, error instanceof Error ? error.message : String(error)));
    page.dataset.ready = "error";
    return;
  }
  document.title = `${data.run.name} · tracker`;
  // what a running run changes: its state, history, summary, files and events, redrawn in place
  const boxes = [el("div"), el("div"), el("div"), el("div"), el("div")];
  const fill = (fresh: RunData): void => {
    const summary = Object.fromEntries(Object.entries(fresh.run.summary).filter(([key]) => !key.startsWith("_")));
    const parts = [identity(fresh.run), states(fresh.states), keyValues("summary", summary, "summary-table"), filesArea(ref, fresh.files), debugLog(fresh)];
    parts.forEach((part, index) => boxes[index].replaceChildren(part));
  };
  fill(data);
  page.append(
    boxes[0],
    section("State history", boxes[1]),
    section("Charts", charts()),
    section("Media", mediaArea(ref)),
    section("Config", configArea(data.run.config, params, save)),
    section("Summary", boxes[2]),
    section("Metadata", metadataArea(data.run.metadata)),
    section("Files", boxes[3]),
    section("Debug log", boxes[4]),
  );
  page.dataset.ready = "1";
  const poll = async (): Promise<void> => {
    if (!page.isConnected) return; // the user went to another page
    try {
      data = await fetchRun(ref);
      if (page.isConnected) fill(data);
    } catch {
      // a passing failure (the server restarting): the next poll tries again
    }
    if (data.run.state === "running") window.setTimeout(poll, LIVE_MS);
  };
  if (data.run.state === "running") window.setTimeout(poll, LIVE_MS);
}

function identity(run: RunInfo): HTMLElement {
  const facts: [string, string | Node][] = [
    ["id", run.id],
    ["project", `${run.entity}/${run.project}`],
    ["group", run.group ?? ""],
    ["job type", run.job_type ?? ""],
    ["tags", el("span", { class: "tags" }, ...run.tags.map((tag) => el("span", { class: "tag" }, tag)))],
    ["created", time(run.created_at)],
    ["runtime", duration((run.summary._runtime as number | undefined) ?? null)],
    ["steps", cellText(run.last_step)],
    ["exit code", cellText(run.exit_code)],
  ];
  const list = el("dl", { class: "facts" });
  for (const [term, value] of facts) list.append(el("div", {}, el("dt", {}, term), el("dd", { "data-fact": term }, value)));
  const header = el("div", { class: "run-title" }, el("h1", { class: "run-name" }, run.name), stateBadge(run.state));
  return el("section", { class: "identity", "aria-label": "run" }, header, list, ...(run.notes ? [el("p", { class: "notes" }, run.notes)] : []));
}

function states(changes: StateChange[]): HTMLElement {
  const list = el("ol", { class: "states", id: "state-history" });
  for (const change of changes) {
    list.append(el("li", { "data-state": change.state },
      el("span", { class: "when" }, time(change.at) || "now"),
      el("span", { class: `state state-${change.state}` }, change.label),
      el("span", { class: "detail" }, change.detail)));
  }
  return list;
}

function configArea(config: Record<string, unknown>, params: URLSearchParams, save: () => void): HTMLElement {
  const filter = el("input", { type: "search", id: "config-filter", placeholder: "key or value", value: params.get("cfg") ?? "" }) as HTMLInputElement;
  const table = keyValues("config", flatten(config), "config-table");
  const count = el("span", { class: "count", role: "status" });
  const apply = (): void => {
    const needle = filter.value.toLowerCase();
    let shown = 0;
    for (const row of Array.from(table.querySelectorAll("tr"))) {
      const keep = !needle || (row.textContent ?? "").toLowerCase().includes(needle);
      (row as HTMLElement).hidden = !keep;
      if (keep) shown++;
    }
    count.textContent = `${shown} of ${table.querySelectorAll("tr").length} keys`;
    pageParams.set("cfg", filter.value);
    save();
  };
  filter.addEventListener("input", apply);
  apply();
  return el("div", {}, el("label", { class: "field" }, "filter", filter), count, table);
}

function metadataArea(metadata: Record<string, unknown>): HTMLElement {
  const git = (metadata.git ?? {}) as Record<string, unknown>;
  const slurm = (metadata.slurm_job ?? null) as Record<string, unknown> | null;
  const argv = Array.isArray(metadata.argv) ? (metadata.argv as unknown[]).map(String) : [];
  const command = [metadata.python_executable ? "python" : "", ...argv].filter(Boolean).join(" ");
  const main: [string, string][] = [
    ["command", command],
    ["program", cellText(metadata.program)],
    ["cwd", cellText(metadata.cwd)],
    ["git", [git.commit, git.branch && `(${git.branch})`, git.dirty ? "dirty" : "", git.remote].filter(Boolean).map(String).join(" ")],
    ["host", [metadata.user, metadata.host].filter(Boolean).map(String).join("@")],
    ["python", [metadata.python, metadata.python_executable && `(${metadata.python_executable})`].filter(Boolean).map(String).join(" ")],
    ["Slurm job", slurm ? [slurm.job_id, slurm.array_task_id !== null && slurm.array_task_id !== undefined ? `task ${slurm.array_task_id}` : "", slurm.node ? `on ${slurm.node}` : "", slurm.restart_count ? `restarts ${slurm.restart_count}` : ""].filter(Boolean).map(String).join(" ") : ""],
  ];
  const list = el("dl", { class: "facts", id: "metadata" });
  for (const [term, value] of main) list.append(el("div", {}, el("dt", {}, term), el("dd", { "data-fact": term }, value)));
  const all = el("details", {}, el("summary", {}, "all metadata"), keyValues("metadata", flatten(metadata), "metadata-table"));
  return el("div", {}, list, all);
}

function filesArea(ref: string, files: { name: string; size: number }[]): HTMLElement {
  if (!files.length) return el("p", { class: "muted" }, "no files");
  const body = el("tbody", {});
  for (const file of files) {
    const link = el("a", { href: fileUrl(ref, file.name, true), download: file.name.split("/").pop() ?? file.name }, file.name);
    body.append(el("tr", { "data-file": file.name }, el("td", {}, link), el("td", { class: "size" }, bytes(file.size))));
  }
  return el("table", { class: "files", id: "files" }, el("thead", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "size"))), body);
}

function debugLog(data: RunData): HTMLElement {
  const log = el("div", { class: "debug-log", id: "debug-log", role: "log", tabindex: "0" });
  for (const event of data.events) {
    log.append(el("div", { class: `event level-${event.level}`, "data-event": event.event },
      el("span", { class: "when" }, time(event.timestamp)),
      el("span", { class: "level" }, event.level),
      el("span", { class: "name" }, event.event),
      el("span", { class: "fields" }, event.fields)));
  }
  const note = data.events_total > data.events.length ? `the newest ${data.events.length} of ${data.events_total} events` : `${data.events_total} events`;
  return el("div", {}, el("p", { class: "muted" }, data.events_total ? note : "no debug events"), log);
}

// one figure per media key, with a step slider when it was logged at several steps
function mediaArea(ref: string): HTMLElement {
  const area = el("div", { class: "media", id: "media" }, el("p", { class: "muted" }, "loading media"));
  api<{ media: MediaSteps }>("GET", `/api/ui/run/${runPath(ref)}/media`).then(({ media }) => {
    clear(area);
    const keys = Object.keys(media);
    if (!keys.length) area.append(el("p", { class: "muted" }, "no media"));
    for (const key of keys) area.append(mediaPanel(ref, key, media[key]));
    area.dataset.ready = "1";
  }, (error) => {
    clear(area);
    area.append(el("p", { class: "problem", role: "alert" }, String(error)));
  });
  return area;
}

function mediaPanel(ref: string, key: string, steps: { step: number; value: Ref | Ref[] }[]): HTMLElement {
  const body = el("div", { class: "media-body" });
  const label = el("span", { class: "muted" });
  const show = (index: number): void => {
    const { step, value } = steps[index];
    label.textContent = `step ${step}`;
    clear(body);
    for (const item of Array.isArray(value) ? value : [value]) body.append(mediaItem(ref, item));
  };
  const figure = el("figure", { class: "panel media-panel", "data-media": key }, el("figcaption", {}, key, " ", label));
  if (steps.length > 1) {
    const slider = el("input", { type: "range", min: "0", max: String(steps.length - 1), value: String(steps.length - 1), "aria-label": `step of ${key}` }) as HTMLInputElement;
    slider.addEventListener("input", () => show(Number(slider.value)));
    figure.append(slider);
  }
  figure.append(body);
  show(steps.length - 1);
  return figure;
}

function mediaItem(ref: string, item: Ref): HTMLElement {
  const caption = item.caption ? el("figcaption", { class: "caption" }, item.caption) : null;
  const wrap = (element: HTMLElement): HTMLElement => el("div", { class: `media-item media-${item._type}` }, element, ...(caption ? [caption] : []));
  if (item._type === "histogram" && item.values && item.bins) return wrap(histogram(item.values, item.bins));
  if (!item.path) return wrap(el("span", {}, cellText(item)));
  const url = fileUrl(ref, item.path);
  if (item._type === "image" || (item._type === "video" && item.format === "gif")) return wrap(el("img", { src: url, alt: item.caption ?? item.path }));
  if (item._type === "audio") return wrap(el("audio", { src: url, controls: "" }));
  if (item._type === "video") return wrap(el("video", { src: url, controls: "" }));
  if (item._type === "table") return wrap(loggedTable(ref, url));
  return wrap(el("a", { href: fileUrl(ref, item.path, true) }, `download ${item._type} (${item.path})`)); // html: never on this origin
}

function loggedTable(ref: string, url: string): HTMLElement {
  const table = el("table", { class: "logged-table" }, el("caption", { class: "muted" }, "loading"));
  api<{ columns: string[]; data: unknown[][] }>("GET", url).then((logged) => {
    clear(table);
    table.append(el("thead", {}, el("tr", {}, ...logged.columns.map((column) => el("th", { scope: "col" }, String(column))))));
    const body = el("tbody", {});
    for (const row of logged.data.slice(0, TABLE_ROWS)) {
      body.append(el("tr", {}, ...row.map((cell) => el("td", {}, tableCell(ref, cell)))));
    }
    table.append(body);
    if (logged.data.length > TABLE_ROWS) table.append(el("caption", { class: "muted" }, `the first ${TABLE_ROWS} of ${logged.data.length} rows`));
    table.dataset.rows = String(logged.data.length);
  }, (error) => { clear(table); table.append(el("caption", { class: "problem" }, String(error))); });
  return table;
}

function tableCell(ref: string, cell: unknown): Node | string {
  const item = cell as Ref | null;
  if (item && typeof item === "object" && !Array.isArray(item) && typeof item._type === "string") return mediaItem(ref, item);
  return cellText(cell);
}

// a histogram as bars on a canvas: one bar per bin, its height the bin's count
function histogram(values: number[], bins: number[]): HTMLElement {
  const width = 320;
  const height = 160;
  const canvas = el("canvas", { width: String(width), height: String(height), class: "histogram", "data-bins": String(values.length), role: "img" }) as HTMLCanvasElement;
  canvas.setAttribute("aria-label", `histogram of ${values.length} bins from ${cellText(bins[0])} to ${cellText(bins[bins.length - 1])}`);
  const ctx = canvas.getContext("2d");
  const highest = Math.max(1, ...values);
  if (ctx) {
    ctx.fillStyle = "#2563eb";
    const bar = width / Math.max(1, values.length);
    values.forEach((count, index) => {
      const h = (count / highest) * (height - 4);
      ctx.fillRect(index * bar, height - h, Math.max(1, bar - 1), h);
    });
  }
  const axis = el("div", { class: "axis muted" }, el("span", {}, cellText(bins[0])), el("span", {}, cellText(bins[bins.length - 1])));
  return el("div", { class: "histogram-wrap" }, canvas, axis);
}
