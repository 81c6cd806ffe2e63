// How run values read as text (table cells, config, summary) and nested config as dotted keys.
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

// a value in full (config and summary pages, where 0.1 and 0.10001 must not read the same)
export function exactText(value: unknown): string {
  if (typeof value === "number") return String(value);
  const media = value as { _type?: unknown; path?: unknown } | null;
  if (media && typeof media === "object" && typeof media._type === "string") { // a logged image, table...: its kind
    return media.path ? `${media._type} (${String(media.path)})` : media._type;
  }
  return cellText(value);
}

export function duration(seconds: number | null): string {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${s % 60}s` : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

// nested objects as dotted keys (optimizer.lr), as the runs table names its config columns
export function flatten(value: unknown, prefix = ""): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return prefix ? { [prefix]: value } : {};
  const entries = Object.entries(value as Record<string, unknown>);
  if (!entries.length) return prefix ? { [prefix]: value } : {};
  const flat: Record<string, unknown> = {};
  for (const [key, item] of entries) Object.assign(flat, flatten(item, prefix ? `${prefix}.${key}` : key));
  return flat;
}

export function bytes(size: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit ? `${value.toFixed(1)} ${units[unit]}` : `${size} B`;
}
