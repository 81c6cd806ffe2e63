// The URL's hash: a route (#/run/ENTITY/PROJECT/ID, #/compare, or none for the runs table) and the view's
// parameters after it. Pages keep their own parameters here, so writing the view never drops them.
export const pageParams = new Map<string, string>();

export function route(): { path: string[]; params: URLSearchParams } {
  const hash = location.hash.slice(1);
  if (!hash.startsWith("/")) return { path: [], params: new URLSearchParams(hash) };
  const at = hash.includes("?") ? hash.indexOf("?") : hash.length;
  const path = hash.slice(0, at);
  const query = hash.slice(at + 1);
  return { path: path.slice(1).split("/").map(decoded), params: new URLSearchParams(query) };
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // a hand-edited URL with a stray %: the server answers 404 for it
  }
}

// the hash for the view's parameters on the current route, with the page's own parameters added
export function hashOf(params: URLSearchParams): string {
  for (const [key, value] of pageParams) if (value) params.set(key, value);
  const path = route().path;
  return "#" + (path.length ? "/" + path.map(encodeURIComponent).join("/") + "?" : "") + params.toString();
}

export function runHash(ref: string): string {
  return "#/run/" + ref.split("/").map(encodeURIComponent).join("/");
}

export function compareHash(refs: string[]): string {
  const params = new URLSearchParams();
  refs.forEach((ref) => params.append("sel", ref));
  return "#/compare?" + params.toString();
}
